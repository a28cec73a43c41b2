"""A self-supervised encoder through the whole chain, from a directory written by `save_pretrained` (the code path a
hub id takes, without the hub): waveform shards -> pre-training (CTC + lambda x sentiment) -> fine-tuning ->
package -> predict -> export, for tiny WavLM, wav2vec 2.0 and HuBERT models."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch
from safetensors.torch import load_file

from sa2sr_core.config.features import FeatureConfig
from sa2sr_core.config.inference import PredictConfig
from sa2sr_core.config.models import EmotionModelConfig, EncoderConfig, RegressorConfig, SA2SRConfig, SSLConfig
from sa2sr_core.config.training import FinetuneConfig, PretrainConfig
from sa2sr_core.features.shards import shard_files
from sa2sr_core.inference.export import export_model
from sa2sr_core.inference.predict import predict_recordings
from sa2sr_core.models.backbones import SSLBackboneError, resolve_backbone, resolve_encoder
from sa2sr_core.models.directory import ModelDirError, demo_notice
from sa2sr_core.models.packaged import load_model
from sa2sr_core.training.finetune import train_emotion
from sa2sr_core.training.pretrain import train_sa2sr
from tests.helpers import speech_shards
from tests.model_dirs import package

WAVE = FeatureConfig(kind="waveform")
DIMS3 = ["activation", "valence", "dominance"]


def save_tiny_backbone(out, family: str, seed: int = 0):
    """A 2-layer, 32-wide model of `family` with the standard CNN stack, saved as a hub model would be."""
    from transformers import AutoModel, HubertConfig, Wav2Vec2Config, WavLMConfig

    cls = {"wavlm": WavLMConfig, "wav2vec2": Wav2Vec2Config, "hubert": HubertConfig}[family]
    cfg = cls(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, conv_dim=(16,) * 7,
              conv_kernel=(10, 3, 3, 3, 3, 2, 2), conv_stride=(5, 2, 2, 2, 2, 2, 2), feat_extract_norm="layer",
              do_stable_layer_norm=True, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4, vocab_size=32)
    torch.manual_seed(seed)
    AutoModel.from_config(cfg).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def wave_shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("ssl")
    train, labels = speech_shards(root, 10, "train", words=4, avd=True, fbank=WAVE)
    valid, labels_v = speech_shards(root, 4, "validation", seed=1, words=4, avd=True, fbank=WAVE)
    return root, train, valid, pd.concat([labels, labels_v])


def test_waveform_shards_hold_the_pcm_exactly(wave_shards):
    root, train, _, _ = wave_shards
    f = shard_files(train)[0]
    schema = pq.read_schema(f)
    assert schema.field("pcm").type.value_type.value_type == "int16" and "lfbe" not in schema.names
    row = pq.read_table(f).to_pylist()[0]
    import soundfile as sf

    wav, sr = sf.read(root / "audio" / "train-0.wav", dtype="int16")
    pcm = np.array(row["pcm"], np.int16).reshape(-1)
    assert sr == 16000 and row["num_frames"] == len(wav) // 160
    np.testing.assert_array_equal(pcm, wav[: len(pcm)])  # 16-bit in, the same 16 bits stored
    assert len(row["utt_stats"]) == 84  # the baseline's functionals, as for LFBE shards


# WavLM (the profile's backbone) in the inner loop; the other two families through the same code in the full run
@pytest.mark.parametrize("family", ["wavlm", pytest.param("wav2vec2", marks=pytest.mark.slow),
                                    pytest.param("hubert", marks=pytest.mark.slow)])
def test_pretrain_finetune_predict_export_from_a_saved_backbone(wave_shards, tmp_path, family):
    root, train, valid, labels = wave_shards
    hub = save_tiny_backbone(tmp_path / f"tiny-{family}", family)
    enc = EncoderConfig(kind="ssl", input_dim=160, ssl=SSLConfig(model=str(hub), layerdrop=0.1, mask_time_prob=0.0))
    logged = []
    pre = tmp_path / "pre"
    cfg = PretrainConfig(max_epochs=6, lr=5e-3, max_frames_per_batch=1500, lambda_=1.0, seed=0)
    res = train_sa2sr(cfg, SA2SRConfig(encoder=enc, summarizer_hidden=8), train, valid, labels, pre, WAVE,
                      log=logged.append)
    assert any(f"pre-trained weights of {hub}" in m for m in logged)
    ctc = [r["train_loss_ctc"] for r in res["history"]]
    assert ctc[-1] < 0.8 * ctc[0], ctc  # CTC learns
    # the saved model holds the backbone: the frozen CNN feature encoder is exactly the saved_pretrained one
    hub_w, pre_w = load_file(str(hub / "model.safetensors")), load_file(str(pre / "model.safetensors"))
    conv = [k for k in hub_w if k.startswith("feature_extractor.")]
    assert conv and all(torch.equal(hub_w[k], pre_w[f"encoder.backbone.{k}"]) for k in conv)
    assert res["encoder"].startswith(f"ssl {hub} ({family} 2x32")

    ft = tmp_path / "ft"
    fcfg = FinetuneConfig(max_epochs=2, max_frames_per_batch=4000, seed=1)
    model_cfg = EmotionModelConfig(enc, RegressorConfig(input_dim=0, channels=16))  # width set from the backbone
    out = train_emotion(fcfg, model_cfg, train, valid, ft, pre, WAVE, log=lambda *_: None)
    assert out["epochs_run"] == 2 and np.isfinite(out["selected"]["val_ccc_mean"])

    package(pre, ft, tmp_path / "sa2sr", {})
    card = (tmp_path / "sa2sr" / "README.md").read_text()
    assert f"Encoder: ssl {hub}" in card and "waveform itself" in card
    model, config = load_model(tmp_path / "sa2sr")  # self-contained: the backbone comes from the directory
    assert demo_notice(config) is None  # a pre-trained backbone, not the demo corpus: nothing to warn about
    assert config.model["sa2sr"]["encoder"]["ssl"]["backbone"]["model_type"] == family.replace("wav2vec2", "wav2vec2")
    df = predict_recordings(model, config, [root / "audio" / "validation-0.wav", root / "audio" / "validation-1.wav"],
                       PredictConfig(progress=False), log=lambda *_: None).files
    assert (df["status"] == "ok").all() and df[DIMS3].notna().all().all()
    if family == "wavlm":  # `sa2sr serve` answers with the same numbers
        from fastapi.testclient import TestClient

        from sa2sr_core.config.inference import ServeConfig
        from sa2sr_core.inference.serve import Service, create_app

        with TestClient(create_app(Service(model, config, str(tmp_path / "sa2sr"), ServeConfig()))) as client:
            with open(root / "audio" / "validation-0.wav", "rb") as f:
                r = client.post("/predict", files={"file": ("v.wav", f, "audio/wav")})
        assert r.status_code == 200, r.text
        body = r.json()
        assert "RANDOM SSL BACKBONE" not in (body["model"]["notice"] or "")  # a saved, pre-trained backbone
        np.testing.assert_allclose([body["file"][d] for d in DIMS3], df.iloc[0][DIMS3].to_numpy(float), atol=1e-5)

    for fmt, suffix in (("onnx", ".onnx"), ("torchscript", ".pt")):
        diff = export_model(model, fmt, tmp_path / f"m{suffix}", atol=2e-4)  # checked on new shapes inside
        assert max(diff.values()) < 2e-4


def test_a_random_backbone_is_said_wherever_the_model_speaks():
    from sa2sr_core.models.directory import ModelDirConfig

    model = {"sa2sr": {"encoder": {"kind": "ssl", "ssl": {"model": "random-tiny"}}}}
    config = ModelDirConfig("package", model, {}, {}, trained_on_demo=True)
    note = demo_notice(config)
    assert note.startswith("DEMO MODEL") and "RANDOM SSL BACKBONE: random-tiny" in note
    assert demo_notice(ModelDirConfig("package", model, {}, {})).startswith("RANDOM SSL BACKBONE")


def test_a_model_that_is_not_there_is_named_with_the_way_out(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SSLBackboneError, match="microsoft/wavlm-base-plus.*save_pretrained.*pretrain.encoder.ssl.model"):
        resolve_backbone(SSLConfig(model="microsoft/wavlm-base-plus"))
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(SSLBackboneError, match="wav2vec 2.0-family"):
        resolve_backbone(SSLConfig(model=str(tmp_path)))


def test_finetune_refuses_a_pretrained_model_with_another_backbone(wave_shards, tmp_path):
    root, train, valid, labels = wave_shards
    a = save_tiny_backbone(tmp_path / "a", "wavlm")
    b = save_tiny_backbone(tmp_path / "b", "wav2vec2")
    enc = lambda m: EncoderConfig(kind="ssl", input_dim=160, ssl=SSLConfig(model=str(m)))  # noqa: E731
    cfg = PretrainConfig(max_epochs=1, max_frames_per_batch=3000)
    train_sa2sr(cfg, SA2SRConfig(encoder=enc(a), summarizer_hidden=8), train, valid, labels, tmp_path / "pre",
                WAVE, log=lambda *_: None)
    with pytest.raises(ModelDirError, match="ssl.model"):
        train_emotion(FinetuneConfig(max_epochs=1), EmotionModelConfig(enc(b), RegressorConfig(channels=16)), train,
                      valid, tmp_path / "ft", tmp_path / "pre", log=lambda *_: None)


@pytest.mark.slow
def test_ddp_two_processes_with_layerdrop_and_a_frozen_start(wave_shards, tmp_path):
    """Under DDP a skipped layer and the frozen first update leave parameters without gradients: the loop asks DDP
    to allow them, and the replicas stay identical."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    _, train, valid, labels = wave_shards
    labels.to_parquet(tmp_path / "labels.parquet")
    worker = Path(__file__).resolve().parents[1] / "ddp_worker.py"
    res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                          "--master_port", "29534", str(worker), str(train), str(valid),
                          str(tmp_path / "labels.parquet"), str(tmp_path / "out"), "gloo", "cpu", "ssl"],
                         capture_output=True, text=True, timeout=600, cwd=Path(__file__).resolve().parents[2])
    assert res.returncode == 0, res.stderr[-3000:]
    sums = [json.loads((tmp_path / "out" / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert sums[0]["param_sum"] == sums[1]["param_sum"] and sums[0]["world"] == 2


def test_a_frozen_ssl_fine_tuning_shares_the_backbone_in_the_package(wave_shards, tmp_path):
    """Frozen fine-tuning trains only the layer weights (and the regressor): the package keeps one backbone, runs it
    once, and gives what the two trained models give."""
    from sa2sr_core.models.loaders import load_emotion_model

    _, train, valid, labels = wave_shards
    enc = EncoderConfig(kind="ssl", input_dim=160, ssl=SSLConfig(model="random-tiny"))
    train_sa2sr(PretrainConfig(max_epochs=1, max_frames_per_batch=3000), SA2SRConfig(encoder=enc, summarizer_hidden=8),
                train, valid, labels, tmp_path / "pre", WAVE, log=lambda *_: None)
    # min_delta -1: a trained epoch is kept over the start (epoch 0), whatever this tiny Development set says
    fcfg = FinetuneConfig(max_epochs=2, max_frames_per_batch=4000, freeze_encoder=True, lr=0.05, min_delta=-1.0)
    train_emotion(fcfg, EmotionModelConfig(enc, RegressorConfig(channels=16)), train, valid, tmp_path / "ft",
                  tmp_path / "pre", WAVE, log=lambda *_: None)
    ft_w, pre_w = (load_file(str(tmp_path / d / "model.safetensors")) for d in ("ft", "pre"))
    assert not torch.equal(ft_w["encoder.layer_weights"], pre_w["encoder.layer_weights"])  # they learned
    package(tmp_path / "pre", tmp_path / "ft", tmp_path / "sa2sr", {})
    model, config = load_model(tmp_path / "sa2sr")
    assert config.model["share_encoder"] and model.emotion_encoder is None
    x = 0.1 * torch.randn(2, 260, 160, generator=torch.Generator().manual_seed(0))
    n = torch.tensor([260, 180])
    emo = load_emotion_model(tmp_path / "ft")
    with torch.no_grad():
        avd, _, _, _ = model(x, n)
        ref = emo(x, n)
    torch.testing.assert_close(avd, ref, atol=1e-5, rtol=1e-5)
    for fmt, suffix in (("onnx", ".onnx"), ("torchscript", ".pt")):
        export_model(model, fmt, tmp_path / f"shared{suffix}", atol=2e-4)


def test_bad_inputs_are_named(wave_shards, tmp_path):
    """Out-of-range options, a shard without a frames column, a model directory whose backbone config is gone, and a
    waveform too short to featurise: each a named error or a counted reject, never a traceback deep inside."""
    import shutil

    from sa2sr_core.config.check import validate_params
    from sa2sr_core.errors import ParamsError
    from sa2sr_core.features.batches import ShardDataset
    from sa2sr_core.models.directory import ModelDirError
    from sa2sr_core.params import load_params, with_overrides

    params = load_params()
    for key, value, message in [("pretrain.encoder.ssl.layerdrop", 1.5, "layerdrop must be in"),
                                ("pretrain.encoder.ssl.freeze_backbone_updates", -1, "must be >= 0"),
                                ("pretrain.encoder.kind", "lstm", "must be one of")]:
        with pytest.raises(ParamsError, match=message):
            validate_params(with_overrides(params, {key: value}))
    _, train, _, _ = wave_shards
    bad = tmp_path / "bad"
    bad.mkdir()
    f = shard_files(train)[0]
    pq.write_table(pq.read_table(f).drop(["pcm"]), bad / f.name)
    with pytest.raises(ValueError, match=f"{bad / f.name}: no feature column"):
        list(ShardDataset(bad, lambda r: None).epoch(0, 0))
    assert WAVE.num_frames(399) == 0 and WAVE.num_frames(400) == 2  # shorter than one LFBE window: nothing to score
    enc = EncoderConfig(kind="ssl", input_dim=160, ssl=SSLConfig())
    train_sa2sr(PretrainConfig(max_epochs=1, max_frames_per_batch=3000), SA2SRConfig(encoder=enc, summarizer_hidden=8),
                train, wave_shards[2], wave_shards[3], tmp_path / "pre", WAVE,
                log=lambda *_: None)
    shutil.copytree(tmp_path / "pre", tmp_path / "ft")  # any fine-tuned directory with the same encoder will do
    emo = EmotionModelConfig(resolve_encoder(enc), RegressorConfig(input_dim=64, channels=16))
    from sa2sr_core.models import directory
    from sa2sr_core.models.regressor import EmotionModel

    emotion = EmotionModel(emo)
    directory.save(tmp_path / "ft", emotion, directory.finetune_dir_config(emotion, WAVE, (1.0, 7.0)))
    package(tmp_path / "pre", tmp_path / "ft", tmp_path / "sa2sr", {})
    cfg_path = tmp_path / "sa2sr" / "config.json"
    config = json.loads(cfg_path.read_text())
    config["model"]["sa2sr"]["encoder"]["ssl"]["backbone"] = {}
    cfg_path.write_text(json.dumps(config))
    with pytest.raises(ModelDirError, match=f"{cfg_path}: its model config cannot build a model"):
        load_model(tmp_path / "sa2sr")
