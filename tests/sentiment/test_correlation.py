import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from sa2sr_core.cli import app
from sa2sr_core.sentiment.correlation import PAPER_TABLE1, ROWS, correlate, paper_reference, spearman_from_table


def test_paper_table_reproduces_from_counts():
    ref = paper_reference()
    assert ref["spearman_from_paper_counts"] == pytest.approx(0.2879, abs=1e-3)
    assert ref["spearman_reported_in_paper_text"] == 0.22


def test_spearman_matches_scipy_on_utterances():
    rng = np.random.default_rng(0)
    emo = rng.choice(["sad", "ang", "fru", "neu", "hap", "exc"], 400)
    score = {"sad": -1, "ang": -1, "fru": -1, "neu": 0, "hap": 1, "exc": 1}
    sent = [["negative", "neutral", "positive"][int(np.clip(score[e] + rng.integers(-1, 2), -1, 1)) + 1] for e in emo]
    table, res = correlate(pd.DataFrame({"utt_id": range(400), "emotion": emo, "sentiment": sent}))
    direct = stats.spearmanr([score[e] for e in emo], [{"negative": -1, "neutral": 0, "positive": 1}[s] for s in sent])
    assert res["spearman"] == pytest.approx(direct.statistic) and res["n"] == 400
    assert list(table.index) == ROWS and table.values.sum() == 400
    assert 0 < res["cramers_v"] < 1


def test_outside_codes_are_counted_not_tabled():
    df = pd.DataFrame({"utt_id": range(8), "emotion": ["xxx", "oth", "dis", "fea", "sur", "Sad", "HAPPY", "exc"],
                       "sentiment": ["negative"] * 5 + ["negative", "positive", None]})
    table, res = correlate(df)
    assert res["excluded"]["emotion_outside_table"] == {"dis": 1, "fea": 1, "oth": 1, "sur": 1, "xxx": 1}
    assert res["excluded"]["missing_sentiment"] == 1
    assert table.values.sum() == 2
    t2, _ = correlate(df.assign(sentiment="positive"), merge_excited=False)
    assert t2.loc["Happy", "Positive"] == 1  # Excited is not in the table when not merged


def test_degenerate_table_gives_nan_not_crash():
    assert np.isnan(spearman_from_table(np.zeros_like(PAPER_TABLE1))[0])


def test_cli_correlate(tmp_path):
    csv = tmp_path / "t.csv"
    pd.DataFrame({"utt_id": ["a", "b", "c", "d"], "emotion": ["sad", "neu", "hap", "ANG"],
                  "sentiment": ["negative", "neutral", "positive", "negative"]}).to_csv(csv, index=False)
    out = tmp_path / "r.json"
    res = CliRunner().invoke(app, ["correlate", str(csv), "--out", str(out), "--heatmap", str(tmp_path / "h.png")])
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())["spearman"] == pytest.approx(1.0)
    assert (tmp_path / "h.png").read_bytes()[:4] == b"\x89PNG"
    bad = tmp_path / "bad.csv"
    bad.write_text("utt_id,label\na,sad\n")
    res = CliRunner().invoke(app, ["correlate", str(bad), "--out", str(out)])
    assert res.exit_code != 0 and "sentiment" in res.output


def test_cli_tables_mean_and_sd_over_seeds(tmp_path):
    paths = []
    for i, v in enumerate((0.30, 0.40)):
        p = tmp_path / f"e{i}.json"
        p.write_text(json.dumps({"data": "demo", "splits": {"test1": {d: {"ccc": v} for d in ("activation", "valence",
                                                                                               "dominance")}}}))
        paths.append(p)
    res = CliRunner().invoke(app, ["tables", "--sa2sr", str(paths[0]), "--sa2sr", str(paths[1])])
    assert res.exit_code == 0, res.output
    assert "| SA2SR features | demo | 2 | 0.350 ± 0.071 |" in res.output
    assert "| No pre-training | – | 0 |" in res.output and "0.603" in res.output
