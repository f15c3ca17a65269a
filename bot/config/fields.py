"""Field types shared by the config sections: secrets, durations, URLs, and the Section base."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

from routing.basics.field import SECRET_MARKER, Duration, check_secret
from routing.basics.field import PositiveDuration as PositiveDuration  # re-exported
from routing.basics.field import Secret as Secret  # re-exported for the config sections
from routing.basics.storable import over_limit, storable_text


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank (leave the key out to unset it)")
    return value


def _url_token(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._~-]+", value):
        raise ValueError(
            "is placed in the webhook URL path: use only letters, digits, '-', '_', '.', '~'"
        )
    return value


def _non_negative(value: timedelta) -> timedelta:
    if value < timedelta(0):
        raise ValueError("must not be negative")
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f'invalid URL "{value}" (expected http://... or https://...)')
    return value.strip()


def none_is(empty: Callable[[], Any]) -> BeforeValidator:
    """`key:` with nothing under it (all children commented out) means the default."""
    return BeforeValidator(lambda value: empty() if value is None else value)


UrlToken = Annotated[str, AfterValidator(check_secret), AfterValidator(_url_token), SECRET_MARKER]
NonBlank = Annotated[str, AfterValidator(_not_blank)]
NonNegativeDuration = Annotated[Duration, AfterValidator(_non_negative)]
HttpURL = Annotated[str, AfterValidator(_http_url)]


def _storable_service(value: str) -> str:
    """A service the alert tables can hold (routing.basics.storable): mapped senders'
    names are stored as is, so a too-long one would be refused on every alert."""
    problem = over_limit("service", value)
    if problem is not None:
        raise ValueError(problem)
    if storable_text(value) != value:
        raise ValueError("must not contain NUL or lone surrogate characters")
    return value


ServiceName = Annotated[NonBlank, AfterValidator(_storable_service)]
ServiceMap = Annotated[dict[NonBlank, ServiceName], none_is(dict)]


class Section(BaseModel):
    # Typos are errors; numbers written where text is expected (ids, tokens) are kept as text.
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)
