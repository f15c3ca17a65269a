"""Deadlines on PostgreSQL, through a TCP proxy that can black-hole the connection: a
statement, a commit, a raw driver cursor, a pool ping and a connect each give up in
bounded time as "database unavailable", and the same engine works again once the
network heals. Also: the server-side statement timeout, the pool timeout, and the
keepalive parameters libpq is given."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, text

from routing.storage.database import is_unavailable, make_engine
from routing.storage.postgres_deadlines import PostgresTimeouts
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres

FAST = PostgresTimeouts(connect=2, statement=1.0, pool=0.5)  # round trips cut after 1.5 s


@pytest.fixture
def proxy(pg_database_url: str) -> Iterator[TcpProxy]:
    with TcpProxy(("127.0.0.1", 5432)) as proxy:
        yield proxy


@pytest.fixture
def engine(pg_database_url: str, proxy: TcpProxy) -> Iterator[Engine]:
    database = pg_database_url.rpartition("/")[2]
    engine = make_engine(
        f"postgresql://postgres@127.0.0.1:{proxy.port}/{database}", pool_size=1, timeouts=FAST
    )
    yield engine
    engine.dispose()


def refused_within(seconds: float, action: Callable[[], object]) -> Exception:
    """Run `action`, which must fail as "database unavailable" within `seconds`."""
    started = time.monotonic()
    with pytest.raises(Exception) as caught:
        action()
    elapsed = time.monotonic() - started
    assert is_unavailable(caught.value), repr(caught.value)
    assert elapsed < seconds, f"gave up after {elapsed:.2f}s"
    return caught.value


def select_one(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT 1")).scalar_one())


def test_a_statement_on_a_silent_connection_is_cut_and_the_engine_recovers(
    engine: Engine, proxy: TcpProxy
) -> None:
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
        proxy.black_hole()
        error = refused_within(3, lambda: conn.execute(text("SELECT 2")))
        assert "no answer from PostgreSQL within 1.5s" in str(error)
        assert conn.invalidated
    proxy.heal()
    assert select_one(engine) == 1  # a new connection: no restart needed


def test_commit_and_raw_driver_cursors_are_cut_too(engine: Engine, proxy: TcpProxy) -> None:
    # The intake writer's bulk statements use the driver's cursor directly.
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        proxy.black_hole()
        refused_within(3, lambda: raw.cursor().executemany("SELECT %s", [(1,), (2,)]))
    proxy.heal()
    conn = engine.connect()
    conn.execute(text("CREATE TEMPORARY TABLE t (x int)"))
    proxy.black_hole()
    refused_within(3, conn.commit)
    conn.close()
    proxy.heal()
    assert select_one(engine) == 1


def test_pool_ping_and_connect_give_up_in_bounded_time(engine: Engine, proxy: TcpProxy) -> None:
    assert select_one(engine) == 1  # one pooled, idle connection
    proxy.black_hole()
    # The checkout's ping is cut (1.5 s), then the new connection times out (2 s).
    refused_within(4.5, lambda: select_one(engine))
    refused_within(3, lambda: select_one(engine))  # nothing pooled: connect times out
    proxy.heal()
    assert select_one(engine) == 1


def test_a_reset_connection_is_refused_at_once(engine: Engine, proxy: TcpProxy) -> None:
    assert select_one(engine) == 1
    proxy.reset()  # a blip: the pool's ping notices and connects afresh
    assert select_one(engine) == 1
    assert proxy.accepted == 2
    proxy.go_down()
    refused_within(1, lambda: select_one(engine))
    proxy.heal()
    assert select_one(engine) == 1


def test_the_server_cancels_a_statement_after_statement_timeout(pg_database_url: str) -> None:
    engine = make_engine(pg_database_url, timeouts=FAST)
    try:
        with engine.connect() as conn:
            error = refused_within(1.4, lambda: conn.execute(text("SELECT pg_sleep(3)")))
            assert "statement timeout" in str(error)
            assert not conn.invalidated  # the server answered: the connection stays usable
            conn.rollback()
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "1s"
    finally:
        engine.dispose()


def test_a_checkout_waits_for_a_free_connection_at_most_pool_timeout(pg_database_url: str) -> None:
    engine = make_engine(pg_database_url, pool_size=1, timeouts=FAST)  # 1 + 1 overflow
    try:
        with engine.connect(), engine.connect():
            refused_within(1.5, engine.connect)
    finally:
        engine.dispose()


def test_libpq_gets_keepalives_and_the_url_overrides_them(pg_database_url: str) -> None:
    def libpq_parameters(url: str) -> dict[str, str]:
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                raw = conn.connection.driver_connection
                assert raw is not None
                return dict(raw.info.get_parameters())
        finally:
            engine.dispose()

    defaults = libpq_parameters(pg_database_url)
    assert defaults["keepalives_idle"] == "10"
    assert defaults["keepalives_count"] == "3"
    assert defaults["tcp_user_timeout"] == "10000"
    assert defaults["connect_timeout"] == "2"
    given = libpq_parameters(pg_database_url + "?keepalives_idle=30&connect_timeout=4")
    assert given["keepalives_idle"] == "30"
    assert given["connect_timeout"] == "4"


def test_migrations_have_no_statement_deadline(pg_database_url: str) -> None:
    engine = make_engine(pg_database_url, timeouts=PostgresTimeouts(statement=None))
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "0"
    finally:
        engine.dispose()
