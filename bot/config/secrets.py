"""Finding the secrets in Settings: to scrub them from logs and to mask them in dumps."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, get_args

from pydantic import BaseModel

from bot.config.fields import SECRET_MARKER
from routing.storage.database import sqlalchemy_url

REDACTED = "***"


def _has_secret_marker(annotation: Any) -> bool:
    if annotation is SECRET_MARKER:
        return True
    return any(_has_secret_marker(arg) for arg in get_args(annotation))


def _field_is_secret(info: Any) -> bool:
    return any(m is SECRET_MARKER for m in info.metadata) or _has_secret_marker(info.annotation)


def _all_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _all_strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _all_strings(v)]
    return []


def secrets_in(value: Any) -> list[str]:
    if isinstance(value, BaseModel):
        out: list[str] = []
        for name, info in type(value).model_fields.items():
            item = getattr(value, name)
            out += _all_strings(item) if _field_is_secret(info) else secrets_in(item)
        return out
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in secrets_in(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in secrets_in(v)]
    return []


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return REDACTED
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value


def redact_secrets(model: BaseModel, dumped: Any) -> None:
    """Mask secret fields of `model` in its own json dump, in place, recursively."""
    if not isinstance(dumped, dict):
        return
    for name, info in type(model).model_fields.items():
        key = info.serialization_alias or info.alias or name
        if key not in dumped:
            continue
        value = getattr(model, name)
        if _field_is_secret(info):
            dumped[key] = _mask(dumped[key])
        elif isinstance(value, BaseModel):
            redact_secrets(value, dumped[key])
        elif isinstance(value, list | tuple) and isinstance(dumped[key], list):
            for item, item_dump in zip(value, dumped[key], strict=False):
                if isinstance(item, BaseModel):
                    redact_secrets(item, item_dump)


_URL_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:/@]*:)([^@]*)(@)")


def database_password(url: str) -> str | None:
    match = _URL_PASSWORD.match(url)
    return match.group(2) if match else None


def redact_database_url(url: str) -> str:
    """postgresql://app:s3cret@db/x -> postgresql://app:***@db/x."""
    return _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{REDACTED}{m.group(3)}", url)


def database_url_for_sqlalchemy(url: str) -> str:
    """postgresql:// and postgres:// select psycopg 3 (the driver we install); sqlite unchanged."""
    return sqlalchemy_url(url)
