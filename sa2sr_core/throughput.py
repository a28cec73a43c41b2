"""Training-step throughput of the SA2SR model on a device: how many real input frames per second the training
loop's own update (forward, backward, clipping, Adam: `training.train_step`) gets through. Used by
`sa2sr reproduce` to say how long the paper profile takes on this machine, and by the benchmarks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import torch

from sa2sr_core.config import FbankConfig
from sa2sr_core.data import Example, collate, plan_batches
from sa2sr_core.functionals import num_functionals
from sa2sr_core.io import atomic_path
from sa2sr_core.names import SENTIMENT_CLASSES
from sa2sr_core.models.sa2sr import SA2SR, SA2SRConfig
from sa2sr_core.pretrain import sa2sr_loss
from sa2sr_core.shards import Job, build_table
from sa2sr_core.training import timed_steps


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


def write_synthetic_shards(out: Path, hours: float, shard_seconds: float = 7200.0, dtype: str = "float32",
                           seed: int = 0) -> pd.DataFrame:
    """Shards of random utterances (2-17 s, LibriSpeech-like) in the features stage's schema; returns labels."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz     '"))
    out.mkdir(parents=True, exist_ok=True)
    total, shard, labels, i = 0.0, 0, [], 0
    while total < hours * 3600:
        jobs, feats, stats, acc = [], [], [], 0.0
        while acc < shard_seconds and total + acc < hours * 3600:
            dur = float(rng.uniform(2.0, 17.0))
            text = "".join(rng.choice(letters, size=int(dur * 14))).strip() or "a"
            uid = f"syn{seed}-{i:08d}"
            jobs.append(Job(uid, uid, "", 1.0, "s", text.upper(), None, None, None, dur))
            feats.append(rng.standard_normal((int(dur * 100) - 2, 40)).astype(np.float32))
            stats.append(rng.standard_normal(num_functionals(40)).astype(np.float32))
            labels.append({"utt_id": uid, "sentiment": SENTIMENT_CLASSES[i % 3]})
            acc += dur
            i += 1
        with atomic_path(out / f"shard-{shard:05d}.parquet") as tmp:
            pq.write_table(build_table(jobs, feats, stats, FbankConfig(dtype=dtype)), tmp, compression="lz4", row_group_size=256)
        total += acc
        shard += 1
    return pd.DataFrame(labels)


def step_throughput(model_cfg: SA2SRConfig, batches, device, lam: float = 1.0, amp: bool = False,
                    fused: str = "auto", warmup: int = 2, max_seconds: float | None = None,
                    grad_clip: float = 5.0) -> dict:
    """Frames/s of the training loop's own update (`training.train_step` with eq. 1) on batches moved to `device`
    beforehand (the first `warmup` are not timed); stops early after max_seconds of timed steps."""
    device = torch.device(device)
    torch.manual_seed(0)
    model = SA2SR(model_cfg).to(device)
    if model_cfg.encoder.kind == "bilstm":
        model.encoder.lstm.fused = fused
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    batches = [b.to(device) for b in batches]
    if len(batches) <= warmup:
        raise ValueError(f"need more than {warmup} batches (the first {warmup} warm up), got {len(batches)}")
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    r = timed_steps(model, opt, sa2sr_loss(lam), batches, grad_clip, amp and device.type == "cuda", warmup,
                    max_seconds)
    mem = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None
    return {**r, "peak_gpu_memory_gib": None if mem is None else round(mem, 1)}


def paper_size_predictor(encoder: "EncoderConfig | None" = None) -> tuple[torch.nn.Module, dict]:
    """A randomly initialised inference model (default: the paper's size, 5 x BiLSTM(192); or any resolved
    `encoder`, e.g. SSL random-base), encoder run twice, with a minimal config: it costs what a trained one costs to
    run, for benchmarks without a model directory."""
    from dataclasses import asdict

    from sa2sr_core.config import ENCODER_KINDS, EmotionModelConfig, EncoderConfig, FbankConfig, RegressorConfig
    from sa2sr_core.models.predictor import Predictor, PredictorConfig

    torch.manual_seed(0)
    enc = encoder or EncoderConfig()
    emo = EmotionModelConfig(enc, RegressorConfig(input_dim=enc.output_dim))
    cfg = PredictorConfig(SA2SRConfig(encoder=enc), emo, share_encoder=False)
    return Predictor(cfg).eval(), {"features": asdict(FbankConfig(kind=ENCODER_KINDS[enc.kind])),
                                   "labels": {"scale": [1.0, 7.0]}}


def random_model_dir(out, hidden: int = 192, layers: int = 5, seed: int = 0):
    """A packaged model directory (what stage `package` writes) with random weights of the given encoder size,
    for measuring `sa2sr predict` / `sa2sr serve` without training: it costs what a trained one costs to run."""
    import tempfile
    from dataclasses import asdict
    from pathlib import Path

    from sa2sr_core.bundle import package_model
    from sa2sr_core.config import (EmotionModelConfig, EncoderConfig, FbankConfig, FinetuneConfig, PretrainConfig,
                                   RegressorConfig)
    from sa2sr_core.finetune import save_emotion_model
    from sa2sr_core.models.regressor import EmotionModel
    from sa2sr_core.names import DIMS
    from sa2sr_core.pretrain import save_model_dir

    torch.manual_seed(seed)
    enc, feats = EncoderConfig(hidden=hidden, layers=layers), asdict(FbankConfig())
    with tempfile.TemporaryDirectory() as tmp:
        pre, ft = Path(tmp) / "pretrain", Path(tmp) / "finetune"
        save_model_dir(pre, SA2SR(SA2SRConfig(encoder=enc)), {"features": feats, "normalization": {"type": "utterance"},
                                                              "pretrain": asdict(PretrainConfig())})
        save_emotion_model(ft, EmotionModel(EmotionModelConfig(enc, RegressorConfig(input_dim=enc.output_dim))), {
            "features": feats,
            "labels": {"dimensions": list(DIMS), "scale": [1.0, 7.0], "training_normalisation": "none"},
            "finetune": asdict(FinetuneConfig())})
        package_model(pre, ft, out, {})
    return Path(out)


#: The demo's MSP-Podcast audio (stage demo_data@msp_podcast): utterances for the inference benchmarks.
DEMO_MSP_AUDIO = Path("data/demo/msp_podcast/MSP-Podcast/Audios")


def speech_utterances(source: Path = DEMO_MSP_AUDIO, n: int = 400, espeak_n: int = 40) -> tuple[list[np.ndarray], str]:
    """Up to n utterances at 16 kHz from an audio directory (searched recursively), or, where it does not exist,
    espeak_n espeak-ng utterances; and where they came from."""
    import random

    from sa2sr_core.audio import AUDIO_EXTENSIONS, load_audio, resample

    source = Path(source)
    if source.is_dir():
        files = sorted(p for p in source.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS)[:n]
        if files:
            return [load_audio(p, 16000) for p in files], str(source)
    from sa2sr_core.corpora.espeak import Espeak, Prosody
    from sa2sr_core.corpora.sentences import make_sentence

    rng, eng = random.Random(0), Espeak.get()
    return [resample(eng.synthesize(make_sentence(rng, SENTIMENT_CLASSES[i % 3], 2), "en-us",
                                    Prosody(rate=170, volume=100, pitch=50, range=50)), eng.sample_rate, 16000)
            for i in range(espeak_n)], f"espeak-ng utterances (no audio under {source})"
