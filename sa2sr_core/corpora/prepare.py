"""Corpus preparation: read each corpus from its official layout into a manifest and a rejects report."""

from __future__ import annotations

from pathlib import Path

from sa2sr_core.corpora.iemocap import finetune_read, read_iemocap
from sa2sr_core.corpora.librispeech import read_librispeech
from sa2sr_core.corpora.manifest import COLUMNS, CorpusRead, ManifestError, label_counts, summarize, write_manifest
from sa2sr_core.corpora.msp_podcast import read_msp_podcast
from sa2sr_core.corpora.own import FORMATS, audio_paths, read_own_manifest
from sa2sr_core.params import CORPORA, FINETUNE_CORPORA, OWN, corpus_root, label_scale, manifest_path, rejects_path


def reader_options(params: dict, corpus: str) -> dict:
    """params `readers.<corpus>`: keyword options of that corpus's reader (e.g. IEMOCAP's held-out sessions)."""
    return dict((params.get("readers") or {}).get(corpus) or {})


def read_corpus(params: dict, corpus: str) -> CorpusRead:
    if corpus == OWN:  # a user's manifest file (CSV / TSV / JSON lines); A/V/D checked against the declared scale
        scale = params.get("scale")
        return read_own_manifest(params["data"][OWN], tuple(scale) if scale else None)
    root, _ = corpus_root(params, corpus)
    if corpus == "librispeech":
        return read_librispeech(root)
    if corpus == "iemocap":
        return read_iemocap(root, **reader_options(params, corpus))
    if corpus == "msp_podcast":
        return read_msp_podcast(root)
    raise ValueError(f"unknown corpus {corpus!r}; expected one of {(*CORPORA, OWN)}")


def subset_rows(rows: list[dict], cap: int) -> list[dict]:
    """At most `cap` rows per split: those whose utt_id hashes lowest (the same subset on every machine and
    whatever the corpus's file order; growing `cap` only adds utterances)."""
    import hashlib
    from collections import defaultdict

    by_split: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_split[r["split"]].append(r)
    key = lambda r: hashlib.sha1(r["utt_id"].encode()).hexdigest()  # noqa: E731
    return [r for split in sorted(by_split) for r in sorted(by_split[split], key=key)[:cap]]


def prepare_corpus(params: dict, corpus: str) -> dict:
    """Write the corpus's manifest + rejects report; return its summary (source, splits, rejects)."""
    root, is_demo = corpus_root(params, corpus)
    if not root.is_dir():
        raise FileNotFoundError(f"data.{corpus} = {root}: no such directory" if not is_demo else
                                f"demo corpus {root} is missing: run `dvc repro demo_data@{corpus}`")
    read = read_corpus(params, corpus)
    cap = params["data"].get("max_utterances_per_split")
    if cap:
        read.rows = subset_rows(read.rows, int(cap))
    df = write_manifest(read, manifest_path(params, corpus), rejects_path(params, corpus))
    return {"source": "demo" if is_demo else str(root), "splits": summarize(df), "rejects": len(read.rejects)}




def manifest_fingerprint(manifest: Path) -> str:
    """What a change of a user's corpus changes: the manifest's bytes and each listed file's path, size and
    modification time (a stat per file: seconds for 100,000 recordings; the audio itself is not read)."""
    import hashlib
    import os

    h = hashlib.sha256(manifest.read_bytes())
    for p in audio_paths(manifest):
        try:
            st = os.stat(p)
            h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{p}\0missing\n".encode())
    return h.hexdigest()


def prepare_own(params: dict) -> dict:
    """Stage own_corpus (run on every `dvc repro`): when finetune.corpus is the path of a manifest file, read it
    into the manifest and rejects report of corpus OWN — rewritten only when the manifest or a file it lists
    changed, so that nothing downstream re-runs otherwise; iemocap: IEMOCAP's manifest as its five sessions
    (corpora.iemocap.finetune_read); msp_podcast (features@msp_podcast): an empty manifest."""
    import hashlib
    import json

    import pandas as pd

    from sa2sr_core.io import write_csv, write_parquet
    from sa2sr_core.params import summary_path

    corpus, out = params["finetune"]["corpus"], manifest_path(params, OWN)
    if corpus == "msp_podcast":
        fingerprint = f"corpus {corpus}"
    elif corpus == "iemocap":  # its five folds read the IEMOCAP manifest of stage prepare@iemocap
        source = manifest_path(params, "iemocap")
        if not source.is_file():
            raise ManifestError(f"finetune.corpus = iemocap: {source} not found: run `dvc repro prepare@iemocap`")
        fingerprint = "iemocap " + hashlib.sha256(source.read_bytes()).hexdigest()
    else:
        manifest = Path(corpus)
        if manifest.suffix.lower() not in FORMATS:
            raise ManifestError(f"finetune.corpus = {corpus!r}: neither a corpus ({', '.join(FINETUNE_CORPORA)}) nor "
                                f"the path of a manifest file ({', '.join(FORMATS)})")
        if not manifest.is_file():
            raise ManifestError(f"finetune.corpus = {corpus}: no such manifest file")
        fingerprint = manifest_fingerprint(manifest.resolve())
    previous = summary_path(params, "prepare", OWN)
    summary = json.loads(previous.read_text()) if previous.is_file() else {}
    written = lambda: hashlib.sha256(out.read_bytes()).hexdigest()  # noqa: E731
    # unchanged (and the manifest on disk is the one the summary describes: `git checkout` or `dvc exp apply`
    # restore the summary, not the manifest): the outputs keep their bytes
    if out.is_file() and summary.get("fingerprint") == fingerprint and summary.get("manifest_sha256") == written():
        return summary
    if corpus == "msp_podcast":
        write_parquet(out, pd.DataFrame(columns=COLUMNS))
        write_csv(rejects_path(params, OWN), pd.DataFrame(columns=["corpus", "file", "reason"]))
        summary = {"source": None, "note": f"finetune.corpus is {corpus}: no manifest of your own to read"}
    elif corpus == "iemocap":
        read, dropped = finetune_read(pd.read_parquet(source))
        df = write_manifest(read, out, rejects_path(params, OWN))
        summary = {"source": "iemocap (its manifest, stage prepare@iemocap): five sessions, leave one out",
                   "splits": summarize(df), "labels": label_counts(df), "categories_dropped": dropped,
                   "note": "4 classes (happy = happy + excited); utterances of other categories keep their A/V/D",
                   "rejects": 0}
    else:
        read = read_own_manifest(corpus, label_scale(params))
        df = write_manifest(read, out, rejects_path(params, OWN))
        summary = {"source": str(Path(corpus).resolve()), "splits": summarize(df), "labels": label_counts(df),
                   "rejects": len(read.rejects)}
    return {**summary, "fingerprint": fingerprint, "manifest_sha256": written()}
