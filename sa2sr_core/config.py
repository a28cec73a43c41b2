"""Every component's configuration, one dataclass each: built from params.yaml by `sa2sr_core.params` (which
checks every key's type against these annotations before any work starts), saved in checkpoints and model
directories. Nothing here imports torch or runs a model, so checking params.yaml is cheap and a stage that
only reads parameters does not depend on model code."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from sa2sr_core.names import SENTIMENT_CLASSES
from sa2sr_core.schedule import SCHEDULES
from sa2sr_core.vocab import CHARS


#: What feature shards hold (FbankConfig.kind) and which encoder reads which (EncoderConfig.kind).
FEATURE_KINDS = ("lfbe", "waveform")
ENCODER_KINDS = {"bilstm": "lfbe", "ssl": "waveform"}

#: Named, explicitly random backbones (no hub): random-tiny, a 2-layer WavLM of width 64 for the demo and the tests;
#: random-base, WavLM-base's architecture (12 x 768, 94 M parameters) for measuring speed at the real size.
RANDOM_TINY, RANDOM_BASE = "random-tiny", "random-base"
RANDOM_BACKBONES = (RANDOM_TINY, RANDOM_BASE)


# ------------------------------------------------------------------------------------------------ data
@dataclass
class FbankConfig:
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
    # PCM cut into hop-sized frames, (T, 160) at 16 kHz / 10 ms). Not a params.yaml key: params.fbank_config sets it
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
    def from_dict(cls, d: dict) -> "FbankConfig":
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


@dataclass
class DemoConfig:
    """Sizes and shape of the demo corpus (params.yaml `demo`)."""

    seed: int = 1234
    librispeech: dict[str, int] = field(default_factory=lambda: {"train-clean-100": 400, "dev-clean": 60, "test-clean": 60})
    librispeech_speakers: dict[str, int] = field(default_factory=lambda: {"train-clean-100": 8, "dev-clean": 2, "test-clean": 2})
    iemocap_per_speaker: int = 30
    msp_podcast: dict[str, int] = field(default_factory=lambda: {"Train": 480, "Development": 120, "Test1": 120, "Test2": 60})
    msp_speakers: dict[str, int] = field(default_factory=lambda: {"Train": 12, "Development": 3, "Test1": 3, "Test2": 2})
    text_agreement: float = 0.7
    label_noise: float = 0.25
    noise_db: float = -45.0


@dataclass
class LabelerConfig:
    """params.yaml `labeler`."""

    model: str = "cardiffnlp/twitter-roberta-base-sentiment-latest"  # hub id or local directory
    fallback: str = "vader"  # vader | none
    max_tokens_per_batch: int = 4096  # padded tokens per forward pass (length-sorted dynamic batching)
    max_length: int = 512
    sentence_case: bool = True  # ALL-CAPS transcripts (LibriSpeech) -> sentence case before labelling
    device: str = "auto"

    def __post_init__(self):
        if self.fallback not in ("vader", "none"):
            raise ValueError(f"labeler.fallback must be 'vader' or 'none', got {self.fallback!r}")



@dataclass
class SegmentConfig:
    """How `sa2sr predict` and `sa2sr serve` find the speech in a recording (sa2sr_core.segments)."""

    threshold_db: float = 12.0  # speech: frame energy this far above the recording's noise floor ...
    dynamic_range_db: float = 30.0  # ... or this far below its loudest frame, whichever is lower
    floor_percentile: float = 10.0  # the noise floor: this percentile of the frame energies
    min_level_db: float = -60.0  # never speech below this (dB re full scale)
    min_pause_s: float = 0.3  # shorter pauses are bridged (inside a segment)
    min_speech_s: float = 0.3  # shorter speech runs are dropped (clicks, breaths)
    pad_s: float = 0.1  # kept before and after each speech run
    max_segment_s: float = 15.0  # longer runs are cut; a recording no longer than this is scored whole
    search_s: float = 3.0  # ... at the quietest frame of their last search_s seconds


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

# ------------------------------------------------------------------------------------------- models
@dataclass
class SSLConfig:
    """A self-supervised backbone (wav2vec 2.0 / HuBERT / WavLM via transformers' Auto classes) and how it is
    trained; params `pretrain.encoder.ssl`. `backbone` is the backbone's full transformers config, filled in by
    `sa2sr_core.backbones.resolve_backbone` from `model`, so a saved model rebuilds without the hub."""

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
            raise ValueError("the SSL backbone config is not resolved (sa2sr_core.backbones.resolve_backbone)")
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
        return cls(EncoderConfig(**d["encoder"]), RegressorConfig(**r))

    def min_frames(self) -> int:
        """Fewest input frames that reach the regressor with one valid step."""
        return self.encoder.min_frames(self.regressor.min_steps())


# ----------------------------------------------------------------------------------------- training
@dataclass
class TrainingConfig:
    """What the loop reads; `pretrain` and `finetune` (params.yaml) extend it and set their own defaults."""

    lr: float = 1e-3  # peak learning rate
    beta1: float = 0.9  # Adam
    beta2: float = 0.999
    max_epochs: int = 3  # a ceiling: runs stop by patience
    patience: int = 25  # epochs without a better selection score before stopping
    min_delta: float = 0.0  # a gain of the selection score at or below this is not an improvement
    schedule: str = "constant"  # constant | cosine (sa2sr_core.schedule)
    warmup_steps: int = 0  # linear warm-up updates
    final_lr_ratio: float = 0.05  # cosine: last update's rate / peak
    lr_plateau_patience: int = 0  # bad epochs after which the rate is multiplied by lr_decay (0: never)
    lr_decay: float = 0.5
    short_first_epochs: int = 0  # epochs whose batches go shortest first (SortaGrad), then random order
    max_frames_per_batch: int = 16000  # padded frames (B x longest) per batch
    max_batch: int = 64
    grad_clip: float = 5.0
    amp: bool = False  # bf16 autocast on CUDA
    prefetch: int = -1  # batches read and collated ahead in a background thread; -1: 4 on CUDA, 0 on CPU
    seed: int = 1234
    device: str = "auto"

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.lr_plateau_patience < 0:
            raise ValueError(f"lr_plateau_patience must be >= 0 (0: never), got {self.lr_plateau_patience}")


@dataclass
class PretrainConfig(TrainingConfig):
    """params.yaml `pretrain` (+ top-level `lambda` and `seed`); the loop's keys are TrainingConfig's."""

    lambda_: float = 200.0
    shard_pool: int = 1  # shards read together and batched as one (memory: one pool)


@dataclass
class FinetuneConfig(TrainingConfig):
    """params.yaml `finetune` (+ `seed`); the loop's keys are TrainingConfig's, with fine-tuning's defaults."""

    lr: float = 5e-4
    max_epochs: int = 40
    patience: int = 6
    lr_plateau_patience: int = 2
    max_frames_per_batch: int = 8000
    max_batch: int = 32
    init: str = "pretrained"  # pretrained | scratch
    freeze_encoder: bool = False
    encoder_lr_scale: float = 1.0  # a pre-trained encoder learns at lr x this (1.0: one rate for all, the paper)
    freeze_baseline_path: bool = False  # with utterance stats: keep the ridge-initialised linear path fixed
    scale_min: float = 1.0  # label scale of the corpus (MSP-Podcast: 1-7)
    scale_max: float = 7.0

    def __post_init__(self):
        super().__post_init__()
        if self.init not in ("pretrained", "scratch"):
            raise ValueError(f"finetune.init must be 'pretrained' or 'scratch', got {self.init!r}")
        if not self.encoder_lr_scale >= 0:  # also rejects NaN
            raise ValueError(f"finetune.encoder_lr_scale must be >= 0 (0 keeps the pre-trained encoder fixed), "
                             f"got {self.encoder_lr_scale!r}")


# ----------------------------------------------------------------------------------------- baseline
@dataclass
class BaselineConfig:
    """params.yaml `baseline`."""

    #: 10^k for k = -2, -1.5, ..., 4 (as params.yaml writes them)
    alphas: list[float] = field(default_factory=lambda: [
        0.01, 0.03162277660168379, 0.1, 0.31622776601683794, 1.0, 3.1622776601683795, 10.0, 31.622776601683793,
        100.0, 316.22776601683796, 1000.0, 3162.2776601683795, 10000.0])
