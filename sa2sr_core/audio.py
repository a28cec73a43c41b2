"""The one place that opens audio files: decode, down-mix, resample."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf

from sa2sr_core.errors import Sa2srError

AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".sph")


class AudioError(Sa2srError):
    """An audio file that cannot be used; the message names the file and the problem."""

    def __init__(self, path: str | Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass(frozen=True)
class AudioInfo:
    sample_rate: int
    num_channels: int
    num_samples: int

    @property
    def duration_s(self) -> float:
        return self.num_samples / self.sample_rate


def probe_audio(path: str | Path) -> AudioInfo:
    """Read only the header of `path`; raise AudioError if it is missing, empty or not audio."""
    path = Path(path)
    if not path.exists():
        raise AudioError(path, "file does not exist")
    if path.stat().st_size == 0:
        raise AudioError(path, "file is empty (0 bytes)")
    try:
        info = sf.info(str(path))
    except Exception as e:  # soundfile raises LibsndfileError / RuntimeError for unreadable headers
        raise AudioError(path, f"not a readable audio file ({e.__class__.__name__}: {e})") from None
    if info.frames <= 0:
        raise AudioError(path, "audio has no samples")
    if info.format == "WAV":
        _check_wav_complete(path)
    return AudioInfo(int(info.samplerate), int(info.channels), int(info.frames))


def _check_wav_complete(path: Path) -> None:
    """libsndfile silently shortens a truncated WAV to the bytes present: compare the RIFF `data` chunk's
    declared size with the bytes actually in the file."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        header = f.read(12)
        if header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            return  # RF64 / W64 etc.: leave to the decoder
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            chunk = f.read(8)
            cid, csize = chunk[:4], int.from_bytes(chunk[4:8], "little")
            if cid == b"data":
                if csize != 0xFFFFFFFF and pos + 8 + csize > size:
                    raise AudioError(path, f"truncated: WAV data chunk declares {csize} bytes, "
                                           f"file holds {size - pos - 8}")
                return
            pos += 8 + csize + (csize & 1)


def resample(samples: np.ndarray, orig_sr: int, new_sr: int) -> np.ndarray:
    """Band-limited resampling (soxr, high quality) of a 1-D float32 signal."""
    if orig_sr == new_sr:
        return samples
    import soxr

    return soxr.resample(samples, orig_sr, new_sr, quality="HQ").astype(np.float32, copy=False)


def load_audio(path: str | Path, sample_rate: int = 16000, min_samples: int = 1) -> np.ndarray:
    """Decode `path` to mono float32 in [-1, 1] at `sample_rate`; raise AudioError naming the problem."""
    path = Path(path)
    if not path.exists():
        raise AudioError(path, "file does not exist")
    try:
        with sf.SoundFile(str(path)) as f:  # one open: header and samples
            num_samples, sr, fmt = f.frames, f.samplerate, f.format
            data = f.read(dtype="float32", always_2d=True)
    except Exception as e:
        probe_audio(path)  # raises the precise reason (missing, empty, not audio) where there is one
        raise AudioError(path, f"decoding failed, file may be truncated or corrupt ({e})") from None
    if num_samples <= 0:
        raise AudioError(path, "audio has no samples")
    if fmt == "WAV":
        _check_wav_complete(path)
    if data.shape[0] < num_samples:
        raise AudioError(path, f"truncated: header says {num_samples} samples, decoded {data.shape[0]}")
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    mono = resample(np.ascontiguousarray(mono), int(sr), sample_rate)
    if mono.shape[0] < min_samples:
        raise AudioError(path, f"too short: {mono.shape[0]} samples at {sample_rate} Hz, need at least {min_samples}")
    if not np.isfinite(mono).all():
        raise AudioError(path, "audio contains NaN or infinite samples")
    return mono


def stream_audio(path: str | Path, sample_rate: int = 16000, block_s: float = 10.0,
                 info: AudioInfo | None = None) -> Iterator[np.ndarray]:
    """Mono float32 chunks of `path` at `sample_rate`, decoded and resampled block by block (memory: one block,
    whatever the file's length). Raises AudioError naming the file on any decoding problem, and at the end if
    the file held fewer samples than its header declares. `info`: the file's probe_audio result, if known."""
    import soxr

    info = info or probe_audio(path)  # missing, empty, not audio, truncated WAV -> AudioError
    stream = soxr.ResampleStream(info.sample_rate, sample_rate, 1, dtype="float32", quality="HQ")
    read = 0
    try:
        with sf.SoundFile(str(path)) as f:
            while True:
                block = f.read(int(block_s * info.sample_rate), dtype="float32", always_2d=True)
                read += len(block)
                last = len(block) == 0
                mono = block.mean(axis=1) if block.shape[1] > 1 else block[:, 0]
                yield stream.resample_chunk(np.ascontiguousarray(mono), last=last)
                if last:
                    break
    except Exception as e:
        raise AudioError(path, f"decoding failed, file may be truncated or corrupt ({e})") from None
    if read < info.num_samples:
        raise AudioError(path, f"truncated: header says {info.num_samples} samples, decoded {read}")
