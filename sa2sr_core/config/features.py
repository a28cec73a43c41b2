"""What feature shards hold (params.yaml `features`): LFBE settings, or 16-bit waveform frames for a
self-supervised encoder; and the size of the utterance functionals computed beside them."""

from __future__ import annotations

from dataclasses import dataclass, field

from sa2sr_core.errors import ParamsError
from sa2sr_core.typecheck import build

#: What feature shards hold (FeatureConfig.kind) and which encoder reads which (EncoderConfig.kind).
FEATURE_KINDS = ("lfbe", "waveform")
ENCODER_KINDS = {"bilstm": "lfbe", "ssl": "waveform"}


def functionals_dim(num_bins: int) -> int:
    """Values in an utterance's functionals vector for `num_bins` mel bins (layout: sa2sr_core.features.functionals)."""
    return 2 * num_bins + 4


@dataclass
class FeatureConfig:
    """LFBE settings (params.yaml `features`); saved with every shard and model."""

    sample_rate: int = 16000
    num_mel_bins: int = 40
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    normalize: str = "utterance"  # "utterance": per-sample mean/variance normalisation (paper §4.2); "none"
    speed_perturb: list[float] = field(default_factory=lambda: [0.9, 1.1])
    silence_peak: float = 1e-4  # a waveform whose peak stays below this is rejected as silent
    dtype: str = "float32"  # LFBE storage in the shards: float32 | float16 (half the disk and read bandwidth)
    # What the shards hold: "lfbe" (the BiLSTM's input) or "waveform" (a self-supervised encoder's input: 16-bit
    # PCM cut into hop-sized frames, (T, 160) at 16 kHz / 10 ms). Not a params.yaml key: params.feature_config sets it
    # from pretrain.encoder.kind, so one switch changes the encoder and its input together.
    kind: str = "lfbe"

    def __post_init__(self):
        if self.kind not in FEATURE_KINDS:
            raise ValueError(f"features kind must be one of {FEATURE_KINDS}, got {self.kind!r}")
        if self.dtype not in ("float32", "float16"):
            raise ValueError(f"features.dtype must be 'float32' or 'float16', got {self.dtype!r}")
        if self.normalize not in ("utterance", "none"):
            raise ValueError(f"features.normalize must be 'utterance' or 'none', got {self.normalize!r}")
        if any(not 0.5 <= s <= 2.0 or s == 1.0 for s in self.speed_perturb):
            raise ValueError(f"features.speed_perturb factors must be in [0.5, 2] and not 1.0: {self.speed_perturb}")

    @property
    def window_samples(self) -> int:
        return int(self.sample_rate * self.frame_length_ms / 1000)

    @property
    def hop_samples(self) -> int:
        return int(self.sample_rate * self.frame_shift_ms / 1000)

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureConfig":
        """From a saved `features` dict (a model directory's config.json); keys it lacks take their defaults (older
        directories have no `kind`: LFBE), keys it has beyond the config are provenance."""
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    @property
    def frame_dim(self) -> int:
        """Values per frame in the shards: mel bins (lfbe) or samples per hop (waveform)."""
        return self.num_mel_bins if self.kind == "lfbe" else self.hop_samples

    def num_frames(self, num_samples: int) -> int:
        """Frames of a waveform of num_samples, 0 if it cannot be featurised. lfbe: Kaldi's snip_edges=True count,
        1 + (N - window) // hop, 0 if shorter than one window; waveform: whole hops, N // hop (the last partial hop,
        < 10 ms, is dropped), 0 too if shorter than one LFBE window (its functionals are computed on LFBE)."""
        if self.kind == "waveform":
            return num_samples // self.hop_samples if self.lfbe_frames(num_samples) else 0
        return self.lfbe_frames(num_samples)

    def lfbe_frames(self, num_samples: int) -> int:
        """LFBE frames of a waveform (whatever the shards hold: the functionals are always computed on LFBE)."""
        if num_samples < self.window_samples:
            return 0
        return 1 + (num_samples - self.window_samples) // self.hop_samples


def encoder_kind(params: dict) -> str:
    """params `pretrain.encoder.kind` (bilstm when absent): it also decides what the feature shards hold."""
    kind = ((params.get("pretrain") or {}).get("encoder") or {}).get("kind", "bilstm")
    if not isinstance(kind, str) or kind not in ENCODER_KINDS:
        raise ParamsError(f"params.yaml: pretrain.encoder.kind must be one of {tuple(ENCODER_KINDS)}, got {kind!r}")
    return kind


def feature_config(params: dict) -> FeatureConfig:
    """params `features`, with the kind of frames the encoder reads (pretrain.encoder.kind: bilstm -> LFBE,
    ssl -> waveform)."""
    keys = set(FeatureConfig.__dataclass_fields__) - {"kind"}
    if "kind" in params["features"]:
        raise ParamsError("params.yaml: features.kind is not a key: what the shards hold follows "
                          "pretrain.encoder.kind (bilstm: LFBE, ssl: waveform)")
    return build(FeatureConfig, {**{k: v for k, v in params["features"].items() if k in keys},
                                 "kind": ENCODER_KINDS[encoder_kind(params)]}, "features")
