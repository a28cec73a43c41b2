import numpy as np
import pytest

from sa2sr_core.audio import AudioError, load_audio, probe_audio
from tests.conftest import tone, write_audio


def test_missing_file_names_file(tmp_path):
    with pytest.raises(AudioError, match="does not exist") as e:
        load_audio(tmp_path / "nope.wav")
    assert "nope.wav" in str(e.value)


def test_zero_byte_file(tmp_path):
    p = tmp_path / "empty.flac"
    p.write_bytes(b"")
    with pytest.raises(AudioError, match="empty"):
        probe_audio(p)


def test_non_audio_bytes_with_audio_extension(tmp_path):
    p = tmp_path / "fake.wav"
    p.write_bytes(b"this is not a riff header at all" * 10)
    with pytest.raises(AudioError, match="not a readable audio file") as e:
        load_audio(p)
    assert str(p) in str(e.value)


def test_truncated_wav(tmp_path):
    p = write_audio(tmp_path / "full.wav", tone(2.0))
    data = p.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: len(data) // 3])  # header still promises 2 s
    with pytest.raises(AudioError, match="truncated|decoding failed"):
        load_audio(cut)


@pytest.mark.parametrize("sr", [8000, 22050, 48000])
def test_other_rates_are_resampled(tmp_path, sr):
    p = write_audio(tmp_path / f"x{sr}.wav", sr=sr)
    x = load_audio(p, 16000)
    assert x.dtype == np.float32 and abs(len(x) - 16000) <= 2
    # the 220 Hz fundamental survives resampling
    spec = np.abs(np.fft.rfft(x))
    assert abs(np.argmax(spec) * 16000 / len(x) - 220) < 3


def test_stereo_is_downmixed(tmp_path):
    st = tone(channels=2)
    p = write_audio(tmp_path / "st.wav", st)
    x = load_audio(p)
    assert x.ndim == 1
    np.testing.assert_allclose(x, st.mean(axis=1), atol=1e-4)


def test_min_samples(tmp_path):
    p = write_audio(tmp_path / "short.wav", tone(0.01))
    with pytest.raises(AudioError, match="too short"):
        load_audio(p, min_samples=400)
