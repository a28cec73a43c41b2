"""Your own emotion corpus from one manifest file: CSV, TSV or JSON lines, one row per recording.

    path        the audio file, relative to the manifest's folder or absolute
    speaker     who speaks (splits must be speaker-disjoint)
    split       train | development | any other name: a test set (test, test-actors-11-12, ...)
    category    a class name (any names), and/or
    activation, valence, dominance   all three, numbers on the scale declared by the caller
    transcript  optional; utt_id optional (default: the path without its extension)

Read like the official layouts: a row that can be skipped (missing or unreadable audio, no label, a label off
the scale, a duplicated path, an empty split) becomes a reject naming the manifest's line and why; a manifest
that cannot be used (no such file, a missing column, a split name that looks like a misspelt train or
development, a speaker in two splits, no train or development or test rows left) raises one ManifestError
naming the file and the problem. Test-split names are lower-cased and must be usable as folder names.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections import Counter
from pathlib import Path

from sa2sr_core.audio import AudioError, probe_audio
from sa2sr_core.corpora.manifest import CorpusRead, ManifestError, speaker_overlap
from sa2sr_core.names import DIMS
from sa2sr_core.params import OWN as CORPUS

FORMATS = {".csv": ",", ".tsv": "\t", ".jsonl": None}
REQUIRED = ("path", "speaker", "split")
#: The manifest's names of the two fixed splits, and the canonical names they get.
FIXED_SPLITS = {"train": "train", "development": "validation"}
#: Names that would otherwise silently become test sets, though they most likely mean train or development.
LOOKALIKES = {"dev": "development", "devel": "development", "val": "development", "valid": "development",
              "validation": "development", "training": "train", "trn": "train"}
TEST_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


def _rows(path: Path) -> tuple[list[str], list[tuple[int, dict | None]]]:
    """(columns, [(line number, row or None when the line cannot be parsed)]) of a CSV / TSV / JSON-lines file."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ManifestError(f"{path}: a manifest is .csv, .tsv or .jsonl, not {suffix or 'a file without extension'}")
    if suffix == ".jsonl":
        rows, columns = [], {}
        for i, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                rows.append((i, None))
                continue
            if not isinstance(rec, dict):
                rows.append((i, None))
                continue
            columns.update(dict.fromkeys(rec))
            rows.append((i, {k: "" if v is None else str(v) for k, v in rec.items()}))
        return list(columns), rows
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f, delimiter=FORMATS[suffix])
        columns = [c.strip() for c in reader.fieldnames or []]
        reader.fieldnames = columns
        return columns, [(i, rec) for i, rec in enumerate(reader, 2)]


def _audio_path(manifest: Path, given: str) -> Path:
    """A manifest's `path` value: absolute, or relative to the manifest's folder."""
    return Path(given) if Path(given).is_absolute() else manifest.parent / given


def audio_paths(manifest: Path) -> list[str]:
    """The audio files a manifest lists, resolved as the reader resolves them (unparseable rows left out)."""
    _, rows = _rows(manifest)
    given = (((rec or {}).get("path") or "").strip() for _, rec in rows)
    return [str(_audio_path(manifest, g)) for g in given if g]


def _float(value: str) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def read_own_manifest(manifest: str | Path, scale: tuple[float, float] | None = None,
                      for_training: bool = True) -> CorpusRead:
    """The manifest's usable rows and its rejects; `scale` (low, high): A/V/D outside it are rejected.
    for_training=False (a cross-corpus target): test splits are all it needs; train and development may be absent."""
    manifest = Path(manifest)
    if not manifest.is_file():
        raise ManifestError(f"{manifest}: no such manifest file")
    columns, rows = _rows(manifest)
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise ManifestError(f"{manifest}: missing column(s) {missing}; the header has {columns}")
    has_dims = all(d in columns for d in DIMS)
    if "category" not in columns and not has_dims:
        raise ManifestError(f"{manifest}: no label column: need `category` and/or all of {list(DIMS)}; "
                            f"the header has {columns}")
    splits = Counter((r or {}).get("split", "").strip().lower() for _, r in rows)
    lookalike = {s: LOOKALIKES[s] for s in splits if s in LOOKALIKES}
    if lookalike:
        s, meant = next(iter(lookalike.items()))
        raise ManifestError(f"{manifest}: split {s!r} ({splits[s]} rows): did you mean {meant!r}? Every split other "
                            f"than 'train' and 'development' is a test set; rename it")
    read, seen_ids, seen_paths = CorpusRead(CORPUS), {}, {}
    for line, rec in rows:
        where = f"{manifest}:{line}"
        if rec is None:
            read.reject(where, "not a JSON object" if manifest.suffix.lower() == ".jsonl" else "unreadable line")
            continue
        get = lambda k: (rec.get(k) or "").strip()  # noqa: E731
        given, split = get("path"), get("split").lower()
        if not given:
            read.reject(where, "no path")
            continue
        if not split:
            read.reject(where, f"{given}: no split")
            continue
        if split not in FIXED_SPLITS and not TEST_NAME.match(split):
            read.reject(where, f"{given}: split {split!r} cannot name a test set (letters, digits, '_', '-', '.')")
            continue
        category = get("category") or None
        dims = [_float(get(d)) for d in DIMS] if has_dims else [None, None, None]
        if has_dims and any(get(d) for d in DIMS) and any(x is None for x in dims):
            read.reject(where, f"{given}: {', '.join(DIMS)} must all be numbers "
                               f"(got {[get(d) for d in DIMS]})")
            continue
        if category is None and dims[0] is None:
            read.reject(where, f"{given}: no label (category or {', '.join(DIMS)})")
            continue
        if scale and dims[0] is not None and any(not scale[0] <= x <= scale[1] for x in dims):
            read.reject(where, f"{given}: {dict(zip(DIMS, dims))} outside the declared scale {scale[0]:g}-{scale[1]:g}")
            continue
        audio = _audio_path(manifest, given)
        key = str(audio.resolve())
        if key in seen_paths:
            read.reject(where, f"{given}: duplicated path (first on line {seen_paths[key]})")
            continue
        seen_paths[key] = line
        try:
            info = probe_audio(audio)
        except AudioError as e:
            read.reject(where, f"{given}: {e.reason}")
            continue
        speaker = get("speaker")
        if not speaker:
            read.reject(where, f"{given}: no speaker (splits are checked to be speaker-disjoint)")
            continue
        utt = get("utt_id") or re.sub(r"[^A-Za-z0-9_.-]+", "_", str(Path(given).with_suffix("")).lstrip("/"))
        read.add({"utt_id": utt, "path": str(audio), "speaker": speaker,
                  "split": FIXED_SPLITS.get(split, split), "subset": split, "duration_s": info.duration_s,
                  "sample_rate": info.sample_rate, "num_channels": info.num_channels,
                  "text": get("transcript") or None, "emotion": category,
                  **dict(zip(DIMS, dims))}, seen_ids)
    _check_usable(manifest, read, for_training)
    return read


def _check_usable(manifest: Path, read: CorpusRead, for_training: bool = True) -> None:
    """One named error when what is left cannot be trained and tested on (or only tested on, for a target)."""
    if not read.rows:
        reasons = Counter(r.reason.split(": ", 1)[-1] for r in read.rejects).most_common(3)
        raise ManifestError(f"{manifest}: no usable row ({len(read.rejects)} rejected; most often: "
                            f"{'; '.join(f'{n} x {why}' for why, n in reasons) or 'the file has no rows'})")
    splits = Counter(r["split"] for r in read.rows)
    for canonical, name in (("train", "train"), ("validation", "development")):
        if for_training and not splits[canonical]:
            raise ManifestError(f"{manifest}: no usable '{name}' rows (found {dict(splits)}; "
                                f"{len(read.rejects)} rows rejected)")
    if not set(splits) - {"train", "validation"}:
        raise ManifestError(f"{manifest}: no test split: every split other than 'train' and 'development' is "
                            f"a test set (found {dict(splits)})")
    import pandas as pd

    overlap = speaker_overlap(pd.DataFrame(read.rows))
    if overlap:
        shown = "; ".join(f"{s} in {', '.join(v)}" for s, v in list(overlap.items())[:5])
        raise ManifestError(f"{manifest}: {len(overlap)} speaker(s) in more than one split (splits must be "
                            f"speaker-disjoint): {shown}")
    read.splits = own_splits(read)


def own_splits(read: CorpusRead) -> tuple[str, ...]:
    """The canonical split names of a read manifest: train, validation, then its test sets in order."""
    tests = sorted({r["split"] for r in read.rows} - {"train", "validation"})
    return ("train", "validation", *tests)
