"""api_tokens entries (people and machines), roles on users, and credential URLs
(contacts, channels) treated as secrets in dumps, log scrubbing and error messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.config import ConfigError, Principal, check_config_file, parse_config

USERS = "users: [{name: alice}, {name: carol, role: viewer}, {name: root, role: admin}]\n"


def only_errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, {})
    return caught.value.error_lines()


def test_people_and_machines_get_their_names_and_roles() -> None:
    settings = parse_config(
        "api_tokens:\n"
        "  - plain-machine-token\n"
        "  - {token: alice-token, user: alice}\n"
        "  - {token: carol-token, user: carol}\n"
        "  - {token: root-token, user: root}\n"
        "  - {token: am-token, name: alertmanager}\n"
        "  - {token: dash-token, name: dashboard, role: viewer}\n"
        "  - 12345678\n" + USERS,
        {},
    )
    assert settings.api_principals() == [
        ("plain-machine-token", Principal("token:token-1", "responder")),
        ("alice-token", Principal("alice", "responder", "alice")),
        ("carol-token", Principal("carol", "viewer", "carol")),
        ("root-token", Principal("root", "admin", "root")),
        ("am-token", Principal("token:alertmanager", "responder")),
        ("dash-token", Principal("token:dashboard", "viewer")),
        ("12345678", Principal("token:token-7", "responder")),
    ]
    # Webhooks take every machine token and the tokens of people who may write.
    assert "carol-token" not in settings.intake_tokens()
    assert {"dash-token", "alice-token", "plain-machine-token"} <= set(settings.intake_tokens())


def test_bad_entries_are_refused_by_path_without_echoing_a_token() -> None:
    errors = only_errors(
        "api_tokens:\n"
        "  - {token: tok-secret-1, user: alice}\n"
        "  - {token: tok-secret-2, user: alice, name: both}\n"
        "  - {token: tok-secret-3, user: alice, role: admin}\n"
        "  - {token: tok-secret-6, usr: alice}\n"
        "  - {token: tok-secret-7, name: m, role: owner}\n" + USERS
    )
    text = "\n".join(errors)
    assert "api_tokens[1]: give `user` (a person's token) or `name` (a machine's), not both" in text
    assert "api_tokens[2]: a person's role is set on their entry under users:" in text
    assert "api_tokens[3].usr: unknown key" in text
    assert "api_tokens[4].role: must be 'viewer', 'responder' or 'admin'" in text
    assert len(errors) == 4 and "tok-secret" not in text


def test_entries_are_checked_against_users_and_each_other() -> None:
    errors = only_errors(
        "api_tokens:\n"
        "  - {token: tok-secret-1, user: zed}\n"
        "  - {token: tok-secret-1, name: again}\n"
        "  - {token: tok-secret-5, name: again}\n" + USERS
    )
    assert [e.split(" (line")[0] for e in errors] == [
        "api_tokens[0].user: unknown user 'zed' (known: alice, carol, root)",
        "api_tokens[1]: the same token as api_tokens[0]",
        "api_tokens[2]: machine token name 'again' is used twice",
    ]
    assert "tok-secret" not in "\n".join(errors)


def test_a_role_must_be_one_of_the_three() -> None:
    (error,) = only_errors("users: [{name: alice, role: owner}]\n")
    assert error.startswith("users[0].role: must be 'viewer', 'responder' or 'admin'")


def test_dumps_mask_tokens_and_credential_urls_but_keep_names() -> None:
    settings = parse_config(
        "api_tokens: [plain-tok-1, {token: alice-tok-1, user: alice}]\n"
        "users:\n"
        "  - {name: alice, contacts: ['mailto://al:MAIL-PW-1@mail.example.com',"
        " 'json://127.0.0.1:9/alice']}\n"
        "teams: [{name: ops, members: [alice],"
        " channels: ['slack://TA/BB/SLACK-HOOK-1', 'slack:#ops']}]\n"
        "route: {receiver: {channels: ['discord://4174/DISCORD-HOOK-1']}}\n",
        {},
    )
    dumped = settings.redacted_dump()
    text = json.dumps(dumped)
    for secret in ("plain-tok-1", "alice-tok-1", "MAIL-PW-1", "SLACK-HOOK-1", "DISCORD-HOOK-1"):
        assert secret not in text
    assert dumped["api_tokens"][0] == "***"
    assert dumped["api_tokens"][1] == {"token": "***", "user": "alice", "name": None, "role": None}
    # Contacts dump as mappings (url, type, secret, every_page), their URLs redacted.
    assert [c["url"] for c in dumped["users"][0]["contacts"]] == [
        "mailto://***@mail.example.com",
        "json://127.0.0.1:9/***",
    ]
    assert dumped["teams"][0]["channels"] == ["slack://***/***", "slack:#ops"]
    assert dumped["route"]["receiver"]["channels"] == ["discord://***/***"]
    # Log scrubbing gets each whole URL, and a password alone too.
    values = settings.secret_values()
    assert {"alice-tok-1", "plain-tok-1", "MAIL-PW-1", "slack://TA/BB/SLACK-HOOK-1"} <= set(values)
    assert "slack:#ops" not in values


def test_check_config_never_prints_a_contact_password(tmp_path: Path) -> None:
    config = tmp_path / "firebell.yaml"
    config.write_text(
        "users:\n"
        "  - {name: alice, contacts: ['mailto://al:MAIL-PW-2@mail.example.com/x y']}\n"
        "teams: [{name: ops, channels: ['slack://TA/BB/SLACK-HOOK-2 trailing']}]\n"
    )
    ok, report = check_config_file(config, {})
    assert not ok
    assert "users[0].contacts[0]: invalid contact 'mailto://***@mail.example.com/***'" in report
    assert "teams[0].channels[0]: invalid channel 'slack://***/***'" in report
    assert "MAIL-PW-2" not in report and "SLACK-HOOK-2" not in report
