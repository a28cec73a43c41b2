"""LibriSpeech, official layout: <root>/<subset>/<spk>/<chapter>/<spk>-<chapter>-<utt>.flac + <spk>-<chapter>.trans.txt."""

from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from sa2sr_core.audio import AudioError, probe_audio
from sa2sr_core.corpora.manifest import CorpusRead
from sa2sr_core.errors import Sa2srError
from sa2sr_core.text import normalize_librispeech_text

#: Official subsets and the canonical split each belongs to.
SUBSET_SPLIT = {
    "train-clean-100": "train", "train-clean-360": "train", "train-other-500": "train",
    "dev-clean": "validation", "dev-other": "validation",
    "test-clean": "test", "test-other": "test",
}


class CorpusLayoutError(Sa2srError, FileNotFoundError):
    """The corpus root does not have the expected layout; the message says what was expected where."""


def find_librispeech_root(root: str | Path) -> Path:
    """Accept `root` pointing at `LibriSpeech/` or at its parent."""
    root = Path(root)
    if not root.is_dir():
        raise CorpusLayoutError(f"LibriSpeech root {root} does not exist or is not a directory")
    for cand in (root, root / "LibriSpeech"):
        if any((cand / s).is_dir() for s in SUBSET_SPLIT):
            return cand
    raise CorpusLayoutError(
        f"{root} is not a LibriSpeech root: expected one of the subset folders {sorted(SUBSET_SPLIT)} "
        f"in {root} or in {root / 'LibriSpeech'}")


def _read_transcripts(trans: Path, read: CorpusRead) -> dict[str, str]:
    out = {}
    for lineno, line in enumerate(trans.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        utt, _, text = line.strip().partition(" ")
        if not text.strip():
            read.reject(f"{trans}:{lineno}", f"empty transcript for {utt}")
            continue
        out[utt] = text
    return out


def read_librispeech(root: str | Path, subsets: list[str] | None = None) -> CorpusRead:
    """Read every subset present under `root` (or only `subsets`) into manifest rows and rejects."""
    base = find_librispeech_root(root)
    present = [s for s in SUBSET_SPLIT if (base / s).is_dir()]
    if subsets:
        missing = sorted(set(subsets) - set(present))
        if missing:
            raise CorpusLayoutError(f"LibriSpeech subsets {missing} not found under {base} (present: {present})")
        present = [s for s in present if s in subsets]
    read, seen = CorpusRead("librispeech"), {}
    for subset in present:
        chapters = sorted(p for p in (base / subset).glob("*/*") if p.is_dir())
        for chapter in tqdm(chapters, desc=f"librispeech/{subset}", unit="chapter", leave=False):
            spk = chapter.parent.name
            trans_files = sorted(chapter.glob("*.trans.txt"))
            texts: dict[str, str] = {}
            for trans in trans_files:
                texts.update(_read_transcripts(trans, read))
            audio = {p.name[: -len(".flac")]: p for p in sorted(chapter.glob("*.flac")) if not p.name.startswith("._")}
            for p in sorted(chapter.glob("._*")):
                read.reject(p, "macOS resource-fork file, not audio")
            for utt in sorted(set(texts) - set(audio)):
                read.reject(chapter / f"{utt}.flac", "transcript line has no audio file")
            for utt, path in audio.items():
                if utt not in texts:
                    read.reject(path, f"no transcript line for {utt} in {chapter.name} .trans.txt")
                    continue
                text, why = normalize_librispeech_text(texts[utt])
                if text is None:
                    read.reject(path, why)
                    continue
                try:
                    info = probe_audio(path)
                except AudioError as e:
                    read.reject(path, e.reason)
                    continue
                read.add({
                    "utt_id": utt, "path": str(path), "speaker": f"ls-{spk}", "split": SUBSET_SPLIT[subset],
                    "subset": subset, "duration_s": info.duration_s, "sample_rate": info.sample_rate,
                    "num_channels": info.num_channels, "text": text,
                }, seen)
    return read
