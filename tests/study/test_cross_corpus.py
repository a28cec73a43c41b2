"""Cross-corpus evaluation: classes matched by name (the rest named), A/V/D mapped onto the target's scale, and the
CLI scoring a packaged model on a manifest of another corpus."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from sa2sr_core.cli import app
from sa2sr_core.corpora.manifest import ManifestError
from sa2sr_core.corpora.own import read_own_manifest
from sa2sr_core.study.cross_corpus import (Target, canonical, match_classes, rescale, score_cross_corpus,
                                                target_utterances)
from sa2sr_core.metrics import ccc
from sa2sr_core.names import DIMS, class_column
from sa2sr_core.params import load_params
from tests.conftest import write_audio
from tests.model_dirs import packaged


def test_class_names_match_across_corpora_and_the_rest_are_named():
    assert canonical("Anger") == canonical("ang") == canonical("A") == "angry"
    assert canonical("fearful") == canonical("F") == "fear" and canonical("Boredom") == "boredom"
    m = match_classes(("angry", "happy", "neutral", "sad"), {"A": 10, "H": 20, "N": 30, "C": 5, "X": 2})
    assert m.pairs == {"angry": "A", "happy": "H", "neutral": "N"}
    assert m.model_only == ["sad"] and m.target_only == {"C": 5, "X": 2}


def test_scores_map_the_scale_and_restrict_classes_to_the_matched_ones():
    rng = np.random.default_rng(0)
    n = 60
    true = rng.uniform(1, 5, (n, 3))
    model_scale, target_scale = (1.0, 7.0), (1.0, 5.0)
    raw = rescale(true, target_scale, model_scale) + rng.normal(0, 0.3, (n, 3))  # the model speaks 1-7
    cats = rng.choice(["ang", "neu", "fru"], n)
    probs = np.zeros((n, 3))  # classes: anger, neutral, boredom; boredom most probable where a matched one is right
    for i, c in enumerate(cats):
        probs[i] = [0.4, 0.1, 0.5] if c == "ang" else [0.1, 0.4, 0.5] if c == "neu" else [0.2, 0.3, 0.5]
    files = pd.DataFrame({"file": [f"/a/{i}.wav" for i in range(n)], "status": ["ok"] * (n - 1) + ["no speech"],
                          **{f"{d}_raw": raw[:, i] for i, d in enumerate(DIMS)},
                          **{class_column(c): probs[:, i] for i, c in enumerate(("anger", "neutral", "boredom"))}})
    utts = pd.DataFrame({"utt_id": range(n), "path": files["file"], "split": "test", "category": cats,
                         **{d: true[:, i] for i, d in enumerate(DIMS)}})
    res = score_cross_corpus(files, Target("x", utts, target_scale), model_scale, True,
                             ("anger", "neutral", "boredom"), n_boot=50)
    r = res["splits"]["test"]
    assert res["not_scored"] == 1 and r["n"] == n - 1
    back = rescale(raw[: n - 1], model_scale, target_scale)
    assert r["valence"]["ccc"] == pytest.approx(ccc(true[: n - 1, 1], back[:, 1]))
    assert r["valence"]["ccc"] > 0.9  # on the model's own scale it would be far lower: the offset is mapped away
    assert res["classes"] == {"matched": {"anger": "ang", "neutral": "neu"}, "model_only": ["boredom"],
                              "target_only": {"fru": int((cats[: n - 1] == "fru").sum())}}
    c = r["categories"]
    assert c["n"] == int(np.isin(cats[: n - 1], ["ang", "neu"]).sum())
    assert c["ua"]["value"] == 1.0  # boredom's larger probability does not count: the decision is among matched


def test_the_cli_scores_a_packaged_model_on_a_manifest(tmp_path, monkeypatch):
    model, _, _ = packaged(tmp_path / "m", classes=("angry", "calm"))
    rows = []
    for i in range(6):
        write_audio(tmp_path / "c" / f"u{i}.wav", seconds=1.5, freq=150 + 40 * i)
        rows.append({"path": f"u{i}.wav", "speaker": f"s{i % 3}", "split": ["train", "development", "test"][i % 3],
                     "category": ["angry", "sad"][i % 2], "activation": 1 + i % 5, "valence": 2, "dominance": 3})
    pd.DataFrame(rows).to_csv(tmp_path / "c" / "m.csv", index=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text((Path(__file__).parents[2] / "params.yaml").read_text())
    res = CliRunner().invoke(app, ["cross-corpus", "c/m.csv", "--model", str(model), "--out", "x.json",
                                   "--scale", "1", "5", "--vad", "energy", "--no-progress", "--bootstrap", "20"])
    assert res.exit_code == 0, res.output
    out = json.loads((tmp_path / "x.json").read_text())
    assert set(out["splits"]) == {"test"} and out["splits"]["test"]["n"] == 2
    assert out["scale"]["target"] == [1.0, 5.0] and out["scale"]["model"] == [1.0, 7.0]
    assert out["classes"]["matched"] == {"angry": "angry"} and out["classes"]["model_only"] == ["calm"]
    assert "| test | 2 |" in res.output and "the target's (left out): sad (1)" in res.output
    bad = CliRunner().invoke(app, ["cross-corpus", "nowhere", "--model", str(model), "--out", "y.json"])
    assert bad.exit_code == 2 and "neither a corpus" in bad.output and not (tmp_path / "y.json").exists()


def test_a_target_manifest_of_test_splits_only_is_enough(tmp_path):
    """A corpus someone only tests on (a handful of CREMA-D files, say) needs no train or development rows; a
    manifest with no test split at all is still one named error, and so is a speaker in two test splits."""
    rows = []
    for i in range(4):
        write_audio(tmp_path / f"u{i}.wav", seconds=1.0, freq=150 + 40 * i)
        rows.append({"path": f"u{i}.wav", "speaker": f"s{i % 2}", "split": "test", "category": ["ANG", "SAD"][i % 2]})
    pd.DataFrame(rows).to_csv(tmp_path / "m.csv", index=False)
    t = target_utterances(load_params(), str(tmp_path / "m.csv"))
    assert len(t.utterances) == 4 and set(t.utterances["split"]) == {"test"}
    assert sorted(set(t.utterances["category"])) == ["ANG", "SAD"]
    pd.DataFrame([{**r, "split": "train"} for r in rows]).to_csv(tmp_path / "train_only.csv", index=False)
    with pytest.raises(ManifestError, match="no test split"):
        target_utterances(load_params(), str(tmp_path / "train_only.csv"))
    # s0 (rows 0, 2) and s1 (rows 1, 3) each in test and test2
    pd.DataFrame([{**r, "split": split} for r, split in zip(rows, ["test", "test2", "test2", "test"])]
                 ).to_csv(tmp_path / "overlap.csv", index=False)
    with pytest.raises(ManifestError, match="more than one split"):
        target_utterances(load_params(), str(tmp_path / "overlap.csv"))
    # training on it is still refused, by name
    with pytest.raises(ManifestError, match="no usable 'train' rows"):
        read_own_manifest(tmp_path / "m.csv")


def test_iemocap_as_a_target_is_its_four_classes_over_all_sessions(tmp_path):
    params = load_params()
    params["data"]["manifests_dir"] = str(tmp_path)
    pd.DataFrame({"utt_id": ["a", "b", "c"], "path": ["a.wav", "b.wav", "c.wav"], "split": ["train", "test", "x"],
                  "emotion": ["exc", "fru", "ang"], **{d: [1.0, 3.0, 5.0] for d in DIMS}}).to_parquet(
        tmp_path / "iemocap.parquet")
    t = target_utterances(params, "iemocap")
    assert t.scale == (1.0, 5.0) and set(t.utterances["split"]) == {"iemocap"}
    assert t.utterances["category"].fillna("-").tolist() == ["happy", "-", "angry"]
