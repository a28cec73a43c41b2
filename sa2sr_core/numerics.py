"""The same bits on any x86-64 CPU with AVX2: the numerical libraries' own dispatch switches, pinned before torch
and numpy load them, and a fixed CPU thread count for the training and evaluation stages.

What changes the bits of the demo's training on one machine (one pre-training epoch, docs/results.md 2026-12-07):
ATen's kernel level (ATEN_CPU_CAPABILITY), MKL's code path (MKL_CBWR: its documented conditional numerical
reproducibility), oneDNN's ISA (ONEDNN_MAX_CPU_ISA) and the number of threads (the order of parallel reductions).
A CPU with AVX-512 picks wider kernels for all three, and a machine with more cores more threads: so the stages pin
the AVX2 level and CPU_THREADS threads. Cost: AVX2 kernels where AVX-512 ones would run, and two threads on a
bigger machine (the demo's training is small; a real corpus trains on a GPU, which this does not touch).
`SA2SR_NATIVE_CPU=1` turns the pins off (the libraries' own choices: faster on big CPUs, other bits). A variable
already set by the user is left as it is. No torch here: this must run before torch is imported.
"""

from __future__ import annotations

import os
import platform

#: The dispatch switches, each the library's documented one, at the AVX2 level.
PINS = {
    "ATEN_CPU_CAPABILITY": "avx2",  # PyTorch's CPU kernels
    "MKL_CBWR": "AVX2",  # Intel MKL's code path (conditional numerical reproducibility)
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # oneDNN
    "OPENBLAS_CORETYPE": "Haswell",  # numpy's OpenBLAS (the AVX2 kernels)
}
#: CPU threads of the training and evaluation stages (reductions split by thread count); SA2SR_CPU_THREADS=N sets
#: another count (other bits: compare runs made with the same count, e.g. `sa2sr reproduce --devices cpu,cpu`).
CPU_THREADS = 2


def cpu_threads() -> int:
    value = os.environ.get("SA2SR_CPU_THREADS", "").strip()
    if not value:
        return CPU_THREADS
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"SA2SR_CPU_THREADS={value!r}: expected a whole number of threads, at least 1")
    return int(value)


def has_avx2() -> bool:
    """Whether this is an x86-64 CPU with AVX2 (the pins need it; elsewhere the libraries choose)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("flags") and " avx2" in line for line in f)
    except OSError:
        return False


def pinned() -> bool:
    return not os.environ.get("SA2SR_NATIVE_CPU") and has_avx2()


def pin_cpu_numerics() -> dict[str, str]:
    """Set the dispatch switches (where not set already) and OpenBLAS's thread count; call before torch and numpy
    are imported. Returns what is in effect."""
    if not pinned():
        return {}
    for key, value in {**PINS, "OPENBLAS_NUM_THREADS": str(cpu_threads())}.items():
        os.environ.setdefault(key, value)
    return {k: os.environ[k] for k in (*PINS, "OPENBLAS_NUM_THREADS")}


def pin_threads() -> None:
    """torch's CPU threads (and MKL's, which follow them) to cpu_threads(), when pinned."""
    if pinned():
        import torch

        torch.set_num_threads(cpu_threads())
