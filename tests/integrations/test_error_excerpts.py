"""An error answer that echoes the credential it was sent (a proxy's debug page) shows
no part of it, even where the excerpt's cut falls inside the credential."""

from __future__ import annotations

import pytest

from integrations.logs import LOG_BACKENDS
from integrations.logs.base import FetchError
from tests.integrations.ci.support import Driver
from tests.integrations.logs.support import plan_and_fetch
from tests.support.loopback_http import RecordedRequest, Reply, start

TOKEN = "Zq7-echoed-credential-0123456789"
LOKI_CUT = 300
CI_CUT = 200


def echo_at(offset: int, filler: str = "x") -> Reply:
    """401 whose body holds the token, unlabelled, `offset` characters in (a two-byte
    filler puts the token's bytes past the shown characters' count)."""
    return Reply.text(filler * offset + TOKEN + " and more", 401)


@pytest.mark.parametrize("offset", [LOKI_CUT - 20, LOKI_CUT - 5, LOKI_CUT - 1])
def test_a_log_backend_error_shows_no_start_of_a_cut_credential(offset: int) -> None:
    with start(lambda _: echo_at(offset)) as server:
        conn = {"type": "loki", "url": server.base_url, "allow_private": True, "token": TOKEN}
        with pytest.raises(FetchError) as caught:
            plan_and_fetch(
                LOG_BACKENDS["loki"], {"connection": "loki", "selector": {"app": "api"}}, conn
            )
    shown = str(caught.value)
    assert "loki answered HTTP 401: xxx" in shown
    assert TOKEN[:5] not in shown


@pytest.mark.parametrize(
    ("offset", "filler"), [(CI_CUT - 20, "x"), (CI_CUT - 5, "x"), (CI_CUT - 1, "x"), (110, "é")]
)
def test_a_ci_refusal_shows_no_start_of_a_cut_credential(offset: int, filler: str) -> None:
    def github(request: RecordedRequest) -> Reply:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        return echo_at(offset, filler)

    with start(github) as server:
        driver = Driver(
            "github",
            {"type": "github", "url": server.base_url, "allow_private": True, "token": TOKEN},
            {"connection": "github", "repo": "acme/api", "workflow": "ci.yml", "ref": "main"},
        )
        sent = driver.dispatch("fb-1-repro")
    assert sent.run is None and not sent.ambiguous
    assert f"github answered HTTP 401: {filler * 3}" in sent.detail
    assert TOKEN[:5] not in sent.detail
