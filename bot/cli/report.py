"""`firebell report` (MTTA/MTTR, incidents per day, noisiest alerts) and `firebell incident
postmortem ID`: the same figures and document as GET /api/v1/reports and
/api/v1/incidents/{id}/postmortem (bot.http.reports_api computes both)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from bot.cli.output import print_json
from bot.cli.settings import CONFIG_HELP, UsageError, instant_arg, load_settings
from routing.response.postmortem_markdown import human_duration
from routing.response.reports import MAX_DAYS


def add_report_cli(subparsers: Any) -> None:
    report = subparsers.add_parser(
        "report", help="MTTA/MTTR, incidents per day and the noisiest alerts over a period"
    )
    report.description = (
        "Response figures over the incidents opened in a period (default: the last 7 days): "
        "MTTA and MTTR (median, p90) per service and severity, incidents per UTC day, the "
        "noisiest and most flapping alerts. MTTA leaves out incidents nobody acknowledged; "
        "MTTR leaves out open ones."
    )
    report.add_argument("--days", type=int, help=f"the last N days (1..{MAX_DAYS})")
    report.add_argument("--from", dest="start", type=instant_arg, help="start (ISO 8601)")
    report.add_argument("--to", dest="end", type=instant_arg, help="end, exclusive (ISO 8601)")
    report.add_argument("--top", type=int, default=10, help="noisiest alerts to list (1..50)")
    report.add_argument(
        "--json", action="store_true", help="print GET /api/v1/reports's answer (for scripts)"
    )
    report.add_argument("--config", help=CONFIG_HELP)
    report.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from bot.http.reports_api import load_report
    from bot.roles import command_runtime
    from routing.response.reports import PeriodError

    if not 1 <= args.top <= 50:
        raise UsageError("--top: must be between 1 and 50")
    rt = command_runtime(load_settings(args.config))
    try:
        report = load_report(rt, days=args.days, start=args.start, end=args.end, top=args.top)
    except PeriodError as exc:
        raise UsageError(f"--{exc.field}: {exc.message}") from None
    finally:
        rt.engine.dispose()
    if args.json:
        print_json(report)
        return 0
    console = Console()
    if console.is_terminal:
        for table in report_tables(report):
            console.print(table)
    else:
        print("\n".join(report_lines(report)))
    return 0


def _figure(summary: dict[str, Any]) -> str:
    if not summary["count"]:
        return "-"
    median, p90 = human_duration(summary["median_s"]), human_duration(summary["p90_s"])
    return f"{median} / {p90} (n={summary['count']})"


def _heading(report: dict[str, Any]) -> str:
    period, totals = report["period"], report["totals"]
    return (
        f"Incidents opened {period['from'][:16]} .. {period['to'][:16]} UTC: "
        f"{totals['opened']} ({totals['acknowledged']} acknowledged, {totals['resolved']} "
        f"resolved, {totals['open']} open, {totals['resolved_without_ack']} resolved without "
        f"ack); MTTA {_figure(report['overall']['mtta'])}, MTTR "
        f"{_figure(report['overall']['mttr'])} (median / p90)"
    )


def report_lines(report: dict[str, Any]) -> list[str]:
    """The report as plain lines (a pipe, a log)."""
    lines = [_heading(report)]
    if report["incomplete"]:
        lines.append("(incomplete: more incidents than one report reads)")
    for key in ("service", "severity"):
        lines.append(f"By {key} (MTTA, MTTR: median / p90):")
        for group in report[f"by_{key}"]:
            lines.append(
                f"  {group[key]}: {group['incidents']} incidents, {group['open']} open; "
                f"MTTA {_figure(group['mtta'])}; MTTR {_figure(group['mttr'])}"
            )
    lines.append("Incidents per day (UTC):")
    lines += [f"  {d['day']}: {d['incidents']}" for d in report["per_day"]]
    lines.append("Noisiest alerts (occurrences):")
    lines += [
        f"  {a['occurrences']} x {a['title']} ({a['service']}, {a['source']})"
        for a in report["noisiest"]["by_occurrences"]
    ]
    lines.append("Most flapping alerts (flaps):")
    lines += [
        f"  {a['flaps']} x {a['title']} ({a['service']}, flagged {a['flagged_flapping']}x)"
        for a in report["noisiest"]["by_flaps"]
    ] or ["  none"]
    return lines


def report_tables(report: dict[str, Any]) -> list[Table]:
    """The report as rich tables (a terminal)."""
    tables = []
    for key in ("service", "severity"):
        table = Table(title=f"By {key}" if key == "severity" else _heading(report))
        for name in (key, "incidents", "open", "no ack", "MTTA median / p90", "MTTR median / p90"):
            table.add_column(name, overflow="fold")
        for g in report[f"by_{key}"]:
            table.add_row(
                g[key],
                str(g["incidents"]),
                str(g["open"]),
                str(g["resolved_without_ack"]),
                _figure(g["mtta"]),
                _figure(g["mttr"]),
            )
        tables.append(table)
    days = Table(title="Incidents per day (UTC)")
    days.add_column("day")
    days.add_column("incidents", justify="right")
    days.add_column("")
    peak = max((d["incidents"] for d in report["per_day"]), default=0) or 1
    for d in report["per_day"]:
        days.add_row(d["day"], str(d["incidents"]), "#" * round(30 * d["incidents"] / peak))
    tables.append(days)
    noisy = Table(title="Noisiest alerts")
    for name in ("occurrences", "flaps", "alert", "service", "source"):
        noisy.add_column(name, overflow="fold")
    for a in report["noisiest"]["by_occurrences"]:
        noisy.add_row(str(a["occurrences"]), str(a["flaps"]), a["title"], a["service"], a["source"])
    tables.append(noisy)
    flapping = Table(title="Most flapping alerts")
    for name in ("flaps", "flagged", "alert", "service"):
        flapping.add_column(name, overflow="fold")
    for a in report["noisiest"]["by_flaps"]:
        flapping.add_row(str(a["flaps"]), str(a["flagged_flapping"]), a["title"], a["service"])
    tables.append(flapping)
    return tables


def cmd_postmortem(words: list[str], config: str | None, as_json: bool) -> int:
    """`firebell incident postmortem ID [--format md|json] [-o FILE]` (the words after
    `incident`, its own --config and --json already taken out)."""
    from bot.http.reports_api import load_postmortem, postmortem_filename
    from bot.roles import command_runtime
    from routing.response.incidents import IncidentNotFound
    from routing.response.postmortem import render_markdown

    parser = argparse.ArgumentParser(
        prog="firebell incident postmortem", description="A postmortem draft of an incident."
    )
    parser.add_argument("incident_id", type=_incident_id, help="the incident number")
    parser.add_argument("--format", choices=("md", "json"), default=None, help="default md")
    parser.add_argument(
        "-o", "--output", help="write to FILE ('-' or none: standard output)", default="-"
    )
    args = parser.parse_args(words)
    fmt = args.format or ("json" if as_json else "md")
    rt = command_runtime(load_settings(config))
    try:
        doc = load_postmortem(rt, args.incident_id)
    except IncidentNotFound as exc:
        print(f"firebell: {exc}", file=sys.stderr)
        return 1
    finally:
        rt.engine.dispose()
    text = (
        orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n"
        if fmt == "json"
        else render_markdown(doc)
    )
    if args.output == "-":
        sys.stdout.write(text)
        return 0
    target = Path(args.output)
    if target.is_dir():
        target = target / postmortem_filename(args.incident_id, fmt)
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"-o {args.output}: {(exc.strerror or str(exc)).lower()}") from None
    print(f"wrote {target}", file=sys.stderr)
    return 0


def _incident_id(text: str) -> int:
    if (
        not (text.isascii() and text.isdigit() and len(text) < 12)
        or not 1 <= int(text) <= 2**31 - 1
    ):
        raise argparse.ArgumentTypeError(f"invalid incident number {text!r}")
    return int(text)
