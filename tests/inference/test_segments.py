"""Voice activity and segmentation: the rules on synthetic energies, and streamed cuts on real-ish audio."""

import numpy as np
import pytest
import soundfile as sf

from sa2sr_core.audio import load_audio, probe_audio
from sa2sr_core.config.inference import SegmentConfig
from sa2sr_core.inference.vad import (NON_SPEECH, SPEECH, cut_audio, energy_speech, frame_energies, plan_segments,
                                      segment_audio)

HOP = 0.01


def _energy(pattern):
    """dB per 10-ms frame from [(seconds, level_db), ...]."""
    return np.concatenate([np.full(int(round(s / HOP)), db, float) for s, db in pattern])


def test_pauses_bridged_clicks_dropped_padding_and_full_coverage():
    cfg = SegmentConfig(min_pause_s=0.3, min_speech_s=0.3, pad_s=0.1, max_segment_s=15)
    e = _energy([(1.0, -60), (2.0, -20), (0.2, -60), (1.0, -20), (1.0, -60), (0.1, -15), (1.5, -60), (2.0, -22),
                 (0.5, -60)])
    plan = plan_segments(energy_speech(e, cfg), e, cfg, HOP)
    assert [k for *_, k in plan] == [NON_SPEECH, SPEECH, NON_SPEECH, SPEECH, NON_SPEECH]
    (_, _, _), (a, b, _), _, (c, d, _), _ = plan
    assert (a, b) == (90, 430)  # 1.0-3.2-4.2 s bridged over the 0.2 s pause, padded by 0.1 s
    assert (c, d) == (670, 890)  # the 0.1 s click dropped; the last run padded
    assert plan[0][0] == 0 and plan[-1][1] == len(e)
    assert all(p[1] == q[0] for p, q in zip(plan, plan[1:]))


def test_long_speech_is_cut_at_its_quietest_frame_near_the_limit():
    cfg = SegmentConfig(max_segment_s=5.0, search_s=2.0)
    e = _energy([(0.5, -60), (4.0, -20), (0.05, -28), (8.0, -20), (0.5, -60)])  # a dip 4.5 s in, not a pause
    plan = [p for p in plan_segments(energy_speech(e, cfg), e, cfg, HOP) if p[2] == SPEECH]
    assert plan[0][1] == 450  # cut in the dip, not at the limit
    assert all(b - a <= 500 for a, b, _ in plan) and plan[-1][1] == 1265  # flat speech: cut within the limit
    assert all(p[1] == q[0] for p, q in zip(plan, plan[1:]))


def test_energies_do_not_depend_on_how_the_audio_is_chunked():
    x = np.random.default_rng(0).standard_normal(16000 * 3 + 77).astype(np.float32)
    whole, n, peak = frame_energies([x], 160, 400)
    parts, n2, peak2 = frame_energies(np.array_split(x, 13), 160, 400)
    np.testing.assert_allclose(whole, parts)
    assert n == n2 == len(x) and peak == peak2 and len(whole) == -(-len(x) // 160)


@pytest.fixture
def recording(tmp_path):
    rng, sr, parts, spans, t = np.random.default_rng(1), 16000, [], [], 0.0
    for i in range(8):
        pause, dur = rng.uniform(0.6, 1.5), rng.uniform(1.0, 3.0)
        parts.append(3e-3 * rng.standard_normal(int(pause * sr)))
        tt = np.arange(int(dur * sr)) / sr  # a voiced-like tone with a syllable-rate envelope
        parts.append(0.3 * np.sin(2 * np.pi * 180 * tt) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * tt)))
        spans.append((t + pause, t + pause + dur))
        t += pause + dur
    parts.append(3e-3 * rng.standard_normal(sr))
    path = tmp_path / "rec.flac"
    sf.write(path, np.concatenate(parts).astype(np.float32), sr)
    return path, spans


def test_segments_follow_the_pauses_and_cuts_stream_the_same_samples(recording):
    path, spans = recording
    info = probe_audio(path)
    segs, peak = segment_audio(path, info, 16000, SegmentConfig(vad="energy"))  # tones: the energy rules
    speech = [s for s in segs if s.kind == SPEECH]
    assert len(speech) == len(spans) and peak > 0.2
    for s, (a, b) in zip(speech, spans):
        start, end = s.seconds(16000)
        assert abs(start - (a - 0.1)) < 0.05 and abs(end - (b + 0.1)) < 0.05
    assert segs[-1].end == info.num_samples
    x = load_audio(path, 16000)
    cut = dict(cut_audio(path, info, 16000, segs))
    assert sorted(cut) == [i for i, s in enumerate(segs) if s.kind == SPEECH]
    for i, piece in cut.items():
        np.testing.assert_allclose(piece, x[segs[i].start: segs[i].end], atol=1e-6)


def test_a_short_recording_is_one_utterance(recording, tmp_path):
    path, _ = recording
    x = load_audio(path, 16000)[: 16000 * 4]
    sf.write(tmp_path / "short.wav", x, 16000, subtype="FLOAT")
    cfg = SegmentConfig(vad="energy")  # tones: the energy rules (tests/inference/test_vad.py has the trained detector's)
    segs, _ = segment_audio(tmp_path / "short.wav", probe_audio(tmp_path / "short.wav"), 16000, cfg)
    assert len(segs) == 1 and segs[0].kind == SPEECH and (segs[0].start, segs[0].end) == (0, len(x))
    assert 0 < segs[0].speech_share < 1
