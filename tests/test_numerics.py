"""The CPU pins: set before torch loads (torch then runs its AVX2 kernels on two threads), left alone where the
user set a switch or asked for the native choices, and first in every stage that trains or scores."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sa2sr_core import numerics

ROOT = Path(__file__).resolve().parents[1]
PROBE = ("from sa2sr_core import numerics; numerics.pin_cpu_numerics(); import torch; numerics.pin_threads(); "
         "print(torch.backends.cpu.get_cpu_capability(), torch.get_num_threads())")


def _probe(**env) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if k not in (*numerics.PINS, "SA2SR_NATIVE_CPU")}
    res = subprocess.run([sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout.split()


@pytest.mark.skipif(not numerics.has_avx2(), reason="the pins need an x86-64 CPU with AVX2")
def test_torch_runs_the_pinned_level_and_threads_and_a_users_choice_wins():
    assert _probe() == ["AVX2", str(numerics.CPU_THREADS)]
    assert _probe(SA2SR_CPU_THREADS="1") == ["AVX2", "1"]  # a run's thread count (sa2sr reproduce --devices cpu,cpu)
    assert _probe(ATEN_CPU_CAPABILITY="default")[0] == "DEFAULT"  # set by the user: left as it is
    native = _probe(SA2SR_NATIVE_CPU="1", ATEN_CPU_CAPABILITY="default")
    assert native[0] == "DEFAULT"


def test_every_stage_that_trains_or_scores_pins_first():
    for name in ("pretrain", "text_features", "finetune", "baseline", "evaluate"):
        tree = ast.parse((ROOT / "stages" / f"{name}.py").read_text())
        body = [n for n in tree.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
        first, second = body[0], body[1]
        assert isinstance(first, ast.ImportFrom) and [a.name for a in first.names] == ["numerics"], name
        assert ast.unparse(second) == "numerics.pin_cpu_numerics()", name
        main = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main")
        assert ast.unparse(main.body[0]) == "numerics.pin_threads()", name


def test_a_thread_count_that_is_not_one_is_named(monkeypatch):
    monkeypatch.setenv("SA2SR_CPU_THREADS", "two")
    with pytest.raises(ValueError, match="SA2SR_CPU_THREADS='two': expected a whole number"):
        numerics.cpu_threads()
    monkeypatch.setenv("SA2SR_CPU_THREADS", "3")
    assert numerics.cpu_threads() == 3
