"""Nginx error.log times are the nginx host's local time: read in `sources.nginx.time_zone`
(default UTC), with deterministic answers at DST edges, and the zone checked at load."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import ConfigError, parse_config
from integrations.sources import SourceOptions
from integrations.sources.nginx_line import parse_error_line
from tests.integrations.sources.nginx_support import parse

BERLIN = ZoneInfo("Europe/Berlin")
LINE = "{stamp} [error] 7#7: *3 upstream timed out (110: Connection timed out), client: 10.0.0.1"


def time_of(stamp: str, zone: ZoneInfo | None) -> datetime | None:
    parsed = parse_error_line(LINE.format(stamp=stamp), zone)
    assert parsed is not None
    return parsed.time


def test_local_times_are_read_in_the_configured_zone() -> None:
    body = LINE.format(stamp="2026/07/15 14:30:05").encode()
    kolkata = parse(body, SourceOptions(time_zone=ZoneInfo("Asia/Kolkata"))).alerts[0]
    assert kolkata.starts_at == datetime(2026, 7, 15, 9, 0, 5, tzinfo=UTC)
    new_york = parse(body, SourceOptions(time_zone=ZoneInfo("America/New_York"))).alerts[0]
    assert new_york.starts_at == datetime(2026, 7, 15, 18, 30, 5, tzinfo=UTC)  # EDT, -4
    assert parse(body).alerts[0].starts_at == datetime(2026, 7, 15, 14, 30, 5, tzinfo=UTC)


def test_winter_and_summer_offsets_follow_the_date() -> None:
    assert time_of("2026/01/15 12:00:00", BERLIN) == datetime(2026, 1, 15, 11, tzinfo=UTC)
    assert time_of("2026/07/15 12:00:00", BERLIN) == datetime(2026, 7, 15, 10, tzinfo=UTC)


def test_a_time_the_autumn_change_repeats_is_its_first_occurrence() -> None:
    # 2026-10-25: Berlin's clocks go from 03:00 CEST back to 02:00 CET.
    assert time_of("2026/10/25 02:30:00", BERLIN) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_a_time_the_spring_change_skips_is_the_end_of_the_gap() -> None:
    # 2026-03-29: Berlin's clocks go from 02:00 CET to 03:00 CEST; 02:xx never happens.
    gap_end = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert time_of("2026/03/29 02:00:00", BERLIN) == gap_end
    assert time_of("2026/03/29 02:59:59", BERLIN) == gap_end
    assert time_of("2026/03/29 03:00:00", BERLIN) == gap_end
    assert time_of("2026/03/29 01:59:59", BERLIN) == gap_end - timedelta(seconds=1)


def test_times_out_of_range_in_a_zone_are_no_time_not_an_error() -> None:
    assert time_of("9999/12/31 23:59:59", ZoneInfo("America/New_York")) is None
    assert time_of("0001/01/01 00:00:00", ZoneInfo("Asia/Tokyo")) is None


def stamp(wall: datetime) -> str:
    """As nginx writes it (`%Y` alone does not pad years below 1000)."""
    return f"{wall.year:04d}/{wall:%m/%d %H:%M:%S}"


ZONES = st.sampled_from(
    [
        ZoneInfo(name)
        for name in (
            "UTC",
            "Europe/Berlin",
            "America/New_York",
            "Asia/Kolkata",
            "Australia/Lord_Howe",
            "America/St_Johns",
        )
    ]
)


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)), ZONES)
def test_every_local_time_maps_to_one_utc_time_that_reads_back(
    wall: datetime, zone: ZoneInfo
) -> None:
    wall = wall.replace(microsecond=0)
    utc = time_of(stamp(wall), zone)
    assert utc is not None and utc.tzinfo is UTC
    local = utc.astimezone(zone).replace(tzinfo=None)
    # Read back exactly, except in a spring-forward gap (then: the gap's end, later).
    assert local == wall or (local > wall and local - wall <= timedelta(hours=1))


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1)), ZONES)
def test_later_local_times_never_map_to_earlier_utc_times(wall: datetime, zone: ZoneInfo) -> None:
    wall = wall.replace(microsecond=0)
    stamps = [wall + timedelta(minutes=m) for m in range(0, 181, 7)]
    times = [time_of(stamp(s), zone) for s in stamps]
    assert all(t is not None for t in times)
    assert times == sorted(times)  # type: ignore[type-var]


def test_an_unknown_zone_is_refused_at_load_naming_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("sources:\n  nginx:\n    time_zone: Europe/Atlantis\n", {})
    assert caught.value.errors == [
        (
            "sources.nginx.time_zone",
            "unknown time zone 'Europe/Atlantis' (expected an IANA name like 'Europe/Madrid')",
        )
    ]
    settings = parse_config("sources:\n  nginx:\n    time_zone: Asia/Kolkata\n", {})
    assert settings.sources.nginx.time_zone == ZoneInfo("Asia/Kolkata")
    assert parse_config("", {}).sources.nginx.time_zone == ZoneInfo("UTC")


def test_the_threshold_count_is_bounded_so_its_window_is() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("sources:\n  nginx:\n    threshold: {count: 5000, window: 1m}\n", {})
    assert [path for path, _ in caught.value.errors] == ["sources.nginx.threshold.count"]


@given(st.from_regex(r"\A\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}\Z"), ZONES)
def test_any_digits_in_any_zone_give_a_utc_time_or_none(stamp: str, zone: ZoneInfo) -> None:
    utc = time_of(stamp, zone)  # month 13, hour 25, year 0000: no time, never an error
    assert utc is None or utc.tzinfo is UTC
