"""Tiny real-speech fixtures for model tests: espeak utterances with known text, featurised into shards."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from sa2sr_core.audio import resample
from sa2sr_core.config.features import FeatureConfig
from sa2sr_core.corpora.espeak import Espeak, Prosody
from sa2sr_core.corpora.sentences import make_sentence
from sa2sr_core.features.shards import extract_split
from sa2sr_core.names import SENTIMENT_CLASSES


def speech_shards(root: Path, n: int, split: str = "train", seed: int = 0, words: int | None = None,
                  speeds: tuple = (), voice: str = "en-us+m3", avd: bool = False,
                  max_seconds: float = 1800.0, fbank: FeatureConfig | None = None,
                  categories: bool = False) -> tuple[Path, pd.DataFrame]:
    """Write n espeak utterances, extract shards (LFBE, or `fbank`'s kind) to root/features/<split>; return
    (split dir, labels frame). categories: each utterance's class follows its speaking rate and pitch range
    (`slow` below the middle, `fast` above), which the acoustics carry."""
    rng = random.Random(seed)
    eng = Espeak.get()
    rows, labels = [], []
    for i in range(n):
        sentiment = SENTIMENT_CLASSES[i % 3]
        text = make_sentence(rng, sentiment, 3)
        if words:
            text = " ".join(text.split()[:words])
        a = rng.uniform(-1, 1)
        wav = resample(eng.synthesize(text, voice, Prosody(rate=int(170 + 60 * a), volume=100, pitch=50,
                                                            range=int(50 + 30 * a))), eng.sample_rate, 16000)
        path = root / "audio" / f"{split}-{i}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, wav, 16000)
        rows.append({"utt_id": f"{split}-{i:03d}", "path": str(path), "speaker": "s", "text": text.upper(),
                     "duration_s": len(wav) / 16000, "activation": 4 + 2.5 * a if avd else np.nan,
                     "valence": {"negative": 2.5, "neutral": 4.0, "positive": 5.5}[sentiment] if avd else np.nan,
                     "dominance": 4 + 1.5 * a if avd else np.nan,
                     "emotion": ("fast" if a > 0 else "slow") if categories else None})
        labels.append({"utt_id": f"{split}-{i:03d}", "sentiment": sentiment})
    out = root / "features" / split
    extract_split(pd.DataFrame(rows), out, fbank or FeatureConfig(), speeds=list(speeds), max_seconds=max_seconds, workers=1)
    return out, pd.DataFrame(labels)


def standardise_stats(regressor, stats) -> None:
    """Set a regressor's functionals standardisation to a sample's mean and sd per value (stats (N, K)), as the ridge
    start does in training."""
    import torch

    with torch.no_grad():
        regressor.stats_mean.copy_(stats.mean(0))
        regressor.stats_std.copy_(stats.std(0).clamp_min(1e-3))


def project_baseline_config():
    """params.yaml's ridge baseline settings (its regulariser grid is stated there only)."""
    from sa2sr_core.config.baseline import baseline_config
    from sa2sr_core.params import load_params

    return baseline_config(load_params(Path(__file__).resolve().parents[1] / "params.yaml"))
