"""Transcript normalisation shared by corpus readers and the ASR vocabulary."""

from __future__ import annotations

import re
import unicodedata

_ALLOWED = re.compile(r"^[A-Z' ]*$")


def fold_accents(text: str) -> str:
    """'CAFÉ' -> 'CAFE': drop combining marks, keep the base letters."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalize_librispeech_text(text: str) -> tuple[str | None, str]:
    """Upper-case, fold accents, squeeze spaces. Returns (text, "") or (None, reason) when characters remain
    outside A-Z, apostrophe and space (digits, symbols): those cannot be spelled by the 29-character vocabulary."""
    norm = " ".join(fold_accents(text).upper().replace("’", "'").split())
    if not norm:
        return None, "empty transcript"
    if not _ALLOWED.match(norm):
        bad = sorted({ch for ch in norm if not re.match(r"[A-Z' ]", ch)})
        return None, f"transcript has characters outside A-Z, apostrophe and space: {''.join(bad)!r}"
    return norm, ""
