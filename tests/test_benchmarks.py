"""Every benchmark runs its smoke mode here (seconds each, CPU, in a fresh process: `slow`, so the inner loop
stays short; CI runs them), so a renamed key or a moved function cannot break one unseen. The figures themselves
are measured by running the benchmarks in full (CONTRIBUTING.md)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: benchmark -> (smoke arguments, keys its JSON report must have)
SMOKE = {
    "features.py": (["--synthetic", "4", "--repeats", "1"], ["speedup_vs_baseline", "sa2sr_x_realtime_per_core"]),
    "labels.py": (["--n", "8", "--size", "tiny"], ["speedup", "label_agreement"]),
    "predict.py": (["--files", "3", "--model", "none"], ["speedup_batched_vs_one_at_a_time", "batched"]),
    "pretrain.py": (["--synthetic-hours", "0.02", "--steps", "2", "--max-frames", "2000"],
                    ["speedup", "padded_baseline", "sa2sr_sorted"]),
    "serve_load.py": (["--model", "tiny", "--clients", "2", "--requests", "4", "--bad-every", "2", "--files", "2",
                       "--baseline-requests", "2"], ["load", "baseline_one_client", "rss_growth_after_warmup"]),
    "segments.py": (["--minutes", "0.5", "--model", "none"], ["boundaries_within_0.5s",
                                                              "fixed_10s_window_cuts_inside_speech"]),
    "vad.py": (["--minutes", "0.3", "--below", "6", "--model", "none"], ["levels", "source"]),
    "ssl_encoder.py": (["--smoke"], ["training", "training_ssl_over_bilstm", "predict", "predict_ssl_over_bilstm",
                                     "ssl_h100_projection"]),
    "filecount.py": (["--small", "40", "--large", "120", "--clips", "4"],
                     ["small", "large", "per_1000_files_large_over_small", "peak_mib_large_over_small"]),
    "pretrain_loop.py": (["--device", "cpu", "--synthetic-hours", "0.02", "--max-frames", "3000", "--steps", "2"],
                         ["loop", "step_only", "loop_vs_step_only"]),
}


def test_every_benchmark_has_a_smoke_run():
    assert sorted(SMOKE) == sorted(p.name for p in (ROOT / "benchmarks").glob("*.py") if p.name != "fixtures.py")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SMOKE))
def test_benchmark_smoke(name):
    args, keys = SMOKE[name]
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / name), *args], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads(res.stdout[res.stdout.index("{"):])
    assert all(k in report for k in keys), (keys, list(report))
