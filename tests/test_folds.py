"""IEMOCAP's five folds (leave one session out): the partitions, the fine-tuning manifest made from IEMOCAP's own
(4 classes, the rest dropped and counted), a fold's training split read from several session folders, and the
cross-validation's figures (per fold, mean ± sd, pooled)."""

import json

import numpy as np
import pandas as pd
import pytest

from sa2sr_core.corpora.iemocap import FOUR_CLASSES, finetune_read
from sa2sr_core.errors import ParamsError
from sa2sr_core.evaluation.evaluate import compact_scores, cross_validation, score_predictions
from sa2sr_core.evaluation.metrics import ccc, unweighted_accuracy
from sa2sr_core.evaluation.tables import cross_validation_table
from sa2sr_core.features.shards import shard_files
from sa2sr_core.names import DIMS
from sa2sr_core.params import (IEMOCAP_SCALE, finetune_folds, fold_path, iemocap_fold, label_scale, load_params,
                               packaged_fold, with_overrides)
from sa2sr_core.training.finetune import remove_other_layout
from sa2sr_core.training.tracking import write_history


def test_each_fold_tests_one_session_selects_on_another_and_trains_on_the_other_three():
    folds = [iemocap_fold(k) for k in range(1, 6)]
    assert [f.tests for f in folds] == [(f"session{k}",) for k in range(1, 6)]
    for f in folds:
        parts = [*f.train, *f.validation, *f.tests]
        assert len(f.train) == 3 and sorted(parts) == [f"session{k}" for k in range(1, 6)]  # disjoint, all five
    assert [f.validation[0] for f in folds] == ["session2", "session3", "session4", "session5", "session1"]
    assert sorted(f.validation[0] for f in folds) == sorted(f.tests[0] for f in folds)  # each session once


def test_folds_from_params():
    params = with_overrides(load_params(), {"finetune.corpus": "msp_podcast"})
    assert [f.name for f in finetune_folds(params)] == [None] and label_scale(params) == (1.0, 7.0)
    iem = with_overrides(params, {"finetune.corpus": "iemocap"})
    assert [f.name for f in finetune_folds(iem)] == [f"fold-{k}" for k in range(1, 6)]
    assert label_scale(iem) == IEMOCAP_SCALE
    assert [f.name for f in finetune_folds(with_overrides(iem, {"finetune.folds": [3]}))] == ["fold-3"]
    with pytest.raises(ParamsError, match="sessions 1-5"):
        finetune_folds(with_overrides(iem, {"finetune.folds": [6]}))
    with pytest.raises(ParamsError, match="named twice"):
        finetune_folds(with_overrides(iem, {"finetune.folds": [1, 1]}))
    assert fold_path("models/finetune", iemocap_fold(2)).as_posix() == "models/finetune/fold-2"
    assert fold_path("models/finetune", finetune_folds(params)[0]).as_posix() == "models/finetune"
    # the packaged model: IEMOCAP's first fold; a single partition (a manifest: its file is not even read) ships
    # the fine-tuning folder itself
    assert packaged_fold(with_overrides(iem, {"finetune.folds": [3, 1]})).name == "fold-3"
    mine = with_overrides(params, {"finetune.corpus": "/nowhere/manifest.csv", "data.manifests_dir": "/nowhere"})
    assert packaged_fold(mine) is None and packaged_fold(params) is None
    assert fold_path("models/finetune", packaged_fold(mine)).as_posix() == "models/finetune"


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


def _predictions(rng, split, n, classes):
    t = rng.uniform(1, 5, (n, 3))
    p = t + rng.normal(0, 0.8, (n, 3))
    cat = rng.integers(0, len(classes), n)
    pred = np.where(rng.random(n) < 0.6, cat, rng.integers(0, len(classes), n))
    return pd.DataFrame({"utt_id": [f"{split}_{i}" for i in range(n)], "split": split,
                         **{f"true_{d}": t[:, i] for i, d in enumerate(DIMS)},
                         **{f"pred_{d}": p[:, i] for i, d in enumerate(DIMS)},
                         "category": [classes[c] for c in cat], "pred_category": [classes[c] for c in pred]})


def test_cross_validation_figures_are_per_fold_their_mean_and_sd_and_the_pooled_set():
    rng, classes = np.random.default_rng(0), ("angry", "happy", "neutral", "sad")
    folds = [iemocap_fold(k) for k in range(1, 6)]
    preds = pd.concat([_predictions(rng, f.tests[0], 40 + 5 * k, classes) for k, f in enumerate(folds)],
                      ignore_index=True)
    results = score_predictions(preds, 50, 0, classes)
    cv = cross_validation(folds, results, preds, 50, 0, classes)
    per = [cv["folds"][f.name] for f in folds]
    assert [p["test"] for p in per] == [f"session{k}" for k in range(1, 6)]
    assert per[0]["development"] == "session2" and per[0]["train"] == ["session3", "session4", "session5"]
    for key in ("valence", "mean", "ua", "macro_f1"):
        vals = [p[key] for p in per]
        assert cv["folds_mean"][key] == pytest.approx(np.mean(vals))
        assert cv["folds_sd"][key] == pytest.approx(np.std(vals, ddof=1)) and cv["folds_sd"][key] > 0
    g = preds.sort_values("utt_id")
    assert cv["pooled"]["valence"]["ccc"] == pytest.approx(ccc(g["true_valence"], g["pred_valence"]))
    idx = {c: i for i, c in enumerate(classes)}
    assert cv["pooled"]["categories"]["ua"]["value"] == pytest.approx(
        unweighted_accuracy(g["category"].map(idx).to_numpy(), g["pred_category"].map(idx).to_numpy()))
    assert cv["pooled"]["n"] == len(preds)
    ev = {"data": "demo", **results, "cross_validation": cv,
          "baseline": {**results, "cross_validation": cv}}
    compact = compact_scores(ev)
    assert compact["folds_mean"]["ua"] == round(cv["folds_mean"]["ua"], 4)
    assert set(compact["pooled"]) == {*DIMS, "mean", "ua", "wa", "macro_f1"}
    assert "folds_sd" in compact["baseline"] and "cross_validation" not in compact
    table = "\n".join(cross_validation_table(ev))
    assert "| fold-1 | session1 / session2 | SA2SR |" in table and "**mean ± sd**" in table
    assert f"{cv['folds_mean']['ua']:.3f} ± {cv['folds_sd']['ua']:.3f}" in table and "**pooled**" in table


def test_the_model_folder_keeps_one_layout(tmp_path):
    single = finetune_folds(with_overrides(load_params(), {"finetune.corpus": "msp_podcast"}))
    folds = [iemocap_fold(1), iemocap_fold(2)]
    (tmp_path / "fold-1").mkdir(parents=True)
    (tmp_path / "fold-3").mkdir()
    (tmp_path / "model.safetensors").write_bytes(b"x")
    remove_other_layout(tmp_path, folds)  # a cross-validation: no top-level model, no fold it did not ask for
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fold-1"]
    (tmp_path / "model.safetensors").write_bytes(b"x")
    remove_other_layout(tmp_path, single)  # one partition: the fold folders go, its own files stay
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]


def test_each_folds_curves_are_written_under_its_name(tmp_path):
    write_history(tmp_path, {"fold-1": [{"epoch": 1, "val_ua": 0.3}, {"epoch": 2, "val_ua": 0.4}],
                             "fold-2": [{"epoch": 1, "val_ua": 0.5}]})
    f1 = pd.read_csv(tmp_path / "plots" / "metrics" / "fold-1" / "val_ua.tsv", sep="\t")
    f2 = pd.read_csv(tmp_path / "plots" / "metrics" / "fold-2" / "val_ua.tsv", sep="\t")
    assert f1["step"].tolist() == [0, 1] and f1["val_ua"].tolist() == [0.3, 0.4]
    assert f2["step"].tolist() == [0] and f2["val_ua"].tolist() == [0.5]
    assert not list((tmp_path / "plots" / "metrics").glob("*.tsv"))
    assert json.loads((tmp_path / "metrics.json").read_text())  # dvclive's summary
