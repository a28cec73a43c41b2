"""Speech synthesis with espeak-ng through its C API (library and voices from the `espeakng-loader` wheel).

Used only to build the demo corpus: real synthesized speech with known text, whose
rate / volume / pitch / pitch range are set per utterance.
"""

from __future__ import annotations

import ctypes
import threading
import zlib
from dataclasses import dataclass

import numpy as np

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM = {"rate": 1, "volume": 2, "pitch": 3, "range": 4}
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


@dataclass(frozen=True)
class Prosody:
    """espeak-ng parameters: rate in words/min (80-450), volume 0-200, pitch 0-100, range 0-100."""

    rate: int = 170
    volume: int = 100
    pitch: int = 50
    range: int = 50


class Espeak:
    """A process-wide espeak-ng engine (the C library keeps global state, so one instance per process)."""

    _instance: "Espeak | None" = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        import espeakng_loader

        self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
        data = espeakng_loader.get_data_path().encode()
        self.sample_rate = int(self._lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data, 0))
        if self.sample_rate <= 0:
            raise RuntimeError(f"espeak-ng failed to initialise with data at {data.decode()}")
        self._chunks: list[np.ndarray] = []
        self._callback = _CALLBACK(self._collect)  # keep a reference: ctypes must not free it
        self._lib.espeak_SetSynthCallback(self._callback)
        self._lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self._lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]

    @classmethod
    def get(cls) -> "Espeak":
        with cls._lock:
            if cls._instance is None:
                cls._instance = Espeak()
            return cls._instance

    def _collect(self, wav, num_samples, _events) -> int:
        if num_samples > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(num_samples,)).copy())
        return 0

    def synthesize(self, text: str, voice: str, prosody: Prosody) -> np.ndarray:
        """Speak `text` with `voice` (e.g. 'en-us+m3'); returns float32 samples in [-1, 1] at self.sample_rate."""
        with self._lock:
            if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ValueError(f"espeak-ng has no voice {voice!r}")
            for name, value in vars(prosody).items():
                self._lib.espeak_SetParameter(_PARAM[name], int(value), 0)
            self._chunks = []
            # breathy (female) variants draw noise from the C library's rand(): seed it from the text
            self._lib.espeak_ng_SetRandSeed(ctypes.c_long(zlib.crc32(f"{voice}|{text}".encode())))
            data = text.encode("utf-8") + b"\0"
            err = self._lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            self._lib.espeak_Synchronize()
            if err != 0:
                raise RuntimeError(f"espeak-ng failed (error {err}) on {text!r}")
            samples = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        return samples.astype(np.float32) / 32768.0
