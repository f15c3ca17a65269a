"""Finding the secrets in Settings: to scrub them from logs and to mask them in dumps.

Two kinds: Secret fields (tokens, passwords: the whole value) and CREDENTIAL_URL fields
(apprise contacts and channels: URLs that may carry a password or a token anywhere)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, get_args

from pydantic import BaseModel

from bot.config.fields import SECRET_MARKER
from routing.basics.redact import CREDENTIAL_URL, is_url, redact_url, url_credentials
from routing.storage.database import sqlalchemy_url

REDACTED = "***"


def _has_marker(annotation: Any, marker: object) -> bool:
    if annotation is marker:
        return True
    return any(_has_marker(arg, marker) for arg in get_args(annotation))


def _field_has(info: Any, marker: object) -> bool:
    return any(m is marker for m in info.metadata) or _has_marker(info.annotation, marker)


def _field_is_secret(info: Any) -> bool:
    return _field_has(info, SECRET_MARKER)


def field_holds_secrets(info: Any) -> bool:
    """A Secret or a credential URL (or a list of them): never echo its value."""
    return _field_has(info, SECRET_MARKER) or _field_has(info, CREDENTIAL_URL)


def _all_strings(value: Any) -> list[str]:
    """The strings of a secret field; models inside it (an api_tokens entry) say which of
    their own fields are secret."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, BaseModel):
        return secrets_in(value)
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _all_strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _all_strings(v)]
    return []


def _url_secrets(value: Any) -> list[str]:
    """A credential URL whole, and its password alone (logged apart by some libraries)."""
    if isinstance(value, str):
        return [value, *url_credentials(value)] if is_url(value) else []
    if isinstance(value, list | tuple):
        return [s for v in value for s in _url_secrets(v)]
    return []


def secrets_in(value: Any) -> list[str]:
    if isinstance(value, BaseModel):
        out: list[str] = []
        for name, info in type(value).model_fields.items():
            item = getattr(value, name)
            if _field_is_secret(info):
                out += _all_strings(item)
            elif _field_has(info, CREDENTIAL_URL):
                out += _url_secrets(item)
            else:
                out += secrets_in(item)
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


def _mask_secret(value: Any, dumped: Any) -> Any:
    """A secret field's dump masked; a model inside it (an api_tokens entry) keeps its
    other fields (the user it names is not a secret)."""
    if isinstance(value, BaseModel):
        redact_secrets(value, dumped)
        return dumped
    if isinstance(value, list | tuple) and isinstance(dumped, list):
        return [_mask_secret(v, d) for v, d in zip(value, dumped, strict=False)]
    return _mask(dumped)


def _redact_urls(dumped: Any) -> Any:
    if isinstance(dumped, str):
        return redact_url(dumped)
    if isinstance(dumped, list):
        return [_redact_urls(v) for v in dumped]
    return dumped


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
            dumped[key] = _mask_secret(value, dumped[key])
        elif _field_has(info, CREDENTIAL_URL):
            dumped[key] = _redact_urls(dumped[key])
        elif isinstance(value, BaseModel):
            redact_secrets(value, dumped[key])
        elif isinstance(value, Mapping) and isinstance(dumped[key], dict):
            # A mapping of models (connections: name -> connection) masks each one's own.
            for item_key, item in value.items():
                if isinstance(item, BaseModel):
                    redact_secrets(item, dumped[key].get(str(item_key)))
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
