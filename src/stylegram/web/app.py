"""`stylegram serve`: the page and its JSON API (FastAPI). It adds no second implementation: the form comes from
Options' fields, values go through the fields' own parsers and Options' validation, and jobs run through
stylegram.Job (see queue.py). No path from the client reaches the file system: jobs and files are named by
server-made ids and a fixed set of file names."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import importlib.resources
import json
import re
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from PIL import Image
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..choices import INITS
from ..errors import StylegramError
from ..images import load_image, save_image
from ..options import OptionErrors, Options, default_text, flag, named_field, parse_fields
from ..parsers import boolean
from ..samples import procedural_painting, sample_photo
from ..transfer import plan_scales
from .access import Access, middleware, person_of
from .limits import Limits, QueueFull
from .queue import FINAL, ID_PATTERN, JobQueue, WebJob, new_id

MAX_UPLOAD_BYTES = 30 * 2**20  # per image
MAX_STYLES = 4
MAX_REQUEST_BYTES = (MAX_STYLES + 2) * MAX_UPLOAD_BYTES
MAX_PIXELS_WEB = 50_000_000  # below the CLI's default: a page is open to anyone who can reach the port
# Settings that name server paths or are the server's to choose are not offered on the page.
HIDDEN = ("mask", "weights", "weights_sha256", "max_pixels")
MAIN = ("size", "style_weight", "content_weight", "style_scale", "preserve_color", "init", "iterations", "seamless",
        "alpha", "texture")
TEXTURE = Options.texture_defaults()
NOT_OPTIONS = ("demo", "reuse", "submission")
CHOICES = {"init": INITS}  # the page takes no --init PATH (a path on the server)  # form fields that choose the inputs
FILES = re.compile(r"^(result\.png|report\.json|content\.png|style-[1-9]\.png|mask\.png)$")
EVENT_EVERY_S = 0.25  # at most four progress events a second: the page needs no more, the CPU is the job's
CHECK_EVERY_S = 0.05  # how soon a stream sees a new picture (a comparison of two numbers per check)
STATIC = importlib.resources.files("stylegram.web") / "static"


class BadInput(Exception):
    def __init__(self, status: int, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.fields = status, message, fields or {}


def option_fields() -> list[dict[str, Any]]:
    """The form, from Options: name, flag, kind, default, choices, help, and whether it is in view."""
    out = []
    for f in dataclasses.fields(Options):
        if f.name in HIDDEN:
            continue
        meta = f.metadata
        choices = CHOICES.get(f.name) or meta.get("choices") or (("no", "yes") if meta["parse"] is boolean else None)
        out.append({"name": f.name, "flag": meta.get("command") or flag(f.name), "default": default_text(f),
                    "choices": list(choices) if choices else None, "help": meta["help"], "main": f.name in MAIN,
                    "texture": default_text(f, TEXTURE)})  # what the form shows once texture is chosen
    return out


def parse_options(form: dict[str, str]) -> Options:
    """Options from the form's text by the one parser every shell uses (options.parse_fields): an unknown or hidden
    field is refused by name, and every bad field is reported at once, in the command line's words."""
    try:
        return parse_fields(form, Options(max_pixels=MAX_PIXELS_WEB), hidden=HIDDEN, choices=CHOICES)
    except OptionErrors as e:
        raise BadInput(422, str(e), e.fields) from None


async def _image(upload: Any, what: str) -> Image.Image:
    """An uploaded image, decoded with the CLI's checks; the message names the upload, never a server path."""
    if not isinstance(upload, UploadFile):
        raise BadInput(400, f"{what}: expected an image file")
    data = await upload.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise BadInput(413, f"{what}: {upload.filename} is larger than {MAX_UPLOAD_BYTES // 2**20} MB")
    with tempfile.NamedTemporaryFile(suffix=".upload") as tmp:
        tmp.write(data)
        tmp.flush()
        try:
            return await asyncio.to_thread(load_image, tmp.name, what, MAX_PIXELS_WEB, True)  # alpha kept
        except StylegramError as e:
            raise BadInput(400, str(e).replace(tmp.name, upload.filename or "the upload")) from None


async def _inputs(form: Any, queue: JobQueue, access: Access, person: str) -> tuple[Image.Image, list[Image.Image],
                                                                                  Image.Image | None, dict]:
    """The photo, paintings, mask and their display names: from an earlier job, the demo pair, or the uploads."""
    if form.get("reuse"):
        earlier = queue.jobs.get(str(form["reuse"])) if re.match(ID_PATTERN, str(form["reuse"])) else None
        if earlier is None or not access.may_see(earlier.owner, person):
            raise BadInput(404, "no such job")
        def load() -> tuple:
            styles = [load_image(p, alpha=True) for p in earlier.input_paths()[1]]
            mask = load_image(earlier.dir / "mask.png") if earlier.mask else None
            return load_image(earlier.dir / "content.png", alpha=True), styles, mask, dict(earlier.names)
        return await asyncio.to_thread(load)
    if form.get("demo"):  # made in a thread: the event loop keeps answering the others meanwhile
        photo, painting = await asyncio.to_thread(demo_pair)
        return photo, [painting], None, {"content": "astronaut (bundled)",
                                                                 "style": ["procedural painting (bundled)"]}
    uploads = form.getlist("style")
    if len(uploads) > MAX_STYLES:
        raise BadInput(400, f"at most {MAX_STYLES} paintings, got {len(uploads)}")
    if uploads and _texture(form) and not isinstance(form.get("content"), UploadFile):  # no photo: the first
        styles = [await _image(u, f"painting {k + 1}") for k, u in enumerate(uploads)]  # painting is the canvas
        return styles[0], styles, None, {"content": "(texture: no photo)", "style": [u.filename for u in uploads]}
    if not uploads or not isinstance(form.get("content"), UploadFile):
        missing = ({} if isinstance(form.get("content"), UploadFile) else {"content": "choose a photo"}) | \
            ({} if uploads else {"style": "choose at least one painting"})
        raise BadInput(400, "choose a photo and at least one painting (or the demo pair)", missing)
    content = await _image(form["content"], "photo")
    styles = [await _image(u, f"painting {k + 1}") for k, u in enumerate(uploads)]
    mask = await _image(form["mask"], "mask") if isinstance(form.get("mask"), UploadFile) else None
    return content, styles, mask, {"content": form["content"].filename, "style": [u.filename for u in uploads]}


def _texture(form: Any) -> bool:
    """Whether the form asks for a texture (a value the field's parser refuses is reported with the options)."""
    try:
        return boolean(str(form.get("texture") or "no"))
    except ValueError:
        return False


@functools.lru_cache(maxsize=1)
def demo_pair() -> tuple[Image.Image, Image.Image]:
    """The bundled photo and painting, made once per server (a few seconds the first time)."""
    return sample_photo(), procedural_painting()


async def _checked(form: Any, queue: JobQueue, access: Access, person: str) -> tuple:
    """Options, photo, paintings, mask and names; every bad field of the form and the uploads reported at once."""
    errors: list[BadInput] = []
    options = inputs = None
    try:
        options = parse_options({k: v for k, v in form.items() if isinstance(v, str) and k not in NOT_OPTIONS})
    except BadInput as e:
        errors.append(e)
    try:
        inputs = await _inputs(form, queue, access, person)
    except BadInput as e:
        errors.append(e)
    if errors:
        fields = {k: v for e in errors for k, v in e.fields.items()}
        raise BadInput(errors[0].status, "; ".join(e.message for e in errors), fields)
    assert options is not None and inputs is not None
    check_job(options, *inputs[:3])
    return (options, *inputs)


def check_job(options: Options, content: Image.Image, styles: list, mask: Image.Image | None) -> None:
    """The checks a transfer makes before it starts, made before the job waits in the queue: the styles against
    --style-blend and --mask, and the machine (the device, the memory for --size, in tiles if need be)."""
    try:
        options.replace(mask="mask" if mask else None).blend_weights(len(styles))
    except StylegramError as e:
        raise BadInput(422, str(e), {"style_blend": str(e)}) from None
    try:
        plan_scales(options, content.size)
    except StylegramError as e:  # the device, or the memory: --size and --max-memory decide together
        names = [named_field(str(e))] if named_field(str(e)) in ("device", "precision") else ["size", "max_memory"]
        raise BadInput(422, str(e), dict.fromkeys(names, str(e))) from None


async def _submission(request: Request, queue: JobQueue, out: Path, access: Access) -> WebJob:
    """A new job from a form: options parsed and checked, inputs decoded, saved under a new id; or the job this
    page already made for the same press of Start (its `submission` key)."""
    if int(request.headers.get("content-length") or 0) > MAX_REQUEST_BYTES:
        raise BadInput(413, f"the upload is larger than {MAX_REQUEST_BYTES // 2**20} MB")
    try:
        form = await request.form(max_files=MAX_STYLES + 2, max_fields=100, max_part_size=MAX_UPLOAD_BYTES)
    except Exception as e:  # starlette's own limits and malformed bodies
        raise BadInput(400, f"could not read the form: {getattr(e, 'detail', e)}") from None
    person = person_of(request)
    key = str(form.get("submission") or "")[:64] or None
    earlier = queue.submitted(person, key)
    if earlier is not None:
        return earlier
    queue.check_room(person)
    options, content, styles, mask, names = await _checked(form, queue, access, person)
    job_id = new_id()
    job = WebJob(job_id, out / job_id, options, names, len(styles), mask is not None, owner=person, submission=key,
                 images=(content, styles) if mask is None else None)
    job.dir.mkdir()
    named = [(content, "content.png"), *((img, f"style-{k + 1}.png") for k, img in enumerate(styles)),
             *([(mask, "mask.png")] if mask is not None else [])]
    # compress_level 1: the job reads them back at once, and Start waits for them
    await asyncio.to_thread(lambda: [save_image(img, job.dir / name, compress_level=1) for img, name in named])
    return job


def create_app(out: Path, own_thread: bool = True, access: Access | None = None, limits: Limits | None = None,
               log: Callable[[str], None] = print) -> FastAPI:
    """The app; with own_thread=False the caller runs the jobs (app.state.queue.run_forever())."""
    out.mkdir(parents=True, exist_ok=True)
    access = access or Access()
    queue = JobQueue(out, own_thread, limits, log)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        queue.start()
        demo = asyncio.create_task(asyncio.to_thread(demo_pair))  # ready before anyone ticks "demo pair"
        yield
        await demo
        await asyncio.to_thread(queue.shutdown)  # Ctrl-C: the running job stops and saves, as the CLI's does

    app = FastAPI(title="stylegram", lifespan=lifespan)
    app.state.queue, app.state.access = queue, access
    app.middleware("http")(middleware(access))
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    _errors(app)

    @app.get("/")
    async def index() -> FileResponse:
        return FileResponse(str(STATIC / "index.html"))

    @app.get("/api/options")
    async def options() -> list[dict[str, Any]]:
        return option_fields()

    @app.post("/api/jobs", status_code=201)
    async def submit(request: Request) -> Response:
        job = await _submission(request, queue, out, access)
        if job.id in queue.jobs:  # this press of Start was already taken: the same job again
            return JSONResponse(described(queue, job), status_code=200)
        queue.submit(job)
        return JSONResponse(described(queue, job), status_code=201)

    _job_routes(app, queue, access)
    return app


def _errors(app: FastAPI) -> None:
    """One shape for every refusal, 4xx and 5xx alike: {"error": message, "fields": {field: message}}."""

    @app.exception_handler(BadInput)
    async def bad_input(request: Request, exc: BadInput) -> JSONResponse:
        return JSONResponse({"error": exc.message, "fields": exc.fields}, status_code=exc.status)

    @app.exception_handler(QueueFull)
    async def queue_full(request: Request, exc: QueueFull) -> JSONResponse:
        return JSONResponse({"error": str(exc), "fields": {}}, status_code=429,
                            headers={"Retry-After": str(exc.retry_after)})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail), "fields": {}}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": "malformed request", "fields": {}}, status_code=422)


def find(queue: JobQueue, job_id: str, access: Access, person: str, change: bool = False) -> WebJob:
    """The job by id if this person may see it (or change it); 404 otherwise, so that ids of others' jobs are not
    confirmed."""
    job = queue.jobs.get(job_id) if re.match(ID_PATTERN, job_id) else None
    if job is None or not access.may_see(job.owner, person):
        raise HTTPException(404, "no such job")
    if change and not access.may_change(job.owner, person):
        raise HTTPException(403, "only the person who started this job can change it")
    return job


def described(queue: JobQueue, job: WebJob) -> dict[str, Any]:
    return {**job.summary(), "position": queue.position(job.id)}


def public_report(path: Path, job: WebJob) -> dict[str, Any]:
    """report.json as served: the server's paths cut to file names."""
    def scrub(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: scrub(x) for k, x in v.items()}
        if isinstance(v, list):
            return [scrub(x) for x in v]
        if isinstance(v, str) and ("/" in v or "\\" in v) and Path(v).is_absolute():
            return Path(v).name
        return v

    return scrub(json.loads(path.read_text()))


def _job_routes(app: FastAPI, queue: JobQueue, access: Access) -> None:
    """The routes of one job: state, stop/cancel/delete, its live events, preview and files."""

    @app.get("/api/jobs")
    async def jobs(request: Request) -> list[dict[str, Any]]:
        person = person_of(request)
        return [{**described(queue, j), "mine": j.owner == person}
                for j in sorted(queue.jobs.values(), key=lambda j: -j.created) if access.may_see(j.owner, person)]

    @app.get("/api/jobs/{job_id}")
    async def job_state(job_id: str, request: Request) -> dict[str, Any]:
        return described(queue, find(queue, job_id, access, person_of(request)))

    def act(job_id: str, request: Request, action: Any, refusal: str) -> dict[str, Any]:
        job = find(queue, job_id, access, person_of(request), change=True)
        if not action(job.id):
            raise HTTPException(409, f"job is {job.state}: {refusal}")
        return described(queue, job)

    @app.post("/api/jobs/{job_id}/cancel")
    async def cancel(job_id: str, request: Request) -> dict[str, Any]:
        return act(job_id, request, queue.cancel, "only a queued job can be cancelled")

    @app.post("/api/jobs/{job_id}/stop")
    async def stop(job_id: str, request: Request) -> dict[str, Any]:
        return act(job_id, request, queue.stop, "only a running job can be stopped")

    @app.delete("/api/jobs/{job_id}")
    async def delete(job_id: str, request: Request) -> dict[str, Any]:
        return act(job_id, request, queue.delete, "a running job can be deleted once it is stopped")

    @app.get("/api/jobs/{job_id}/events")
    async def events(job_id: str, request: Request) -> StreamingResponse:
        job = find(queue, job_id, access, person_of(request))

        async def stream() -> AsyncIterator[str]:
            seen, picture, sent = -1, -1, 0.0
            while not queue.closing and not await request.is_disconnected():
                now = time.monotonic()
                # a new picture or a change of state goes out at once, progress at most every EVENT_EVERY_S
                urgent = job.preview_version != picture or job.state in FINAL
                if job.version != seen and (urgent or now - sent >= EVENT_EVERY_S):
                    seen, picture, sent = job.version, job.preview_version, now
                    yield f"data: {json.dumps(described(queue, job))}\n\n"
                    if job.state in FINAL or job.id not in queue.jobs:
                        return
                await asyncio.sleep(CHECK_EVERY_S)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    _file_routes(app, queue, access)


def _file_routes(app: FastAPI, queue: JobQueue, access: Access) -> None:
    """A job's live image and its files (report.json without server paths)."""

    @app.get("/api/jobs/{job_id}/preview")
    async def preview(job_id: str, request: Request) -> Response:
        job = find(queue, job_id, access, person_of(request))
        if job.preview is None:
            path = job.dir / "result.png"
            if not path.is_file():
                raise HTTPException(404, "no image yet")
            return FileResponse(str(path), media_type="image/png")
        return Response(job.preview, media_type="image/png", headers={"Cache-Control": "no-store"})

    @app.get("/api/jobs/{job_id}/files/{name}")
    async def file(job_id: str, name: str, request: Request) -> Response:
        job = find(queue, job_id, access, person_of(request))
        if not FILES.match(name) or not (job.dir / name).is_file():
            raise HTTPException(404, "no such file")
        download = f"stylegram-{job.id[:8]}-{name}" if name in ("result.png", "report.json") else None
        if name == "report.json":
            return JSONResponse(public_report(job.dir / name, job),
                                headers={"Content-Disposition": f'attachment; filename="{download}"'})
        return FileResponse(str(job.dir / name), filename=download)
