"""parse_command: every command, every error (saying what is wrong and how to write it)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.commands import (
    SPECS,
    Ack,
    CommandError,
    Help,
    ListIncidents,
    ListSilences,
    Note,
    Oncall,
    Page,
    Resolve,
    RunPlaybook,
    ShowIncident,
    SilenceAlerts,
    Unsilence,
    button_command,
    command_from_options,
    help_text,
    parse_command,
    tokenize,
)
from routing.muting.matcher import MatchType


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("list", ListIncidents("open", None)),
        ("list all", ListIncidents("all", None)),
        ("list open api", ListIncidents("open", "api")),
        ("list api", ListIncidents("open", "api")),
        ("list resolved", ListIncidents("resolved", None)),
        ("LIST ALL web", ListIncidents("all", "web")),
        ("show 42", ShowIncident(42)),
        ("show #42", ShowIncident(42)),
        ("ack 42", Ack(42)),
        ("acknowledge 7", Ack(7)),
        ("/incident ack 42", Ack(42)),
        ("resolve 42", Resolve(42, None)),
        ("resolve 42 rolled back  the deploy", Resolve(42, "rolled back  the deploy")),
        ('note 42 said "hi"  twice', Note(42, 'said "hi"  twice')),
        ("oncall", Oncall(None)),
        ("oncall primary", Oncall("primary")),
        ("page alice the db is down", Page("alice", "the db is down")),
        ("page team:ops disk full", Page("team:ops", "disk full")),
        ("silences", ListSilences()),
        ("unsilence 3f2a-11", Unsilence("3f2a-11")),
        ("run 42 restart-api", RunPlaybook(42, "restart-api")),
        ("", Help(None)),
        ("help", Help(None)),
        ("help ack", Help("ack")),
        ("help acknowledge", Help("ack")),
    ],
)
def test_parses_every_command(text: str, expected: object) -> None:
    assert parse_command(text) == expected


def test_silence_with_matchers_duration_and_comment() -> None:
    command = parse_command('silence service=api,alertname=~"High .*" 2h deploy of v2')
    assert isinstance(command, SilenceAlerts)
    assert [(m.name, m.type, m.value) for m in command.matchers] == [
        ("service", MatchType.EQUAL, "api"),
        ("alertname", MatchType.REGEX, "High .*"),
    ]
    assert command.duration == timedelta(hours=2)
    assert command.comment == "deploy of v2"
    assert command.incident_id is None


def test_silence_accepts_braces_with_spaces_and_an_incident_id() -> None:
    command = parse_command('silence {service="api", env!="dev"} 30m')
    assert isinstance(command, SilenceAlerts)
    assert [str(m) for m in command.matchers] == ['service="api"', 'env!="dev"']
    assert parse_command("silence #42 1h") == SilenceAlerts((), timedelta(hours=1), "", 42)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ack", "ack needs an incident id: /incident ack 42"),
        ("show", "show needs an incident id: /incident show 42"),
        ("ack x", "ack: 'x' is not an incident id (a number like 42): /incident ack 42"),
        ("ack 0", "ack: '0' is not an incident id (a number like 42): /incident ack 42"),
        ("ack 42 43", "ack takes 1 argument, but got extra '43': /incident ack ID"),
        ("silences now", "silences takes no arguments, but got extra 'now': /incident silences"),
        ("resolve", "resolve needs an incident id: /incident resolve 42 rolled back"),
        ("note 42", "note needs some text: /incident note 42 rolled back the deploy"),
        ("note", "note needs an incident id: /incident note 42 rolled back the deploy"),
        (
            "run 42",
            "run needs a playbook name after the incident id: /incident run 42 api-5xx window=1h",
        ),
        (
            "page",
            "page needs a user or team and a message: /incident page alice the database is down",
        ),
        (
            "page alice",
            "page needs a message after 'alice' saying what is wrong: "
            "/incident page alice the database is down",
        ),
        (
            "unsilence",
            "unsilence needs a silence id (see /incident silences): /incident unsilence <id>",
        ),
        (
            "list all api web",
            "list takes 2 arguments, but got extra 'web': /incident list [open|all] [service]",
        ),
        (
            "list api web",
            "list takes a scope (open|all|triggered|acknowledged|resolved) and one service, "
            "got 'api web': /incident list all api",
        ),
    ],
)
def test_errors_say_what_is_wrong_and_how_to_write_it(text: str, message: str) -> None:
    assert parse_command(text) == CommandError(message)


HOW = 'silence service=api,alertname=~"High.*" 2h deploy'


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("silence", "silence needs matchers and a duration: "),
        ("silence service=api", "silence needs a duration like 2h after the matchers: "),
        (
            "silence 2h service=api",
            "silence: 'service=api' is not a duration (write 30m, 2h or 1d)",
        ),
        ("silence service=api soon", "silence: 'soon' is not a duration (write 30m, 2h or 1d)"),
        ("silence service=api 0s", "silence: the duration must be longer than 0s: "),
        ('silence service=~"(" 1h', "silence: invalid regex '('"),
        ("silence service 1h", "silence: matcher 'service': expected one of = != =~ !~"),
        ('silence service="" 1h', "silence: at least one matcher must need a non-empty label"),
        ("silence service=~.* 1h", "silence: at least one matcher must need a non-empty label"),
    ],
)
def test_silence_errors(text: str, start: str) -> None:
    result = parse_command(text)
    assert isinstance(result, CommandError)
    assert result.message.startswith(start), result.message
    assert result.message.endswith(f"/incident {HOW}")


def test_unknown_commands_suggest_the_closest() -> None:
    assert parse_command("ak 1") == CommandError(
        "unknown command 'ak': did you mean /incident ack? Commands: list, show, ack, resolve, "
        "note, oncall, page, silence, silences, unsilence, run, help. Try /incident help"
    )
    result = parse_command("frobnicate")
    assert isinstance(result, CommandError)
    assert "did you mean" not in result.message
    assert isinstance(parse_command("help frobnicate"), CommandError)


def test_the_prefix_is_the_surface_s_own() -> None:
    assert parse_command("ack", prefix="firebell incident") == CommandError(
        "ack needs an incident id: firebell incident ack 42"
    )
    assert "/oncall-bot list" in help_text(None, "/oncall-bot")


def test_tokenize_keeps_quotes_braces_and_the_rest_of_the_line() -> None:
    assert tokenize('a b="x y" {c="1", d="2"}  e') == ["a", 'b="x y"', '{c="1", d="2"}', "e"]
    assert tokenize("note 42  keep   spacing", maxsplit=2) == ["note", "42", "keep   spacing"]
    assert tokenize('a="x\\" y" z') == ['a="x\\" y"', "z"]
    assert tokenize("   ") == []


def test_options_build_the_same_commands_as_text() -> None:
    assert command_from_options("ack", {"id": 42}) == parse_command("ack 42")
    assert command_from_options("resolve", {"id": 42, "note": None}) == Resolve(42, None)
    assert command_from_options("list", {"scope": None, "service": "api"}) == ListIncidents(
        "open", "api"
    )
    options = {"matchers": 'alertname=~"High .*"', "duration": "2h", "comment": "deploy"}
    assert command_from_options("silence", options) == parse_command(
        'silence alertname=~"High .*" 2h deploy'
    )
    assert command_from_options("note", {"id": 1}) == CommandError(
        "note needs some text: /incident note 42 rolled back the deploy"
    )
    assert isinstance(command_from_options("nope", {}), CommandError)


def test_buttons_map_to_commands() -> None:
    assert button_command("ack", 5, "slack") == Ack(5)
    assert button_command("resolve", 5, "slack") == Resolve(5)
    assert button_command("silence1h", 5, "discord") == SilenceAlerts(
        (), timedelta(hours=1), "silenced from discord", 5
    )
    assert button_command("run", 5, "slack") == RunPlaybook(5, "")
    with pytest.raises(ValueError, match="action: not an incident button action"):
        button_command("explode", 5, "slack")


def test_help_lists_every_command() -> None:
    text = help_text()
    for spec in SPECS.values():
        assert f"/incident {spec.usage}" in text


@given(st.text(max_size=200))
def test_parse_never_raises(text: str) -> None:
    result = parse_command(text)
    assert result is not None
    if isinstance(result, CommandError):
        assert result.message


@given(
    st.text(
        alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=80
    )
)
def test_note_text_round_trips(text: str) -> None:
    result = parse_command(f"note 7 {text}")
    if text.strip():
        assert result == Note(7, text.strip())
    else:
        assert isinstance(result, CommandError)


@pytest.mark.parametrize(
    "command",
    [
        lambda: parse_command("note 7 disk\x00full"),
        lambda: parse_command("silence service=api 2h dep\ud800loy"),
        lambda: parse_command("page alice db\x00down"),
        lambda: command_from_options("page", {"target": "alice", "text": "db\x00down"}),
    ],
)
def test_text_no_database_stores_is_refused_by_name(command: object) -> None:
    # PostgreSQL refuses NUL in text: the person retypes, as the REST API makes them.
    result = command()  # type: ignore[operator]
    assert isinstance(result, CommandError)
    assert "NUL character or a lone surrogate" in result.message


def test_a_silence_longer_than_ten_years_points_to_a_recurring_one() -> None:
    result = parse_command("silence service=api 999999999d forever")
    assert isinstance(result, CommandError)
    assert result.message.startswith("silence: at most 3650d; for a standing mute use a weekly")
    assert isinstance(parse_command("silence service=api 3650d long"), SilenceAlerts)
