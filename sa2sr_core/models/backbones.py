"""Which self-supervised backbone an SSL encoder has, and its pre-trained weights: the one place that asks the hub
or a local directory (save_pretrained) for them. The transformers config is resolved once and stored in the
encoder's config, so that every later stage and every saved model rebuilds the same network without the hub; the
weights are read from the directory that resolution found. No torch at import: stages that only need the encoder's
frame arithmetic (baseline) stay light."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from sa2sr_core.config.models import RANDOM_BASE, RANDOM_TINY, EmotionModelConfig, EncoderConfig, SA2SRConfig, SSLConfig
from sa2sr_core.errors import Sa2srError
from sa2sr_core.hub import local_only

#: Model types with the wav2vec 2.0 CNN feature encoder and `config.conv_kernel` / `conv_stride`.
SUPPORTED = ("wav2vec2", "hubert", "wavlm", "data2vec-audio", "wav2vec2-conformer", "unispeech", "unispeech-sat")

#: `random-tiny`: a 2-layer WavLM of width 64 with the standard CNN stack (20 ms steps), random weights.
TINY_WAVLM = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
                  conv_dim=(32,) * 7, conv_kernel=(10, 3, 3, 3, 3, 2, 2), conv_stride=(5, 2, 2, 2, 2, 2, 2),
                  feat_extract_norm="layer", do_stable_layer_norm=True, num_conv_pos_embeddings=16,
                  num_conv_pos_embedding_groups=4, num_buckets=32, max_bucket_distance=200, vocab_size=32)


#: model -> the local directory its config was read from (a save_pretrained directory, or the hub cache's snapshot):
#: where its weights are read, so the hub is asked once per process.
_LOCATIONS: dict[str, str] = {}


class SSLBackboneError(Sa2srError):
    """A backbone that cannot be used; the message names the model and what to do."""


def how_to_point_local(model: str) -> str:
    return (f"on a machine with network, save it once (python -c \"from transformers import AutoModel; "
            f"AutoModel.from_pretrained('{model}').save_pretrained('models/hub/{model.split('/')[-1]}')\"), copy that "
            f"directory here and set pretrain.encoder.ssl.model to it; or set it to {RANDOM_TINY} "
            f"(random weights: for the demo and the tests only)")


def resolve_backbone(ssl: SSLConfig) -> SSLConfig:
    """`ssl` with `backbone` filled in: the transformers config of `ssl.model` (hub id or local directory, no remote
    code), or the random tiny WavLM. Fails, naming the model and how to point at a local copy, when it cannot be read."""
    if ssl.backbone:
        return ssl
    from transformers import AutoConfig, WavLMConfig

    if ssl.model == RANDOM_TINY:
        config = WavLMConfig(**TINY_WAVLM)
    elif ssl.model == RANDOM_BASE:
        config = WavLMConfig()  # transformers' defaults are WavLM-base's architecture
    else:
        try:
            from transformers.utils import cached_file

            found = cached_file(ssl.model, "config.json", local_files_only=local_only(ssl.model))
            config = AutoConfig.from_pretrained(str(Path(found).parent), trust_remote_code=False)
            _LOCATIONS[ssl.model] = str(Path(found).parent)
        except (OSError, ValueError) as e:
            raise SSLBackboneError(f"SSL backbone {ssl.model!r} cannot be loaded (no network or not in the HF cache: "
                                   f"{str(e).splitlines()[0][:200]}); {how_to_point_local(ssl.model)}") from None
    if config.model_type not in SUPPORTED or not hasattr(config, "conv_kernel"):
        raise SSLBackboneError(f"SSL backbone {ssl.model!r} is a {config.model_type!r} model; pretrain.encoder.ssl.model "
                               f"must be a wav2vec 2.0-family speech model ({', '.join(SUPPORTED)})")
    return replace(ssl, backbone=json.loads(config.to_json_string(use_diff=False)))  # as config.json stores it


def resolve_encoder(enc: EncoderConfig) -> EncoderConfig:
    """An SSL encoder's config with its backbone resolved (a BiLSTM's as it is)."""
    return replace(enc, ssl=resolve_backbone(enc.ssl)) if enc.kind == "ssl" else enc


def resolve_sa2sr(cfg: SA2SRConfig) -> SA2SRConfig:
    return replace(cfg, encoder=resolve_encoder(cfg.encoder))


def resolve_emotion(cfg: EmotionModelConfig) -> EmotionModelConfig:
    """The emotion model's config with its encoder resolved and the regressor's input width set to the encoder's."""
    enc = resolve_encoder(cfg.encoder)
    return EmotionModelConfig(enc, replace(cfg.regressor, input_dim=enc.output_dim))


def load_backbone_weights(encoder, log=print) -> None:
    """Copy the pre-trained weights of `encoder.cfg.ssl.model` into the SSL encoder's backbone (nothing for a random
    one, said loudly), from the directory its config was resolved from. Fails naming the model when its weights
    cannot be read or do not fit its config."""
    ssl = encoder.cfg.ssl
    if ssl.random:
        log(f"SSL backbone: {encoder.cfg.describe()}: a named random configuration for the demo, the tests and speed "
            f"measurements; its results say nothing about self-supervised pre-training")
        return
    from transformers import AutoModel

    if ssl.model not in _LOCATIONS:
        resolve_backbone(replace(ssl, backbone={}))
    try:
        pre = AutoModel.from_pretrained(_LOCATIONS[ssl.model], trust_remote_code=False, local_files_only=True)
    except (OSError, ValueError) as e:
        raise SSLBackboneError(f"SSL backbone weights of {ssl.model!r} cannot be loaded "
                               f"({str(e).splitlines()[0][:200]}); {how_to_point_local(ssl.model)}") from None
    missing, unexpected = encoder.backbone.load_state_dict(pre.state_dict(), strict=False)
    if missing:
        raise SSLBackboneError(f"SSL backbone {ssl.model!r}: its weights miss {len(missing)} tensors of its own config "
                               f"(first: {missing[:5]})")
    log(f"SSL backbone: pre-trained weights of {ssl.model} ({sum(p.numel() for p in pre.parameters()) / 1e6:.1f} M "
        f"parameters{', ' + str(len(unexpected)) + ' unused tensors' if unexpected else ''})")
