// The page: a form generated from the server's Options, uploads, the live image over server-sent events.
"use strict";
const $ = (id) => document.getElementById(id);
let fields = [];
let current = null;      // the job this page started last
let source = null;       // its EventSource
let shownPreview = -1;
const openCards = new Set();  // cards whose options are unfolded survive the gallery's refresh

function fieldInput(f) {
  if (f.choices) {
    const s = document.createElement("select");
    for (const c of f.choices) { const o = document.createElement("option"); o.value = o.textContent = c; s.appendChild(o); }
    s.value = f.default;
    return s;
  }
  const i = document.createElement("input");
  i.type = "text"; i.value = f.default; i.placeholder = f.default === "" ? "(default)" : "";
  return i;
}

async function buildForm() {
  fields = await (await fetch("/api/options")).json();
  for (const f of fields) {
    const div = document.createElement("div");
    div.className = "field"; div.dataset.name = f.name;
    const label = document.createElement("label");
    label.textContent = f.flag;
    const input = fieldInput(f);
    input.name = f.name; input.id = "opt-" + f.name; label.htmlFor = input.id;
    const help = document.createElement("div"); help.className = "help"; help.textContent = f.help;
    const err = document.createElement("div"); err.className = "field-error";
    div.append(label, input, err, help);
    (f.main ? $("main-options") : $("more-options")).appendChild(div);
  }
  // a texture has no photo: the fields take the texture command's settings (white noise, one scale, ...)
  const texture = $("opt-texture");
  if (texture) texture.addEventListener("change", () => {
    const on = texture.value === "yes";
    for (const f of fields) if (f.name !== "texture" && f.texture !== f.default) $("opt-" + f.name).value = on ? f.texture : f.default;
    $("content-drop").classList.toggle("unused", on);
  });
}

function setOptions(options) {
  for (const f of fields) {
    const el = $("opt-" + f.name);
    if (!el || !(f.name in options)) continue;
    const v = options[f.name];
    el.value = v === null ? "" : Array.isArray(v) ? v.join(",") : String(v);
  }
}

function showErrors(body) {
  for (const d of document.querySelectorAll("[data-name]")) { d.classList.remove("invalid"); d.querySelector(".field-error").textContent = ""; }
  $("error").textContent = body ? body.error : "";
  if (!body || !body.fields) return;
  for (const [name, msg] of Object.entries(body.fields)) {
    const d = document.querySelector(`[data-name="${name}"]`);
    if (!d) continue;
    d.classList.add("invalid"); d.querySelector(".field-error").textContent = msg;
    if (d.parentElement && d.parentElement.id === "more-options") d.closest("details").open = true;
  }
}

function thumbs(input, target) {
  target.innerHTML = "";
  for (const file of input.files) {
    const img = document.createElement("img"); img.src = URL.createObjectURL(file); target.appendChild(img);
  }
}

function dropZone(zone, input, onChange) {
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault(); zone.classList.remove("over");
    const dt = new DataTransfer();
    for (const f of e.dataTransfer.files) { if (input.multiple || dt.files.length === 0) dt.items.add(f); }
    input.files = dt.files; onChange();
  });
  input.addEventListener("change", onChange);
}

function busy(on) { $("start").disabled = on; }  // while this page's job waits or runs: one press, one job

async function start(reuse, options) {
  if ($("start").disabled) return;
  busy(true);
  showErrors(null);
  if (options) setOptions(options);
  $("status").textContent = !reuse && $("demo").checked ? "preparing the demo pair…" : "sending…";
  const data = new FormData();
  data.append("submission", crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
  for (const f of fields) { const el = $("opt-" + f.name); if (el && el.value !== "") data.append(f.name, el.value); }
  if (reuse) data.append("reuse", reuse);
  else if ($("demo").checked) data.append("demo", "1");
  else {
    if ($("content-input").files[0]) data.append("content", $("content-input").files[0]);
    for (const f of $("style-input").files) data.append("style", f);
    if ($("mask-input").files[0]) data.append("mask", $("mask-input").files[0]);
  }
  let r, body;
  try {
    r = await fetch("/api/jobs", { method: "POST", body: data });
    body = await r.json();
  } catch (e) {
    body = { error: "the server did not answer: " + e, fields: {} };
  }
  if (!r || !r.ok) { busy(false); $("status").textContent = ""; showErrors(body); return; }
  follow(body);
  refreshGallery();
}

function fmt(s) { return s === null || s === undefined ? "–" : s < 90 ? `${s.toFixed(0)} s` : `${(s / 60).toFixed(1)} min`; }

function render(job) {
  const p = job.progress || {};
  const lines = [];
  if (job.state === "queued") lines.push(`queued: position ${job.position}`);
  else lines.push(job.state + (job.error ? `: ${job.error}` : ""));
  const running = job.state === "running";
  if (p.iteration) {
    const l = p.losses;
    lines.push(`scale ${p.scale}/${p.scales} · iteration ${p.iteration}` + (running ? `/${p.iterations} (at most)` : ""));
    lines.push(`content ${l.content.toPrecision(4)} · style ${l.style.toPrecision(4)} · total ${l.total.toPrecision(4)}`);
    lines.push(running ? `elapsed ${fmt(p.elapsed)} · left at most ${fmt(p.eta)}` : `took ${fmt(job.seconds)}`);
    $("progress").value = p.iteration / p.iterations;
  } else if (running && p.stage === "preview") lines.push("the quick picture; painting it now…");
  if (job.state === "done" || job.state === "stopped") $("progress").value = 1;
  $("status").textContent = lines.join("\n");
  if (job.preview_version !== shownPreview && (job.preview_version > 0 || job.result)) {
    shownPreview = job.preview_version;
    $("live").src = `/api/jobs/${job.id}/preview?v=${job.preview_version}`;
  }
  $("stop").disabled = !running;
  busy(job.mine !== false && ["queued", "running"].includes(job.state));
  const finished = job.result && ["done", "stopped"].includes(job.state);
  $("downloads").hidden = !finished;
  $("compare").hidden = !finished;
  if (finished) {
    $("download-png").href = `/api/jobs/${job.id}/files/result.png`;
    $("download-report").href = `/api/jobs/${job.id}/files/report.json`;
    $("before").src = `/api/jobs/${job.id}/files/content.png`;
  }
}

function follow(job) {
  current = job.id; shownPreview = -1;
  if (source) source.close();
  render(job);
  source = new EventSource(`/api/jobs/${job.id}/events`);
  source.onmessage = (e) => {
    const j = JSON.parse(e.data); render(j);
    if (["done", "stopped", "failed", "cancelled"].includes(j.state)) { source.close(); busy(false); refreshGallery(); }
  };
}

async function resume() {
  // a reloaded page follows this person's running or queued job, and its form shows the last job's options
  const jobs = await (await fetch("/api/jobs")).json();
  const mine = jobs.filter((j) => j.mine);
  const waiting = mine.find((j) => j.state === "running") || mine.find((j) => j.state === "queued");
  if (waiting) { setOptions(waiting.options); follow(waiting); }
  else if (mine.length) setOptions(mine[0].options);
}

async function refreshGallery() {
  const jobs = await (await fetch("/api/jobs")).json();
  const g = $("gallery"); g.innerHTML = "";
  for (const j of jobs) {
    const card = document.createElement("div"); card.className = "card";
    if (j.result) { const img = document.createElement("img"); img.src = `/api/jobs/${j.id}/files/result.png`; card.appendChild(img); }
    const o = j.options;
    const state = document.createElement("div"); state.className = "state";
    state.textContent = j.state + (j.position ? ` (#${j.position} in queue)` : "") + (j.seconds ? ` · ${fmt(j.seconds)}` : "");
    if (j.error) { const why = document.createElement("div"); why.className = "why"; why.textContent = j.error; state.appendChild(why); }
    const info = document.createElement("div");
    info.textContent = `${j.names.content || ""} × ${(j.names.style || []).join(", ")} · ${o.size} px · β ${o.style_weight} · α ${o.content_weight}`;
    const all = document.createElement("details");
    const sum = document.createElement("summary"); sum.textContent = "options";
    const pre = document.createElement("pre");
    pre.textContent = Object.entries(o).filter(([, v]) => v !== null)
      .map(([k, v]) => `--${k.replaceAll("_", "-")} ${Array.isArray(v) ? v.join(",") : v}`).join("\n");
    all.append(sum, pre);
    all.open = openCards.has(j.id);
    all.addEventListener("toggle", () => { if (all.open) openCards.add(j.id); else openCards.delete(j.id); });
    card.append(state, info, all);
    const again = document.createElement("button"); again.textContent = "Run again with these options";
    again.onclick = () => start(j.id, j.options);
    card.appendChild(again);
    if (j.mine && j.state === "queued") {
      const cancel = document.createElement("button"); cancel.textContent = "Cancel";
      cancel.onclick = async () => { await fetch(`/api/jobs/${j.id}/cancel`, { method: "POST" }); refreshGallery(); };
      card.appendChild(cancel);
    }
    if (j.mine && j.state !== "running") {
      const del = document.createElement("button"); del.textContent = "Delete"; del.className = "delete";
      del.onclick = async () => {
        if (!confirm("Delete this job and its files?")) return;
        await fetch(`/api/jobs/${j.id}`, { method: "DELETE" });
        if (j.id === current) { current = null; $("live").removeAttribute("src"); $("status").textContent = ""; busy(false); }
        refreshGallery();
      };
      card.appendChild(del);
    }
    if (j.id !== current) card.onclick = (e) => { if (!["BUTTON", "SUMMARY"].includes(e.target.tagName)) follow(j); };
    g.appendChild(card);
  }
}

$("start").onclick = () => start();
$("stop").onclick = () => current && fetch(`/api/jobs/${current}/stop`, { method: "POST" });
dropZone($("content-drop"), $("content-input"), () => {
  const f = $("content-input").files[0]; if (f) $("content-thumb").src = URL.createObjectURL(f);
});
dropZone($("style-drop"), $("style-input"), () => thumbs($("style-input"), $("style-thumbs")));
dropZone($("mask-drop"), $("mask-input"), () => {});
$("slider").oninput = () => { $("before").style.clipPath = `inset(0 ${100 - $("slider").value}% 0 0)`; };
buildForm().then(resume).then(refreshGallery);
setInterval(refreshGallery, 5000);
