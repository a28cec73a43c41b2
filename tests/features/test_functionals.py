import numpy as np
import pytest

from sa2sr_core.config.features import FeatureConfig, functionals_dim
from sa2sr_core.features.fbank import extract_lfbe, extract_lfbe_and_stats, kaldi_fbank
from sa2sr_core.features.functionals import utterance_functionals
from tests.conftest import tone


def test_layout_and_louder_frames_only():
    rng = np.random.default_rng(0)
    speech = rng.normal(10.0, 1.0, (70, 40))
    silence = rng.normal(-5.0, 0.1, (30, 40))
    f = utterance_functionals(np.concatenate([silence, speech]), frame_shift_s=0.01)
    assert f.shape == (functionals_dim(40),) == (84,)
    np.testing.assert_allclose(f[:40], speech.mean(0), rtol=1e-5)  # the louder 70% are exactly the speech frames
    np.testing.assert_allclose(f[40:80], speech.std(0), rtol=1e-4)
    energy = np.concatenate([silence, speech]).mean(1)
    np.testing.assert_allclose(f[80:83], np.percentile(energy, [10, 50, 90]), rtol=1e-5)
    assert f[83] == pytest.approx(np.log(1.0))  # 100 frames of 10 ms
    with pytest.raises(ValueError, match="expected"):
        utterance_functionals(np.zeros((0, 40)))


def test_functionals_keep_what_normalisation_removes():
    """Doubling the amplitude leaves the normalised LFBE unchanged, but moves every level functional by
    log(4) (power) and leaves the spreads alone."""
    cfg = FeatureConfig()
    x = tone(1.5)
    f1, s1 = extract_lfbe_and_stats(x, cfg)
    f2, s2 = extract_lfbe_and_stats(2 * x, cfg)
    np.testing.assert_allclose(f1, f2, atol=1e-3)
    np.testing.assert_allclose(f1, extract_lfbe(x, cfg))
    np.testing.assert_allclose(s2[:40] - s1[:40], np.log(4.0), atol=1e-3)
    np.testing.assert_allclose(s2[40:80], s1[40:80], atol=1e-3)
    np.testing.assert_allclose(s1, utterance_functionals(kaldi_fbank(x, cfg)))
