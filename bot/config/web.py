"""`web:`: the page people use (bot.web): sessions and a trusted authenticating proxy.

web:
  session_secret: ${FIREBELL_SESSION_SECRET}   # optional: signs session cookies
  session_ttl: 12h                             # a login lasts this long
  trusted_user_header: X-Forwarded-User        # optional: a proxy names the user
  trusted_proxies: [127.0.0.1/32]              # ...only from these peers
"""

from __future__ import annotations

import re
from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from bot.config.fields import PositiveDuration, Secret, Section


def _header_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9-]+", value):
        raise ValueError("is an HTTP header name: use only letters, digits and '-'")
    return value


class Web(Section):
    # Without it the key is derived from the api_tokens (replicas sharing a config agree;
    # changing any token then ends every session).
    session_secret: Secret | None = None
    session_ttl: PositiveDuration = timedelta(hours=12)
    trusted_user_header: Annotated[str, AfterValidator(_header_name)] | None = None
    trusted_proxies: list[IPv4Network | IPv6Network] = Field(default_factory=list)

    @model_validator(mode="after")
    def _header_and_proxies_together(self) -> Web:
        if self.trusted_user_header and not self.trusted_proxies:
            raise ValueError(
                "trusted_user_header needs trusted_proxies: the peers (CIDRs) allowed to "
                "name the user, else anyone could send the header"
            )
        if self.trusted_proxies and not self.trusted_user_header:
            raise ValueError(
                "trusted_proxies has no effect without trusted_user_header (the header "
                "the proxy names the user in)"
            )
        return self

    @property
    def ttl_seconds(self) -> int:
        return int(self.session_ttl.total_seconds())
