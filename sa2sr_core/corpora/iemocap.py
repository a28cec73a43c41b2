"""IEMOCAP (IEMOCAP_full_release), official layout.

  Session{1..5}/sentences/wav/<dialog>/<utt>.wav
  Session{1..5}/dialog/EmoEvaluation/<dialog>.txt   lines "[start - end]\\t<utt>\\t<emo>\\t[V, A, D]"
  Session{1..5}/dialog/transcriptions/<dialog>.txt  lines "<utt> [start-end]: text"

Known quirks handled: `xxx`/`oth` labels (kept, with their code: a downstream study decides),
utterances without a transcript line (kept, text null), transcript lines that are not utterances
(e.g. "M: [BREATHING]" or "Ses01F_script01_1_MXX ..."; reported), macOS `._` files (reported).
Speakers are `Ses0N` + the gender letter of the utterance's last id field; splits leave sessions out.
"""

from __future__ import annotations

import re
from pathlib import Path

from sa2sr_core.audio import AudioError, probe_audio
from sa2sr_core.corpora.librispeech import CorpusLayoutError
from sa2sr_core.corpora.manifest import CorpusRead

_EMO_LINE = re.compile(
    r"^\[(?P<start>[\d.]+)\s*-\s*(?P<end>[\d.]+)\]\t(?P<utt>Ses\w+)\t(?P<emo>\w+)\t"
    r"\[(?P<v>[\d.]+),\s*(?P<a>[\d.]+),\s*(?P<d>[\d.]+)\]\s*$")
_UTT_ID = re.compile(r"^Ses0[1-5][FM]_\w+_[FM]\d{3}$")
_TRANS_LINE = re.compile(r"^(?P<utt>\S+)\s+\[[\d.]+-[\d.]+\]:\s?(?P<text>.*)$")

#: IEMOCAP emotion codes (EmoEvaluation) -> names.
EMOTIONS = {
    "neu": "neutral", "hap": "happy", "exc": "excited", "sad": "sad", "ang": "anger", "fru": "frustrated",
    "fea": "fear", "sur": "surprise", "dis": "disgust", "oth": "other", "xxx": "no agreement",
}


def find_iemocap_root(root: str | Path) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise CorpusLayoutError(f"IEMOCAP root {root} does not exist or is not a directory")
    for cand in (root, root / "IEMOCAP_full_release"):
        if any((cand / f"Session{i}" / "dialog" / "EmoEvaluation").is_dir() for i in range(1, 6)):
            return cand
    raise CorpusLayoutError(
        f"{root} is not an IEMOCAP root: expected Session1..Session5/dialog/EmoEvaluation/ and "
        f"Session*/sentences/wav/ in {root} or in {root / 'IEMOCAP_full_release'}")


#: IEMOCAP's label scale: EmoEvaluation's [V, A, D] on 1-5.
SCALE = (1.0, 5.0)


def session_name(session: int) -> str:
    """The split name of IEMOCAP Session<k> in its fine-tuning manifest (every utterance of that session)."""
    return f"session{session}"


def session_split(session: int, validation_session: int = 4, test_session: int = 5) -> str:
    return "test" if session == test_session else "validation" if session == validation_session else "train"


def iemocap_speaker(utt_id: str) -> str:
    """'Ses01F_script01_1_M012' -> 'Ses01M' (session + gender of the speaking actor)."""
    return utt_id[:5] + utt_id.rsplit("_", 1)[1][0]


def _read_emo_file(path: Path, read: CorpusRead) -> dict[str, dict]:
    labels = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.startswith("["):
            continue  # header, blank lines, per-annotator lines (C-E1:, A-E2:, ...)
        m = _EMO_LINE.match(line.strip("\r"))
        if m is None:
            read.reject(f"{path}:{lineno}", f"malformed EmoEvaluation line: {line.strip()[:80]!r}")
            continue
        labels[m["utt"]] = {
            "emotion": m["emo"], "valence": float(m["v"]), "activation": float(m["a"]), "dominance": float(m["d"]),
        }
    return labels


def _read_transcription(path: Path, read: CorpusRead) -> dict[str, str]:
    texts = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        m = _TRANS_LINE.match(line.strip())
        if m is None or not _UTT_ID.match(m["utt"]):
            read.reject(f"{path}:{lineno}", f"transcript line is not an utterance: {line.strip()[:60]!r}")
            continue
        texts[m["utt"]] = m["text"].strip()
    return texts


def read_iemocap(root: str | Path, validation_session: int = 4, test_session: int = 5) -> CorpusRead:
    """Read all sessions present under `root`."""
    base = find_iemocap_root(root)
    read, seen = CorpusRead("iemocap"), {}
    for session in range(1, 6):
        sdir = base / f"Session{session}"
        if not sdir.is_dir():
            continue
        labels: dict[str, dict] = {}
        texts: dict[str, str] = {}
        for emo_file in sorted((sdir / "dialog" / "EmoEvaluation").glob("*.txt")):
            if emo_file.name.startswith("._"):
                read.reject(emo_file, "macOS resource-fork file, not a label file")
                continue
            labels.update(_read_emo_file(emo_file, read))
        for tr_file in sorted((sdir / "dialog" / "transcriptions").glob("*.txt")):
            if tr_file.name.startswith("._"):
                read.reject(tr_file, "macOS resource-fork file, not a transcript")
                continue
            texts.update(_read_transcription(tr_file, read))
        wavs = {}
        for wav in sorted((sdir / "sentences" / "wav").glob("*/*.wav")):
            if wav.name.startswith("._"):
                read.reject(wav, "macOS resource-fork file, not audio")
                continue
            wavs[wav.stem] = wav
        for utt in sorted(set(labels) - set(wavs)):
            read.reject(sdir / "sentences" / "wav" / utt.rsplit("_", 1)[0] / f"{utt}.wav",
                        "labelled in EmoEvaluation but the audio file is missing")
        for utt, wav in wavs.items():
            if utt not in labels:
                read.reject(wav, "no EmoEvaluation label for this utterance")
                continue
            try:
                info = probe_audio(wav)
            except AudioError as e:
                read.reject(wav, e.reason)
                continue
            read.add({
                "utt_id": utt, "path": str(wav), "speaker": iemocap_speaker(utt),
                "split": session_split(session, validation_session, test_session), "subset": f"Session{session}",
                "duration_s": info.duration_s, "sample_rate": info.sample_rate, "num_channels": info.num_channels,
                "text": texts.get(utt), **labels[utt],
            }, seen)
    return read


#: The standard 4-class IEMOCAP task: EmoEvaluation code -> class (happy and excited merged); other codes dropped.
FOUR_CLASSES = {"ang": "angry", "hap": "happy", "exc": "happy", "neu": "neutral", "sad": "sad"}


def finetune_read(manifest) -> tuple[CorpusRead, dict[str, int]]:
    """IEMOCAP's manifest (stage prepare@iemocap) as the fine-tuning corpus of its five folds: split session<k>
    (every utterance of Session k), category from FOUR_CLASSES (None for the other codes: those utterances keep
    their A/V/D), A/V/D from EmoEvaluation (1-5). Returns the read and how many utterances each dropped code had."""
    from collections import Counter

    read, seen, dropped = CorpusRead("own"), {}, Counter()
    for r in manifest.to_dict("records"):
        category = FOUR_CLASSES.get(r["emotion"])
        if category is None:
            dropped[f"{r['emotion']} ({EMOTIONS.get(r['emotion'], 'unknown code')})"] += 1
        read.add({**r, "split": session_name(int(r['subset'].removeprefix('Session'))), "emotion": category}, seen)
    read.splits = tuple(sorted({r["split"] for r in read.rows}))
    return read, dict(sorted(dropped.items()))
