"""The data stages at LibriSpeech 960 h's real file count: cost per 1,000 files, small tree against large, one run.

Lays out a LibriSpeech-shaped tree in the official layout (<subset>/<speaker>/<chapter>/<spk>-<chapter>-<utt>.flac
and one <spk>-<chapter>.trans.txt per chapter) with the real 960 h training file count (train-clean-100 28,539 +
train-clean-360 104,014 + train-other-500 148,688 = 281,241 files) and dev-clean (2,703), the real speaker counts
(251 / 921 / 1,166 / 40) and about 5,900 chapter folders. Every audio file is a hard link to one of a few short real
clips (the demo LibriSpeech's espeak-ng speech cut to --clip-s seconds; synthetic voiced tones where there is no
demo corpus), so the tree costs inodes, not disk. The same tree at --small files (default 5,800: the size the data
stages were measured at before) is built and run in the same process.

Then the pipeline's own stages run through DVC, each in its own process, in a scratch copy of the project
(dvc.yaml, params.yaml, stages/, sa2sr_core/; `dvc init --no-scm`) whose params point data.librispeech at the tree:
prepare@librispeech, features@librispeech, pseudo_label@librispeech (the labeller's fallback, VADER: no hub here).
Reported per stage: wall seconds and peak resident memory of the stage's processes (DVC's included), and seconds
per 1,000 files; then `dvc status` of the three stages twice (the first fills DVC's hash state, the second is the
no-op a user waits for). Speed perturbation is off (it multiplies the feature work by 3 at every size alike).

Usage: python benchmarks/filecount.py                       # 5,800 and 283,944 files (tens of minutes, ~8 GB)
       python benchmarks/filecount.py --small 60 --large 180  # smoke test
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import yaml

ROOT = Path(__file__).resolve().parents[1]
#: subset -> (files, speakers, chapters): files and speakers are LibriSpeech's; chapters approximately so
LAYOUT = {"train-clean-100": (28_539, 251, 585), "train-clean-360": (104_014, 921, 2_364),
          "train-other-500": (148_688, 1_166, 2_848), "dev-clean": (2_703, 40, 97)}
FULL = sum(f for f, _, _ in LAYOUT.values())
STAGES = ["prepare@librispeech", "features@librispeech", "pseudo_label@librispeech"]
#: run a command, then print the peak RSS (KiB) of it and every process it waited for
_PEAK = ("import resource, subprocess, sys; rc = subprocess.run(sys.argv[1:]).returncode; "
         "print('PEAK_KIB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(rc)")


def clips(out: Path, n: int, clip_s: float) -> list[tuple[Path, str]]:
    """n short clips with their transcripts: the demo LibriSpeech's utterances cut to clip_s, else synthetic."""
    out.mkdir(parents=True, exist_ok=True)
    manifest = ROOT / "data" / "manifests" / "librispeech.parquet"
    found = []
    if manifest.is_file():
        m = pd.read_parquet(manifest)
        paths = [p if Path(p).is_absolute() else ROOT / p for p in m["path"]]
        for i, (path, text) in enumerate([(p, t) for p, t in zip(paths, m["text"]) if Path(p).is_file()][:n]):
            x, sr = sf.read(path, dtype="float32")
            sf.write(out / f"clip{i:03d}.flac", x[: int(clip_s * sr)], sr)
            found.append((out / f"clip{i:03d}.flac", str(text).upper()))
    rng = np.random.default_rng(0)
    for i in range(len(found), n):  # no demo corpus (no `dvc repro` yet): voiced-ish tones with noise
        t = np.arange(int(clip_s * 16000)) / 16000
        x = sum(0.2 / k * np.sin(2 * np.pi * rng.uniform(100, 250) * k * t) for k in range(1, 6))
        path = out / f"clip{i:03d}.flac"
        sf.write(path, (x + 0.01 * rng.standard_normal(len(t))).astype(np.float32), 16000)
        found.append((path, "A SYNTHETIC TONE HAS NO WORDS"))
    return found


def lay_out(root: Path, total: int, sources: list[tuple[Path, str]]) -> int:
    """A LibriSpeech tree under root/LibriSpeech with `total` audio files in LAYOUT's proportions; returns the
    number of files (each subset keeps at least one file per chapter)."""
    scale, made, spk_id, chap_id = total / FULL, 0, 100, 10_000
    for subset, (files, speakers, chapters) in LAYOUT.items():
        n_files = max(1, round(files * scale))
        n_chap = max(1, min(n_files, round(chapters * scale)))
        n_spk = max(1, min(n_chap, round(speakers * scale)))
        per_chap = np.full(n_chap, n_files // n_chap) + (np.arange(n_chap) < n_files % n_chap)
        for c in range(n_chap):
            spk, chap = spk_id + c % n_spk, chap_id + c
            d = root / "LibriSpeech" / subset / str(spk) / str(chap)
            d.mkdir(parents=True, exist_ok=True)
            lines = []
            for u in range(int(per_chap[c])):
                src, text = sources[(made + u) % len(sources)]
                utt = f"{spk}-{chap}-{u:04d}"
                os.link(src, d / f"{utt}.flac")
                lines.append(f"{utt} {text}")
            (d / f"{spk}-{chap}.trans.txt").write_text("\n".join(lines) + "\n")
            made += int(per_chap[c])
        spk_id += n_spk
        chap_id += n_chap
    return made


def scratch_project(proj: Path, corpus_root: Path, workers: int) -> None:
    """A copy of the pipeline's code and config whose LibriSpeech is the tree; DVC without git."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for d in ("stages", "sa2sr_core"):
        shutil.copytree(ROOT / d, proj / d, ignore=ignore)
    shutil.copy(ROOT / "dvc.yaml", proj / "dvc.yaml")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"].update({"librispeech": str(corpus_root), "feature_corpora": ["librispeech"],
                           "speed_perturb_corpus": "none", "max_utterances_per_split": None})
    params["labeler"]["corpora"] = ["librispeech"]
    params["features"]["workers"] = workers
    (proj / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (proj / "data" / "demo" / "librispeech").mkdir(parents=True)  # prepare's dependency (the demo's folder)
    _run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], proj)


def _run(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, peak MiB of the command's processes); a failure stops the benchmark with its output."""
    env = {**os.environ, "PYTHONPATH": str(cwd),  # the scratch copy's sa2sr_core, not the installed one
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}  # DVC's `python`
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", _PEAK, *cmd], cwd=cwd, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if res.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed in {cwd}:\n{res.stdout[-2000:]}\n{res.stderr[-4000:]}")
    peak = int(res.stderr.rsplit("PEAK_KIB", 1)[1].split()[0]) / 1024
    return dt, peak


def run_size(work: Path, files: int, sources, workers: int) -> dict:
    tree, proj = work / "corpus", work / "project"
    t0 = time.perf_counter()
    made = lay_out(tree, files, sources)
    layout_s = time.perf_counter() - t0
    scratch_project(proj, tree, workers)
    out = {"files": made, "chapters": sum(1 for _ in (tree / "LibriSpeech").glob("*/*/*")),
           "layout_s": round(layout_s, 1), "stages": {}}
    for stage in STAGES:
        dt, peak = _run([sys.executable, "-m", "dvc", "repro", "-s", stage], proj)
        out["stages"][stage] = {"seconds": round(dt, 1), "per_1000_files_s": round(dt / made * 1000, 3),
                                "peak_mib": round(peak)}
        print(f"{made:,} files, {stage}: {dt:.1f} s, peak {peak:.0f} MiB", file=sys.stderr, flush=True)
    manifest = pd.read_parquet(proj / "data" / "manifests" / "librispeech.parquet")
    labels = pd.read_parquet(proj / "data" / "labels" / "librispeech.parquet")
    shards = sorted((proj / "data" / "features" / "librispeech").rglob("*.parquet"))
    rows = sum(len(pd.read_parquet(p, columns=["utt_id"])) for p in shards)
    if not len(manifest) == len(labels) == rows == made:  # every file came through every stage
        sys.exit(f"files {made}, manifest {len(manifest)}, labels {len(labels)}, feature rows {rows}")
    out["shards"] = len(shards)
    status = [sys.executable, "-m", "dvc", "status", *STAGES]
    first, _ = _run(status, proj)  # fills DVC's hash state
    again, peak = _run(status, proj)  # the no-op a user waits for
    out.update(dvc_status_first_s=round(first, 2), dvc_status_s=round(again, 2), dvc_status_peak_mib=round(peak))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=5_800, help="files in the small tree (the baseline)")
    ap.add_argument("--large", type=int, default=FULL, help=f"files in the large tree (default {FULL:,}: 960 h + dev)")
    ap.add_argument("--clips", type=int, default=40, help="distinct short clips the trees link to")
    ap.add_argument("--clip-s", type=float, default=1.0, help="each clip's length in seconds")
    ap.add_argument("--workers", type=int, default=2, help="params features.workers")
    ap.add_argument("--work", default=None, help="a folder for the trees and projects (default: a temporary one)")
    ap.add_argument("--out", default=None, help="write the figures as JSON here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        sources = clips(Path(tmp) / "clips", args.clips, args.clip_s)
        small = run_size(Path(tmp) / "small", args.small, sources, args.workers)
        shutil.rmtree(Path(tmp) / "small")
        large = run_size(Path(tmp) / "large", args.large, sources, args.workers)
    report = {"machine": f"{os.cpu_count()} CPUs", "clip_s": args.clip_s, "workers": args.workers,
              "small": small, "large": large,
              "per_1000_files_large_over_small": {
                  s: round(large["stages"][s]["per_1000_files_s"] / small["stages"][s]["per_1000_files_s"], 2)
                  for s in STAGES},
              "peak_mib_large_over_small": {
                  s: round(large["stages"][s]["peak_mib"] / small["stages"][s]["peak_mib"], 2) for s in STAGES},
              # the cost of the files the large tree adds, per 1,000 (a stage's fixed start-up cancels out)
              "marginal_per_1000_files_s": {s: round((large["stages"][s]["seconds"] - small["stages"][s]["seconds"])
                                                     / (large["files"] - small["files"]) * 1000, 3) for s in STAGES},
              "peak_growth_mib_per_1000_files": {s: round((large["stages"][s]["peak_mib"] - small["stages"][s]["peak_mib"])
                                                          / (large["files"] - small["files"]) * 1000, 2)
                                                 for s in STAGES}}
    text = json.dumps(report, indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
