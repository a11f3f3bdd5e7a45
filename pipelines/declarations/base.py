"""The base of every declaration model: unknown keys are errors, values are immutable."""

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A declaration: unknown keys are rejected, and the parsed value cannot change."""

    model_config = ConfigDict(extra="forbid", frozen=True)
