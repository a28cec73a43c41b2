"""Training-step throughput of the SA2SR model on a device: how many real input frames per second forward,
backward, clipping and Adam get through. Used by `sa2sr reproduce` to say how long the paper profile takes on
this machine, and by benchmarks/pretrain_loop.py as the ceiling the data loop is compared against."""

from __future__ import annotations

import time

import numpy as np
import torch

from sa2sr_core.data import Example, collate, plan_batches
from sa2sr_core.models.sa2sr import SA2SR, SA2SRConfig


def synthetic_batches(model_cfg: SA2SRConfig, max_frames: int, max_batch: int, n: int, seed: int = 0):
    """n batches of random LibriSpeech-like utterances (2-17 s, ~14 characters/s) under a frame budget."""
    rng = np.random.default_rng(seed)
    dim = model_cfg.encoder.input_dim
    lengths = rng.integers(200, 1700, size=max(4 * n * max_batch, 64))
    batches = []
    for idx in plan_batches(lengths, max_frames, max_batch, sort=True)[:: max(1, len(lengths) // (n * max_batch))]:
        ex = [Example(f"s{i}", rng.standard_normal((int(lengths[i]), dim)).astype(np.float32),
                      rng.integers(1, 29, size=int(lengths[i] * 0.14)).tolist(), int(rng.integers(0, 3)))
              for i in idx]
        batches.append(collate(ex))
        if len(batches) == n:
            break
    return batches


def step_throughput(model_cfg: SA2SRConfig, batches, device, lam: float = 1.0, amp: bool = False,
                    fused: str = "auto", warmup: int = 2, max_seconds: float | None = None) -> dict:
    """Frames/s of the model step on batches moved to `device` beforehand (the first `warmup` are not timed);
    stops early after max_seconds of timed steps."""
    device = torch.device(device)
    torch.manual_seed(0)
    model = SA2SR(model_cfg).to(device)
    model.encoder.lstm.fused = fused
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    batches = [b.to(device) for b in batches]
    if len(batches) <= warmup:
        raise ValueError(f"need more than {warmup} batches (the first {warmup} warm up), got {len(batches)}")
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    frames = padded = steps = 0
    t0 = time.perf_counter()
    for i, b in enumerate(batches):
        if i == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0, frames, padded, steps = time.perf_counter(), 0, 0, 0
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp and device.type == "cuda"):
            _, losses = model(b.feats, b.lengths, b.targets, b.target_lengths, b.sentiment)
        loss = losses["ctc"] + lam * losses["sentiment"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        frames += int(b.lengths.sum())
        padded += b.feats.shape[0] * b.feats.shape[1]
        steps += i >= warmup
        if max_seconds and i >= warmup and time.perf_counter() - t0 > max_seconds:
            break
    if device.type == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    mem = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None
    return {"frames_per_s": frames / dt, "padding_fraction": 1 - frames / max(padded, 1), "steps": steps,
            "peak_gpu_memory_gib": None if mem is None else round(mem, 1)}
