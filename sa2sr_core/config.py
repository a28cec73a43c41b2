"""Every component's configuration, one dataclass each: built from params.yaml by `sa2sr_core.params` (which
checks every key's type against these annotations before any work starts), saved in checkpoints and model
directories. Nothing here imports torch or runs a model, so checking params.yaml is cheap and a stage that
only reads parameters does not depend on model code."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from sa2sr_core.names import SENTIMENT_CLASSES
from sa2sr_core.schedule import SCHEDULES
from sa2sr_core.vocab import CHARS


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

    def __post_init__(self):
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

    def num_frames(self, num_samples: int) -> int:
        """Kaldi's snip_edges=True frame count: 1 + (N - window) // hop, 0 if shorter than one window."""
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
class EncoderConfig:
    """The acoustic encoder (paper §4.1: 5 x BiLSTM(192) over stacked LFBE frames); params `pretrain.encoder`."""

    input_dim: int = 40
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

    @property
    def output_dim(self) -> int:
        return 2 * self.hidden

    def output_length(self, frames):
        """T -> T' = (T - stack) // skip + 1, clamped at 0 (an int, or a tensor of lengths)."""
        if isinstance(frames, int):
            return max(0, (frames - self.stack) // self.skip + 1)
        return ((frames - self.stack) // self.skip + 1).clamp(min=0)


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
        return (self.regressor.min_steps() - 1) * self.encoder.skip + self.encoder.stack


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
