"""How `sa2sr predict` and `sa2sr serve` read recordings, find their speech and share the model."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

#: The voice-activity decisions (sa2sr_core.inference.vad).
VADS = ("silero", "energy")


@dataclass
class SegmentConfig:
    """How `sa2sr predict` and `sa2sr serve` find the speech in a recording (sa2sr_core.inference.vad)."""

    vad: str = "silero"  # silero: a trained detector (Silero VAD v6) | energy: frame energy above the noise floor
    speech_threshold: float = 0.5  # silero: a frame starts speech at this P(speech) ...
    release_threshold: float = 0.35  # ... and speech ends when P(speech) falls below this (Silero's 0.15 lower)
    threshold_db: float = 12.0  # speech: frame energy this far above the recording's noise floor ...
    dynamic_range_db: float = 30.0  # ... or this far below its loudest frame, whichever is lower
    floor_percentile: float = 10.0  # the noise floor: this percentile of the frame energies
    min_level_db: float = -60.0  # never speech below this (dB re full scale)
    min_pause_s: float = 0.3  # shorter pauses are bridged (inside a segment)
    min_speech_s: float = 0.3  # shorter speech runs are dropped (clicks, breaths)
    pad_s: float = 0.1  # kept before and after each speech run
    max_segment_s: float = 15.0  # longer runs are cut; a recording no longer than this is scored whole
    search_s: float = 3.0  # ... at the least speech-like frame of their last search_s seconds

    def __post_init__(self):
        if self.vad not in VADS:
            raise ValueError(f"vad must be one of {VADS}, got {self.vad!r}")
        if not 0.0 < self.release_threshold <= self.speech_threshold < 1.0:
            raise ValueError(f"need 0 < release_threshold <= speech_threshold < 1, got {self.release_threshold} and "
                             f"{self.speech_threshold}")


@dataclass
class ServeConfig:
    """`sa2sr serve`: limits that keep the service's memory bounded, and how requests share the model."""

    max_upload_mb: float = 50.0  # a larger upload is refused (413) before it is read
    max_audio_s: float = 1800.0  # a longer recording is refused (413) after its header is read
    max_pending: int = 8  # requests being processed at once; more are turned away (503, Retry-After)
    max_batch: int = 64  # segments per forward pass, from any requests
    max_frames_per_batch: int = 12000  # padded frames per forward pass
    batch_wait_ms: float = 5.0  # how long the model waits for more requests' segments to fill a batch
    retry_after_s: int = 1


@dataclass
class PredictConfig:
    """`sa2sr predict`: batching of the forward passes, how far ahead audio is decoded, threads."""

    max_frames_per_batch: int = 12000  # padded frames (B x longest) per forward pass
    max_batch: int = 64
    buffer_frames: int = 200000  # features decoded ahead of the model (~33 min of audio, ~32 MB)
    segment: SegmentConfig = field(default_factory=SegmentConfig)
    device: str = "auto"
    workers: int = 0  # CPU: batches scored at once, one core each (0: all cores)
    progress: bool = True

    def __post_init__(self):
        if self.workers <= 0:
            self.workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
