import numpy as np
import pytest

from sa2sr_core.config.baseline import BaselineConfig
from sa2sr_core.config.training import FinetuneConfig
from sa2sr_core.evaluation.baseline import Ridge, SplitData, fit_baseline, load_split, predictions_frame
from sa2sr_core.evaluation.evaluate import score_predictions
from sa2sr_core.evaluation.metrics import ccc
from sa2sr_core.features.emotion import read_stats
from tests.helpers import project_baseline_config, speech_shards


def test_ridge_matches_least_squares_and_shrinks():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5)) * [1, 10, 0.1, 3, 1] + 4
    y = x @ [1.0, -0.2, 5.0, 0.0, 0.5] + 2 + 0.1 * rng.normal(size=200)
    z = (x - x.mean(0)) / x.std(0)
    w, *_ = np.linalg.lstsq(np.c_[z, np.ones(200)], y, rcond=None)
    r = Ridge(1e-9).fit(x, y)
    np.testing.assert_allclose(r.w, w[:5], rtol=1e-6)
    np.testing.assert_allclose(r.predict(x), np.c_[z, np.ones(200)] @ w, atol=1e-6)
    assert np.abs(Ridge(1e4).fit(x, y).w).sum() < 0.2 * np.abs(r.w).sum()


def _split(rng, n, w):
    x = rng.normal(size=(n, 6))
    return SplitData([f"u{i}" for i in range(n)], x, np.stack([x @ wi + rng.normal(0, s, n) for wi, s in w], 1))


def test_regulariser_is_chosen_on_development_per_dimension():
    """Dimension 0 is learnable (little regularisation wins), dimension 2 is pure noise (the strongest wins)."""
    rng = np.random.default_rng(1)
    w = [(np.array([1, 2, 0, 0, 0, 0.5]), 0.3), (np.array([0.2, 0, 0, 0, 0, 0]), 1.0), (np.zeros(6), 1.0)]
    train, dev = _split(rng, 40, w), _split(rng, 200, w)
    m = fit_baseline(train, dev, BaselineConfig(alphas=[0.01, 1.0, 100.0, 1e6]))
    assert m.alphas["activation"] <= 1.0 and m.dev_ccc["activation"] > 0.9
    test = _split(rng, 300, w)
    assert ccc(test.y[:, 0], m.predict(test.x)[:, 0]) > 0.9
    assert set(m.alphas) == {"activation", "valence", "dominance"} and "mean" in m.dev_ccc


def test_baseline_on_shards_scores_the_same_utterances_as_the_model(tmp_path):
    train, _ = speech_shards(tmp_path, 10, "train", words=5, avd=True)
    dev, _ = speech_shards(tmp_path, 6, "validation", seed=1, words=5, avd=True)
    test, _ = speech_shards(tmp_path, 6, "test1", seed=2, words=5, avd=True)
    cfg = FinetuneConfig()
    tr, dv, te = (load_split(d, cfg, min_frames=25) for d in (train, dev, test))
    assert tr.x.shape == (10, 84) and te.y.shape == (6, 3)
    np.testing.assert_array_equal(te.x, read_stats(test, te.ids))
    m = fit_baseline(tr, dv, project_baseline_config())
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
