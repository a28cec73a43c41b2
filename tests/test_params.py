"""params.yaml is checked before any work starts: every key of every section, by type, named when wrong."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sa2sr_core.config.check import validate_params
from sa2sr_core.errors import ParamsError
from sa2sr_core.params import load_params, set_dotted, timing_path, with_overrides

ROOT = Path(__file__).resolve().parents[1]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def _leaves(d: dict, prefix: str = ""):
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            yield from _leaves(v, key + ".")
        else:
            yield key, v


def test_the_projects_params_are_valid_and_reach_the_configs():
    validate_params(PARAMS)
    from sa2sr_core.config.training import finetune_config, pretrain_configs
    from sa2sr_core.corpora.finetuning import finetune_corpus

    pre, model = pretrain_configs(PARAMS)
    assert pre.lambda_ == PARAMS["lambda"] and pre.lr == PARAMS["pretrain"]["lr"] and pre.seed == PARAMS["seed"]
    assert model.encoder.hidden == PARAMS["pretrain"]["encoder"]["hidden"] == 192  # the paper's 5 x BiLSTM(192)
    ft = finetune_config(PARAMS)
    assert ft.seed == PARAMS["seed"] + PARAMS["finetune"]["seed_offset"] and ft.patience == PARAMS["finetune"]["patience"]
    assert finetune_corpus(PARAMS).spec == PARAMS["finetune"]["corpus"]


@pytest.mark.parametrize("key,value", list(_leaves(PARAMS)), ids=[k for k, _ in _leaves(PARAMS)])
def test_every_key_of_every_section_is_type_checked(key, value):
    wrong = [{"x": 1}] if isinstance(value, dict) else {"x": 1}
    with pytest.raises(ParamsError, match=rf"params.yaml: {key.replace('.', '[.]')}(\.|\b).* must be "):
        validate_params(with_overrides(PARAMS, {key: wrong}))


@pytest.mark.parametrize("key,value,expected", [
    ("lambda", "abc", "lambda must be a number, got 'abc' (str)"),
    ("seed", 1.5, "seed must be an integer, got 1.5"),
    ("pretrain.lr", "1e-3", "pretrain.lr must be a number, got '1e-3' (str) (YAML reads 1e-3 as text: write it "
                            "with a decimal point"),
    ("pretrain.encoder.hidden", "big", "pretrain.encoder.hidden must be an integer"),
    ("finetune.freeze_encoder", "no", "finetune.freeze_encoder must be true or false"),
    ("data.feature_corpora", "librispeech", "data.feature_corpora must be a list of strings"),
])
def test_a_wrong_type_names_the_key_and_the_expected_type(key, value, expected):
    with pytest.raises(ParamsError) as e:
        validate_params(with_overrides(PARAMS, {key: value}))
    assert expected in str(e.value)


def test_unknown_keys_and_out_of_range_values_are_named():
    with pytest.raises(ParamsError, match=r"unknown pretrain parameters \['lrr'\]"):
        validate_params(with_overrides(PARAMS, {"pretrain": {**PARAMS["pretrain"], "lrr": 1.0}}))
    with pytest.raises(ParamsError, match="finetune.*encoder_lr_scale must be >= 0"):
        validate_params(with_overrides(PARAMS, {"finetune.encoder_lr_scale": -1.0}))


def test_a_stage_with_a_mistyped_param_exits_2_with_one_named_line(tmp_path):
    """As a user would hit it: `lambda: abc` in params.yaml, then the first stage of `dvc repro`."""
    p = yaml.safe_load((ROOT / "params.yaml").read_text())
    set_dotted(p, "lambda", "abc")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(p))
    res = subprocess.run([sys.executable, str(ROOT / "stages" / "demo_data.py"), "librispeech"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == ["error: params.yaml: lambda must be a number, got 'abc' (str)"]
    assert not (tmp_path / "data").exists()  # no work started


def test_broken_yaml_is_named(tmp_path):
    (tmp_path / "params.yaml").write_text("pretrain: [unclosed\n")
    with pytest.raises(ParamsError, match="params.yaml is not valid YAML"):
        load_params(tmp_path / "params.yaml")


def test_timings_are_written_beside_the_outputs_never_in_them():
    """A time differs on every run: a DVC output holding one would change dvc.lock on every repro (issue 35)."""
    assert timing_path(PARAMS, "pretrain") == Path(PARAMS["data"]["timing_dir"]) / "pretrain.json"
    assert "timing_dir" not in (ROOT / "dvc.yaml").read_text()  # no stage declares it an output
    assert f"/{PARAMS['data']['timing_dir']}/" in (ROOT / ".gitignore").read_text().split()
