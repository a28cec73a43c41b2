"""YAML values against type annotations: the check behind every params.yaml key. A mismatch is a ParamsError
naming the key, the expected type and the value (with a hint for YAML's `1e-3`, which it reads as text)."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar, Union

from sa2sr_core.errors import ParamsError

T = TypeVar("T")


def type_name(tp: Any) -> str:
    """How a message names an annotation: 'a number', 'a list of strings', 'a string or null'."""
    if is_union(tp):
        return " or ".join(type_name(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "null"
    origin = typing.get_origin(tp)
    if origin in (list, tuple):
        plural = {float: "numbers", int: "integers", bool: "booleans", str: "strings"}
        args = typing.get_args(tp)
        return f"a list of {plural.get(args[0], type_name(args[0]))}" if args else "a list"
    if origin is dict or tp is dict:
        return "a mapping"
    return {float: "a number", int: "an integer", bool: "true or false", str: "a string"}.get(tp, str(tp))


def is_union(tp: Any) -> bool:
    """Whether tp is `A | B` (either spelling)."""
    return typing.get_origin(tp) in (Union, types.UnionType)


def conforms(value: Any, tp: Any) -> bool:
    """Whether a YAML value fits an annotation (an int is a float; a bool is neither)."""
    if tp is Any:
        return True
    if is_union(tp):
        return any(conforms(value, a) for a in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp in (int, float):
        return isinstance(value, (int, float) if tp is float else int) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (list, tuple) or tp in (list, tuple):
        return isinstance(value, (list, tuple)) and all(conforms(v, args[0]) for v in value) if args else \
            isinstance(value, (list, tuple))
    if origin is dict or tp is dict:
        return isinstance(value, dict) and (not args or all(conforms(v, args[1]) for v in value.values()))
    if dataclasses.is_dataclass(tp):
        return isinstance(value, (dict, tp))  # a section, or the config already built from it
    return True  # an annotation this check does not know: the dataclass judges


def check_type(key: str, value: Any, tp: Any) -> None:
    """ParamsError naming `key`, its expected type and the value, unless the value fits `tp`."""
    args = typing.get_args(tp)
    if typing.get_origin(tp) is dict and args and isinstance(value, dict):
        for k, v in value.items():  # name the entry, not only the mapping
            check_type(f"{key}.{k}", v, args[1])
        return
    if not conforms(value, tp):
        hint = ""
        if isinstance(value, str) and float in (tp, *typing.get_args(tp)):
            try:
                float(value)
                hint = f" (YAML reads {value} as text: write it with a decimal point, e.g. 1.0e-3)"
            except ValueError:
                pass
        raise ParamsError(f"params.yaml: {key} must be {type_name(tp)}, got {value!r} "
                          f"({type(value).__name__}){hint}")


def build(cls: type[T], section: dict | None, where: str | None = None) -> T:
    """Build dataclass `cls` from a params section: unknown keys, values of the wrong type and values out of
    range are errors naming `where.key`, not silently ignored."""
    where = where or cls.__name__
    if section is not None and not isinstance(section, dict):
        raise ParamsError(f"params.yaml: {where} must be a mapping, got {section!r}")
    section = dict(section or {})
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(section) - names)
    if unknown:
        raise ParamsError(f"params.yaml: unknown {where} parameters {unknown}; known: {sorted(names)}")
    for k, v in section.items():
        check_type(f"{where}.{k.rstrip('_')}", v, hints[k])
    try:
        return cls(**section)
    except (TypeError, ValueError) as e:
        raise ParamsError(f"params.yaml: {where}: {e}") from None
