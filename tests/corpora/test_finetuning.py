"""The fine-tuning corpus resolved once (corpora.finetuning): MSP-Podcast, IEMOCAP's five folds (leave one session
out), your own manifest — data name, scale, folds, test splits, what `auto` means; and the fine-tuning manifest made
from IEMOCAP's own (4 classes, the rest dropped and counted)."""

import pandas as pd
import pytest

from sa2sr_core.config.training import FinetuneConfig
from sa2sr_core.corpora import iemocap
from sa2sr_core.corpora.finetuning import (AUTO_DIMENSIONS, AUTO_LABELS, finetune_corpus, fold_path, iemocap_fold,
                                           resolve_task)
from sa2sr_core.corpora.iemocap import FOUR_CLASSES, finetune_read
from sa2sr_core.errors import ParamsError
from sa2sr_core.features.shards import shard_files
from sa2sr_core.params import load_params, with_overrides


def test_each_fold_tests_one_session_selects_on_another_and_trains_on_the_other_three():
    folds = [iemocap_fold(k) for k in range(1, 6)]
    assert [f.tests for f in folds] == [(f"session{k}",) for k in range(1, 6)]
    for f in folds:
        parts = [*f.train, *f.validation, *f.tests]
        assert len(f.train) == 3 and sorted(parts) == [f"session{k}" for k in range(1, 6)]  # disjoint, all five
    assert [f.validation[0] for f in folds] == ["session2", "session3", "session4", "session5", "session1"]
    assert sorted(f.validation[0] for f in folds) == sorted(f.tests[0] for f in folds)  # each session once


def test_each_corpus_resolved_once_from_params(tmp_path):
    params = with_overrides(load_params(), {"finetune.corpus": "msp_podcast"})
    msp = finetune_corpus(params)
    assert (msp.kind, msp.data, msp.name, msp.scale, msp.auto_task) == \
        ("msp_podcast", "msp_podcast", "demo", (1.0, 7.0), AUTO_DIMENSIONS)
    assert [(f.name, f.tests) for f in msp.folds] == [(None, ("test1", "test2"))] and not msp.cross_validated
    assert msp.dirs(("train",)).as_posix() == "data/features/msp_podcast/train"
    real = finetune_corpus(with_overrides(params, {"data.msp_podcast": "/corpora/MSP-Podcast"}))
    assert real.name == "msp_podcast"  # a real release is called by its name, the demo "demo"
    iem = finetune_corpus(with_overrides(params, {"finetune.corpus": "iemocap"}))
    assert (iem.data, iem.scale, iem.auto_task, iem.cross_validated) == ("own", iemocap.SCALE, AUTO_LABELS, True)
    assert [f.name for f in iem.folds] == [f"fold-{k}" for k in range(1, 6)]
    assert iem.dirs(("session1", "session2")) == tuple(
        p for p in (iem.dirs(("session1",)), iem.dirs(("session2",))))  # a fold's part of several sessions
    cfg = iem.training_config(FinetuneConfig(scale_min=1.0, scale_max=7.0))
    assert (cfg.scale_min, cfg.scale_max) == iemocap.SCALE  # IEMOCAP fixes its scale, whatever params declare
    three = finetune_corpus(with_overrides(params, {"finetune.corpus": "iemocap", "finetune.folds": [3, 1]}))
    assert [f.name for f in three.folds] == ["fold-3", "fold-1"] and three.packaged_fold.name == "fold-3"
    for folds, match in (([6], "sessions 1-5"), ([1, 1], "named twice")):
        with pytest.raises(ParamsError, match=match):
            finetune_corpus(with_overrides(params, {"finetune.corpus": "iemocap", "finetune.folds": folds}))
    assert fold_path("models/finetune", iemocap_fold(2)).as_posix() == "models/finetune/fold-2"
    assert fold_path("models/finetune", msp.folds[0]).as_posix() == "models/finetune"
    # a manifest: its test splits are read from its manifest (stage own_corpus) only when the folds are asked for;
    # the packaged model is the fine-tuning folder itself (known without reading it)
    mine = finetune_corpus(with_overrides(params, {"finetune.corpus": "/nowhere/manifest.csv",
                                                   "data.manifests_dir": str(tmp_path)}))
    assert (mine.kind, mine.data, mine.name, mine.auto_task) == ("manifest", "own", "/nowhere/manifest.csv", AUTO_LABELS)
    assert mine.packaged_fold is None and msp.packaged_fold is None
    pd.DataFrame({"split": ["train", "validation", "test-b", "test-a", "test-a"]}).to_parquet(tmp_path / "own.parquet")
    assert mine.folds[0].tests == ("test-a", "test-b")
    with pytest.raises(ParamsError, match="neither a corpus"):
        finetune_corpus(with_overrides(params, {"finetune.corpus": "/x/m.xlsx"}))


def test_auto_task_follows_the_corpus_rule():
    assert resolve_task("auto", AUTO_DIMENSIONS, True, True) == "dimensions"  # MSP-Podcast ships classes too: A/V/D
    assert resolve_task("auto", AUTO_LABELS, False, True) == "categories"
    assert resolve_task("auto", AUTO_LABELS, True, True) == "both"
    assert resolve_task("auto", AUTO_LABELS, True, False) == "dimensions"
    assert resolve_task("categories", AUTO_DIMENSIONS, True, True) == "categories"


def _iemocap_manifest():
    codes = ["ang", "hap", "exc", "neu", "sad", "fru", "xxx", "sur"]
    rows = []
    for s in range(1, 6):
        for i, code in enumerate(codes):
            g = "FM"[i % 2]
            rows.append({"utt_id": f"Ses0{s}F_impro01_{g}{i:03d}", "corpus": "iemocap", "path": f"/x/{s}_{i}.wav",
                         "speaker": f"Ses0{s}{g}", "split": "train", "subset": f"Session{s}", "duration_s": 3.0,
                         "sample_rate": 16000, "num_channels": 1, "text": "hi", "emotion": code,
                         "activation": 2.5, "valence": 3.0, "dominance": 3.5})
    return pd.DataFrame(rows)


def test_iemocap_as_a_fine_tuning_corpus_keeps_four_classes_and_counts_the_rest():
    read, dropped = finetune_read(_iemocap_manifest())
    df = read.manifest()
    assert df.groupby("split").size().to_dict() == {f"session{s}": 8 for s in range(1, 6)}
    assert df["emotion"].value_counts().to_dict() == {"happy": 10, "angry": 5, "neutral": 5, "sad": 5}
    assert dropped == {"fru (frustrated)": 5, "sur (surprise)": 5, "xxx (no agreement)": 5}
    assert df["activation"].notna().all()  # the dropped categories keep their A/V/D
    assert set(FOUR_CLASSES.values()) == {"angry", "happy", "neutral", "sad"}


def test_a_split_of_several_folders_reads_each_folders_shards(tmp_path):
    for s in ("session1", "session2"):
        (tmp_path / s).mkdir()
        for i in range(2):
            (tmp_path / s / f"shard-{i:05d}.parquet").write_bytes(b"")
    both = shard_files((tmp_path / "session2", tmp_path / "session1"))
    assert [f.relative_to(tmp_path).as_posix() for f in both] == [
        "session2/shard-00000.parquet", "session2/shard-00001.parquet",
        "session1/shard-00000.parquet", "session1/shard-00001.parquet"]
    assert shard_files(tmp_path / "session1") == both[2:]
