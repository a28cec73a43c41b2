"""Stage baseline's logic on feature shards: the same test utterances as the deep model, scored by the same code;
old shards and empty splits named."""

import numpy as np
import pytest

from sa2sr_core.config.training import FinetuneConfig
from sa2sr_core.evaluation.baseline import load_split, predictions_frame
from sa2sr_core.evaluation.evaluate import score_predictions
from sa2sr_core.features.emotion import read_stats
from sa2sr_core.metrics import ccc
from sa2sr_core.models.classical import fit_ridge
from tests.helpers import project_baseline_config, speech_shards


def test_baseline_on_shards_scores_the_same_utterances_as_the_model(tmp_path):
    train, _ = speech_shards(tmp_path, 10, "train", words=5, avd=True)
    dev, _ = speech_shards(tmp_path, 6, "validation", seed=1, words=5, avd=True)
    test, _ = speech_shards(tmp_path, 6, "test1", seed=2, words=5, avd=True)
    cfg = FinetuneConfig()
    tr, dv, te = (load_split(d, cfg, min_frames=25) for d in (train, dev, test))
    assert tr.x.shape == (10, 84) and te.y.shape == (6, 3)
    np.testing.assert_array_equal(te.x, read_stats(test, te.ids))
    m = fit_ridge(tr, dv, project_baseline_config())
    frame = predictions_frame("test1", te, m.predict(te.x))
    scored = score_predictions(frame, n_boot=100)
    assert scored["test1"]["n"] == 6
    assert scored["test1"]["activation"]["ccc"] == pytest.approx(ccc(te.y[:, 0], m.predict(te.x)[:, 0]))
    # speaking rate and pitch range follow activation in these fixtures: the functionals carry it
    assert m.dev_ccc["activation"] > 0.5


def test_shards_without_functionals_or_no_shards_are_named(tmp_path):
    """Shards written before the utt_stats column, and a split with no shards, fail with what to do."""
    import pyarrow.parquet as pq

    from sa2sr_core.features.emotion import MissingStatsError

    split, _ = speech_shards(tmp_path, 3, "train", words=4, avd=True)
    path = next(split.glob("shard-*.parquet"))
    pq.write_table(pq.read_table(path).drop(["utt_stats"]), path)
    with pytest.raises(MissingStatsError, match=f"{path.name} has no utt_stats column.*dvc repro features"):
        load_split(split, FinetuneConfig(), min_frames=25)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no feature shards under .*empty"):
        load_split(tmp_path / "empty", FinetuneConfig(), min_frames=25)
