"""A model with the text route at inference (docs/text.md): predict reads its own transcript by default or the
user's (--transcripts), says which, and fails with one named line on a missing or extra row; serve reads its own;
export takes the text features as an input."""

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from sa2sr_core.cli import app
from sa2sr_core.config.inference import PredictConfig, ServeConfig
from sa2sr_core.inference.export import example_inputs, export_model, input_names, run_exported
from sa2sr_core.inference.predict import predict_recordings
from sa2sr_core.inference.serve import Service
from sa2sr_core.inference.text import TextRoute, TextRouteError, read_transcripts
from sa2sr_core.models.packaged import load_model
from tests.helpers import speech_shards
from tests.model_dirs import TEXT, packaged

QUIET = dict(log=lambda *_: None)
WORDS = ["I love this wonderful happy day", "This is awful and terrible", "", "We went to the station"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("text")
    speech_shards(root, 4, "test", words=6)
    model_dir, _, _ = packaged(root, stats=True, text=TEXT)
    model, config = load_model(model_dir)
    files = sorted((root / "audio").glob("*.wav"))
    csv = root / "t.csv"
    pd.DataFrame({"path": [str(f) for f in files], "transcript": WORDS}).to_csv(csv, index=False)
    return root, model_dir, model, config, files, csv


def _run(env, **kw):
    root, model_dir, model, config, files, _ = env
    return predict_recordings(model, config, files, PredictConfig(progress=False), model_dir=str(model_dir), **QUIET,
                              **kw).files


def test_own_transcript_by_default_and_the_users_on_request(env):
    root, model_dir, model, config, files, csv = env
    own = _run(env)
    assert (own["text_input"] == "model").all() and (own["text_read"] == own["transcript"]).all()
    user = _run(env, transcripts=csv)
    assert (user["text_input"] == "user").all() and user["text_read"].tolist() == WORDS
    assert (user["transcript"] == own["transcript"]).all()  # the model's own transcript is still reported
    # the words move the valence the way this model reads them: positive text up, negative text down
    assert user.loc[0, "valence_raw"] > own.loc[0, "valence_raw"] and user.loc[1, "valence_raw"] < own.loc[1, "valence_raw"]
    assert user.loc[0, "valence_raw"] > user.loc[1, "valence_raw"]
    # the text features are the ones stage text_features makes, with the model's own text model
    route = TextRoute(model.cfg.emotion.regressor.text)
    x = route.features(WORDS)
    assert x.shape == (4, 4) and (x[2] == 0).all() and x[0, 2] > 0.9 and x[1, 0] > 0.9


def test_a_missing_or_extra_transcript_row_is_one_named_line(env, tmp_path):
    root, model_dir, _, _, files, csv = env
    short = tmp_path / "short.csv"
    pd.read_csv(csv).iloc[:3].to_csv(short, index=False)
    with pytest.raises(TextRouteError, match=f"short.csv: no row for 1 file.*{files[3].name}"):
        read_transcripts(short, files)
    extra = tmp_path / "extra.csv"
    pd.concat([pd.read_csv(csv), pd.DataFrame({"path": ["/elsewhere/x.wav"], "transcript": ["hi"]})]).to_csv(
        extra, index=False)
    with pytest.raises(TextRouteError, match="extra.csv: 1 row.*x.wav"):
        read_transcripts(extra, files)
    r = CliRunner().invoke(app, ["predict", *map(str, files), "--model", str(model_dir), "--out",
                                 str(tmp_path / "o.csv"), "--transcripts", str(short), "--no-progress"])
    assert r.exit_code == 2 and "no row for 1 file" in r.output and not (tmp_path / "o.csv").exists()
    r = CliRunner().invoke(app, ["predict", *map(str, files), "--model", str(model_dir), "--out",
                                 str(tmp_path / "o.csv"), "--transcripts", str(csv), "--no-progress"])
    assert r.exit_code == 0, r.output
    assert pd.read_csv(tmp_path / "o.csv", keep_default_na=False)["text_input"].eq("user").all()


def test_a_model_without_the_text_route_refuses_transcripts(tmp_path, env):
    d, _, _ = packaged(tmp_path)
    model, config = load_model(d)
    with pytest.raises(TextRouteError, match="has no text route"):
        predict_recordings(model, config, env[4], PredictConfig(progress=False), transcripts=env[5], **QUIET)
    assert "text_input" not in predict_recordings(model, config, env[4], PredictConfig(progress=False), **QUIET).files


def test_a_text_model_that_cannot_be_loaded_is_named():
    with pytest.raises(TextRouteError, match="text model '/nowhere/roberta'.*cannot be loaded"):
        TextRoute({**TEXT, "text_model": "roberta:/nowhere/roberta"}, "models/sa2sr")


def test_serve_reads_the_models_own_transcript_like_predict(env):
    root, model_dir, model, config, files, _ = env
    service = Service(model, config, str(model_dir), ServeConfig())
    try:
        out = service.run(files[0], files[0].name)
    finally:
        service.batcher.close()
    own = _run(env)
    assert out["file"]["text_input"] == "model" and out["file"]["text_read"] == own.loc[0, "text_read"]
    np.testing.assert_allclose(out["file"]["valence_raw"], own.loc[0, "valence_raw"], atol=1e-4)


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_export_takes_the_text_features_as_an_input(env, tmp_path, fmt):
    model = env[2]
    assert input_names(model) == ["feats", "lengths", "stats", "text"]
    out = tmp_path / "m.bin"
    assert max(export_model(model, fmt, out).values()) < 1e-4
    inputs = example_inputs(model, [300, 120], seed=4)
    with torch.no_grad():
        ref = model(*inputs)
    for g, r in zip(run_exported(out, fmt, *inputs), ref):
        np.testing.assert_allclose(g, r.numpy(), atol=1e-4, rtol=1e-4)


def test_a_late_fused_model_exports_with_its_mix(tmp_path):
    """fusion late: the exported graph mixes the acoustic outputs and the text head with the model's weights."""
    model_dir, _, _ = packaged(tmp_path, stats=True, text={**TEXT, "fusion": "late"})
    model, _ = load_model(model_dir)
    model.regressor.set_text_weights(torch.tensor([0.2, 0.6, 0.9]))
    out = tmp_path / "m.onnx"
    assert max(export_model(model, "onnx", out).values()) < 1e-4
    inputs = example_inputs(model, [300, 120], seed=5)
    with torch.no_grad():
        ref = model(*inputs)
        model.regressor.set_text_weights(torch.zeros(3))
        sound = model(*inputs)
    assert any(not np.allclose(r.numpy(), s.numpy(), atol=1e-3) for r, s in zip(ref, sound))  # the words count
    for g, r in zip(run_exported(out, "onnx", *inputs), ref):
        np.testing.assert_allclose(g, r.numpy(), atol=1e-4, rtol=1e-4)


def test_a_lexicon_route_reads_its_own_transcript_through_the_word_lm_it_carries(tmp_path, env):
    from sa2sr_core.config.text import LM_FILE
    from sa2sr_core.models.word_decoder import WordLM
    from tests.model_dirs import package, write_model_dirs

    files = env[4]
    lm = WordLM.from_transcripts(["a happy day", "the sad dog", "we went to the station"])
    text = {**TEXT, "decoder": {"kind": "lexicon", "lm_weight": 1.0, "nearest": 64, "beam": 16}}
    pre, ft, _, _ = write_model_dirs(tmp_path, stats=True, text=text)
    lm.save(ft / LM_FILE)  # what stage finetune copies in (copy_word_lm)
    package(pre, ft, tmp_path / "sa2sr")
    assert (tmp_path / "sa2sr" / LM_FILE).read_bytes() == (ft / LM_FILE).read_bytes()  # packaged with it
    model, config = load_model(tmp_path / "sa2sr")
    out = predict_recordings(model, config, files, PredictConfig(progress=False), model_dir=str(tmp_path / "sa2sr"),
                             **QUIET).files
    assert (out["text_input"] == "model").all()
    read = [w for t in out["text_read"] for w in str(t).split()]
    heard = [w for t in out["transcript"] for w in str(t).split()]
    assert heard and read and set(read) <= set(lm.words)  # the greedy words (an untrained recogniser's) snapped
    assert set(heard) - set(lm.words)  # ... where the greedy ones are not lexicon words
    (tmp_path / "sa2sr" / LM_FILE).unlink()
    with pytest.raises(TextRouteError, match=f"{LM_FILE} is missing"):
        predict_recordings(model, config, files, PredictConfig(progress=False), model_dir=str(tmp_path / "sa2sr"),
                           **QUIET)
