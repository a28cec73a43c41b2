"""Which torch device a run uses."""

from __future__ import annotations

import torch


def pick_device(name: str) -> torch.device:
    """`auto`: the GPU when there is one, else the CPU; any other name as torch spells it (cpu, cuda, cuda:1)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
