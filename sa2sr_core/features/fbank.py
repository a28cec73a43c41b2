"""Features, pure functions, no file I/O: log mel filterbank energies (LFBE), Kaldi-compatible, for the BiLSTM; PCM
frames (the waveform on the 16-bit grid, cut into 10 ms hops) for a self-supervised encoder.

`extract_lfbe` gives the same values as `torchaudio.compliance.kaldi.fbank(..., dither=0)` applied to the
waveform on the 16-bit integer scale (Kaldi's convention: float samples in [-1, 1] times 32768).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torchaudio.compliance.kaldi as kaldi

from sa2sr_core.audio import resample
from sa2sr_core.config.features import FeatureConfig
from sa2sr_core.features.functionals import utterance_functionals


def speed_perturb(samples: np.ndarray, factor: float, sample_rate: int) -> np.ndarray:
    """Kaldi/sox-style speed perturbation: play `factor` times faster (tempo and pitch change together),
    i.e. treat the signal as sampled at sample_rate * factor and resample it back to sample_rate."""
    if factor == 1.0:
        return samples
    return resample(samples, int(round(sample_rate * factor)), sample_rate)


@lru_cache(maxsize=8)
def _fbank_constants(sample_rate: int, window: int, num_bins: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Povey window (W,), mel matrix (n_fft//2+1, F) and FFT size, exactly as Kaldi / torchaudio build them."""
    n_fft = 1 << (window - 1).bit_length()  # round_to_power_of_two
    povey = torch.hann_window(window, periodic=False, dtype=torch.float64).pow(0.85).float()
    mel, _ = kaldi.get_mel_banks(num_bins, n_fft, float(sample_rate), 20.0, 0.0, 100.0, -500.0, 1.0)  # (F, n_fft/2)
    mel = torch.nn.functional.pad(mel, (0, 1)).T.contiguous()  # (n_fft/2 + 1, F)
    return povey, mel, n_fft


def kaldi_fbank(samples: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """The arithmetic of `torchaudio.compliance.kaldi.fbank` (dither 0, snip_edges, DC removal, pre-emphasis
    0.97, Povey window, power spectrum, log mel with float eps floor) without its per-call set-up."""
    W, H = cfg.window_samples, cfg.hop_samples
    T = cfg.lfbe_frames(len(samples))
    povey, mel, n_fft = _fbank_constants(cfg.sample_rate, W, cfg.num_mel_bins)
    wave = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32)) * 32768.0  # (N,) on the int16 scale
    frames = wave.as_strided((T, W), (H, 1))  # (T, W) view, snip_edges=True
    frames = frames - frames.mean(dim=1, keepdim=True)  # remove DC offset
    prev = torch.cat([frames[:, :1], frames[:, :-1]], dim=1)  # replicate-padded previous sample
    frames = (frames - 0.97 * prev) * povey  # pre-emphasis, window: (T, W)
    spec = torch.fft.rfft(frames, n=n_fft)  # (T, n_fft/2 + 1), zero-padded to n_fft
    power = spec.real.square() + spec.imag.square()  # |X|^2
    energies = power @ mel  # (T, F)
    return energies.clamp_min(torch.finfo(torch.float32).eps).log().numpy()


def extract_lfbe(samples: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """(N,) float32 waveform in [-1, 1] at cfg.sample_rate -> (T, num_mel_bins) float32 log mel energies."""
    out = kaldi_fbank(samples, cfg)  # (T, F)
    if cfg.normalize == "utterance":
        out = normalize_utterance(out)
    return out


def extract_lfbe_and_stats(samples: np.ndarray, cfg: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """(N,) waveform -> (LFBE (T, F) as `extract_lfbe` gives it, functionals (2F + 4,) of the unnormalised LFBE)."""
    raw = kaldi_fbank(samples, cfg)  # (T, F)
    stats = utterance_functionals(raw, cfg.frame_shift_ms / 1000)
    return (normalize_utterance(raw) if cfg.normalize == "utterance" else raw), stats


def pcm_frames(samples: np.ndarray, hop: int) -> np.ndarray:
    """(N,) float waveform -> (N // hop, hop) float32 on the 16-bit grid (k / 32768), exactly what a waveform shard
    stores as int16; the last partial hop (< 10 ms) is dropped."""
    T = len(samples) // hop
    q = np.clip(np.round(np.asarray(samples[: T * hop], np.float64) * 32768.0), -32768, 32767)
    return (q / 32768.0).astype(np.float32).reshape(T, hop)


def extract_features_and_stats(samples: np.ndarray, cfg: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """(N,) waveform -> (frames (T, cfg.frame_dim) of cfg.kind, functionals (2F + 4,) of the unnormalised LFBE).
    The one featurisation of training shards, `sa2sr predict` and `sa2sr serve`."""
    if cfg.kind == "waveform":
        return pcm_frames(samples, cfg.hop_samples), utterance_functionals(kaldi_fbank(samples, cfg),
                                                                           cfg.frame_shift_ms / 1000)
    return extract_lfbe_and_stats(samples, cfg)


def normalize_utterance(feats: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Per-utterance (sample-level) mean/variance normalisation over time, per mel bin. (T, F) -> (T, F)."""
    mean = feats.mean(axis=0, keepdims=True, dtype=np.float64)
    std = feats.std(axis=0, keepdims=True, dtype=np.float64)
    return ((feats - mean) / np.maximum(std, eps)).astype(np.float32)
