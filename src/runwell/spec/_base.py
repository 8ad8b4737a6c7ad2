"""What every spec section model shares: the base class and the name and text types."""

from __future__ import annotations

from typing import Annotated, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

__all__ = [
    "FEATURE_NAME_PATTERN",
    "PROVIDER_NAME_PATTERN",
    "VARIANT_NAME_PATTERN",
    "FeatureName",
    "NonEmptyStr",
    "Percent",
    "ProviderName",
    "RelativePath",
    "Section",
    "VariantName",
    "unique_by_name",
]

FEATURE_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
PROVIDER_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
VARIANT_NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]*$"

NonEmptyStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
FeatureName = Annotated[str, Field(pattern=FEATURE_NAME_PATTERN)]
ProviderName = Annotated[str, Field(pattern=PROVIDER_NAME_PATTERN)]
VariantName = Annotated[str, Field(pattern=VARIANT_NAME_PATTERN)]
Percent = Annotated[float, Field(ge=0, le=100)]
RelativePath = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1),
    Field(description="path relative to the directory of runwell.yaml"),
]


class Section(BaseModel):
    """A spec section: frozen, unknown keys forbidden, strict types (YAML gives real ones)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class _HasName(Protocol):
    @property
    def name(self) -> str: ...


_Named = TypeVar("_Named", bound=_HasName)


def unique_by_name(items: list[_Named], what: str) -> list[_Named]:
    """``items`` unchanged, or ValueError naming the names used more than once."""
    names = [item.name for item in items]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"{what} names must be unique; repeated: {', '.join(repeated)}")
    return items
