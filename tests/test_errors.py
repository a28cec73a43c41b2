"""Every error a user can fix derives from Sa2srError and ends a command in one named line (exit status 2)."""

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from sa2sr_core.config.inference import ServeConfig
from sa2sr_core.corpora.iemocap import find_iemocap_root
from sa2sr_core.corpora.manifest import validate_manifest
from sa2sr_core.errors import Sa2srError, run_main
from sa2sr_core.sentiment.correlation import DEFAULT_GROUPS, correlate
from sa2sr_core.sentiment.labeler import class_order


def _one_line(capsys, fn, *args) -> str:
    with pytest.raises(SystemExit) as ex:
        run_main(fn, *args)
    assert ex.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_a_corpus_in_the_wrong_layout(tmp_path, capsys):
    (tmp_path / "Session1").mkdir()  # no dialog/ or sentences/ below it
    err = _one_line(capsys, find_iemocap_root, tmp_path / "elsewhere")
    assert str(tmp_path / "elsewhere") in err and "does not exist" in err


def test_an_iemocap_emotion_without_a_score(capsys):
    df = pd.DataFrame({"emotion": ["sad", "happy"], "sentiment": ["negative", "positive"]})
    groups = {k: v for k, v in DEFAULT_GROUPS.items() if k != "Happy"}
    err = _one_line(capsys, correlate, df, True, groups)
    assert "correlate.groups" in err and "Happy" in err


def test_a_sentiment_model_with_unknown_label_codes(capsys):
    err = _one_line(capsys, class_order, {0: "LABEL_A", 1: "LABEL_B", 2: "LABEL_C"})
    assert "LABEL_A" in err and "negative/neutral/positive" in err


def test_a_bad_manifest(capsys):
    df = pd.DataFrame({"utt_id": ["a", "a"], "split": ["train", "train"], "speaker": ["s", "s"],
                       "duration_s": [1.0, 1.0], "corpus": ["mine", "mine"]})
    err = _one_line(capsys, validate_manifest, df, "mine")
    assert "mine" in err and "'a'" in err


def test_a_too_long_file_for_the_service(tmp_path, capsys):
    import torch

    from sa2sr_core.inference.serve import Service, TooLong
    from sa2sr_core.models.packaged import load_model
    from tests.model_dirs import packaged

    d, _, _ = packaged(tmp_path)
    model, config = load_model(d)
    wav = tmp_path / "long.wav"
    sf.write(wav, np.zeros(16000 * 3, np.float32), 16000)
    service = Service(model, config, str(d), ServeConfig(max_audio_s=1.0), device=torch.device("cpu"))
    try:
        err = _one_line(capsys, service.run, wav, "long.wav")
    finally:
        service.batcher.close()
    assert issubclass(TooLong, Sa2srError) and "long.wav: 3 s of audio" in err and "at most 1 s" in err
