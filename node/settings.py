"""Tunables of a node's parts, read once from the node's configuration.

A part's settings are a frozen dataclass whose defaults say each setting's type (a
whole number, a number, or a text). :func:`read_settings` fills it: each setting comes
from ``NodeConfig.extra`` (tests pass ``extra={"token_ttl": "60"}``), else from the
environment variable ``ECNET_<PART>_<NAME>`` (upper case, for ``ecnet-node``
processes), else the default. A number must be positive (zero too, for a field whose
metadata says ``zero_ok``); a bad value is a :class:`~node.config.ConfigError` naming the
setting, so a node refuses to start with it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import fields
from typing import TYPE_CHECKING, TypeVar, cast

from node.config import ConfigError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["read_settings"]

T = TypeVar("T", bound="DataclassInstance")

_KINDS = {int: "a whole number", float: "a number"}


def read_settings(
    cls: type[T],
    part: str,
    extra: Mapping[str, str],
    environ: Mapping[str, str] | None = None,
    *,
    key_prefix: str = "",
) -> T:
    """``cls`` with each field from ``extra[key_prefix + name]``, else the environment's
    ``ECNET_<PART>_<NAME>``, else its default. ``part`` names the settings in errors
    and in the variable names ("qr" → ``ECNET_QR_TTL_SECONDS``)."""
    env = os.environ if environ is None else environ
    values: dict[str, float | str] = {}
    for f in fields(cls):
        key = f"{key_prefix}{f.name}"
        raw = extra.get(key, env.get(f"ECNET_{part.upper()}_{f.name.upper()}"))
        if raw is None:
            continue
        kind = type(f.default)
        if kind is str:
            values[f.name] = raw
            continue
        # Not a text: the default is an int or a float, whose type parses the number.
        parse = cast("Callable[[str], float]", kind)
        try:
            value = parse(raw)
        except ValueError:
            raise ConfigError(
                f"{part} setting {key}={raw!r} is not {_KINDS.get(kind, kind.__name__)}"
            ) from None
        if value < 0 or (value == 0 and not f.metadata.get("zero_ok")):
            at_least = "zero or more" if f.metadata.get("zero_ok") else "positive"
            raise ConfigError(f"{part} setting {key} must be {at_least}, got {raw}")
        values[f.name] = value
    return cls(**values)
