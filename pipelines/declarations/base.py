"""The base of every declaration model, and the value types declarations share."""

import re
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict

# libyaml's safe loader where PyYAML was built with it (40× the pure-Python parser on a 500-indicator catalogue)
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(file: Path) -> object:
    """A declaration file's YAML (safe: plain data only); raises yaml.YAMLError or UnicodeDecodeError."""
    return yaml.load(file.read_text(encoding="utf-8"), Loader=SAFE_LOADER)


class Strict(BaseModel):
    """A declaration: unknown keys are rejected, and the parsed value cannot change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from exc
    return pattern


Regex = Annotated[str, AfterValidator(_compiles)]
"""A regular expression, checked to compile when the declaration is read."""

_DURATION = re.compile(r"^([1-9][0-9]*)([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _duration(text: str) -> str:
    if not _DURATION.match(text):
        raise ValueError(f"{text!r} is not a duration: a number and a unit, e.g. 90s, 30m, 2h, 1d, 1w")
    return text


Duration = Annotated[str, AfterValidator(_duration)]
"""A duration as Prometheus writes it (30m, 2h, 1d), so alert rules can use it as declared."""


def duration_seconds(text: str) -> int:
    match = _DURATION.match(text)
    assert match is not None, f"{text!r} is not a Duration"  # declarations are validated as they are read
    number, unit = match.groups()
    return int(number) * _UNIT_SECONDS[unit]
