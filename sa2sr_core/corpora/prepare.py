"""Corpus preparation: read each corpus from its official layout (or your manifest, `sa2sr manifest own`) into a
manifest and a rejects report."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sa2sr_core.corpora.iemocap import read_iemocap
from sa2sr_core.corpora.librispeech import read_librispeech
from sa2sr_core.corpora.manifest import CorpusRead, summarize, write_manifest
from sa2sr_core.corpora.msp_podcast import read_msp_podcast
from sa2sr_core.corpora.own import read_own_manifest
from sa2sr_core.params import CORPORA, OWN


def read_corpus(corpus: str, root: str | Path, options: dict | None = None,
                scale: tuple[float, float] | None = None) -> CorpusRead:
    """One corpus read from `root`: librispeech | iemocap | msp_podcast (their official layouts; `options`: the
    reader's keyword options, params `readers.<corpus>`), or own (`root`: your manifest file, A/V/D checked
    against `scale`)."""
    if corpus == OWN:
        return read_own_manifest(root, tuple(scale) if scale else None)
    if corpus == "librispeech":
        return read_librispeech(root)
    if corpus == "iemocap":
        return read_iemocap(root, **(options or {}))
    if corpus == "msp_podcast":
        return read_msp_podcast(root)
    raise ValueError(f"unknown corpus {corpus!r}; expected one of {(*CORPORA, OWN)}")


def subset_rows(rows: list[dict], cap: int) -> list[dict]:
    """At most `cap` rows per split: those whose utt_id hashes lowest (the same subset on every machine and
    whatever the corpus's file order; growing `cap` only adds utterances)."""
    from collections import defaultdict

    by_split: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_split[r["split"]].append(r)
    key = lambda r: hashlib.sha1(r["utt_id"].encode()).hexdigest()  # noqa: E731
    return [r for split in sorted(by_split) for r in sorted(by_split[split], key=key)[:cap]]


def prepare_corpus(corpus: str, root: Path, is_demo: bool, manifest: Path, rejects: Path, options: dict | None = None,
                   cap: int | None = None) -> dict:
    """Read `corpus` from `root` (params.corpus_root: its official layout, or the demo's), write its manifest and
    rejects report (at most `cap` utterances per split: data.max_utterances_per_split); return its summary (source,
    splits, rejects)."""
    if not root.is_dir():
        raise FileNotFoundError(f"data.{corpus} = {root}: no such directory" if not is_demo else
                                f"demo corpus {root} is missing: run `dvc repro demo_data@{corpus}`")
    read = read_corpus(corpus, root, options)
    if cap:
        read.rows = subset_rows(read.rows, int(cap))
    df = write_manifest(read, manifest, rejects)
    return {"source": "demo" if is_demo else str(root), "splits": summarize(df), "rejects": len(read.rejects)}
