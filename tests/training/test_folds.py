"""A cross-validation's fine-tuning outputs: one model-folder layout, each fold's curves under its name."""

import json

import pandas as pd

from sa2sr_core.corpora.finetuning import finetune_corpus, iemocap_fold
from sa2sr_core.params import load_params, with_overrides
from sa2sr_core.training.finetune import remove_other_layout
from sa2sr_core.training.tracking import write_history


def test_the_model_folder_keeps_one_layout(tmp_path):
    single = finetune_corpus(with_overrides(load_params(), {"finetune.corpus": "msp_podcast"})).folds
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
