"""Every parser the web page added, fuzzed (hypothesis): whatever text arrives, each one
answers a value or its documented refusal, and the refusal names the field at fault."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hypothesis import example, given
from hypothesis import strategies as st
from starlette.datastructures import FormData

from bot.http.silences_api import SilenceIn
from bot.web.incident_actions import silence_length, text_field
from bot.web.incident_list import _ids_param, _parse_ids
from bot.web.incident_page import BadInput, row_id, timeline_args
from bot.web.oncall_page import InvalidQuery
from bot.web.oncall_page import parse_query as oncall_query
from bot.web.reports_page import parse_query as report_query
from bot.web.silences_form import SilenceForm, custom_end, silence_request
from routing.response.incident_overview import InvalidFilter, OverviewFilter, parse_filter
from routing.response.reports import PeriodError, choose_period

NOW = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
ZONES = st.sampled_from([ZoneInfo("UTC"), ZoneInfo("Europe/Berlin"), ZoneInfo("Pacific/Kiritimati"),
                         ZoneInfo("America/St_Johns")])  # fmt: skip
ODD = [
    "",
    " ",
    "\x00",
    "1\x00",
    "\ud800",
    "²",
    "١٢",
    "\uff11",  # fullwidth 1
    "9" * 5000,
    "9223372036854775808",
    "-1",
    "0",
    "1.5",
    "1e3",
    "NaN",
    "inf",
    "0001-01-01",
    "9999-12-31",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00+14:00",
    "2026-03-29T02:30",
    "2026-13-45",
    "now",
]
# Text that looks like what the fields hold, and anything at all.
TEXT = st.one_of(
    st.sampled_from(ODD),
    st.text(max_size=40),
    st.from_regex(r"[+-]?[0-9]{1,25}", fullmatch=True),
    st.datetimes(timezones=st.none() | st.timezones()).map(lambda d: d.isoformat()),
    st.dates().map(lambda d: d.isoformat()),
)
MAYBE = st.none() | TEXT


@given(MAYBE, MAYBE, MAYBE, MAYBE, MAYBE)
@example(None, None, None, None, "²")
@example(None, "\x00", None, None, None)
def test_list_filter(
    status: str | None, service: str | None, severity: str | None, mine: str | None,
    limit: str | None,
) -> None:  # fmt: skip
    try:
        flt = parse_filter(status, service, severity, mine, limit)
    except InvalidFilter as exc:
        assert exc.field in ("status", "service", "severity", "mine", "limit")
        assert str(exc).startswith(f"{exc.field}: ")
        return
    assert isinstance(flt, OverviewFilter)
    assert 1 <= flt.limit <= 1000
    assert flt.service is None or "\x00" not in flt.service


@given(st.lists(TEXT, max_size=5))
@example(["²"])
@example(["9" * 5000])
def test_bulk_ids(values: list[str]) -> None:
    try:
        ids = _parse_ids(values)
    except InvalidFilter as exc:
        assert exc.field == "ids"
        return
    assert ids and all(1 <= i < 2**31 for i in ids)


@given(st.none() | st.lists(TEXT, max_size=4).map(",".join))
@example("²,3")
def test_outcome_ids_in_the_redirect(value: str | None) -> None:
    assert all(isinstance(i, int) for i in _ids_param(value))


@given(
    st.dictionaries(
        st.sampled_from(["matchers", "label", "op", "value", "duration", "ends_at", "comment"]),
        TEXT,
    ),
    ZONES,
)
@example({"label": "service", "value": "db", "duration": "custom", "ends_at": "9999-12-31T23:59"},
         ZoneInfo("America/St_Johns"))  # fmt: skip
@example({"matchers": "a=\x00", "duration": "1h"}, ZoneInfo("UTC"))
@example({"label": "\ud800", "value": "x"}, ZoneInfo("UTC"))
def test_silence_form(data: dict[str, str], zone: ZoneInfo) -> None:
    form = SilenceForm.read(data)
    answer = silence_request(form, zone)
    if isinstance(answer, tuple):
        field, why = answer
        assert field in ("matchers", "label", "op", "value", "duration", "ends_at", "comment")
        assert why
    else:
        assert isinstance(answer, SilenceIn)


@given(TEXT, ZONES)
def test_custom_silence_end(text: str, zone: ZoneInfo) -> None:
    answer = custom_end(text, zone)
    assert isinstance(answer, datetime) or answer[0] == "ends_at"


@given(MAYBE, MAYBE, ZONES)
@example("0001-01-01T00:00", None, ZoneInfo("Pacific/Kiritimati"))
@example(None, "²", ZoneInfo("UTC"))
def test_oncall_query(at: str | None, handoffs: str | None, zone: ZoneInfo) -> None:
    try:
        query = oncall_query(at, handoffs, zone)
    except InvalidQuery as exc:
        assert exc.field in ("at", "handoffs")
        assert str(exc).startswith(f"{exc.field}: ")
        return
    assert 0 <= query.handoffs <= 20
    assert query.at is None or query.at.tzinfo is not None


@given(MAYBE, MAYBE, MAYBE)
@example(None, None, "0001-01-01")
@example(None, "9999-12-31", None)
@example("²", None, None)
def test_report_period(days: str | None, start: str | None, end: str | None) -> None:
    """The page's form and then the period it asks for (what load_report does)."""
    try:
        query = report_query(days, start, end)
        period = choose_period(NOW, days=query.days, start=query.start, end=query.end)
    except PeriodError as exc:
        assert exc.field in ("days", "from", "to")
        assert exc.message
        return
    assert period.start < period.end
    assert period.start.tzinfo is not None and period.end.tzinfo is not None


@given(
    st.one_of(st.none(), st.integers(min_value=-(2**70), max_value=2**70)),
    st.one_of(st.none(), st.datetimes(timezones=st.none() | st.timezones())),
    st.one_of(st.none(), st.datetimes(timezones=st.none() | st.timezones())),
)
@example(None, None, datetime(1, 1, 1, tzinfo=UTC))
def test_choose_period_only_refuses_with_a_field(
    days: int | None, start: datetime | None, end: datetime | None
) -> None:
    """The API and CLI hand typed values straight to choose_period."""
    try:
        choose_period(NOW, days=days, start=start, end=end)
    except PeriodError as exc:
        assert exc.field in ("days", "from", "to")


@given(st.dictionaries(st.sampled_from(["before", "since", "extend", "other"]), TEXT))
@example({"before": "²"})
@example({"since": "9" * 5000})
def test_timeline_cursors(query: dict[str, str]) -> None:
    try:
        args = timeline_args(query)
    except BadInput as exc:
        assert exc.field in ("before", "since", "extend")
        return
    assert sum(v is not None for v in args.values()) <= 1
    assert all(v is None or v >= 1 for v in args.values())


@given(TEXT)
def test_row_id(text: str) -> None:
    try:
        value = row_id(text, "run_id")
    except BadInput as exc:
        assert exc.field == "run_id"
        return
    assert value is None or value >= 1


@given(st.dictionaries(st.sampled_from(["duration", "custom", "comment", "note"]), TEXT))
@example({"duration": "custom", "custom": "9999999999999d"})
@example({"duration": "custom", "custom": "\x00"})
def test_incident_silence_form(data: dict[str, str]) -> None:
    form = FormData(list(data.items()))
    try:
        length = silence_length(form)
        text_field(form, "comment", 1000)
    except BadInput as exc:
        assert exc.field in ("duration", "custom", "comment")
        return
    assert length.total_seconds() > 0


def test_silence_form_refusals_name_the_field_typed_in() -> None:
    zone = ZoneInfo("UTC")
    for data, field in [
        ({"label": "serv\x00ice", "value": "db"}, "label"),
        ({"label": "service", "value": "d\x00b"}, "value"),
        ({"value": "db"}, "label"),
        ({"matchers": "a=\x00"}, "matchers"),
        ({"matchers": "a=b", "duration": "custom", "ends_at": "9999-12-31T23:59"}, "ends_at"),
        ({"matchers": "a=b", "duration": "2h"}, "duration"),
    ]:
        answer = silence_request(SilenceForm.read(data), zone)
        assert isinstance(answer, tuple) and answer[0] == field, (data, answer)
