import json

import pytest
import torch

from sa2sr_core.models.directory import ModelDirError
from sa2sr_core.models.packaged import load_model
from tests.model_dirs import package, packaged, write_model_dirs


def _inputs():
    torch.manual_seed(1)
    return torch.randn(3, 140, 40), torch.tensor([140, 90, 60])


@pytest.mark.parametrize("frozen", [False, True])
def test_package_reproduces_both_models(tmp_path, frozen):
    d, asr, emo = packaged(tmp_path, frozen)
    model, config = load_model(d)
    assert model.cfg.share_encoder == frozen  # a frozen encoder is stored and run once
    x, n = _inputs()
    with torch.no_grad():
        avd, probs, log_probs, out_lengths = model(x, n)
        ref, _ = asr(x, n)
        torch.testing.assert_close(avd, emo(x, n))
    torch.testing.assert_close(probs, ref["sentiment_logits"].softmax(-1))
    torch.testing.assert_close(log_probs, ref["ctc_log_probs"])
    assert out_lengths.tolist() == [69, 44, 29]
    assert torch.allclose(probs.sum(-1), torch.ones(3))
    assert config.scale == (1.0, 7.0) and config.feature_config.num_mel_bins == 40 and config.kind == "package"


def test_model_directory_is_self_contained_with_a_card(tmp_path):
    d, _, _ = packaged(tmp_path)
    assert {p.name for p in d.iterdir()} == {"model.safetensors", "config.json", "vocab.json", "README.md"}
    card = (d / "README.md").read_text()
    for section in ("## Use", "## Training", "## Metrics", "## Intended use", "## Limits"):
        assert section in card
    moved = tmp_path / "elsewhere"
    d.rename(moved)  # nothing outside the directory is needed
    (tmp_path / "pretrain" / "model.safetensors").unlink()
    load_model(moved)


def test_card_reports_given_metrics(tmp_path):
    pre, ft, _, _ = write_model_dirs(tmp_path)
    block = lambda c: {"n": 10, **{k: {"ccc": c, "ci95": [c - 0.1, c + 0.1]} for k in  # noqa: E731
                                   ("activation", "valence", "dominance", "mean")}}
    ev = {"data": "demo", "splits": {"test1": block(0.5)}, "baseline": {"splits": {"test1": block(0.3)}}}
    package(pre, ft, tmp_path / "m", {"eval": ev})
    card = (tmp_path / "m" / "README.md").read_text()
    assert "DEMO" in card and "| test1 | sa2sr | 10 | 0.500 [0.400, 0.600]" in card
    assert "| test1 | baseline (ridge) | 10 | 0.300 [0.200, 0.400]" in card


def test_a_model_fine_tuned_on_real_data_after_demo_pre_training_says_which_part_was_the_demo(tmp_path):
    """Demo pre-training + fine-tuning on your own manifest: not 'at chance' (it learned from real labels), but
    not the paper's model either; every place that speaks (card, config, predict / serve notice) says which."""
    from sa2sr_core.models.directory import demo_notice

    pre, ft, _, _ = write_model_dirs(tmp_path)
    data = {"librispeech": {"source": "demo"}, "own": {"source": "/data/mine/manifest.csv"}}
    package(pre, ft, tmp_path / "mine", {"data": data, "eval": {"data": "/data/mine/manifest.csv", "splits": {}}})
    _, config = load_model(tmp_path / "mine")
    assert config.trained_on_demo and config.finetuned_on == "/data/mine/manifest.csv"
    assert json.loads((tmp_path / "mine" / "config.json").read_text())["finetuned_on"] == config.finetuned_on
    note = demo_notice(config)
    assert note.startswith("DEMO PRE-TRAINING") and "/data/mine/manifest.csv" in note and "chance" not in note
    card = (tmp_path / "mine" / "README.md").read_text()
    assert card.startswith("# SA2SR emotion model (DEMO PRE-TRAINING")
    assert "Fine-tuning on /data/mine/manifest.csv:" in card and "Pre-trained on the built-in demo corpus" in card
    # all of it the demo's: the chance-level notice, as before
    package(pre, ft, tmp_path / "demo", {"data": {"librispeech": {"source": "demo"}},
                                         "eval": {"data": "demo", "splits": {}}})
    _, config = load_model(tmp_path / "demo")
    assert demo_notice(config).startswith("DEMO MODEL") and "chance" in demo_notice(config)
    assert "(DEMO: trained on synthetic speech)" in (tmp_path / "demo" / "README.md").read_text()
    # nothing of the demo: nothing to say
    package(pre, ft, tmp_path / "real", {"data": {"librispeech": {"source": "/corpora/LibriSpeech"}},
                                         "eval": {"data": "msp_podcast", "splits": {}}})
    assert demo_notice(load_model(tmp_path / "real")[1]) is None


def test_bad_model_directories_are_named(tmp_path):
    with pytest.raises(ModelDirError, match="does not exist"):
        load_model(tmp_path / "nope")
    pre, ft, _, _ = write_model_dirs(tmp_path)
    with pytest.raises(ModelDirError, match="format"):
        load_model(pre)  # a pre-training directory is not a predict model
    d = tmp_path / "m"
    package(pre, ft, d)
    cfg = json.loads((d / "config.json").read_text())
    cfg["model"]["sa2sr"]["encoder"]["hidden"] = 32
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelDirError, match="does not fit"):
        load_model(d)
    (d / "vocab.json").unlink()
    with pytest.raises(ModelDirError, match="vocab.json is missing"):
        load_model(d)
    fcfg = json.loads((ft / "config.json").read_text())
    fcfg["features"]["num_mel_bins"] = 80
    (ft / "config.json").write_text(json.dumps(fcfg))
    with pytest.raises(ModelDirError, match="different features"):
        package(pre, ft, tmp_path / "m2")
    assert not (tmp_path / "m2").exists()


def test_a_packaged_directory_of_the_first_format_still_loads(tmp_path):
    """sa2sr-model/1 named the pre-training network `asr` (config and weights): read as today's sa2sr-model/2."""
    from safetensors.torch import load_file, save_file

    d, _, _ = packaged(tmp_path)
    new, _ = load_model(d)
    cfg = json.loads((d / "config.json").read_text())
    assert cfg["format"] == "sa2sr-model/2" and "sa2sr" in cfg["model"]
    cfg["format"], cfg["model"]["asr"] = "sa2sr-model/1", cfg["model"].pop("sa2sr")
    (d / "config.json").write_text(json.dumps(cfg))
    w = load_file(str(d / "model.safetensors"))
    save_file({("asr." + k[len("sa2sr."):] if k.startswith("sa2sr.") else k): v for k, v in w.items()},
              str(d / "model.safetensors"))
    old, config = load_model(d)
    x, n = _inputs()
    with torch.no_grad():
        for a, b in zip(old(x, n), new(x, n)):
            torch.testing.assert_close(a, b)
    assert config.to_json()["format"] == "sa2sr-model/2"


def test_the_card_says_which_words_the_model_reads_and_how_they_are_fused(tmp_path):
    from tests.model_dirs import TEXT

    mix = {d: {"weight": w} for d, w in (("activation", 0.05), ("valence", 0.5), ("dominance", 0.0))}
    pre, ft, _, _ = write_model_dirs(tmp_path, stats=True, text={**TEXT, "fusion": "late"})
    package(pre, ft, tmp_path / "late", {"finetune": {"late_fusion": mix}})
    card = (tmp_path / "late" / "README.md").read_text()
    assert "reads the words: its own CTC transcript, as 4 features of the text model vader; late fusion" in card
    assert "(the words: activation 0.05, valence 0.50, dominance 0.00)" in card
    pre, ft, _, _ = write_model_dirs(tmp_path / "c", stats=True, text={**TEXT, "source": "gold"})
    package(pre, ft, tmp_path / "concat", {})
    card = (tmp_path / "concat" / "README.md").read_text()
    assert "the corpus's own transcript (yours at inference: `--transcripts`)" in card and "concatenated" in card
    pre, ft, _, _ = write_model_dirs(tmp_path / "s", stats=True)
    package(pre, ft, tmp_path / "sound", {})
    assert "reads the words" not in (tmp_path / "sound" / "README.md").read_text()
