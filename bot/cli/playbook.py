"""`firebell playbook ...`: list and show playbooks, start or dry-run a run, read runs and
their outputs, cancel a run. The same service as the REST API and chat
(playbooks.service), so every surface refuses alike.

A run started here is rows in the database: a running `firebell serve` or `firebell
worker` executes it. With `--wait` this process executes due runs itself until the
run has finished, then prints it.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from bot.cli.settings import CONFIG_HELP

MAX_ROW_ID = 2**31 - 1  # ids are INTEGER on PostgreSQL (as bot.http.fields.MAX_ROW_ID)


def row_id(text: str) -> int:
    """`type=` for an incident or run id: a whole number from 1 to 2^31-1. A larger one
    cannot exist, and PostgreSQL refuses it as a parameter with an error."""
    if (
        not re.fullmatch(r"#?[0-9]{1,10}", text.strip())
        or not 1 <= int(text.strip(" #")) <= MAX_ROW_ID
    ):
        raise argparse.ArgumentTypeError(f"{text!r} is not an id (a number from 1 to {MAX_ROW_ID})")
    return int(text.strip(" #"))


def add_playbook_cli(subparsers: Any) -> None:
    playbook = subparsers.add_parser("playbook", help="list, run and follow playbooks")
    playbook.description = (
        "Playbooks attached to incidents: `firebell playbook list`, `show NAME`, "
        "`run INCIDENT NAME [--param k=v] [--dry-run]`, `runs`, `logs RUN [STEP]`, `cancel RUN`, "
        "`approve RUN`, `reject RUN`, `request-again RUN`."
    )
    sub = playbook.add_subparsers(dest="playbook_command", required=True, metavar="ACTION")

    def action(name: str, help_text: str, func: str, writes: bool = False) -> Any:
        parser = sub.add_parser(name, help=help_text)
        parser.description = help_text[0].upper() + help_text[1:] + "."
        parser.add_argument("--json", action="store_true", help="print the REST API's shape")
        parser.add_argument("--config", help=CONFIG_HELP)
        if writes:
            parser.add_argument(
                "--as",
                dest="as_user",
                help="the firebell user acting (recorded on the run; needs the responder "
                "role; default: the user named like your OS login)",
            )
        parser.set_defaults(func=_command(func))
        return parser

    action("list", "list the configured playbooks", "cmd_list")
    show = action("show", "show one playbook: its match, params and steps", "cmd_show")
    show.add_argument("name")
    run = action("run", "start a playbook on an incident (or --dry-run it)", "cmd_run", True)
    run.add_argument("incident", type=row_id)
    run.add_argument("name")
    run.add_argument(
        "--param", action="append", default=[], metavar="K=V", help="a param (repeatable)"
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="show every request it would send, send nothing (recorded on the timeline)",
    )
    run.add_argument(
        "--with-reads", action="store_true", help="with --dry-run: run the read steps for real"
    )
    run.add_argument(
        "--wait",
        action="store_true",
        help="execute the run in this process (as a worker would) and print its result",
    )
    runs = action("runs", "list playbook runs, newest first", "cmd_runs")
    runs.add_argument("--incident", type=row_id, help="only this incident's runs")
    logs = action("logs", "print a run's stored outputs (one step with STEP)", "cmd_logs")
    logs.add_argument("run", type=row_id)
    logs.add_argument("step", nargs="?")
    cancel = action("cancel", "cancel a run: no further step starts", "cmd_cancel", True)
    cancel.add_argument("run", type=row_id)
    for verb in ("approve", "reject"):
        decide = action(verb, f"{verb} the step of a run awaiting approval", f"cmd_{verb}", True)
        decide.add_argument("run", type=row_id)
        decide.add_argument("--step", help="the step (default: the one awaiting approval)")
        decide.add_argument("--comment", default="", help="why (on the timeline)")
    again = action(
        "request-again",
        "start a run whose approval expired again (same playbook, incident, params)",
        "cmd_request_again",
        True,
    )
    again.add_argument("run", type=row_id)


def _command(name: str) -> Any:
    """The action's function, imported when it runs: `firebell --help` and the other
    commands do not load the playbook engine."""

    def run(args: argparse.Namespace) -> int:
        from bot.cli import playbook_commands

        result: int = getattr(playbook_commands, name)(args)
        return result

    return run
