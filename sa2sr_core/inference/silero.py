"""A trained voice-activity detector: Silero VAD v6 (MIT), the model file shipped by the `silero-vad` package, run
by onnxruntime on CPU, offline.

    16 kHz waveform -> 32 ms frames (512 samples, each with the 4 ms before it as context)
    -> the sequence export of the model: one ONNX call per block of up to 512 frames (16 s), the LSTM state
       carried from block to block -> P(speech) per 32 ms frame, the same numbers as the streaming model frame
       by frame, at a fraction of the cost (no Python loop per frame)

Streaming: `SileroStream.feed(chunk)` takes the audio as the reader delivers it and keeps only the samples of
the frame in progress, so a long recording never has to be held in memory. The package's Python modules are not
imported (one of them sets torch's thread count for the whole process): only its model file is read.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np

from sa2sr_core.errors import Sa2srError

SAMPLE_RATE = 16000
FRAME, CONTEXT = 512, 64  # samples per probability (32 ms) and of context before each frame
BLOCK = 512  # frames per ONNX call
MODEL_FILE = "silero_vad_16k_sequence.onnx"


class VADUnavailableError(Sa2srError):
    """The trained detector's model file cannot be found or loaded."""


def model_path() -> Path:
    """The Silero model file inside the installed `silero-vad` package (found without importing the package)."""
    spec = importlib.util.find_spec("silero_vad")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / MODEL_FILE if spec else None
    if path is None or not path.is_file():
        raise VADUnavailableError(f"the Silero VAD model ({MODEL_FILE} of the silero-vad package) is not installed: "
                                  f"run `pip install silero-vad` (scripts/setup.sh does), or use --vad energy")
    return path


@lru_cache(maxsize=1)
def session():
    """One onnxruntime session per process (its run() is thread-safe), one thread per call."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.inter_op_num_threads = opts.intra_op_num_threads = 1
    try:
        return ort.InferenceSession(str(model_path()), sess_options=opts, providers=["CPUExecutionProvider"])
    except VADUnavailableError:
        raise
    except Exception as e:  # a damaged file
        raise VADUnavailableError(f"{model_path()} cannot be loaded ({e.__class__.__name__}: {e}); reinstall "
                                  f"silero-vad, or use --vad energy") from None


class SileroStream:
    """P(speech) per 32 ms frame of one recording, fed in chunks of any length (16 kHz, float32 in [-1, 1])."""

    def __init__(self):
        self.h = np.zeros((1, 1, 128), np.float32)
        self.c = np.zeros((1, 1, 128), np.float32)
        self.context = np.zeros(CONTEXT, np.float32)
        self.pending = np.zeros(0, np.float32)  # samples of frames not run yet
        self.probs: list[np.ndarray] = []

    def _run(self, frames: np.ndarray) -> None:
        """frames (N, FRAME), N >= 1: the model on them in blocks, each frame with the context before it."""
        ctx = np.concatenate([self.context[None], frames[:-1, -CONTEXT:]]) if len(frames) > 1 else self.context[None]
        rows = np.concatenate([ctx, frames], axis=1)  # (N, CONTEXT + FRAME)
        for i in range(0, len(rows), BLOCK):
            p, self.h, self.c = session().run(["speech_probs", "hn", "cn"],
                                              {"input": rows[i:i + BLOCK], "h": self.h, "c": self.c})
            self.probs.append(np.asarray(p, np.float32).reshape(-1))
        self.context = frames[-1, -CONTEXT:].copy()

    def feed(self, chunk: np.ndarray) -> None:
        buf = np.concatenate([self.pending, np.asarray(chunk, np.float32).reshape(-1)])
        n = len(buf) // FRAME
        if n >= BLOCK:  # whole frames run as soon as a block's worth is here; the rest waits
            self._run(buf[: n * FRAME].reshape(n, FRAME))
            buf = buf[n * FRAME:]
        self.pending = buf

    def finish(self) -> np.ndarray:
        """All frames' probabilities; the last, partial frame zero-padded (as the model's own front-end does)."""
        buf = self.pending
        if len(buf):
            n = -(-len(buf) // FRAME)
            frames = np.zeros((n, FRAME), np.float32)
            frames.reshape(-1)[: len(buf)] = buf
            self._run(frames)
            self.pending = np.zeros(0, np.float32)
        return np.concatenate(self.probs) if self.probs else np.zeros(0, np.float32)


def speech_probabilities(samples: np.ndarray) -> np.ndarray:
    """P(speech) per 32 ms frame of a whole (16 kHz) waveform."""
    s = SileroStream()
    s.feed(samples)
    return s.finish()


def on_frames(probs: np.ndarray, num_frames: int, hop: int, win: int) -> np.ndarray:
    """The 32 ms probabilities on the pipeline's frames (hop / win samples, 10 ms / 25 ms): each frame takes the
    probability of the 32 ms frame holding its centre."""
    if num_frames == 0 or len(probs) == 0:
        return np.zeros(num_frames, np.float32)
    centre = np.arange(num_frames) * hop + win // 2
    return probs[np.minimum(centre // FRAME, len(probs) - 1)]


def hysteresis(probs: np.ndarray, start: float, stop: float) -> np.ndarray:
    """Speech from the first frame at or above `start` until the first one below `stop` (Silero's own rule: a
    threshold and a lower one, 0.15 below it, to end speech)."""
    out = np.zeros(len(probs), bool)
    on = False
    for i, p in enumerate(probs.tolist()):
        on = p >= start if not on else p >= stop
        out[i] = on
    return out
