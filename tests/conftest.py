"""Shared fixtures: tiny audio files and corpora generated on the fly, never downloaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def tone(seconds: float = 1.0, sr: int = 16000, channels: int = 1, freq: float = 220.0, seed: int = 0) -> np.ndarray:
    """A voiced-ish test signal: harmonic tone plus a little noise, (N,) or (N, C)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = sum(0.2 / k * np.sin(2 * np.pi * freq * k * t) for k in range(1, 6)) + 0.01 * rng.standard_normal(len(t))
    x = x.astype(np.float32)
    return np.stack([x, 0.5 * x], axis=1) if channels == 2 else x


def write_audio(path: Path, samples: np.ndarray | None = None, sr: int = 16000, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, tone(sr=sr, **kw) if samples is None else samples, sr)
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED
