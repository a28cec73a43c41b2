"""`sa2sr serve` as a client sees it: the same numbers as `sa2sr predict`, whatever other requests share the
model; bad uploads get their 4xx and a message, and the service keeps serving; a full service says 503."""

import dataclasses
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
import soundfile as sf
import uvicorn

from sa2sr_core.config.inference import PredictConfig, ServeConfig
from sa2sr_core.inference.predict import predict_recordings
from sa2sr_core.inference.serve import Service, create_app
from sa2sr_core.models.packaged import load_model
from tests.helpers import speech_shards
from tests.model_dirs import packaged

SCORES = ["activation_raw", "valence_raw", "dominance_raw", "p_negative", "p_neutral", "p_positive"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Running:
    """A uvicorn server for an app on a free loopback port, in a thread."""

    def __init__(self, app):
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        for _ in range(200):
            if self.server.started:
                return f"http://127.0.0.1:{self.port}"
            time.sleep(0.02)
        raise RuntimeError("server did not start")

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    speech_shards(root, 6, "test", words=6)
    rng, parts = np.random.default_rng(0), []
    for i in range(6):  # a long file: the service cuts it at its pauses, as predict does
        x, _ = sf.read(root / "audio" / f"test-{i}.wav", dtype="float32")
        parts += [1e-3 * rng.standard_normal(12000).astype(np.float32), x]
    sf.write(root / "audio" / "long.wav", np.concatenate(parts), 16000, subtype="FLOAT")
    model_dir, _, _ = packaged(root)
    model, config = load_model(model_dir)
    return root, model_dir, model, config


def _service(env, **kw):
    _, model_dir, model, config = env
    return Service(model, config, str(model_dir), ServeConfig(**kw))


def _post(base, path, name=None, field="file", timeout=60):
    with open(path, "rb") as f:
        return httpx.post(f"{base}/predict", files={field: (name or path.name, f)}, timeout=timeout)


def test_answers_equal_predict_with_concurrent_clients_sharing_batches(env):
    root, _, model, config = env
    files = sorted((root / "audio").glob("*.wav"))
    want = {}
    for f in files:  # each file alone through `sa2sr predict`'s code
        res = predict_recordings(model, config, [f], PredictConfig(progress=False, max_batch=1, workers=1),
                                 log=lambda *_: None)
        want[f.name] = res
    service = _service(env, batch_wait_ms=50)
    with Running(create_app(service)) as base:
        assert httpx.get(f"{base}/health").json()["status"] == "ok"
        with ThreadPoolExecutor(len(files)) as pool:  # every client at once: their segments share passes
            answers = list(pool.map(lambda f: _post(base, f), files * 2))
        health = httpx.get(f"{base}/health").json()
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers if a.status_code != 200]
    for a in answers:
        body = a.json()
        ref = want[body["file"]["path"]]
        np.testing.assert_allclose([body["file"][c] for c in SCORES], ref.files.iloc[0][SCORES].to_numpy(float),
                                   atol=1e-4)
        assert body["file"]["transcript"] == ref.files.iloc[0]["transcript"]
        assert len(body["segments"]) == len(ref.segments)
        got = np.array([[s[c] if s[c] is not None else np.nan for c in SCORES] for s in body["segments"]], float)
        np.testing.assert_allclose(got, ref.segments[SCORES].to_numpy(float), atol=1e-4)
    assert health["served"] == 2 * len(files) and health["max_requests_per_batch"] > 1  # batched across clients
    assert any(len(a.json()["segments"]) > 1 for a in answers)  # the long file, cut as predict cuts it


def test_bad_uploads_get_their_4xx_and_the_service_keeps_serving(env, tmp_path):
    root, *_ = env
    good = (root / "audio" / "test-1.wav").read_bytes()
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("this is not audio\n" * 20)
    (tmp_path / "truncated.wav").write_bytes(good[: len(good) // 2])
    (tmp_path / "big.wav").write_bytes(good * 40)
    with Running(create_app(_service(env, max_upload_mb=0.5, max_audio_s=60))) as base:
        cases = {
            "empty": (_post(base, tmp_path / "empty.wav"), 400, "empty.wav: file is empty"),
            "not audio": (_post(base, tmp_path / "notes.txt"), 400, "notes.txt: not a readable audio file"),
            "truncated": (_post(base, tmp_path / "truncated.wav"), 400, "truncated.wav: truncated"),
            "too large": (_post(base, tmp_path / "big.wav"), 413, "over this service's limit of 0.5 MB"),
            "wrong field": (_post(base, root / "audio" / "test-1.wav", field="audio"), 400,
                            "no file in a field named 'file' (fields sent: ['audio'])"),
            "not multipart": (httpx.post(f"{base}/predict", content=good), 400, "multipart/form-data"),
        }
        for name, (res, status, message) in cases.items():
            assert res.status_code == status, (name, res.status_code, res.text)
            assert message in res.json()["error"], (name, res.json())
        ok = _post(base, root / "audio" / "test-1.wav")
        assert ok.status_code == 200 and ok.json()["file"]["status"] == "ok"
        assert httpx.get(f"{base}/health").json()["in_flight"] == 0


def test_a_full_service_says_503_with_retry_after(env):
    root, *_ = env
    service = _service(env, max_pending=2)
    with Running(create_app(service)) as base:
        for _ in range(2):  # two requests in progress: the slots are taken
            assert service.slots.acquire(blocking=False)
        try:
            busy = _post(base, root / "audio" / "test-1.wav")
        finally:
            service.slots.release()
            service.slots.release()
        assert busy.status_code == 503 and busy.headers["retry-after"] == "1" and "busy" in busy.json()["error"]
        assert _post(base, root / "audio" / "test-1.wav").status_code == 200


def test_the_page_and_the_demo_notice(env, tmp_path):
    _, model_dir, model, config = env
    demo_config = dataclasses.replace(config, trained_on_demo=True)
    with Running(create_app(Service(model, demo_config, str(model_dir), ServeConfig()))) as base:
        page = httpx.get(f"{base}/")
        health = httpx.get(f"{base}/health").json()
    assert page.status_code == 200 and "<canvas id=\"chart\"" in page.text and 'id="file"' in page.text
    assert health["model"]["demo"] and "DEMO MODEL" in health["model"]["notice"]


def _start_cli_server(model_dir, port, *extra):
    import os
    import subprocess
    import sys

    return subprocess.Popen([sys.executable, "-m", "sa2sr_core.cli", "serve", "--model", str(model_dir), "--port",
                             str(port), *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))


def _wait_up(base, proc, seconds=60):
    for _ in range(int(seconds / 0.1)):
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read())
        try:
            return httpx.get(f"{base}/health", timeout=1).json()
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("server did not come up")


@pytest.mark.slow
def test_ctrl_c_lets_the_request_in_flight_finish(env, tmp_path):
    import signal

    root, model_dir, *_ = env
    x, _ = sf.read(root / "audio" / "long.wav", dtype="float32")
    sf.write(tmp_path / "ten_minutes.wav", np.tile(x, int(np.ceil(600 * 16000 / len(x)))), 16000)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _start_cli_server(model_dir, port)
    try:
        _wait_up(base, proc)
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(_post, base, tmp_path / "ten_minutes.wav", None, "file", 120)
            while httpx.get(f"{base}/health", timeout=5).json()["in_flight"] == 0:
                time.sleep(0.02)
            proc.send_signal(signal.SIGINT)  # Ctrl-C while the request is being scored
            answer = pending.result(timeout=120)
        assert answer.status_code == 200 and answer.json()["file"]["duration_s"] >= 600
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()


def test_a_damaged_model_directory_stops_serve_at_start_with_its_name(env, tmp_path):
    import shutil

    _, model_dir, *_ = env
    d = tmp_path / "model"
    shutil.copytree(model_dir, d)
    (d / "config.json").write_text("{not json")
    proc = _start_cli_server(d, free_port())
    assert proc.wait(timeout=60) == 2
    err = proc.stderr.read()
    assert "config.json is not valid JSON" in err and "Traceback" not in err


@pytest.mark.slow
def test_bounded_load_on_loopback():
    """4 clients x 9 requests of 5-30 s recordings, every third upload a bad one, against a `sa2sr serve`
    process (benchmarks/serve_load.py; it stops the server itself): no 5xx, every good request answered."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    res = subprocess.run([sys.executable, "benchmarks/serve_load.py", "--model", "tiny", "--clients", "4",
                          "--requests", "9", "--bad-every", "3", "--files", "6", "--baseline-requests", "3",
                          "--max-seconds", "240"], cwd=root, capture_output=True, text=True, timeout=400)
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads(res.stdout)
    load = report["load"]
    assert load["requests"] == 36 and load["status_5xx"] == 0 and load["good_unanswered"] == 0
    assert load["answers_by_status"]["200"] == 24 and {"400", "413"} <= set(load["answers_by_status"])
    assert report["server_exit_code"] == 0 and report["rss_growth_after_warmup"] < 0.5
