"""Connections: every URL, path and credential a playbook step may use (config `connections:`).

A playbook names a connection; it never carries a URL or a secret itself, so templates
cannot reach a credential and outbound requests can only go where an operator pointed
them. Each backend module declares its connection model (a pydantic model with a
`type` literal); `CONNECTION_TYPES` is the one registry of them, filled by the log
backends (integrations.logs) and the CI backends (integrations.ci).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from routing.basics.field import SECRET_MARKER, PositiveDuration


def _base_url(value: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(value.strip())
    try:
        port_ok = parts.port != 0
    except ValueError:  # not a number, or past 65535
        port_ok = False
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise ValueError(f'invalid URL "{value}" (expected http://host[:port][/path])')
    if parts.username or parts.password:
        raise ValueError("must not carry credentials: put them in the connection's own keys")
    if parts.query or parts.fragment:
        raise ValueError("must not carry a query or fragment")
    return value.strip().rstrip("/")


BaseURL = Annotated[str, AfterValidator(_base_url)]


class ConnectionBase(BaseModel):
    """What every connection has: its `type` (the registry key)."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, frozen=True)

    type: str


class HttpConnection(ConnectionBase):
    """A connection reached over HTTP(S). Loopback, private, link-local and metadata
    addresses are refused (checked on the resolved address, at load and at every
    request) unless `allow_private: true`."""

    url: BaseURL
    allow_private: bool = False
    timeout: PositiveDuration = timedelta(seconds=10)
    max_response_bytes: int = Field(default=8 * 1024 * 1024, gt=0)

    def auth_headers(self) -> dict[str, str]:
        """The credential headers added at send time (never shown: dry-runs print ***)."""
        return {}


def connection_type(model: type[ConnectionBase]) -> str:
    """The `type:` literal a connection model declares ("loki")."""
    annotation: Any = model.model_fields["type"].annotation
    (literal,) = get_args(annotation)
    return str(literal)


if TYPE_CHECKING:
    CONNECTION_TYPES: dict[str, type[ConnectionBase]]


def __getattr__(name: str) -> Any:
    # Built on first use: the backend packages import this module for ConnectionBase.
    if name != "CONNECTION_TYPES":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from integrations.ci import CI_BACKENDS
    from integrations.logs import LOG_BACKENDS

    models = [b.connection_model for b in LOG_BACKENDS.values()]
    models += [b.connection_model for b in CI_BACKENDS.values()]
    types = {connection_type(model): model for model in models}
    globals()["CONNECTION_TYPES"] = types
    return types


__all__ = [
    "CONNECTION_TYPES",
    "SECRET_MARKER",
    "BaseURL",
    "ConnectionBase",
    "HttpConnection",
    "connection_type",
]
