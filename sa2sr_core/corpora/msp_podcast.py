"""MSP-Podcast, official layout: Audios/<file>.wav, Labels/labels_consensus.csv, Transcripts/<utt>.txt.

labels_consensus.csv columns: FileName, EmoClass, EmoAct, EmoVal, EmoDom, SpkrID, Gender, Split_Set
(some releases spell it labels_concensus.csv). AVD stay on the released 1-7 scale.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from sa2sr_core.audio import AudioError, probe_audio
from sa2sr_core.corpora.librispeech import CorpusLayoutError
from sa2sr_core.corpora.manifest import CorpusRead

SPLIT_SET = {"Train": "train", "Development": "validation", "Test1": "test1", "Test2": "test2", "Test3": "test3"}
LABEL_FILES = ("labels_consensus.csv", "labels_concensus.csv")
REQUIRED = ("FileName", "EmoAct", "EmoVal", "EmoDom", "SpkrID", "Split_Set")
SCALE = (1.0, 7.0)


def find_msp_root(root: str | Path) -> tuple[Path, Path]:
    """Return (corpus root, label file)."""
    root = Path(root)
    if not root.is_dir():
        raise CorpusLayoutError(f"MSP-Podcast root {root} does not exist or is not a directory")
    for name in LABEL_FILES:
        if (root / "Labels" / name).is_file():
            if not (root / "Audios").is_dir():
                raise CorpusLayoutError(f"MSP-Podcast root {root}: found Labels/{name} but no Audios/ folder")
            return root, root / "Labels" / name
    raise CorpusLayoutError(
        f"{root} is not an MSP-Podcast root: expected Labels/labels_consensus.csv (or labels_concensus.csv), "
        f"Audios/ and Transcripts/ in {root}")


def _float(value: str | None) -> float | None:
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def read_msp_podcast(root: str | Path) -> CorpusRead:
    base, label_file = find_msp_root(root)
    read, seen = CorpusRead("msp_podcast"), {}
    with open(label_file, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise CorpusLayoutError(f"{label_file}: missing columns {missing}; header is {reader.fieldnames}")
        for lineno, rec in enumerate(reader, 2):
            where = f"{label_file}:{lineno}"
            fname = (rec.get("FileName") or "").strip()
            split = SPLIT_SET.get((rec.get("Split_Set") or "").strip())
            avd = [_float(rec.get(k)) for k in ("EmoAct", "EmoVal", "EmoDom")]
            if not fname:
                read.reject(where, "label row has no FileName")
                continue
            if split is None:
                read.reject(where, f"unknown Split_Set {rec.get('Split_Set')!r}; expected one of {list(SPLIT_SET)}")
                continue
            if any(x is None for x in avd):
                read.reject(where, f"missing or non-numeric EmoAct/EmoVal/EmoDom for {fname}")
                continue
            if any(not SCALE[0] <= x <= SCALE[1] for x in avd):  # type: ignore[operator]
                read.reject(where, f"AVD {avd} outside the {SCALE} scale for {fname}")
                continue
            audio = base / "Audios" / fname
            try:
                info = probe_audio(audio)
            except AudioError as e:
                read.reject(audio, e.reason)
                continue
            utt = Path(fname).stem
            spk = (rec.get("SpkrID") or "").strip()
            tr = base / "Transcripts" / f"{utt}.txt"
            text = tr.read_text(encoding="utf-8", errors="replace").strip() if tr.is_file() else None
            read.add({
                "utt_id": utt, "path": str(audio), "speaker": "unknown" if spk.lower() in ("", "unknown") else f"msp-{spk}",
                "split": split, "subset": rec["Split_Set"].strip(), "duration_s": info.duration_s,
                "sample_rate": info.sample_rate, "num_channels": info.num_channels, "text": text or None,
                "emotion": (rec.get("EmoClass") or "").strip() or None,
                "activation": avd[0], "valence": avd[1], "dominance": avd[2],
            }, seen)
    return read
