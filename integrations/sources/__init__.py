"""Alert sources: one module per sender, registered in SOURCES by name."""

from __future__ import annotations

from integrations.sources.alertmanager import alertmanager
from integrations.sources.base import ParseResult, PayloadError, Source, SourceOptions
from integrations.sources.generic import generic
from integrations.sources.nginx import nginx
from integrations.sources.sentry import sentry
from integrations.sources.sentry_plugin import sentry_legacy

# The one registry of sources: adding a source is one module and one line here.
SOURCES: dict[str, Source] = {
    alertmanager.name: alertmanager,
    sentry.name: sentry,
    sentry_legacy.name: sentry_legacy,
    nginx.name: nginx,
    generic.name: generic,
}

__all__ = ["SOURCES", "ParseResult", "PayloadError", "Source", "SourceOptions"]
