"""The `sources:` section: credentials and options for each webhook source."""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, Field

from bot.config.fields import (
    NonBlank,
    PositiveDuration,
    Secret,
    Section,
    ServiceMap,
    UrlToken,
    none_is,
)
from routing.basics.field import TimeZone


def _listen(value: str) -> str:
    """host:port for the syslog listener; IPv6 hosts in brackets ([::1]:5514)."""
    text = value.strip()
    usage = f'invalid listen address "{value}" (expected host:port, e.g. 127.0.0.1:5514)'
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise ValueError(usage)
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise ValueError(f'invalid listen address "{value}": port {port} is not in 1-65535')
    if host.startswith("["):
        if not host.endswith("]"):
            raise ValueError(usage)
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise ValueError(f'invalid listen address "{value}": bad IPv6 address') from None
    elif ":" in host:
        raise ValueError(f'invalid listen address "{value}": write IPv6 hosts as [::1]:514')
    elif not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?", host):
        raise ValueError(f'invalid listen address "{value}": bad host "{host}"')
    return text


class BasicAuth(Section):
    username: NonBlank
    password: Secret


class AlertmanagerSource(Section):
    bearer_token: Secret | None = None
    basic_auth: BasicAuth | None = None


class SentrySource(Section):
    client_secret: Secret | None = None  # Integration Platform: HMAC of the body
    services: ServiceMap = {}  # Sentry project slug -> service
    legacy_token: UrlToken | None = None  # legacy WebHooks plugin: token in the URL


class Syslog(Section):
    listen: Annotated[str, AfterValidator(_listen)]


class Threshold(Section):
    # A pending alert keeps the time of each line in its sliding window: bounded by count.
    count: int = Field(default=1, ge=1, le=1000)
    window: PositiveDuration = timedelta(minutes=1)


class NginxSource(Section):
    token: Secret | None = None
    syslog: Syslog | None = None
    services: ServiceMap = {}  # server name or upstream host -> service
    threshold: Annotated[Threshold, none_is(dict)] = Field(default_factory=Threshold)
    resolve_after: PositiveDuration = timedelta(minutes=10)
    # error.log times are the nginx host's local time, written without a zone.
    time_zone: TimeZone = ZoneInfo("UTC")


class GenericSource(Section):
    token: Secret | None = None


class Sources(Section):
    alertmanager: Annotated[AlertmanagerSource, none_is(dict)] = Field(
        default_factory=AlertmanagerSource
    )
    sentry: Annotated[SentrySource, none_is(dict)] = Field(default_factory=SentrySource)
    nginx: Annotated[NginxSource, none_is(dict)] = Field(default_factory=NginxSource)
    generic: Annotated[GenericSource, none_is(dict)] = Field(default_factory=GenericSource)
