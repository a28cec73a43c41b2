"""What the fine-tuning corpus is: params `finetune.corpus` resolved once, here, into a FinetuneCorpus that the
stages hand down — its kind, the name of its data (manifest and shards), what evaluation and the model card call
it, its label scale, its folds and their test splits, and what `finetune.task: auto` means for it.

    msp_podcast        the paper's corpus: features@msp_podcast; Train / Development / evaluate.splits; A/V/D on
                       finetune.scale_min..scale_max (1-7); auto = dimensions (it ships classes too: the paper's
                       task is A/V/D)
    iemocap            five leave-one-session-out folds (Development = the next session) of its manifest, written
                       as corpus `own` by stage own_corpus; A/V/D on 1-5 and the 4-class task; auto = both
    path/to/manifest   your own manifest (CSV / TSV / JSON lines), corpus `own`; train / validation / its other
                       splits as tests; A/V/D on finetune.scale_min..scale_max; auto = the labels it has

Stage own_corpus writes it as corpus `own` (prepare_own). Nothing else compares `finetune.corpus` to a corpus name.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Union

from sa2sr_core.corpora import iemocap, msp_podcast
from sa2sr_core.corpora.manifest import COLUMNS, ManifestError, label_counts, summarize, write_manifest
from sa2sr_core.corpora.own import FORMATS, audio_paths, read_own_manifest
from sa2sr_core.errors import ParamsError
from sa2sr_core.params import OWN, corpus_root, manifest_path, rejects_path, split_dir, summary_path
from sa2sr_core.typecheck import check_type

#: finetune.corpus values that name a corpus read from its official layout (anything else: a manifest's path).
NAMED = ("msp_podcast", "iemocap")
#: The tasks `finetune.task: auto` can become, and the `auto` rules: the paper's dimensions, or the labels there are.
AUTO_DIMENSIONS, AUTO_LABELS = "dimensions", "labels"


@dataclass(frozen=True)
class Fold:
    """One train / Development / test partition of the fine-tuning corpus, by split names of its manifest.

    name: None for a corpus with one partition (MSP-Podcast, your own manifest); fold-<k> for IEMOCAP's
    leave-one-session-out fold k. A part may be several splits (a fold trains on three sessions)."""

    name: Union[str, None]
    train: tuple[str, ...]
    validation: tuple[str, ...]
    tests: tuple[str, ...]


def iemocap_fold(k: int) -> Fold:
    """Leave one session out: test on Session k, select on Session k+1 (Session 1 for k = 5), train on the other
    three. Development is a whole held-out session, so it is speaker-independent like the test (docs/own-data.md)."""
    if k not in range(1, 6):
        raise ParamsError(f"finetune.folds: IEMOCAP has sessions 1-5 (the test session of each fold), got {k!r}")
    dev = k % 5 + 1
    return Fold(f"fold-{k}", tuple(iemocap.session_name(s) for s in range(1, 6) if s not in (k, dev)),
                (iemocap.session_name(dev),), (iemocap.session_name(k),))


def fold_path(base: str | Path, fold: Union[Fold, None]) -> Path:
    """Where a fold's output goes under a stage's output folder (the folder itself for a single partition: a fold
    without a name, or None)."""
    return Path(base) if fold is None or fold.name is None else Path(base) / fold.name


def resolve_task(task: str, auto: str, has_dims: bool, has_categories: bool) -> str:
    """finetune.task with `auto` decided by the corpus's rule (`auto`): the paper's dimensions, or the labels the
    training split has (both, categories or dimensions)."""
    if task != "auto":
        return task
    if auto == AUTO_DIMENSIONS:
        return "dimensions"
    return "both" if has_dims and has_categories else "categories" if has_categories else "dimensions"


@dataclass(frozen=True)
class FinetuneCorpus:
    """The fine-tuning corpus, resolved from params (finetune_corpus)."""

    spec: str  # finetune.corpus as written: msp_podcast | iemocap | a manifest's path
    kind: str  # msp_podcast | iemocap | manifest
    data: str  # the name of its manifest and shards: msp_podcast, or OWN (stage own_corpus, features_own)
    name: str  # what evaluation and the model card call it: demo | the corpus | the manifest's path
    scale: tuple[float, float]  # its A/V/D scale
    auto_task: str  # what finetune.task: auto becomes: AUTO_DIMENSIONS | AUTO_LABELS (the labels Train has)
    fold_tests: tuple[int, ...] = ()  # IEMOCAP: each fold's test session
    evaluate_splits: tuple[str, ...] = ()  # MSP-Podcast: the test splits (params evaluate.splits)
    manifests_dir: str = "data/manifests"
    features_dir: str = "data/features"

    @property
    def cross_validated(self) -> bool:
        return self.kind == "iemocap"

    @property
    def study_split(self) -> Union[str, None]:
        """The test set a study's Tables 2-4 report: MSP-Podcast's test1, IEMOCAP's pooled folds; a manifest's:
        decided from its runs (None)."""
        return {"msp_podcast": "test1", "iemocap": "pooled"}.get(self.kind)

    @cached_property
    def folds(self) -> tuple[Fold, ...]:
        """Its partitions: IEMOCAP's folds; otherwise one, train / validation (Development) / the test splits (a
        manifest's: every split but those two, read from its manifest, stage own_corpus)."""
        if self.kind == "iemocap":
            return tuple(iemocap_fold(k) for k in self.fold_tests)
        if self.kind == "msp_podcast":
            return (Fold(None, ("train",), ("validation",), self.evaluate_splits),)
        return (Fold(None, ("train",), ("validation",), self.manifest_tests()),)

    def manifest_tests(self) -> tuple[str, ...]:
        import pandas as pd

        path = manifest_path({"data": {"manifests_dir": self.manifests_dir}}, OWN)
        if not path.is_file():
            raise FileNotFoundError(f"manifest {path} not found: run `dvc repro own_corpus` first")
        return tuple(sorted(set(pd.read_parquet(path, columns=["split"])["split"]) - {"train", "validation"}))

    @property
    def packaged_fold(self) -> Union[Fold, None]:
        """The fold whose model stage package ships: IEMOCAP's first fold; None for a corpus with one partition
        (known without reading the manifest, so packaging does not depend on it)."""
        return self.folds[0] if self.cross_validated else None

    def dirs(self, splits: tuple[str, ...]):
        """The feature folder(s) of a fold's part: one folder, or a tuple of them (shard_files reads either)."""
        found = tuple(split_dir({"data": {"features_dir": self.features_dir}}, self.data, s) for s in splits)
        return found[0] if len(found) == 1 else found

    def split_dirs(self) -> dict[str, Path]:
        """{split: its feature folder} of every split any fold reads (train, Development, tests) that has features."""
        names = dict.fromkeys(s for f in self.folds for s in (*f.train, *f.validation, *f.tests))
        return {s: d for s in names if (d := self.dirs((s,))).is_dir()}

    def test_dirs(self, fold: Fold) -> dict[str, Path]:
        """{test split: its feature folder} of a fold, for the splits that have features (a split whose every file
        was rejected has none)."""
        return {s: d for s in fold.tests if (d := self.dirs((s,))).is_dir()}

    def training_config(self, cfg):
        """A FinetuneConfig (config.training: not imported here, so that the data stages never depend on training
        code) on this corpus's label scale (IEMOCAP fixes its own)."""
        return replace(cfg, scale_min=self.scale[0], scale_max=self.scale[1])


def finetune_corpus(params: dict) -> FinetuneCorpus:
    """params `finetune.corpus` (and the keys it brings: folds, scale, evaluate.splits, the data folders) resolved."""
    ft, data = params["finetune"], params["data"]
    spec = ft["corpus"]
    check_type("finetune.corpus", spec, str)
    dirs = {"manifests_dir": data["manifests_dir"], "features_dir": data["features_dir"]}
    declared = (float(ft.get("scale_min", 1.0)), float(ft.get("scale_max", 7.0)))
    if spec == "msp_podcast":
        return FinetuneCorpus(spec, spec, spec, "demo" if corpus_root(params, spec)[1] else spec, declared,
                              AUTO_DIMENSIONS, evaluate_splits=tuple(params["evaluate"]["splits"]), **dirs)
    if spec == "iemocap":
        folds = ft.get("folds") or [1, 2, 3, 4, 5]
        check_type("finetune.folds", folds, list[int])
        if len(set(folds)) != len(folds):
            raise ParamsError(f"finetune.folds: a session named twice: {folds}")
        for k in folds:
            iemocap_fold(k)  # checks the session number
        return FinetuneCorpus(spec, spec, OWN, "demo" if corpus_root(params, spec)[1] else spec, iemocap.SCALE,
                              AUTO_LABELS, fold_tests=tuple(folds), **dirs)
    if Path(spec).suffix.lower() not in FORMATS:
        raise ParamsError(f"finetune.corpus = {spec!r}: neither a corpus ({', '.join(NAMED)}) nor the path of a "
                          f"manifest file ({', '.join(FORMATS)})")
    return FinetuneCorpus(spec, "manifest", OWN, spec, declared, AUTO_LABELS, **dirs)


def target_scale(name: str) -> tuple[float, float]:
    """The A/V/D scale of a named corpus as a cross-corpus target."""
    return {"iemocap": iemocap.SCALE, "msp_podcast": msp_podcast.SCALE}[name]


def manifest_fingerprint(manifest: Path) -> str:
    """What a change of a user's corpus changes: the manifest's bytes and each listed file's path, size and
    modification time (a stat per file: seconds for 100,000 recordings; the audio itself is not read)."""
    import os

    h = hashlib.sha256(manifest.read_bytes())
    for p in audio_paths(manifest):
        try:
            st = os.stat(p)
            h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{p}\0missing\n".encode())
    return h.hexdigest()


@dataclass(frozen=True)
class OwnPaths:
    """Where stage own_corpus reads and writes: IEMOCAP's manifest (stage prepare@iemocap) and corpus own's
    manifest, rejects report and summary."""

    iemocap_manifest: Path
    manifest: Path
    rejects: Path
    summary: Path

    @classmethod
    def from_params(cls, params: dict) -> "OwnPaths":
        return cls(manifest_path(params, "iemocap"), manifest_path(params, OWN), rejects_path(params, OWN),
                   summary_path(params, "prepare", OWN))


def prepare_own(corpus: FinetuneCorpus, paths: OwnPaths) -> dict:
    """Stage own_corpus: the fine-tuning corpus as the manifest and rejects report of corpus OWN — a manifest of
    your own (read and checked against its declared scale); IEMOCAP's manifest as its five sessions
    (corpora.iemocap.finetune_read); MSP-Podcast (features@msp_podcast): an empty manifest. Rewritten only when
    what it is read from changed (the manifest's bytes and its files' sizes and times), so that nothing
    downstream re-runs otherwise."""
    import pandas as pd

    from sa2sr_core.corpora.iemocap import finetune_read
    from sa2sr_core.io import write_csv, write_parquet

    out = paths.manifest
    if corpus.kind == "msp_podcast":
        fingerprint = f"corpus {corpus.spec}"
    elif corpus.kind == "iemocap":  # its five folds read the IEMOCAP manifest of stage prepare@iemocap
        if not paths.iemocap_manifest.is_file():
            raise ManifestError(f"finetune.corpus = iemocap: {paths.iemocap_manifest} not found: run "
                                f"`dvc repro prepare@iemocap`")
        fingerprint = "iemocap " + hashlib.sha256(paths.iemocap_manifest.read_bytes()).hexdigest()
    else:
        manifest = Path(corpus.spec)
        if not manifest.is_file():
            raise ManifestError(f"finetune.corpus = {corpus.spec}: no such manifest file")
        fingerprint = manifest_fingerprint(manifest.resolve())
    summary = json.loads(paths.summary.read_text()) if paths.summary.is_file() else {}
    written = lambda: hashlib.sha256(out.read_bytes()).hexdigest()  # noqa: E731
    # unchanged (and the manifest on disk is the one the summary describes: `git checkout` or `dvc exp apply`
    # restore the summary, not the manifest): the outputs keep their bytes
    if out.is_file() and summary.get("fingerprint") == fingerprint and summary.get("manifest_sha256") == written():
        return summary
    if corpus.kind == "msp_podcast":
        write_parquet(out, pd.DataFrame(columns=COLUMNS))
        write_csv(paths.rejects, pd.DataFrame(columns=["corpus", "file", "reason"]))
        summary = {"source": None, "note": f"finetune.corpus is {corpus.spec}: no manifest of your own to read"}
    elif corpus.kind == "iemocap":
        read, dropped = finetune_read(pd.read_parquet(paths.iemocap_manifest))
        df = write_manifest(read, out, paths.rejects)
        summary = {"source": "iemocap (its manifest, stage prepare@iemocap): five sessions, leave one out",
                   "splits": summarize(df), "labels": label_counts(df), "categories_dropped": dropped,
                   "note": "4 classes (happy = happy + excited); utterances of other categories keep their A/V/D",
                   "rejects": 0}
    else:
        read = read_own_manifest(corpus.spec, corpus.scale)
        df = write_manifest(read, out, paths.rejects)
        summary = {"source": str(Path(corpus.spec).resolve()), "splits": summarize(df), "labels": label_counts(df),
                   "rejects": len(read.rejects)}
    return {**summary, "fingerprint": fingerprint, "manifest_sha256": written()}
