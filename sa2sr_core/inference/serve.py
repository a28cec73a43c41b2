"""`sa2sr serve`: the model as a local HTTP service and page (Starlette/FastAPI on uvicorn).

    GET  /         a single page: pick, drop or record a file; the numbers, emotion over time, the transcript
    GET  /health   status, the model, whether it is a demo model, requests in flight, batches run
    POST /predict  multipart upload, field `file` -> {"file": row, "segments": [rows], "model": {...}}

A request is handled exactly as `sa2sr predict` handles a file (the same Recording: segmentation, features,
per-file and per-segment rows), so it returns the same numbers. The speech segments of all requests in flight
go to one thread that runs the model: it takes what is waiting (up to `batch_wait_ms` for more) and scores
it in shared forward passes, and as the scores do not depend on what they are batched with, sharing changes
no number. Memory is bounded: at most `max_pending` requests at once (more get 503 with Retry-After), uploads
over `max_upload_mb` get 413 before they are read, recordings over `max_audio_s` after their header is.
A bad upload gets 400 naming the problem and the service carries on; Ctrl-C lets in-flight requests finish.
"""

from __future__ import annotations

import math
import queue
import tempfile
import threading
import time
from concurrent.futures import Future
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from fastapi import Request  # at module level: the endpoint's annotation is resolved here

from sa2sr_core.audio import AudioError, probe_audio
from sa2sr_core.config.inference import SegmentConfig, ServeConfig
from sa2sr_core.errors import Sa2srError
from sa2sr_core.inference.predict import Recording, forward, model_fbank
from sa2sr_core.inference.text import OWN, TextRoute
from sa2sr_core.models.directory import ModelDirConfig, demo_notice

FIELD = "file"


class Batcher:
    """One thread runs the model over the segments that requests hand it, several requests per forward pass."""

    def __init__(self, model, device: torch.device, cfg: ServeConfig, route=None):
        self.model, self.device, self.cfg, self.route = model, device, cfg, route
        self.queue: queue.Queue = queue.Queue()
        self.batches = 0
        self.max_requests_per_batch = 0  # the most distinct requests one forward pass served (shows sharing)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sa2sr-batcher", daemon=True)
        self._thread.start()

    def score(self, items: list[tuple[np.ndarray, np.ndarray]], request_id: int) -> list[tuple]:
        """(avd, probs, text, class probs or None, the transcript the text route read or None) for each (LFBE,
        functionals) item, in order; blocks until they are scored."""
        futures = [Future() for _ in items]
        for it, fut in zip(items, futures):
            self.queue.put((request_id, it, fut))
        return [f.result() for f in futures]

    def _take(self) -> list:
        first = self.queue.get()
        if first is None:
            return []
        batch, longest = [first], len(first[1][0])
        deadline = time.monotonic() + self.cfg.batch_wait_ms / 1000
        while len(batch) < self.cfg.max_batch:
            try:
                nxt = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if nxt is None:
                self.queue.put(None)
                break
            n = max(longest, len(nxt[1][0]))
            if n * (len(batch) + 1) > self.cfg.max_frames_per_batch:
                self.queue.put(nxt)  # next time: it would push this batch over the frame budget
                break
            batch.append(nxt)
            longest = n
        return batch

    def _loop(self) -> None:
        while not self._stop.is_set():
            batch = self._take()
            if not batch:
                continue
            try:
                avd, probs, texts, cls, read = forward(self.model, self.device, [it for _, it, _ in batch], self.route)
            except Exception as e:  # a failed pass fails its requests, not the service
                for *_, fut in batch:
                    fut.set_exception(e)
                continue
            self.batches += 1
            self.max_requests_per_batch = max(self.max_requests_per_batch, len({r for r, _, _ in batch}))
            for b, (_, _, fut) in enumerate(batch):
                fut.set_result((avd[b], probs[b], texts[b], None if cls is None else cls[b],
                                None if read is None else read[b]))

    def close(self) -> None:
        self._stop.set()
        self.queue.put(None)
        self._thread.join(timeout=10)


def _json_safe(row: dict) -> dict:
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}


class Service:
    """The model, its config and the batcher; `run` scores one uploaded file."""

    def __init__(self, model, config: ModelDirConfig, model_dir: str, cfg: ServeConfig, segment: SegmentConfig | None = None,
                 device: torch.device | None = None):
        self.model, self.config, self.model_dir, self.cfg = model, config, model_dir, cfg
        self.segment = segment or SegmentConfig()
        self.device = device or next(model.parameters()).device
        self.fbank = model_fbank(config)
        self.scale = config.scale
        self.notice = demo_notice(config)
        # a model with the text route reads its own transcript of each segment (docs/text.md)
        self.route = TextRoute(model.cfg.emotion.regressor.text, model_dir) if model.text_dim else None
        self.batcher = Batcher(model, self.device, cfg, self.route)
        self.slots = threading.BoundedSemaphore(cfg.max_pending)
        self.in_flight = 0
        self.served = 0
        self._ids = iter(range(1, 1 << 62))
        self._lock = threading.Lock()

    def model_info(self) -> dict:
        return {"dir": self.model_dir, "demo": bool(self.notice), "notice": self.notice, "scale": list(self.scale),
                "sample_rate": self.fbank.sample_rate}

    def run(self, path: Path, name: str) -> dict:
        """The predict rows of one file; AudioError names what is wrong with it."""
        rec = Recording(str(path), classes=self.model.classes, text_input=OWN if self.route is not None else None)
        try:  # errors name the uploaded file, not the temporary copy
            info = probe_audio(path)
            if info.duration_s > self.cfg.max_audio_s:
                raise TooLong(f"{name}: {info.duration_s:.0f} s of audio, this service takes at most "
                              f"{self.cfg.max_audio_s:g} s per request")
            items = list(rec.features(info, self.fbank, self.segment, self.model.min_frames()))
        except AudioError as e:
            raise AudioError(name, e.reason) from None
        with self._lock:
            rid = next(self._ids)
        outs = self.batcher.score([(f, st) for _, f, st in items], rid)
        for (si, f, _), (avd, probs, text, cls, read) in zip(items, outs):
            rec.scores[si] = (len(f), avd, probs, text, cls, read)
        rec.path = name
        return {"model": self.model_info(), "file": _json_safe(rec.file_row(self.scale)),
                "segments": [_json_safe(r) for r in rec.segment_rows(self.scale)]}


class TooLong(Sa2srError):
    pass


def create_app(service: Service):
    """The ASGI app around a Service."""
    from fastapi import FastAPI
    from fastapi.concurrency import run_in_threadpool
    from fastapi.responses import HTMLResponse, JSONResponse
    from starlette.formparsers import MultiPartException

    @asynccontextmanager
    async def lifespan(app):
        yield
        service.batcher.close()  # after uvicorn has let the in-flight requests finish

    app = FastAPI(title="sa2sr", lifespan=lifespan)
    page = resources.files("sa2sr_core.inference").joinpath("static/index.html").read_text()
    limit = int(service.cfg.max_upload_mb * 2**20)

    def error(status: int, message: str, **headers) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status, headers=headers or None)

    @app.get("/", response_class=HTMLResponse)
    def index():
        return page

    @app.get("/health")
    def health():
        return {"status": "ok", "model": service.model_info(), "in_flight": service.in_flight,
                "served": service.served, "batches": service.batcher.batches,
                "max_requests_per_batch": service.batcher.max_requests_per_batch,
                "limits": {"max_upload_mb": service.cfg.max_upload_mb, "max_audio_s": service.cfg.max_audio_s,
                           "max_pending": service.cfg.max_pending}}

    @app.post("/predict")
    async def predict(request: Request):
        size = request.headers.get("content-length")
        if size is not None and size.isdigit() and int(size) > limit + 64 * 1024:
            return error(413, f"upload of {int(size) / 2**20:.1f} MB is over this service's limit of "
                              f"{service.cfg.max_upload_mb:g} MB")
        if not service.slots.acquire(blocking=False):
            return error(503, f"busy: {service.cfg.max_pending} requests in progress; retry shortly",
                         **{"Retry-After": str(service.cfg.retry_after_s)})
        service.in_flight += 1
        tmp = None
        try:
            if not request.headers.get("content-type", "").startswith("multipart/form-data"):
                return error(400, f"expected a multipart/form-data upload with the audio in a field named '{FIELD}'")
            try:
                form = await request.form(max_files=1, max_fields=4, max_part_size=limit)
            except MultiPartException as e:
                too_big = "size" in str(e).lower()
                return error(413 if too_big else 400, f"upload rejected: {e}")
            upload = form.get(FIELD)
            if upload is None or isinstance(upload, str):
                fields = sorted(form.keys())
                return error(400, f"no file in a field named '{FIELD}' (fields sent: {fields or 'none'})")
            name = Path(upload.filename or "upload").name
            with tempfile.NamedTemporaryFile(suffix=Path(name).suffix or ".audio", delete=False) as f:
                tmp = Path(f.name)
                while chunk := await upload.read(1 << 20):
                    f.write(chunk)
            try:
                out = await run_in_threadpool(service.run, tmp, name)
            except AudioError as e:
                return error(400, str(e))
            except TooLong as e:
                return error(413, str(e))
            service.served += 1
            return out
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
            service.in_flight -= 1
            service.slots.release()

    return app
