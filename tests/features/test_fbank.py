import numpy as np
import pytest
import torch
import torchaudio.compliance.kaldi as kaldi

from sa2sr_core.audio import AudioError, load_audio
from sa2sr_core.config.features import FeatureConfig
from sa2sr_core.features.fbank import extract_lfbe, normalize_utterance, speed_perturb
from sa2sr_core.features.shards import Job, extract_job
from tests.conftest import tone, write_audio


def test_matches_kaldi_fbank_bitwise_config():
    x = tone(1.3)
    cfg = FeatureConfig(normalize="none")
    ours = extract_lfbe(x, cfg)
    ref = kaldi.fbank(torch.from_numpy(x * 32768)[None], num_mel_bins=40, frame_length=25, frame_shift=10,
                      dither=0.0, sample_frequency=16000).numpy()
    assert ours.shape == ref.shape == (cfg.num_frames(len(x)), 40)
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("n,frames", [(399, 0), (400, 1), (559, 1), (560, 2), (16000, 98)])
def test_frame_arithmetic(n, frames):
    assert FeatureConfig().num_frames(n) == frames


def test_utterance_normalisation():
    f = extract_lfbe(tone(2.0), FeatureConfig())
    np.testing.assert_allclose(f.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(f.std(0), 1, atol=1e-3)
    const = normalize_utterance(np.ones((10, 40), np.float32))
    assert np.isfinite(const).all()


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_speed_perturb_changes_length(factor):
    x = tone(1.0)
    y = speed_perturb(x, factor, 16000)
    assert abs(len(y) - len(x) / factor) <= 2


def _job(path, speed=1.0):
    return Job(str(path), str(path), str(path), speed, "s", "A", None, None, None, 1.0)


def test_silence_is_rejected(tmp_path):
    p = write_audio(tmp_path / "sil.wav", np.zeros(16000, np.float32))
    with pytest.raises(AudioError, match="silent"):
        extract_job(_job(p), FeatureConfig())


def test_shorter_than_one_frame_is_rejected(tmp_path):
    p = write_audio(tmp_path / "tiny.wav", tone(0.02))  # 320 samples < 400
    with pytest.raises(AudioError, match="shorter than one 25 ms frame"):
        extract_job(_job(p), FeatureConfig())


def test_bad_config_values():
    with pytest.raises(ValueError, match="normalize"):
        FeatureConfig(normalize="global")
    with pytest.raises(ValueError, match="speed_perturb"):
        FeatureConfig(speed_perturb=[1.0])


def test_real_librispeech_flac(shared_data):
    flac = next((shared_data / "librispeech-test-clean-sample").rglob("*.flac"))
    x = load_audio(flac)
    f = extract_lfbe(x, FeatureConfig(normalize="none"))
    assert f.shape == (FeatureConfig().num_frames(len(x)), 40)
    # speech has a spread of energies across frames (silence vs voiced), unlike a constant signal
    assert f.std(0).mean() > 1.0
