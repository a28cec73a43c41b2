"""Corpus preparation: read each corpus from its official layout into a manifest and a rejects report."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sa2sr_core.corpora.iemocap import read_iemocap
from sa2sr_core.corpora.librispeech import read_librispeech
from sa2sr_core.corpora.manifest import CorpusRead, summarize, write_manifest
from sa2sr_core.corpora.msp_podcast import read_msp_podcast
from sa2sr_core.params import CORPORA, corpus_root


def read_corpus(params: dict, corpus: str) -> CorpusRead:
    root, _ = corpus_root(params, corpus)
    if corpus == "librispeech":
        return read_librispeech(root)
    if corpus == "iemocap":
        return read_iemocap(root, **params.get("iemocap", {}))
    if corpus == "msp_podcast":
        return read_msp_podcast(root)
    raise ValueError(f"unknown corpus {corpus!r}; expected one of {CORPORA}")


def manifest_path(params: dict, corpus: str) -> Path:
    return Path(params["data"]["manifests_dir"]) / f"{corpus}.parquet"


def rejects_path(params: dict, corpus: str) -> Path:
    return Path(params["data"]["manifests_dir"]) / f"{corpus}_rejects.csv"


def prepare_all(params: dict) -> dict:
    """Write one manifest + rejects report per corpus; returns a summary for metrics/data.json."""
    summary = {}
    for corpus in CORPORA:
        root, is_demo = corpus_root(params, corpus)
        read = read_corpus(params, corpus)
        df = write_manifest(read, manifest_path(params, corpus), rejects_path(params, corpus))
        summary[corpus] = {"source": "demo" if is_demo else str(root), "splits": summarize(df),
                           "rejects": len(read.rejects)}
    return summary


def load_manifest(params: dict, corpus: str) -> pd.DataFrame:
    path = manifest_path(params, corpus)
    if not path.is_file():
        raise FileNotFoundError(f"manifest {path} not found: run `dvc repro prepare` first")
    return pd.read_parquet(path)
