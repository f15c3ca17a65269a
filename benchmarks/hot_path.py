"""The storm's hot path in one process, without HTTP (not a test): CPU per alert to parse
an Alertmanager post, and to store a batch of them (dedup decisions and writes, as the
intake's writer does), so a change to either can be measured and profiled alone.

    .venv/bin/python benchmarks/hot_path.py                  # B=100, batches of 4 posts, SQLite
    .venv/bin/python benchmarks/hot_path.py --profile        # the same under cProfile
    .venv/bin/python benchmarks/hot_path.py --database-url postgresql://postgres@127.0.0.1:5432/bench

The store figure is for repeats (the first pass, which creates the alerts and
incidents, is not timed); each figure is the best of --repeat passes.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sqlalchemy import text
from storm import make_bodies

from bot.config import default_settings
from bot.runtime.state import ingest_policy, utc_now
from integrations.sources import SOURCES
from integrations.sources.base import SourceOptions
from routing.intake.episode_cache import EpisodeCache
from routing.intake.ingest import ingest
from routing.intake.submission import Submission
from routing.storage.database import is_sqlite, make_engine
from routing.storage.migrate import upgrade


def best_of(repeat: int, run: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-N", type=int, default=600, help="posts")
    parser.add_argument("-K", type=int, default=1000, help="distinct fingerprints")
    parser.add_argument("-G", type=int, default=100, help="groups")
    parser.add_argument("-B", type=int, default=100, help="alerts per post")
    parser.add_argument("--posts-per-batch", type=int, default=4, help="posts per transaction")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", help="an existing database (its tables are reset)")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top 25")
    parser.add_argument("--no-cache", action="store_true", help="read every episode back")
    args = parser.parse_args()

    source = SOURCES["alertmanager"]
    options = SourceOptions(services={})
    headers = {"content-type": "application/json"}
    bodies = make_bodies(args.N, args.K, args.G, args.B)

    def parse_all() -> list[Submission]:
        return [
            Submission("alertmanager", source.parse(body, headers, options).alerts, body)
            for body in bodies
        ]

    alerts = args.N * args.B
    parse_s = best_of(args.repeat, parse_all)
    submissions = parse_all()

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/hot.db"
        engine = make_engine(url)
        if not is_sqlite(url):
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade(url)
        policy = ingest_policy(default_settings())
        step = args.posts_per_batch

        # As the intake's writer does: one connection, its episode cache on SQLite.
        cache = EpisodeCache() if is_sqlite(url) and not args.no_cache else None

        def store_all() -> None:
            with engine.connect() as conn:
                for i in range(0, len(submissions), step):
                    with conn.begin():
                        if cache is not None:
                            cache.begin(conn)
                        ingest(conn, submissions[i : i + step], utc_now(), policy, cache)
                    if cache is not None:
                        cache.committed()

        store_all()  # creates the alerts and incidents: not timed
        profile = cProfile.Profile() if args.profile else None
        if profile:
            profile.enable()
        store_s = best_of(args.repeat, store_all)
        if profile:
            profile.disable()
        engine.dispose()

    print(f"hot path: N={args.N} K={args.K} G={args.G} B={args.B}, {step} posts per transaction")
    print(f"parse: {parse_s / alerts * 1e6:.1f} µs per alert")
    print(f"store (repeats): {store_s / alerts * 1e6:.1f} µs per alert")
    if profile:
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
