"""A basic-auth credential travels base64-encoded: an answer or a log that echoes the
header's value alone must be redacted as well as the password itself."""

from __future__ import annotations

import base64

from bot.config import parse_config
from playbooks.outputs import Redactor


def test_the_encoded_basic_credential_is_a_known_secret() -> None:
    text = (
        "connections:\n"
        "  jk: {type: jenkins, url: 'https://j.example', user: firebell, api_token: '${JK}'}\n"
        "  loki: {type: loki, url: 'https://l.example', username: u, password: '${LP}'}\n"
        "  es: {type: elasticsearch, url: 'https://e.example', username: e, password: '${EP}'}\n"
    )
    settings = parse_config(text, {"JK": "jk-token-4", "LP": "loki-pw-5", "EP": "es-pw-6"})
    redactor = Redactor(settings.secret_values())
    for pair in ("firebell:jk-token-4", "u:loki-pw-5", "e:es-pw-6"):
        encoded = base64.b64encode(pair.encode()).decode()
        assert encoded in settings.secret_values()
        shown = redactor.text(f"debug: sent Basic {encoded} upstream")
        assert encoded not in shown and shown == "debug: sent *** upstream"
