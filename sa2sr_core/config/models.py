"""The networks' configurations: the acoustic encoder (BiLSTM or a self-supervised backbone), the SA2SR
pre-training network, the emotion regressor and the fine-tuned model."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from sa2sr_core.config.features import ENCODER_KINDS, feature_config, functionals_dim
from sa2sr_core.names import CHARS, SENTIMENT_CLASSES
from sa2sr_core.typecheck import build

#: Named, explicitly random backbones (no hub): random-tiny, a 2-layer WavLM of width 64 for the demo and the tests;
#: random-base, WavLM-base's architecture (12 x 768, 94 M parameters) for measuring speed at the real size.
RANDOM_TINY, RANDOM_BASE = "random-tiny", "random-base"
RANDOM_BACKBONES = (RANDOM_TINY, RANDOM_BASE)


@dataclass
class SSLConfig:
    """A self-supervised backbone (wav2vec 2.0 / HuBERT / WavLM via transformers' Auto classes) and how it is
    trained; params `pretrain.encoder.ssl`. `backbone` is the backbone's full transformers config, filled in by
    `sa2sr_core.models.backbones.resolve_backbone` from `model`, so a saved model rebuilds without the hub."""

    model: str = RANDOM_TINY  # hub id, a directory written by save_pretrained, or random-tiny / random-base (random)
    freeze_feature_encoder: bool = True  # the CNN waveform encoder keeps its pre-trained weights
    freeze_backbone_updates: int = 0  # the transformer (and CNN) stay fixed for this many first updates
    gradient_checkpointing: bool = False  # recompute the transformer layers in backward: memory for time
    layerdrop: float = 0.05  # probability of skipping a transformer layer in a training step (not the first)
    backbone_lr_scale: float = 1.0  # the backbone learns at lr x this in pre-training (heads and layer weights at lr)
    normalize_waveform: bool = True  # zero mean, unit variance per utterance (over its valid samples)
    mask_time_prob: float = 0.05  # the backbone's own SpecAugment on its CNN features (training only)
    backbone: dict = field(default_factory=dict)  # the resolved transformers config (model_type and values)

    def __post_init__(self):
        if not 0.0 <= self.layerdrop < 1.0:
            raise ValueError(f"pretrain.encoder.ssl.layerdrop must be in [0, 1), got {self.layerdrop!r}")
        if self.freeze_backbone_updates < 0:
            raise ValueError(f"pretrain.encoder.ssl.freeze_backbone_updates must be >= 0, got "
                             f"{self.freeze_backbone_updates}")
        if not self.backbone_lr_scale >= 0:
            raise ValueError(f"pretrain.encoder.ssl.backbone_lr_scale must be >= 0, got {self.backbone_lr_scale!r}")

    @property
    def random(self) -> bool:
        return self.model in RANDOM_BACKBONES

    def conv_output_length(self, samples):
        """Waveform samples -> backbone steps through the CNN feature encoder ((L - k) // s + 1 per layer; 20 ms
        per step for the standard wav2vec 2.0 stack). An int, or a tensor of lengths."""
        if not self.backbone:
            raise ValueError("the SSL backbone config is not resolved (sa2sr_core.models.backbones.resolve_backbone)")
        for k, s in zip(self.backbone["conv_kernel"], self.backbone["conv_stride"]):
            samples = (samples - k) // s + 1
        return max(0, samples) if isinstance(samples, int) else samples.clamp(min=0)


@dataclass
class EncoderConfig:
    """The acoustic encoder; params `pretrain.encoder`. kind "bilstm" (the paper, §4.1: 5 x BiLSTM(192) over stacked
    LFBE frames) or "ssl" (a self-supervised backbone on the waveform, its layers summed with learned weights)."""

    kind: str = "bilstm"
    input_dim: int = 40  # values per input frame: mel bins (bilstm), samples per 10 ms hop (ssl)
    stack: int = 3  # frames stacked into one step
    skip: int = 2  # stride between stacked steps
    hidden: int = 192  # LSTM units per direction
    layers: int = 5
    dropout: float = 0.0
    specaug_p: float = 0.5  # probability that an utterance is masked (training only)
    freq_masks: int = 2
    freq_width: int = 8  # max bins per frequency mask (of 40)
    time_masks: int = 2
    time_width: int = 20  # max frames per time mask (10 ms frames)
    ssl: SSLConfig = field(default_factory=SSLConfig)

    def __post_init__(self):
        if self.kind not in ENCODER_KINDS:
            raise ValueError(f"pretrain.encoder.kind must be one of {tuple(ENCODER_KINDS)}, got {self.kind!r}")
        if isinstance(self.ssl, dict):
            self.ssl = SSLConfig(**self.ssl)

    @property
    def output_dim(self) -> int:
        if self.kind == "ssl":
            return int(self.ssl.backbone["hidden_size"])
        return 2 * self.hidden

    def output_length(self, frames):
        """Input frames T -> encoder steps T' (an int, or a tensor of lengths), clamped at 0.
        bilstm: T' = (T - stack) // skip + 1; ssl: the CNN arithmetic on T x input_dim samples."""
        if self.kind == "ssl":
            return self.ssl.conv_output_length(frames * self.input_dim)
        if isinstance(frames, int):
            return max(0, (frames - self.stack) // self.skip + 1)
        return ((frames - self.stack) // self.skip + 1).clamp(min=0)

    def describe(self) -> str:
        """One line for logs, metrics and model cards; a random backbone says so."""
        if self.kind != "ssl":
            return f"bilstm {self.layers}x{self.hidden}"
        b = self.ssl.backbone
        size = f"{b.get('model_type')} {b.get('num_hidden_layers')}x{b.get('hidden_size')}" if b else "unresolved"
        return f"ssl {self.ssl.model} ({size}{', RANDOM WEIGHTS' if self.ssl.random else ''})"

    def min_frames(self, steps: int = 1) -> int:
        """Fewest input frames that give `steps` encoder steps."""
        t = 1
        while self.output_length(t) < steps:
            t += 1
        return t


@dataclass
class SA2SRConfig:
    """The pre-training network: encoder, CTC head over the 29 characters, sentiment head."""

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    vocab_size: int = len(CHARS)
    summarizer_hidden: int = 128  # the recurrent sequence summariser of the sentiment classifier
    num_sentiments: int = len(SENTIMENT_CLASSES)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "SA2SRConfig":
        d = dict(d)
        d["encoder"] = EncoderConfig(**d["encoder"])
        return cls(**d)


@dataclass
class RegressorConfig:
    """The emotion regressor (paper §4.1: masked convs, 4-head attention, mean + variance pooling)."""

    input_dim: int = 384
    channels: int = 64
    kernels: tuple[int, ...] = (6, 3)
    strides: tuple[int, ...] = (3, 2)
    heads: int = 4
    leaky_slope: float = 0.3
    dropout: float = 0.1
    outputs: int = 3
    stats_dim: int = 0  # utterance functionals beside the sequence (0: the paper's regressor)
    # A categorical head on the same pooled representation: the class names (set from the training data by
    # fine-tuning; empty: none), and whether the A/V/D outputs are trained (false for a corpus of categories only).
    classes: tuple[str, ...] = ()
    dimensions: bool = True
    # The text route (params finetune.text, docs/text.md): E text features beside the sequence (0: none) and what
    # makes them at inference: the source, the text model and its options, the features' names.
    text_dim: int = 0
    text: dict = field(default_factory=dict)
    # The class head's linear path on the side inputs ([functionals, text]), started at the logistic baseline
    # (finetune.class_baseline_start; set by fine-tuning when the model has a class head and side inputs).
    class_linear: bool = False

    @property
    def late_text(self) -> bool:
        """Late fusion (finetune.text.fusion late): the text features feed their own linear head (the text-only
        baseline), mixed with the acoustic outputs; not the pooled representation. A model directory from before
        the key reads concat."""
        return self.text_dim > 0 and self.text.get("fusion", "concat") == "late"

    @property
    def joint_text_dim(self) -> int:
        """Text features the acoustic network reads beside the sequence (concat fusion), 0 otherwise."""
        return 0 if self.late_text else self.text_dim

    def output_length(self, steps):
        for k, s in zip(self.kernels, self.strides):
            steps = (steps - k) // s + 1
        return steps

    def min_steps(self) -> int:
        """Fewest encoder steps giving one valid output step (the conv stack's receptive field)."""
        n = 1
        for k, s in reversed(list(zip(self.kernels, self.strides))):
            n = (n - 1) * s + k
        return n


@dataclass
class EmotionModelConfig:
    """The fine-tuned model: encoder + regressor."""

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    regressor: RegressorConfig = field(default_factory=RegressorConfig)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "EmotionModelConfig":
        r = dict(d["regressor"])
        r["kernels"], r["strides"] = tuple(r["kernels"]), tuple(r["strides"])
        r["classes"] = tuple(r.get("classes") or ())
        return cls(EncoderConfig(**d["encoder"]), RegressorConfig(**r))

    def min_frames(self) -> int:
        """Fewest input frames that reach the regressor with one valid step."""
        return self.encoder.min_frames(self.regressor.min_steps())


def encoder_config(params: dict) -> EncoderConfig:
    """params `pretrain.encoder` (its backbone not resolved yet: sa2sr_core.models.backbones does that where a stage
    needs it)."""
    enc = dict(params["pretrain"].get("encoder", {}))
    enc["ssl"] = build(SSLConfig, enc.get("ssl") or {}, "pretrain.encoder.ssl")
    return build(EncoderConfig, {"input_dim": feature_config(params).frame_dim, **enc}, "pretrain.encoder")


def emotion_model_config(params: dict) -> EmotionModelConfig:
    """params `finetune.regressor` on `pretrain.encoder`; with utterance_stats, the functionals' width beside it."""
    enc = encoder_config(params)
    reg = dict(params["finetune"].get("regressor", {}))
    for k in ("kernels", "strides"):
        if k in reg:
            reg[k] = tuple(reg[k])
    if reg.pop("utterance_stats", False):  # the functionals normalisation removed, beside the sequence
        reg["stats_dim"] = functionals_dim(params["features"]["num_mel_bins"])
    # an SSL encoder's width is known once its backbone is resolved (sa2sr_core.models.backbones.resolve_emotion)
    width = enc.output_dim if enc.kind == "bilstm" or enc.ssl.backbone else RegressorConfig.input_dim
    return EmotionModelConfig(enc, build(RegressorConfig, {"input_dim": width, **reg}, "finetune.regressor"))
