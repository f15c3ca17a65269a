"""Loading the config: find the file, read it, interpolate, validate, report every problem."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from bot.config.env import interpolate_tree
from bot.config.errors import ConfigError, ConfigUnreadable, Loc, render_path
from bot.config.explain import describe_error, describe_value
from bot.config.settings import Settings
from bot.config.yaml_nodes import Problem, line_of, load_yaml
from playbooks.catalog import PlaybookErrors

DEFAULT_CONFIG_NAME = "firebell.yaml"
CONFIG_ENV = "FIREBELL_CONFIG"


def parse_config(
    text: str, env: Mapping[str, str], origin: str = "<config>", base_dir: Path | None = None
) -> Settings:
    """Settings from config text, or ConfigError naming every problem by its path.
    `base_dir`: the config file's folder, where a relative `playbooks:` folder is."""
    doc = load_yaml(text, origin)
    data = {} if doc.data is None else doc.data
    if not isinstance(data, dict):
        raise ConfigError(
            [
                (
                    "",
                    f"the config must be a mapping of sections (database_url:, sources:, ...), "
                    f"got {describe_value(data)}",
                )
            ],
            origin=origin,
        )
    problems = list(doc.problems)
    unresolved: list[tuple[Loc, str]] = []
    data = interpolate_tree(data, env, (), unresolved)
    problems += [Problem(loc, message) for loc, message in unresolved]
    settings: Settings | None = None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            for loc, message in describe_error(error):
                # A value left as "${VAR}" fails validation too; its env problem says why.
                if not any(loc[: len(bad)] == bad for bad, _ in unresolved):
                    problems.append(Problem(loc, message))
    if problems or settings is None:
        raise _config_error(problems, doc.lines, origin)
    settings._config_dir = base_dir
    return settings


def check_playbooks(settings: Settings, origin: str) -> None:
    """Load the playbook folder once, so every process (and check-config) refuses a
    config whose playbooks do not load: ConfigError naming each problem by file and path."""
    folder = settings.playbook_folder()
    if folder is None:
        return
    if not folder.is_dir():
        shown = f'"{settings.playbooks}"'
        if str(folder) != settings.playbooks:
            shown += f" ({folder})"
        raise ConfigError([("playbooks", f"folder {shown} does not exist")], origin=origin)
    try:
        settings.catalog  # noqa: B018 - loads and checks every playbook file
    except PlaybookErrors as exc:
        raise ConfigError(exc.entries, origin=origin) from None


def _config_error(problems: list[Problem], lines: Mapping[Loc, int], origin: str) -> ConfigError:
    ranked = [(p.line or line_of(p.loc, lines), render_path(p.loc), p.message) for p in problems]
    ranked.sort(key=lambda item: item[0] if item[0] is not None else 1 << 30)
    return ConfigError(
        [(path, message) for _, path, message in ranked],
        [line for line, _, _ in ranked],
        origin,
    )


def load_config(path: Path, env: Mapping[str, str]) -> Settings:
    """Settings from a config file; unreadable files are a ConfigError too."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigUnreadable(str(path), exc.strerror or str(exc)) from None
    except UnicodeDecodeError:
        raise ConfigUnreadable(str(path), "not UTF-8 text") from None
    settings = parse_config(text, env, str(path), base_dir=Path(path).parent)
    check_playbooks(settings, str(path))
    return settings


def resolve_config_path(cli_value: str | None, env: Mapping[str, str], cwd: Path) -> Path | None:
    """--config, else $FIREBELL_CONFIG, else ./firebell.yaml if present, else None (built-in)."""
    chosen = cli_value or env.get(CONFIG_ENV) or None
    if chosen:
        path = Path(chosen).expanduser()
        return path if path.is_absolute() else cwd / path
    fallback = cwd / DEFAULT_CONFIG_NAME
    return fallback if fallback.is_file() else None
