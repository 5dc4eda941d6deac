"""No interruption loses work: SIGINT/SIGTERM save and exit 130/143; --resume ends byte-identical."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import torch

from stylegram import Options, StyleTransfer
from stylegram.cli import main
from stylegram.job import Job, load_checkpoint, save_checkpoint

from .conftest import ROOT, make_painting, make_photo

RUN = ["--size", "32", "--iterations", "40", "--tol", "0", "--print-every", "1", "--quiet"]


def start_paused(*args: str, **pause: str) -> subprocess.Popen:
    """The command line, paused (tests/paused.py) at a step until the test's signal has arrived."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **{f"STYLEGRAM_PAUSE_{k.upper()}": v for k, v in pause.items()}}
    return subprocess.Popen([sys.executable, str(ROOT / "tests" / "paused.py"), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)


def interrupt_at_pause(proc: subprocess.Popen, sig: int) -> tuple[str, str]:
    """Send `sig` once the run says it is paused; return (stdout, stderr) after it exits."""
    seen = ""
    while "paused" not in seen:
        line = proc.stdout.readline()
        if not line:
            out, err = proc.communicate(timeout=300)
            raise AssertionError(f"the run ended before it paused: {seen + out}{err}")
        seen += line
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=300)
    return seen + out, err


@pytest.mark.parametrize("sig,status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_saves_image_report_checkpoint_and_resume_is_byte_identical(images, tmp_path, sig, status) -> None:
    content, style = images
    out, report = tmp_path / "o.png", tmp_path / "r.json"
    proc = start_paused(str(content), str(style), "-o", str(out), "--report", str(report), *RUN, at="5")
    _, err = interrupt_at_pause(proc, sig)
    assert proc.returncode == status, err
    ckpt = tmp_path / "o.ckpt"
    assert out.exists() and ckpt.exists() and "Traceback" not in err
    assert f"--resume {ckpt}" in err
    data = json.loads(report.read_text())
    assert data["interrupted"] == signal.Signals(sig).name and len(data["trace"]) < 80

    r = subprocess.run([sys.executable, "-m", "stylegram", "--resume", str(ckpt), "--quiet"], capture_output=True,
                       text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    resumed = out.read_bytes()
    assert [t["iteration"] for t in json.loads(report.read_text())["trace"]] == list(range(1, 81))

    straight = tmp_path / "straight.png"
    assert main([str(content), str(style), "-o", str(straight), *RUN]) == 0
    assert straight.read_bytes() == resumed  # CPU, fp32: the same bytes as a run never interrupted


def test_checkpoint_every_and_api_resume_match_an_uninterrupted_run(tmp_path) -> None:
    opts = Options(size=32, iterations=12, tol=0.0, init="noise")  # two scales; noise: the RNG matters
    photo, paint = tmp_path / "p.png", tmp_path / "s.png"
    make_photo().save(photo)
    make_painting().save(paint)
    straight = StyleTransfer(photo, paint, opts).run()

    t = StyleTransfer(photo, paint, opts)
    job = Job(str(photo), [str(paint)], str(tmp_path / "o.png"), opts)
    t.run(lambda it: it.iteration == 15)  # stop in the second scale
    save_checkpoint(str(tmp_path / "c.ckpt"), job, t.progress)
    job2, progress = load_checkpoint(str(tmp_path / "c.ckpt"))
    assert (progress.scale, progress.iteration) == (1, 3)
    resumed = StyleTransfer(job2.content, job2.style[0], job2.options).run(resume=progress)
    assert torch.equal(straight, resumed)


def test_resume_refuses_changed_inputs_and_non_checkpoints(images, tmp_path, capsys) -> None:
    content, style = images
    out = tmp_path / "o.png"
    assert main([str(content), str(style), "-o", str(out), "--size", "32", "--iterations", "2", "--quiet",
                 "--checkpoint", str(tmp_path / "c.ckpt"), "--checkpoint-every", "1"]) == 0
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    assert main(["--resume", str(tmp_path / "junk.ckpt")]) == 2
    assert "not a stylegram checkpoint" in capsys.readouterr().err
    make_photo(seed=5).save(content)
    assert main(["--resume", str(tmp_path / "c.ckpt")]) == 2
    assert "changed since the checkpoint" in capsys.readouterr().err
    assert main(["--resume", str(tmp_path / "nothing.ckpt")]) == 2
