"""The whole of params.yaml checked at once, every section against its config dataclass: what `sa2sr reproduce`
does before it starts a study, and what a profile or a --set must pass. (A stage checks only the sections it reads,
so that it depends on no other section's code.)"""

from __future__ import annotations

from typing import Any

from sa2sr_core.config.baseline import baseline_config
from sa2sr_core.config.demo import demo_config
from sa2sr_core.config.features import feature_config
from sa2sr_core.config.labeler import labeler_config
from sa2sr_core.config.text import text_baseline_path, text_config, text_features_path
from sa2sr_core.config.training import finetune_configs, pretrain_configs
from sa2sr_core.errors import ParamsError
from sa2sr_core.params import check_plain_keys, get_dotted, with_overrides


def validate_params(params: dict) -> None:
    """Every section: the plain keys' types, then each config dataclass (type, range, unknown keys)."""
    check_plain_keys(params)
    if "text_dir" in params.get("data", {}):
        text_features_path(params)
    if "text_predictions" in params.get("baseline", {}):
        text_baseline_path(params)
    if "features" in params:
        feature_config(params)
    if "demo" in params:
        demo_config(params)
    if "labeler" in params:
        labeler_config(params)
    if "baseline" in params:
        baseline_config(params)
    if all(k in params for k in ("pretrain", "features", "lambda", "seed")):
        pretrain_configs(params)
        if "finetune" in params:
            finetune_configs(params)
            text_config(params)


def check_overrides(params: dict, overrides: dict[str, Any], where: str) -> None:
    """Every overridden key exists in params.yaml, and params with the overrides pass validate_params."""
    unknown = []
    for key in overrides:
        try:
            get_dotted(params, key)
        except KeyError:
            unknown.append(key)
    if unknown:
        raise ParamsError(f"{where}: {unknown} are not keys of params.yaml")
    try:
        validate_params(with_overrides(params, overrides))
    except ParamsError as e:
        raise ParamsError(f"{where}: {e}") from None
