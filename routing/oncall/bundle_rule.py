"""The bundling rule of a pager storm, as the config writes it (`paging.bundle` and a
user's `bundle`): at most `max_pages` messages to one contact within any `window`; the
pages beyond wait (at most `window`) and go out together as one bundle. `off` disables."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
)

from routing.basics.field import Duration

MAX_WINDOW = timedelta(minutes=10)  # a page may wait this long at most: keep it short


class BundleRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_pages: int = Field(ge=1, le=10_000)
    window: Duration

    @field_validator("window")
    @classmethod
    def _window(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0) or value > MAX_WINDOW:
            raise ValueError("must be more than 0s and at most 10m (a held page waits that long)")
        return value


def _off(value: Any) -> Any:
    # YAML 1.1 reads a bare `off` as false.
    if value is False or (isinstance(value, str) and value.strip().lower() == "off"):
        return "off"
    if value is True or isinstance(value, str | int | float):
        raise ValueError(f"expected a rule like {{max_pages: 5, window: 5s}} or off, got {value!r}")
    return value


def _which(value: Any) -> str:
    return "inherit" if value is None else "off" if value == "off" else "rule"


# A rule, or "off"; a user's absent `bundle` (None) takes the global one. Tagged, so a
# bad rule is reported once, by its field, not also as "must be 'off'".
BundleSetting = Annotated[
    Annotated[BundleRule, Tag("rule")] | Annotated[Literal["off"], Tag("off")],
    Discriminator(_which),
    BeforeValidator(_off),
]
# A user's: also None, which takes the global rule.
UserBundleSetting = Annotated[
    Annotated[BundleRule, Tag("rule")]
    | Annotated[Literal["off"], Tag("off")]
    | Annotated[None, Tag("inherit")],
    Discriminator(_which),
    BeforeValidator(_off),
]


def effective_rule(
    global_rule: BundleRule | Literal["off"], user_rule: BundleRule | Literal["off"] | None
) -> BundleRule | None:
    """The rule a user's contacts follow, or None when bundling is off for them."""
    chosen = global_rule if user_rule is None else user_rule
    return None if chosen == "off" else chosen


class PagingSettings(BaseModel):
    """The config's `paging:` section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Off unless set: bundling changes what a paged person receives, so it is chosen.
    bundle: BundleSetting = "off"
