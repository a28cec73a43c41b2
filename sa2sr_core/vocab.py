"""The 29-character CTC vocabulary (paper §4.2): blank, space, apostrophe, a-z."""

from __future__ import annotations

from sa2sr_core.names import CHARS
from sa2sr_core.text import fold_accents

_INDEX = {c: i for i, c in enumerate(CHARS)}


def normalize_for_ctc(text: str) -> str | None:
    """Lower-case, fold accents, squeeze spaces; None if characters outside the vocabulary remain."""
    norm = " ".join(fold_accents(str(text)).lower().replace("’", "'").split())
    if not norm or any(ch not in _INDEX for ch in norm):
        return None
    return norm


def encode(text: str) -> list[int]:
    """Normalised text -> token ids (1..28); raises KeyError on a character outside the vocabulary."""
    return [_INDEX[ch] for ch in text]


def decode(ids) -> str:
    return "".join(CHARS[i] for i in ids if i != 0)


def ctc_min_frames(ids: list[int]) -> int:
    """Fewest encoder steps CTC needs for this target: one per label plus a blank between repeats."""
    return len(ids) + sum(1 for a, b in zip(ids, ids[1:]) if a == b)
