"""Feature extraction throughput: sa2sr's shard pipeline vs a naive baseline, side by side in one run.

End to end: decode + fbank + normalise + write Parquet. Reports × real time per core (single process,
one torch thread, so per core) and the ratio ours / baseline.

  baseline: per utterance soundfile.read -> torchaudio kaldi.fbank -> normalise, rows collected in a pandas
            DataFrame with the features as nested Python lists, then DataFrame.to_parquet.
  sa2sr:    sa2sr_core.features.shards.extract_split (the `features` stage's code path), workers=1.

Without the manifest (no `dvc repro` yet), or with --synthetic N: N synthetic voiced utterances (1-4 s tones
with noise, 16 kHz FLAC) in a temporary directory.

Usage: python benchmarks/features.py [--manifest data/manifests/librispeech.parquet] [--limit 300]
       python benchmarks/features.py --synthetic 4 --repeats 1   # smoke test
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import torch
import torchaudio.compliance.kaldi as kaldi

from sa2sr_core.audio import load_audio
from sa2sr_core.config.features import FeatureConfig
from sa2sr_core.features.shards import extract_split


def baseline(manifest: pd.DataFrame, out: Path) -> None:
    rows = []
    for r in manifest.itertuples():
        x = load_audio(r.path, 16000)
        f = kaldi.fbank(torch.from_numpy(x * 32768)[None], num_mel_bins=40, frame_length=25, frame_shift=10,
                        dither=0.0, sample_frequency=16000)
        f = (f - f.mean(0)) / f.std(0).clamp_min(1e-5)
        rows.append({"utt_id": r.utt_id, "num_frames": f.shape[0], "lfbe": f.tolist()})
    pd.DataFrame(rows).to_parquet(out / "baseline.parquet")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--manifest", default="data/manifests/librispeech.parquet")
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", default=None, help="write the figures as JSON here")
    ap.add_argument("--synthetic", type=int, default=0, help="N synthetic utterances instead of the manifest")
    args = ap.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as audio_dir:
        if args.synthetic or not Path(args.manifest).is_file():
            m = synthetic_manifest(Path(audio_dir), args.synthetic or 40)
        else:
            m = pd.read_parquet(args.manifest).sort_values("utt_id").head(args.limit)
        report = compare(m, args.repeats)
    print(json.dumps(report, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1) + "\n")


def synthetic_manifest(root: Path, n: int) -> pd.DataFrame:
    """n voiced-ish utterances (harmonic tone + noise, 1-4 s, 16 kHz FLAC) and their manifest rows."""
    rng, rows = np.random.default_rng(0), []
    for i in range(n):
        dur = float(rng.uniform(1.0, 4.0))
        t = np.arange(int(dur * 16000)) / 16000
        x = sum(0.2 / k * np.sin(2 * np.pi * rng.uniform(100, 250) * k * t) for k in range(1, 6))
        path = root / f"syn{i:03d}.flac"
        sf.write(path, (x + 0.01 * rng.standard_normal(len(t))).astype(np.float32), 16000)
        rows.append({"utt_id": f"syn{i:03d}", "path": str(path), "speaker": "s", "text": "A", "duration_s": dur,
                     "activation": np.nan, "valence": np.nan, "dominance": np.nan})
    return pd.DataFrame(rows)


def compare(m: pd.DataFrame, repeats: int) -> dict:
    audio_s = float(m["duration_s"].sum())
    results: dict[str, list[float]] = {"baseline": [], "sa2sr": []}
    for _ in range(repeats):  # alternate, keep the best of each
        for name in results:
            tmp = Path(tempfile.mkdtemp())
            t0 = time.perf_counter()
            if name == "baseline":
                baseline(m, tmp)
            else:
                extract_split(m, tmp / "shards", FeatureConfig(), speeds=[], workers=1, desc="sa2sr")
            results[name].append(time.perf_counter() - t0)
            shutil.rmtree(tmp)
    best = {k: min(v) for k, v in results.items()}
    report = {
        "utterances": len(m), "audio_seconds": round(audio_s, 1),
        "baseline_x_realtime_per_core": round(audio_s / best["baseline"], 1),
        "sa2sr_x_realtime_per_core": round(audio_s / best["sa2sr"], 1),
        "speedup_vs_baseline": round(best["baseline"] / best["sa2sr"], 2),
    }
    assert np.isfinite(list(best.values())).all()
    return report


if __name__ == "__main__":
    main()
