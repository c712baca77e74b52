"""The building blocks of numguard's typed configuration (numguard.cli.config composes them).

Scalars are strict: a TOML file is typed, so `lookback_days = "7"` is a mistake to
report, not a string to coerce. A value from the environment is text by nature and is
parsed to the field's type before validation (numguard.cli.config.environment).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, ValidationInfo

Integer = Annotated[int, Strict()]
# Strict floats still take a TOML integer (`max_seconds = 30`).
Number = Annotated[float, Strict()]
Text = Annotated[str, Strict(), Field(min_length=1)]
Port = Annotated[int, Strict(), Field(ge=0, le=65535)]  # 0: any free port
Seconds = Annotated[float, Strict(), Field(gt=0)]


def _is_set(name: str, info: ValidationInfo) -> str:
    """A key naming an environment variable: the variable must be set, when the loader
    passes the environment to check against (context "environ")."""
    environ = (info.context or {}).get("environ")
    if environ is not None and not environ.get(name):
        raise ValueError(f"the environment variable {name} is not set")
    return name


# The name of an environment variable holding a secret (a `*_env` key).
EnvName = Annotated[str, Strict(), Field(min_length=1), AfterValidator(_is_set)]


class Settings(BaseModel):
    """A table of settings: unknown keys are errors, values never change after loading."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def env_variable(*parts: str) -> str:
    """The environment variable for a key path: NUMGUARD_CRM + a-b + backoff.max_seconds
    gives NUMGUARD_CRM_A_B_BACKOFF_MAX_SECONDS."""
    return "_".join(parts).upper().replace("-", "_").replace(".", "_")
