"""Users, teams and channel targets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from routing.oncall.people import Team, User, channel_kind


@pytest.mark.parametrize(
    ("target", "kind"),
    [
        ("slack:#backend-alerts", "slack"),
        ("slack:C0123ABCD", "slack"),
        ("discord:987654321098765432", "discord"),
        ("mailto://ops@example.com", "apprise"),
        ("ntfy://ntfy.example.com/ops", "apprise"),
        ("json://127.0.0.1:9999/hook", "apprise"),
    ],
)
def test_valid_channels(target: str, kind: str) -> None:
    assert Team(name="t", channels=[target]).channels == [target]
    assert channel_kind(target) == kind


@pytest.mark.parametrize(
    ("target", "error"),
    [
        ("slack:backend", "invalid Slack target"),
        ("slack:#Has Space", "invalid Slack target"),
        ("discord:#general", "invalid Discord target"),
        ("#backend", "invalid channel"),
        ("ops@example.com", "invalid channel"),
    ],
)
def test_invalid_channels(target: str, error: str) -> None:
    with pytest.raises(ValidationError, match=error) as info:
        Team(name="t", channels=[target])
    assert info.value.errors()[0]["loc"] == ("channels", 0)


def test_user_fields() -> None:
    user = User.model_validate(
        {
            "name": "alice",
            "time_zone": "Europe/Madrid",
            "slack_id": "U01ALICE",
            "discord_id": 1001,
            "contacts": [],
        }
    )
    assert user.time_zone.key == "Europe/Madrid"
    assert user.discord_id == "1001"  # an unquoted YAML number is kept as text
    assert User(name="bob").time_zone.key == "UTC"


@pytest.mark.parametrize(
    ("fields", "loc"),
    [
        ({"name": "a", "time_zone": "Europe/Madird"}, ("time_zone",)),
        ({"name": "a", "time_zone": "CEST+2"}, ("time_zone",)),
        ({"name": "a", "contacts": ["not a url"]}, ("contacts", 0)),
        ({"name": "a", "slack_id": "alice"}, ("slack_id",)),
        ({"name": "a", "discord_id": "abc"}, ("discord_id",)),
        ({"name": "a b"}, ("name",)),
        ({"name": "a", "phone": "1"}, ("phone",)),
    ],
)
def test_user_errors_name_the_field(fields: dict, loc: tuple) -> None:
    with pytest.raises(ValidationError) as info:
        User.model_validate(fields)
    assert info.value.errors()[0]["loc"] == loc


def test_email_is_refused_naming_what_pages_by_email() -> None:
    # It was accepted and never read: a contact URL is what reaches an inbox.
    with pytest.raises(ValidationError, match=r"email: .*mailto://"):
        User.model_validate({"name": "a", "email": "a@example.com"})
