"""Load on `sa2sr serve`, on loopback: concurrent clients against one client at a time, side by side in one run.

Starts `sa2sr serve` as its own process on a free loopback port, makes `--files` recordings of 5-30 s
(utterances of the demo's MSP-Podcast audio, or espeak-ng speech, with short pauses) and a few bad uploads
(empty, not audio, truncated, over the upload limit), then:

- baseline: one client, `--baseline-requests` requests one after another;
- load: `--clients` clients x `--requests` requests each, every `--bad-every`-th upload a bad one.

Every request has a time limit, the whole run `--max-seconds`; the server is stopped with SIGINT at the end
(it lets in-flight requests finish). Reported: requests/s, p50/p95 latency of good requests, answers by
status, 5xx count, unanswered good requests, the server's peak RSS, and its RSS after warm-up (a quarter of
the load phase) and at the end.

Usage: python benchmarks/serve_load.py [--model models/sa2sr] [--clients 8] [--requests 50]
       python benchmarks/serve_load.py --model tiny --clients 2 --requests 4 --bad-every 2 --files 2 \
           --baseline-requests 2   # smoke test
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import psutil
import soundfile as sf

from fixtures import speech_utterances


def make_files(root: Path, n: int, max_upload_mb: float) -> tuple[list[Path], list[Path]]:
    """n good recordings of 5-30 s, and the bad uploads."""
    rng, utts, good = np.random.default_rng(0), speech_utterances(n=60, espeak_n=20)[0], []
    for i in range(n):
        want, parts, t = rng.uniform(5, 30), [], 0.0
        while t < want:
            x = utts[rng.integers(len(utts))]
            parts += [x, (1e-3 * rng.standard_normal(8000)).astype(np.float32)]
            t += len(x) / 16000 + 0.5
        path = root / f"rec{i:03d}.wav"
        sf.write(path, np.concatenate(parts)[: int(want * 16000)], 16000, subtype="PCM_16")
        good.append(path)
    data = good[0].read_bytes()
    (root / "empty.wav").write_bytes(b"")
    (root / "notes.txt").write_text("not audio\n" * 100)
    (root / "truncated.wav").write_bytes(data[: len(data) // 3])
    (root / "huge.wav").write_bytes(data * int(max_upload_mb * 2**20 / len(data) + 2))
    return good, [root / n for n in ("empty.wav", "notes.txt", "truncated.wav", "huge.wav")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(base: str, path: Path, timeout: float) -> tuple[int, float]:
    t0 = time.perf_counter()
    try:
        with open(path, "rb") as f:
            r = httpx.post(f"{base}/predict", files={"file": (path.name, f)}, timeout=timeout)
        return r.status_code, time.perf_counter() - t0
    except httpx.HTTPError:
        return -1, time.perf_counter() - t0  # no answer


def run_clients(base, good, bad, clients, requests, bad_every, timeout, deadline) -> dict:
    lat, codes, lock = [], {}, threading.Lock()

    def client(k: int):
        for i in range(requests):
            if time.monotonic() > deadline:
                return
            is_bad = bad_every and (i + 1) % bad_every == 0
            path = bad[(k + i) % len(bad)] if is_bad else good[(k * requests + i) % len(good)]
            code, dt = post(base, path, timeout)
            with lock:
                codes[code] = codes.get(code, 0) + 1
                if not is_bad:
                    lat.append((code, dt))

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    wall = time.perf_counter() - t0
    ok = [dt for c, dt in lat if c == 200]
    return {"clients": clients, "requests": sum(codes.values()), "seconds": round(wall, 2),
            "requests_per_s": round(sum(codes.values()) / wall, 2),
            "latency_p50_s": round(float(np.percentile(ok, 50)), 3) if ok else None,
            "latency_p95_s": round(float(np.percentile(ok, 95)), 3) if ok else None,
            "answers_by_status": {str(k): v for k, v in sorted(codes.items())},
            "status_5xx": sum(v for k, v in codes.items() if k >= 500),
            "good_unanswered": sum(1 for c, _ in lat if c != 200)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="models/sa2sr", help="model directory; 'tiny' or 'paper': random weights")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=50, help="per client")
    ap.add_argument("--bad-every", type=int, default=10, help="every n-th upload of a client is a bad one")
    ap.add_argument("--files", type=int, default=24, help="distinct good recordings (5-30 s)")
    ap.add_argument("--baseline-requests", type=int, default=24)
    ap.add_argument("--max-upload-mb", type=float, default=4.0)
    ap.add_argument("--timeout", type=float, default=120.0, help="per request")
    ap.add_argument("--max-seconds", type=float, default=900.0, help="the whole run")
    args = ap.parse_args()
    deadline = time.monotonic() + args.max_seconds
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model in ("tiny", "paper"):
            from fixtures import random_model_dir

            model = str(random_model_dir(Path(tmp) / "model", *((16, 1) if model == "tiny" else (192, 5))))
        good, bad = make_files(Path(tmp), args.files, args.max_upload_mb)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([sys.executable, "-m", "sa2sr_core.cli", "serve", "--model", model, "--port",
                                   str(port), "--max-upload-mb", str(args.max_upload_mb),
                                   "--max-pending", str(max(8, args.clients))],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        proc = psutil.Process(server.pid)
        rss, stop = [], threading.Event()
        try:
            for _ in range(600):
                if server.poll() is not None:
                    raise SystemExit(f"sa2sr serve did not start:\n{server.stderr.read()}")
                try:
                    httpx.get(f"{base}/health", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            def sample():  # the server's resident memory, every 0.1 s
                while not stop.wait(0.1):
                    rss.append((time.monotonic(), proc.memory_info().rss))

            threading.Thread(target=sample, daemon=True).start()
            post(base, good[0], args.timeout)  # warm-up
            baseline = run_clients(base, good, bad, 1, args.baseline_requests, 0, args.timeout, deadline)
            t_load = time.monotonic()
            load = run_clients(base, good, bad, args.clients, args.requests, args.bad_every, args.timeout, deadline)
            health = httpx.get(f"{base}/health", timeout=10).json()
        finally:
            stop.set()
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
        mb = lambda b: round(b / 2**20, 1)  # noqa: E731
        during = [r for t, r in rss if t >= t_load]
        warm = during[len(during) // 4:] or during  # the first quarter of the load warms the allocator up
        report = {"model": args.model, "cpu_cores": os.cpu_count(), "good_files": len(good),
                  "audio_s_per_good_file": [round(min(sf.info(p).duration for p in good), 1),
                                            round(max(sf.info(p).duration for p in good), 1)],
                  "baseline_one_client": baseline, "load": load,
                  "speedup_requests_per_s": round(load["requests_per_s"] / baseline["requests_per_s"], 2),
                  "max_requests_per_batch": health["max_requests_per_batch"],
                  "rss_peak_mb": mb(max(r for _, r in rss)) if rss else None,
                  "rss_after_warmup_mb": mb(warm[0]) if warm else None,
                  "rss_end_mb": mb(during[-1]) if during else None,
                  "rss_growth_after_warmup": round(during[-1] / warm[0] - 1, 3) if warm else None,
                  "rss_load_quartiles_mb": [mb(during[min(len(during) - 1, int(q * len(during)))])
                                            for q in (0.1, 0.25, 0.5, 0.75, 1.0)] if during else None,
                  "server_exit_code": server.returncode}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
