"""The trained voice-activity detector (Silero VAD v6): the package's own streaming model's numbers however the
audio arrives; noise, hum, music and clicks in the pauses of a recording not scored where the energy decision
scores them; a file of noise only reported as "no speech" (no error, no NaN shown); other rates and channels
resampled and mixed before the decision; `sa2sr serve` with the same decision."""

from pathlib import Path

import httpx
import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
import soundfile as sf
from typer.testing import CliRunner

from benchmarks.fixtures import (NON_SPEECH_KINDS, SHARED_DATA, noisy_recording, non_speech, pink_noise,
                                 real_utterances, scored_frames, speech_utterances)
from sa2sr_core.audio import probe_audio, resample
from sa2sr_core.cli import app
from sa2sr_core.config.inference import PredictConfig, SegmentConfig, ServeConfig
from sa2sr_core.inference import silero
from sa2sr_core.inference.predict import predict_recordings
from sa2sr_core.inference.serve import Service, create_app
from sa2sr_core.inference.vad import NO_SPEECH, NON_SPEECH, SPEECH, segment_audio
from sa2sr_core.models.packaged import load_model
from tests.model_dirs import packaged
from tests.inference.test_serve import Running

SR = 16000


@pytest.fixture(scope="module")
def utterances():
    """12 espeak-ng utterances (the project's own synthetic speech; real speech in the test that needs ../shared)."""
    utts, _ = speech_utterances(Path("no-such-directory"), espeak_n=12)
    return utts


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    d, _, _ = packaged(tmp_path_factory.mktemp("vad-model"))
    return d


def _write(path, x, sr=SR):
    sf.write(path, x, sr, subtype="FLOAT")
    return path


def _shares(path, rec, vad):
    segs, _ = segment_audio(path, probe_audio(path), SR, SegmentConfig(vad=vad))
    scored = scored_frames(segs, len(rec.speech))
    return float(scored[rec.pause].mean()), float(scored[rec.speech].mean())


def test_probabilities_are_the_streaming_models_frame_by_frame(utterances):
    """The sequence export, one call per block, gives the numbers of the package's streaming model (silero_vad.onnx,
    one 32 ms frame per call with its 64-sample context, as the package's own wrapper runs it)."""
    x = np.concatenate([utterances[0], 0.01 * pink_noise(SR, np.random.default_rng(0)), utterances[1]])
    ref = ort.InferenceSession(str(silero.model_path().parent / "silero_vad.onnx"), providers=["CPUExecutionProvider"])
    state, context, want = np.zeros((2, 1, 128), np.float32), np.zeros((1, 64), np.float32), []
    padded = np.pad(x, (0, -len(x) % 512)).astype(np.float32)
    for i in range(0, len(padded), 512):
        inp = np.concatenate([context, padded[None, i:i + 512]], axis=1)
        out, state = ref.run(None, {"input": inp, "state": state, "sr": np.array(SR, np.int64)})
        want.append(float(out[0, 0]))
        context = inp[:, -64:]
    got = silero.speech_probabilities(x)
    assert len(got) == len(want) == len(padded) // 512
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert got.max() > 0.9 and got.min() < 0.1  # speech and the pause between the utterances told apart


def test_probabilities_do_not_depend_on_how_the_audio_is_chunked(utterances):
    x = np.concatenate(utterances[:6])
    whole = silero.speech_probabilities(x)
    stream, rng, at = silero.SileroStream(), np.random.default_rng(1), 0
    while at < len(x):
        n = int(rng.choice([1, 100, 511, 513, 4000, 300_000]))
        stream.feed(x[at:at + n])
        at += n
    np.testing.assert_allclose(stream.finish(), whole, atol=1e-5)


def test_hysteresis_starts_at_the_threshold_and_ends_below_the_lower_one():
    p = np.array([0.1, 0.6, 0.4, 0.36, 0.2, 0.45, 0.5, 0.3])
    assert silero.hysteresis(p, 0.5, 0.35).tolist() == [False, True, True, True, False, False, True, False]


def test_noise_in_the_pauses_is_not_scored_where_the_energy_decision_scores_it(utterances, tmp_path):
    """The issue's recording in small: speech joined by 2-4 s pauses of room noise, hum, music and clicks 6 dB below
    it, pink noise 20 dB below it throughout."""
    rec = noisy_recording(utterances, 6.0, seconds=60)
    path = _write(tmp_path / "noisy.wav", rec.audio)
    pause, speech = _shares(path, rec, "silero")
    assert pause <= 0.2 and speech >= 0.8, (pause, speech)
    energy_pause, _ = _shares(path, rec, "energy")
    assert energy_pause > 0.5, energy_pause


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="needs the real recordings in ../shared/data")
@pytest.mark.parametrize("below_db", [0.0, 12.0])
def test_real_speech_with_noise_in_the_pauses(below_db, tmp_path):
    utts, _ = real_utterances()
    rec = noisy_recording(utts, below_db, seconds=120)
    path = _write(tmp_path / "noisy.wav", rec.audio)
    pause, speech = _shares(path, rec, "silero")
    assert pause <= 0.2 and speech >= 0.8, (pause, speech)
    assert _shares(path, rec, "energy")[0] > 0.5


def _all_noise(seconds):
    rng = np.random.default_rng(2)
    n = int(seconds * SR) // len(NON_SPEECH_KINDS)
    x = np.concatenate([0.05 * non_speech(k, n, rng) for k in NON_SPEECH_KINDS])
    return (x + 0.005 * pink_noise(len(x), rng)).astype(np.float32)


def test_a_file_of_noise_only_says_no_speech_without_an_error(model_dir, tmp_path):
    long_noise = _write(tmp_path / "noise.wav", _all_noise(40))
    short_noise = _write(tmp_path / "short.wav", _all_noise(8))  # <= 15 s: the one-utterance path
    out, seg = tmp_path / "out.csv", tmp_path / "seg.csv"
    res = CliRunner().invoke(app, ["predict", str(long_noise), str(short_noise), "--model", str(model_dir),
                                   "--out", str(out), "--segments", str(seg), "--plots", str(tmp_path / "pics"),
                                   "--no-progress"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "pics").glob("*.png")) == ["noise.png", "short.png"]  # all shaded
    assert "0/2 files scored, 2 without speech" in res.output
    rows = out.read_text().splitlines()[1:]
    assert len(rows) == 2 and not any("nan" in r.lower() for r in rows)  # no NaN shown: the score cells are empty
    df = pd.read_csv(out)
    assert df["status"].tolist() == [NO_SPEECH, NO_SPEECH]
    assert df["segments"].tolist() == [0, 0] and df["speech_s"].tolist() == [0.0, 0.0]
    assert df["activation"].isna().all()
    segs = pd.read_csv(seg)
    assert set(segs["kind"]) == {NON_SPEECH} and segs.groupby("path")["end_s"].max().round().tolist() == [40, 8]
    energy = CliRunner().invoke(app, ["predict", str(long_noise), "--model", str(model_dir), "--out",
                                      str(tmp_path / "e.csv"), "--vad", "energy", "--no-progress"])
    assert energy.exit_code == 0 and pd.read_csv(tmp_path / "e.csv")["status"].tolist() == ["ok"]  # noise scored
    bad = CliRunner().invoke(app, ["predict", str(long_noise), "--model", str(model_dir), "--out",
                                   str(tmp_path / "b.csv"), "--vad", "webrtc"])
    assert bad.exit_code == 2 and "vad must be one of" in bad.output and not (tmp_path / "b.csv").exists()


def test_other_rates_and_channels_are_resampled_and_mixed_before_the_decision(utterances, tmp_path):
    rec = noisy_recording(utterances, 6.0, seconds=40)
    mono = _write(tmp_path / "mono.wav", rec.audio)
    x44 = resample(rec.audio, SR, 44100)
    stereo = _write(tmp_path / "stereo.wav", np.stack([x44, 0.8 * x44], axis=1), 44100)
    assert probe_audio(stereo).num_channels == 2
    want, _ = segment_audio(mono, probe_audio(mono), SR, SegmentConfig())
    got, _ = segment_audio(stereo, probe_audio(stereo), SR, SegmentConfig())
    a, b = scored_frames(want, len(rec.speech)), scored_frames(got, len(rec.speech))
    assert (a == b).mean() >= 0.98, (a == b).mean()  # the same decision, up to a frame at a few boundaries
    assert abs(sum(s.kind == SPEECH for s in want) - sum(s.kind == SPEECH for s in got)) <= 1
    assert b[rec.speech].mean() >= 0.8 and b[rec.pause].mean() <= 0.2


def test_serve_uses_the_same_decision(model_dir, utterances, tmp_path):
    rec = noisy_recording(utterances, 6.0, seconds=40)
    noisy, noise = _write(tmp_path / "noisy.wav", rec.audio), _write(tmp_path / "noise.wav", _all_noise(20))
    model, config = load_model(model_dir)
    want = predict_recordings(model, config, [noisy], PredictConfig(progress=False), log=lambda m: None).segments
    service = Service(model, config, str(model_dir), ServeConfig())
    with Running(create_app(service)) as base:
        answers = {}
        for p in (noisy, noise):
            with open(p, "rb") as f:
                r = httpx.post(f"{base}/predict", files={"file": (p.name, f)}, timeout=60)
            assert r.status_code == 200, r.text
            answers[p.name] = r.json()
    got = answers["noisy.wav"]["segments"]
    assert [(s["start_s"], s["end_s"], s["kind"]) for s in got] == \
        list(zip(want["start_s"], want["end_s"], want["kind"]))
    quiet = answers["noise.wav"]
    assert quiet["file"]["status"] == NO_SPEECH and {s["kind"] for s in quiet["segments"]} == {NON_SPEECH}
    assert quiet["file"]["activation"] is None  # JSON null, not NaN
