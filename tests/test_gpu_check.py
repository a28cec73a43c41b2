"""scripts/gpu_check.sh, the script prepared for a GPU machine's first minutes, in its small mode on the CPU: the
same steps (the GPU tests, the loop benchmark, the SSL encoder benchmark) end to end, so a moved test file or a
renamed benchmark option fails here, in CI, and not on the GPU machine."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_gpu_check_runs_end_to_end_in_its_small_mode_on_the_cpu(tmp_path):
    env = dict(os.environ, OUT=str(tmp_path / "out"), PYTHON=sys.executable)
    res = subprocess.run(["bash", "scripts/gpu_check.sh", "--cpu"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=1200)
    assert res.returncode == 0, (res.stdout[-3000:], res.stderr[-3000:])
    out = tmp_path / "out"
    tests = (out / "tests.txt").read_text()
    assert " passed" in tests and " failed" not in tests and " error" not in tests
    assert "no CUDA device" in tests  # the fused cuDNN comparison: skipped, and said so
    skipped = (out / "skipped.txt").read_text()
    assert "nvidia-smi" in skipped and "bf16" in skipped and "nccl" in skipped
    loop = json.loads((out / "pretrain_loop.json").read_text()[(out / "pretrain_loop.json").read_text().index("{"):])
    assert loop["device"] == "cpu" and loop["loop"]["frames_per_s"] > 0
    ssl = (out / "ssl_encoder.json").read_text()
    assert "training_ssl_over_bilstm" in json.loads(ssl[ssl.index("{"):])


def test_the_gpu_check_names_what_it_runs_and_they_exist():
    text = (ROOT / "scripts" / "gpu_check.sh").read_text()
    tests = text.split('TESTS="', 1)[1].split('"', 1)[0].split()
    assert tests and all((ROOT / t).is_file() for t in tests), tests
    for bench in ("benchmarks/pretrain_loop.py", "benchmarks/ssl_encoder.py"):
        assert bench in text and (ROOT / bench).is_file()
