"""The config file: YAML with ${ENV} interpolation, validated into Settings with path-named errors.

Pipeline: YAML text -> nodes (line numbers, duplicate keys) -> data -> ${VAR} interpolation
-> pydantic models (extra keys forbidden everywhere) -> Settings, or one ConfigError
listing every problem as (path, message), e.g. `sources.nginx.threshold.window: ...`.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin
from urllib.parse import unquote, urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from pydantic_core import ErrorDetails

from routing.database import sqlalchemy_url
from routing.field import Duration
from routing.policy import PolicyConfig

DEFAULT_DATABASE_URL = "sqlite:///./firebell.db"
DEFAULT_CONFIG_NAME = "firebell.yaml"
CONFIG_ENV = "FIREBELL_CONFIG"
REDACTED = "***"

Loc = tuple[str | int, ...]


# --------------------------------------------------------------------------- errors


class ConfigError(Exception):
    """The config is invalid: every problem found, each as (path in the file, message)."""

    def __init__(
        self,
        errors: list[tuple[str, str]],
        lines: list[int | None] | None = None,
        origin: str = "<config>",
    ) -> None:
        self.errors = list(errors)
        self.lines = list(lines) if lines is not None else [None] * len(self.errors)
        self.origin = origin
        super().__init__(self.errors)

    def error_lines(self) -> list[str]:
        """`path: message (line N)`, one per problem."""
        out = []
        for (path, message), line in zip(self.errors, self.lines, strict=True):
            text = f"{path}: {message}" if path else message
            out.append(text if line is None else f"{text} (line {line})")
        return out

    def __str__(self) -> str:
        return "\n".join(self.error_lines())


def render_path(loc: Loc) -> str:
    """("sources", "nginx", "services", "a.example") -> sources.nginx.services["a.example"]."""
    out = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif isinstance(part, str) and _IDENT.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(str(part))}]"
    return out


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


# --------------------------------------------------------------------------- field types


_SECRET = object()  # Annotated marker: redacted in dumps, collected for log scrubbing


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank (leave the key out to unset it)")
    return value


def _secret(value: str) -> str:
    _not_blank(value)
    # A trailing newline from a secrets file never matches what the sender signs with.
    if value != value.strip():
        raise ValueError(
            "has leading or trailing whitespace (check how it or its environment variable is set)"
        )
    return value


def _url_token(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._~-]+", value):
        raise ValueError(
            "is placed in the webhook URL path: use only letters, digits, '-', '_', '.', '~'"
        )
    return value


def _non_negative(value: timedelta) -> timedelta:
    if value < timedelta(0):
        raise ValueError("must not be negative")
    return value


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than 0s")
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f'invalid URL "{value}" (expected http://... or https://...)')
    return value.strip()


def _snowflake(value: Any) -> Any:
    # YAML reads an unquoted id as a number; Discord ids are text of digits.
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and not re.fullmatch(r"\d{1,21}", value.strip()):
        raise ValueError(f'invalid Discord id "{value}" (expected digits only)')
    return value.strip() if isinstance(value, str) else value


def _public_key(value: str) -> str:
    if not re.fullmatch(r"[0-9a-fA-F]{64}", value.strip()):
        raise ValueError(
            "must be 64 hex characters (the application's Public Key in the Discord "
            "developer portal)"
        )
    return value.strip().lower()


def _listen(value: str) -> str:
    """host:port for the syslog listener; IPv6 hosts in brackets ([::1]:5514)."""
    text = value.strip()
    usage = f'invalid listen address "{value}" (expected host:port, e.g. 127.0.0.1:5514)'
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise ValueError(usage)
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise ValueError(f'invalid listen address "{value}": port {port} is not in 1-65535')
    if host.startswith("["):
        if not host.endswith("]"):
            raise ValueError(usage)
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise ValueError(f'invalid listen address "{value}": bad IPv6 address') from None
    elif ":" in host:
        raise ValueError(f'invalid listen address "{value}": write IPv6 hosts as [::1]:514')
    elif not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?", host):
        raise ValueError(f'invalid listen address "{value}": bad host "{host}"')
    return text


def _label_names(value: list[str]) -> list[str]:
    if not value:
        raise ValueError("must name at least one label (e.g. [service, alertname])")
    for name in value:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f'invalid label name "{name}" (letters, digits and _)')
    duplicates = sorted({name for name in value if value.count(name) > 1})
    if duplicates:
        raise ValueError(f"lists {', '.join(duplicates)} more than once")
    return value


_SUPPORTED_DATABASES = ("sqlite", "sqlite+pysqlite", "postgresql", "postgres", "postgresql+psycopg")


def _database_url(value: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    text = value.strip()
    scheme, sep, _ = text.partition("://")
    if not sep or scheme not in _SUPPORTED_DATABASES:
        # Never echo the URL itself: it may carry a password.
        raise ValueError(
            f'unsupported database URL scheme "{scheme}" '
            "(expected sqlite:///path/to/file.db or postgresql://user:password@host:5432/db)"
        )
    try:
        make_url(sqlalchemy_url(text))
    except (ArgumentError, ValueError):
        raise ValueError(
            "the database URL cannot be parsed (check the port and the quoting)"
        ) from None
    return text


def _none_is(empty: Callable[[], Any]) -> BeforeValidator:
    """`key:` with nothing under it (all children commented out) means the default."""
    return BeforeValidator(lambda value: empty() if value is None else value)


Secret = Annotated[str, AfterValidator(_secret), _SECRET]
UrlToken = Annotated[str, AfterValidator(_secret), AfterValidator(_url_token), _SECRET]
NonBlank = Annotated[str, AfterValidator(_not_blank)]
PositiveDuration = Annotated[Duration, AfterValidator(_positive)]
NonNegativeDuration = Annotated[Duration, AfterValidator(_non_negative)]
HttpURL = Annotated[str, AfterValidator(_http_url)]
Snowflake = Annotated[str, BeforeValidator(_snowflake)]
ServiceMap = Annotated[dict[NonBlank, NonBlank], _none_is(dict)]


# --------------------------------------------------------------------------- models


class Section(BaseModel):
    # Typos are errors; numbers written where text is expected (ids, tokens) are kept as text.
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)


class BasicAuth(Section):
    username: NonBlank
    password: Secret


class AlertmanagerSource(Section):
    bearer_token: Secret | None = None
    basic_auth: BasicAuth | None = None


class SentrySource(Section):
    client_secret: Secret | None = None  # Integration Platform: HMAC of the body
    services: ServiceMap = {}  # Sentry project slug -> service
    legacy_token: UrlToken | None = None  # legacy WebHooks plugin: token in the URL


class Syslog(Section):
    listen: Annotated[str, AfterValidator(_listen)]


class Threshold(Section):
    count: int = Field(default=1, ge=1)
    window: PositiveDuration = timedelta(minutes=1)


class NginxSource(Section):
    token: Secret | None = None
    syslog: Syslog | None = None
    services: ServiceMap = {}  # server name or upstream host -> service
    threshold: Annotated[Threshold, _none_is(dict)] = Field(default_factory=Threshold)
    resolve_after: PositiveDuration = timedelta(minutes=10)


class GenericSource(Section):
    token: Secret | None = None


class Sources(Section):
    alertmanager: Annotated[AlertmanagerSource, _none_is(dict)] = Field(
        default_factory=AlertmanagerSource
    )
    sentry: Annotated[SentrySource, _none_is(dict)] = Field(default_factory=SentrySource)
    nginx: Annotated[NginxSource, _none_is(dict)] = Field(default_factory=NginxSource)
    generic: Annotated[GenericSource, _none_is(dict)] = Field(default_factory=GenericSource)


class Grouping(Section):
    group_by: Annotated[list[str], AfterValidator(_label_names)] = ["service", "alertname"]
    reopen_window: NonNegativeDuration = timedelta(minutes=30)  # 0s: never reopen
    flap_flips: int = Field(default=3, ge=1)
    group_wait: NonNegativeDuration = timedelta(0)


def _not_app_token(value: str) -> str:
    if value.startswith("xapp-"):
        raise ValueError("is an app-level token (xapp-...); it belongs in slack.app_token")
    return value


def _app_token(value: str) -> str:
    if value.startswith(("xoxb-", "xoxp-")):
        raise ValueError("is a bot/user token; app_token takes the app-level token (xapp-...)")
    return value


def _slash_command(value: str) -> str:
    if not re.fullmatch(r"/[a-z0-9_-]{1,31}", value.strip()):
        raise ValueError(f'invalid slash command "{value}" (expected e.g. /incident)')
    return value.strip()


class SlackConfig(Section):
    bot_token: Annotated[Secret, AfterValidator(_not_app_token)]
    signing_secret: Secret
    app_token: Annotated[Secret, AfterValidator(_app_token)] | None = None  # Socket Mode
    api_url: HttpURL = "https://slack.com/api/"
    command: Annotated[str, AfterValidator(_slash_command)] = "/incident"
    allow_unknown_users: bool = False


class DiscordConfig(Section):
    bot_token: Secret
    application_id: Snowflake
    public_key: Annotated[str, AfterValidator(_public_key)]  # Ed25519, verifies interactions
    api_url: HttpURL = "https://discord.com/api/v10"
    guild_id: Snowflake | None = None  # register commands to one guild (instant updates)
    allow_unknown_users: bool = False


class Settings(PolicyConfig):
    """Everything firebell reads from its config file (routing sections: PolicyConfig)."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    database_url: Annotated[str, AfterValidator(_database_url)] = DEFAULT_DATABASE_URL
    api_tokens: Annotated[list[Secret], _none_is(list)] = []
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    sources: Annotated[Sources, _none_is(dict)] = Field(default_factory=Sources)
    services: ServiceMap = {}  # any source-side name (job, project, server) -> service
    grouping: Annotated[Grouping, _none_is(dict)] = Field(default_factory=Grouping)
    playbooks: NonBlank | None = None  # a folder of playbook YAML files
    slack: SlackConfig | None = None
    discord: DiscordConfig | None = None
    public_url: HttpURL | None = None  # base for links in messages

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        # Links are built as f"{public_url}/incidents/42".
        return value.rstrip("/") if value else value

    def secret_values(self) -> list[str]:
        """Every secret in the settings, for scrubbing logs (longest first, no duplicates)."""
        found = _secrets_in(self)
        password = _database_password(self.database_url)
        if password:
            found += [password, unquote(password)]
        return sorted({value for value in found if value}, key=lambda v: (-len(v), v))

    def redacted_dump(self) -> dict[str, Any]:
        """The settings as plain data, safe to print or log: secrets are "***"."""
        dumped = self.model_dump(mode="json", by_alias=True)
        _redact(self, dumped)
        dumped["database_url"] = redact_database_url(self.database_url)
        return dumped


def default_settings() -> Settings:
    """No config file: SQLite next to the process, no tokens (loopback only), one team."""
    return Settings()


# --------------------------------------------------------------------------- secrets


def _has_secret_marker(annotation: Any) -> bool:
    if annotation is _SECRET:
        return True
    return any(_has_secret_marker(arg) for arg in get_args(annotation))


def _field_is_secret(info: Any) -> bool:
    return any(m is _SECRET for m in info.metadata) or _has_secret_marker(info.annotation)


def _all_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _all_strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _all_strings(v)]
    return []


def _secrets_in(value: Any) -> list[str]:
    if isinstance(value, BaseModel):
        out: list[str] = []
        for name, info in type(value).model_fields.items():
            item = getattr(value, name)
            out += _all_strings(item) if _field_is_secret(info) else _secrets_in(item)
        return out
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _secrets_in(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _secrets_in(v)]
    return []


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return REDACTED
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value


def _redact(model: BaseModel, dumped: Any) -> None:
    """Mask secret fields of `model` in its own json dump, in place, recursively."""
    if not isinstance(dumped, dict):
        return
    for name, info in type(model).model_fields.items():
        key = info.serialization_alias or info.alias or name
        if key not in dumped:
            continue
        value = getattr(model, name)
        if _field_is_secret(info):
            dumped[key] = _mask(dumped[key])
        elif isinstance(value, BaseModel):
            _redact(value, dumped[key])
        elif isinstance(value, list | tuple) and isinstance(dumped[key], list):
            for item, item_dump in zip(value, dumped[key], strict=False):
                if isinstance(item, BaseModel):
                    _redact(item, item_dump)


_URL_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:/@]*:)([^@]*)(@)")


def _database_password(url: str) -> str | None:
    match = _URL_PASSWORD.match(url)
    return match.group(2) if match else None


def redact_database_url(url: str) -> str:
    """postgresql://app:s3cret@db/x -> postgresql://app:***@db/x."""
    return _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{REDACTED}{m.group(3)}", url)


def database_url_for_sqlalchemy(url: str) -> str:
    """postgresql:// and postgres:// select psycopg 3 (the driver we install); sqlite unchanged."""
    return sqlalchemy_url(url)


# --------------------------------------------------------------------------- YAML


@dataclass(frozen=True)
class _Problem:
    loc: Loc
    message: str
    line: int | None = None  # None: looked up from the path


@dataclass
class _Document:
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)  # path -> line of its key or item
    problems: list[_Problem] = field(default_factory=list)


def _load_yaml(text: str, origin: str) -> _Document:
    loader: yaml.SafeLoader | None = None
    try:
        loader = yaml.SafeLoader(text)  # rejects control characters right away
        node = loader.get_single_node()
        doc = _Document(None)
        if node is not None:
            _index(node, (), doc, set())
            doc.data = loader.construct_document(node)
        return doc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError([("", f"YAML syntax error{where}: {problem}")], origin=origin) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        problem = f"character {exc.character:#06x} is not allowed"
        raise ConfigError(
            [("", f"YAML syntax error at line {line}, column {column}: {problem}")], origin=origin
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError([("", f"YAML error: {exc}")], origin=origin) from None
    finally:
        if loader is not None:
            loader.dispose()


def _index(node: yaml.Node, loc: Loc, doc: _Document, ancestors: set[int]) -> None:
    """Record the line of every key and list item, and flag duplicate keys."""
    if id(node) in ancestors:
        raise yaml.constructor.ConstructorError(
            None, None, "a recursive alias (an anchor used inside itself)", node.start_mark
        )
    ancestors = ancestors | {id(node)}
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            key, line = key_node.value, key_node.start_mark.line + 1
            if key in seen:
                # PyYAML silently keeps the last one; a repeated key is almost always a mistake.
                message = f"duplicate key (first at line {seen[key]})"
                doc.problems.append(_Problem((*loc, key), message, line))
            seen.setdefault(key, line)
            doc.lines.setdefault((*loc, key), line)
            _index(value_node, (*loc, key), doc, ancestors)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            doc.lines.setdefault((*loc, i), item.start_mark.line + 1)
            _index(item, (*loc, i), doc, ancestors)


def _line_of(loc: Loc, lines: Mapping[Loc, int]) -> int | None:
    """The line of the longest prefix of `loc` that is in the file."""
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


# --------------------------------------------------------------------------- ${VAR}

_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)(\}?)")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def interpolate(text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """Replace ${VAR} from `env`; $${ is a literal ${. Returns (text, problems)."""
    problems: list[str] = []

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name, closed = match.group(1), match.group(2)
        if not closed:
            problems.append('unterminated "${" (write ${NAME}, or $${ for a literal ${)')
        elif not _VAR_NAME.fullmatch(name):
            problems.append(
                f'invalid variable name "{name}" in ${{...}} (letters, digits and _; '
                "write $${ for a literal ${)"
            )
        elif name not in env:
            problems.append(f"environment variable {name} is not set")
        else:
            return env[name]  # inserted verbatim: never re-scanned
        return match.group(0)

    return _REFERENCE.sub(replace, text), problems


def _interpolate_tree(
    value: Any, env: Mapping[str, str], loc: Loc, problems: list[tuple[Loc, str]]
) -> Any:
    if isinstance(value, str):
        text, found = interpolate(value, env)
        problems.extend((loc, message) for message in found)
        return text
    if isinstance(value, dict):
        return {k: _interpolate_tree(v, env, (*loc, k), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate_tree(v, env, (*loc, i), problems) for i, v in enumerate(value)]
    return value


# --------------------------------------------------------------------------- pydantic errors


def _unwrap(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _walk_loc(root: type[BaseModel], loc: tuple[Any, ...]) -> tuple[Loc, Any]:
    """Drop pydantic's union-member tags from `loc`; also return the type holding the last part."""
    clean: list[str | int] = []
    current: Any = root
    parent: Any = None
    for part in loc:
        current = _unwrap(current)
        if get_origin(current) in (Union, types.UnionType):
            members = [a for a in get_args(current) if a is not type(None)]
            if len(members) > 1:
                current = None  # this part names the union member that failed: not in the file
                continue
            current = _unwrap(members[0]) if members else None
        parent = current
        origin = get_origin(current) or current
        if isinstance(current, type) and issubclass(current, BaseModel):
            found = current.model_fields.get(str(part))
            found = found or next(
                (f for f in current.model_fields.values() if f.alias == part), None
            )
            current = found.annotation if found else None
        elif origin in (list, tuple, set, frozenset):
            args = get_args(current)
            current = args[0] if args else None
        elif origin is dict:
            args = get_args(current)
            # pydantic writes "[key]" when a mapping's key (not its value) is invalid.
            current = args[int(part != "[key]")] if args else None
        else:
            current = None
        clean.append(part)
    return tuple(clean), parent


_TYPE_MESSAGES = {
    "dict_type": "expected a mapping (key: value)",
    "model_type": "expected a mapping (key: value)",
    "model_attributes_type": "expected a mapping (key: value)",
    "list_type": "expected a list",
    "string_type": "expected text",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
}


def _kind_of(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the text {json.dumps(shown)}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _unknown_key(key: Any, holder: Any) -> str:
    if not (isinstance(holder, type) and issubclass(holder, BaseModel)):
        return "unknown key"
    known = [info.alias or name for name, info in holder.model_fields.items()]
    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
    if close:
        return f'unknown key (did you mean "{close[0]}"?)'
    return f"unknown key (expected one of: {', '.join(known)})"


_PREFIXED = re.compile(r'([A-Za-z_][\w-]*(?:\.[\w-]+|\[\d+\]|\["[^"]*"\])*): (.+)')
_SEGMENT = re.compile(r'\.?([\w-]+)|\[(\d+)\]|\[("[^"]*")\]')


def _parse_path(text: str) -> Loc:
    """ "teams.0.members.1" or "teams[0].members[1]" -> ("teams", 0, "members", 1)."""
    loc: list[str | int] = []
    for name, index, quoted in _SEGMENT.findall(text):
        if index or name.isdigit():
            loc.append(int(index or name))
        else:
            loc.append(json.loads(quoted) if quoted else name)
    return tuple(loc)


def _split_cross_checks(message: str) -> list[tuple[Loc, str]]:
    """A whole-config check reports many `path: problem` lines in one ValueError: split them."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    out: list[tuple[Loc, str]] = []
    for line in lines:
        if line.endswith(":") and len(lines) > 1:
            continue  # a heading such as "invalid references:"
        match = _PREFIXED.fullmatch(line)
        if match and match.group(1).split(".")[0].split("[")[0] in Settings.model_fields:
            out.append((_parse_path(match.group(1)), match.group(2)))
        else:
            out.append(((), line))
    return out


def _describe(error: ErrorDetails) -> list[tuple[Loc, str]]:
    loc, holder = _walk_loc(Settings, tuple(error["loc"]))
    kind = error["type"]
    if kind == "extra_forbidden":
        return [(loc, _unknown_key(loc[-1] if loc else "", holder))]
    if kind == "missing":
        return [(loc, "required")]
    if kind in ("value_error", "assertion_error") and "error" in error.get("ctx", {}):
        message = str(error["ctx"]["error"])
        return _split_cross_checks(message) if not loc else [(loc, message)]
    if kind in _TYPE_MESSAGES:
        # Type errors only: the input is of the wrong type, so it is not a secret string.
        return [(loc, f"{_TYPE_MESSAGES[kind]}, got {_kind_of(error['input'])}")]
    message = error["msg"]
    if message.startswith("Input should"):
        message = "must" + message[len("Input should") :]
    return [(loc, message)]


# --------------------------------------------------------------------------- API


def parse_config(text: str, env: Mapping[str, str], origin: str = "<config>") -> Settings:
    """Settings from config text, or ConfigError naming every problem by its path."""
    doc = _load_yaml(text, origin)
    data = {} if doc.data is None else doc.data
    if not isinstance(data, dict):
        raise ConfigError(
            [
                (
                    "",
                    f"the config must be a mapping of sections (database_url:, sources:, ...), "
                    f"got {_kind_of(data)}",
                )
            ],
            origin=origin,
        )
    problems = list(doc.problems)
    unresolved: list[tuple[Loc, str]] = []
    data = _interpolate_tree(data, env, (), unresolved)
    problems += [_Problem(loc, message) for loc, message in unresolved]
    settings: Settings | None = None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            for loc, message in _describe(error):
                # A value left as "${VAR}" fails validation too; its env problem says why.
                if not any(loc[: len(bad)] == bad for bad, _ in unresolved):
                    problems.append(_Problem(loc, message))
    if problems or settings is None:
        raise _config_error(problems, doc.lines, origin)
    return settings


def _config_error(problems: list[_Problem], lines: Mapping[Loc, int], origin: str) -> ConfigError:
    ranked = [(p.line or _line_of(p.loc, lines), render_path(p.loc), p.message) for p in problems]
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
        raise ConfigError(
            [("", f"cannot read {path}: {exc.strerror or exc}")], origin=str(path)
        ) from None
    except UnicodeDecodeError:
        raise ConfigError([("", f"{path} is not UTF-8 text")], origin=str(path)) from None
    return parse_config(text, env, str(path))


def resolve_config_path(cli_value: str | None, env: Mapping[str, str], cwd: Path) -> Path | None:
    """--config, else $FIREBELL_CONFIG, else ./firebell.yaml if present, else None (built-in)."""
    chosen = cli_value or env.get(CONFIG_ENV) or None
    if chosen:
        path = Path(chosen).expanduser()
        return path if path.is_absolute() else cwd / path
    fallback = cwd / DEFAULT_CONFIG_NAME
    return fallback if fallback.is_file() else None


# --------------------------------------------------------------------------- check-config


def _count_routes(route: Any) -> int:
    if route is None:
        return 0
    children = route.get("routes") if isinstance(route, Mapping) else getattr(route, "routes", None)
    return 1 + sum(_count_routes(child) for child in children or [])


def _auth(own: list[str], api_tokens: list[str], open_access: bool) -> str:
    if own:
        return ", ".join(own)
    if api_tokens:
        return "api_tokens"
    return "OPEN (no credentials)" if open_access else "no credentials: requests rejected"


def _source_lines(settings: Settings) -> list[str]:
    src = settings.sources
    am, sentry, nginx = src.alertmanager, src.sentry, src.nginx
    open_access = not (
        settings.api_tokens
        or am.bearer_token
        or am.basic_auth
        or sentry.client_secret
        or sentry.legacy_token
        or nginx.token
        or src.generic.token
    )
    am_own = ["bearer token"] * bool(am.bearer_token) + ["basic auth"] * bool(am.basic_auth)
    sentry_own = ["signed (client_secret)"] * bool(sentry.client_secret)
    sentry_own += ["legacy URL token"] * bool(sentry.legacy_token)
    # Sentry signs with its own secret; api_tokens do not apply to it.
    sentry_auth = ", ".join(sentry_own) or (
        "OPEN (no credentials)" if open_access else "no client_secret: requests rejected"
    )
    nginx_auth = _auth(["token"] * bool(nginx.token), settings.api_tokens, open_access)
    if nginx.syslog is not None:
        nginx_auth += f"; syslog on {nginx.syslog.listen} (UDP and TCP)"
    generic_auth = _auth(["token"] * bool(src.generic.token), settings.api_tokens, open_access)
    lines = [
        f"  alertmanager: {_auth(am_own, settings.api_tokens, open_access)}",
        f"  sentry: {sentry_auth}",
        f"  nginx: {nginx_auth}",
        f"  generic: {generic_auth}",
    ]
    if open_access:
        lines.append("  (no credentials configured: the server only binds to loopback)")
    return lines


def format_check_report(origin: str, outcome: Settings | ConfigError) -> str:
    """What `firebell check-config` prints: OK and a summary, or one `path: message` per line."""
    if isinstance(outcome, ConfigError):
        count = len(outcome.errors)
        header = f"INVALID: {origin} ({count} error{'s' * (count != 1)})"
        return "\n".join([header, *outcome.error_lines()])
    s = outcome
    chat = [name for name in ("slack", "discord") if getattr(s, name) is not None]
    return "\n".join(
        [
            f"OK: {origin}",
            f"database: {redact_database_url(s.database_url)}",
            "sources:",
            *_source_lines(s),
            f"api tokens: {len(s.api_tokens)}",
            f"service aliases: {len(s.services)}",
            f"users: {len(s.users)}, teams: {len(s.teams)}, schedules: {len(s.schedules)}, "
            f"escalation policies: {len(s.escalation_policies)}, "
            f"routes: {_count_routes(s.route)}, silences: {len(s.silences)}",
            f"chat: {', '.join(chat) or 'none'}",
            f"playbooks: {s.playbooks or 'none'}",
        ]
    )


def check_config_file(path: Path | None, env: Mapping[str, str]) -> tuple[bool, str]:
    """Validate a config file (None: the built-in default); returns (ok, report)."""
    origin = str(path) if path is not None else "built-in default (no config file)"
    try:
        settings = load_config(path, env) if path is not None else default_settings()
    except ConfigError as exc:
        return False, format_check_report(origin, exc)
    if settings.playbooks is not None and not Path(settings.playbooks).is_dir():
        missing = ConfigError(
            [("playbooks", f'folder "{settings.playbooks}" does not exist')], origin=origin
        )
        return False, format_check_report(origin, missing)
    return True, format_check_report(origin, settings)
