"""The silences routing checks at a moment: the config's maintenance windows plus the
stored silences that may be in force."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Connection

from routing.muting.silence import Silence
from routing.muting.silence_store import stored_in_force
from routing.paging.policy import PolicyConfig
from routing.paging.triage import silence_label

log = logging.getLogger("firebell.paging")


def all_silences(conn: Connection, config: PolicyConfig, now: datetime) -> list[Silence]:
    """The config's silences (an unnamed one named by its place in the file), then the
    stored silences that may be in force at `now`."""
    configured = [
        s if s.id else s.model_copy(update={"id": silence_label(s, i)})
        for i, s in enumerate(config.silences)
    ]
    return configured + stored_in_force(conn, now)
