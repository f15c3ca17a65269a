"""Loading the playbook folder: the issue's config pair, every check with its file and
path (as `firebell check-config` prints them), and matching incidents."""

# Playbook texts and expected messages are read whole, not wrapped.
# ruff: noqa: E501

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, check_config_file, load_config
from integrations.logs.elasticsearch import ElasticsearchConnection
from integrations.logs.loki import LokiConnection
from playbooks.catalog import Catalog, PlaybookErrors, load_catalog
from playbooks.model import file_hash
from playbooks.registry import ACTIONS

FIXTURES = Path(__file__).parent / "fixtures"
ENV = {"ES_API_KEY": "es-key-123", "SENTRY_API_TOKEN": "sntrys_token_456"}
CONNECTIONS = {
    "loki": LokiConnection(type="loki", url="http://127.0.0.1:3100", allow_private=True),
    "es": ElasticsearchConnection(type="elasticsearch", url="http://es.example:9200"),
}
GOOD_STEP = "  - {id: loki, uses: logs.loki, with: {connection: loki, selector: {app: api}}}\n"


def folder_with(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "playbooks"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name.replace("_", "-").replace("-yaml", ".yaml")).write_text(text)
    return folder


def problems(tmp_path: Path, text: str) -> list[str]:
    folder = folder_with(tmp_path, api_yaml=text)
    with pytest.raises(PlaybookErrors) as caught:
        load_catalog(folder, CONNECTIONS, (), shown_as="./playbooks")
    return caught.value.problems


def test_the_issues_config_pair_loads() -> None:
    settings = load_config(FIXTURES / "firebell.yaml", ENV)
    catalog = settings.catalog
    assert list(catalog.playbooks) == ["api-5xx"]
    playbook = catalog.playbooks["api-5xx"]
    assert [step.uses for step in playbook.spec.steps] == [
        "logs.loki",
        "logs.elasticsearch",
        "logs.file",
        "logs.journald",
        "logs.sentry_event",
        "chat.post",
    ]
    assert playbook.spec.params["window"].max == "6h" and playbook.spec.run == "manual"
    assert playbook.path == FIXTURES / "playbooks" / "api-5xx.yaml"
    assert playbook.sha256 == file_hash(playbook.path.read_bytes())
    assert set(catalog.connections) == {"loki", "es", "sentry", "applogs", "journal"}
    # Outputs are redacted of every configured secret.
    assert {"es-key-123", "sntrys_token_456"} <= set(catalog.secrets)
    assert [p.id for p in catalog.matching({"service": "api", "severity": "critical"})] == [
        "api-5xx"
    ]
    assert catalog.matching({"service": "api", "severity": "warning"}) == []
    assert catalog.matching({"service": "web", "severity": "critical"}) == []
    assert catalog.get("api-5xx") is playbook and catalog.get("nope") is None


def test_check_config_reports_the_issues_pair(tmp_path: Path) -> None:
    ok, report = check_config_file(FIXTURES / "firebell.yaml", ENV)
    assert ok, report
    assert "playbooks: ./playbooks: 1: api-5xx (manual)" in report.splitlines()
    assert (
        "connections: 5: loki (loki), es (elasticsearch), sentry (sentry), applogs (files), "
        "journal (journald)"
    ) in report.splitlines()
    assert "es-key-123" not in report


def test_the_folder_is_read_next_to_the_config_file(tmp_path: Path) -> None:
    config_dir = tmp_path / "etc"
    config_dir.mkdir()
    folder_with(config_dir, api_yaml="id: api\nsteps:\n" + GOOD_STEP)
    config = config_dir / "firebell.yaml"
    config.write_text(
        "playbooks: ./playbooks\n"
        "connections:\n  loki: {type: loki, url: 'http://127.0.0.1:3100', allow_private: true}\n"
    )
    # From another working directory, as a service manager starts it.
    run = subprocess.run(
        [sys.executable, "-m", "bot.cli.main", "check-config", str(config)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).parents[2])},
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "playbooks: ./playbooks: 1: api (manual)" in run.stdout
    assert list(load_config(config, {}).catalog.playbooks) == ["api"]


def test_check_config_names_each_problem_by_file_and_path(tmp_path: Path) -> None:
    folder_with(
        tmp_path,
        api_5xx_yaml=(
            "id: api-5xx\nsteps:\n"
            + GOOD_STEP
            + "  - {id: es, uses: logs.elasticsearch, with: {connection: es, term: {a: b}}}\n"
            "  - {id: x, uses: logs.loki, with: {connection: x, selector: {app: api}}}\n"
        ),
    )
    config = tmp_path / "firebell.yaml"
    config.write_text(
        "playbooks: ./playbooks\n"
        "connections:\n  loki: {type: loki, url: 'http://127.0.0.1:3100', allow_private: true}\n"
    )
    ok, report = check_config_file(config, {})
    assert not ok
    assert report.splitlines() == [
        f"INVALID: {config} (2 errors)",
        'playbooks/api-5xx.yaml: steps[1].with.connection: unknown connection "es" '
        "(none configured) (line 4)",
        'playbooks/api-5xx.yaml: steps[2].with.connection: unknown connection "x" '
        "(loki connections: loki) (line 5)",
    ]
    with pytest.raises(ConfigError):
        load_config(config, {})  # serve and worker refuse it too


def test_a_missing_folder_is_named_with_where_it_was_looked_for(tmp_path: Path) -> None:
    config = tmp_path / "firebell.yaml"
    config.write_text("playbooks: ./nowhere\n")
    ok, report = check_config_file(config, {})
    assert not ok
    assert f'playbooks: folder "./nowhere" ({tmp_path / "nowhere"}) does not exist' in report


def test_unknown_action_connection_type_keys_and_values(tmp_path: Path) -> None:
    text = (
        "id: api\nsteps:\n"
        "  - {id: a, uses: logs.lokii}\n"
        "  - {id: b, uses: logs.file, with: {connection: loki, path: /x.log}}\n"
        "  - {id: c, uses: logs.loki, with: {connection: loki, selector: {app: x}, limit: 9000}}\n"
        "  - {id: d, uses: logs.loki, with: {connection: loki, selector: {app: x}, bogus: 1}}\n"
        "  - {id: e, uses: logs.loki, with: {selector: {app: x}}}\n"
        "  - {id: f, uses: logs.loki, with: {connection: '{{ incident.labels.c }}', selector: {a: b}}}\n"
        "  - {id: g, uses: chat.post, with: {connection: loki, text: hi}}\n"
        "  - {id: h, uses: chat.post, with: {}}\n"
        "  - {id: i, uses: logs.loki, with: {connection: loki}}\n"
    )  # fmt: skip
    known = ", ".join(ACTIONS)
    assert problems(tmp_path, text) == [
        f'playbooks/api.yaml: steps[0].uses: unknown action "logs.lokii" (did you mean "logs.loki"? known: {known}) (line 3)',
        'playbooks/api.yaml: steps[1].with.connection: connection "loki" is of type loki; logs.file needs a files connection (line 4)',
        "playbooks/api.yaml: steps[2].with.limit: must be less than or equal to 5000 (line 5)",
        "playbooks/api.yaml: steps[3].with.bogus: unknown key (line 6)",
        "playbooks/api.yaml: steps[4].with.connection: required (the name of a loki connection) (line 7)",
        "playbooks/api.yaml: steps[5].with.connection: must be the name of a connection, not a template (line 8)",
        "playbooks/api.yaml: steps[6].with.connection: unknown key (line 9)",
        "playbooks/api.yaml: steps[7].with.text: required (line 10)",
        "playbooks/api.yaml: steps[8].with.selector: required (line 11)",
    ]  # fmt: skip


def test_templated_values_are_checked_for_syntax_and_what_they_read(tmp_path: Path) -> None:
    text = (
        "id: api\nparams:\n  window: {type: duration, default: 30m}\nsteps:\n"
        "  - id: first\n    uses: logs.loki\n    if: steps.later.count > 0\n"
        "    with: {connection: loki, selector: {app: '{{ incident.labels.service'}, since: '{{ params.windw }}'}\n"
        "  - id: later\n    uses: chat.post\n    if: 'params.window =='\n"
        "    with: {text: '{{ steps.nope.summary }} {{ stepz }} {{ steps.first.count }} {{ run.summary }}'}\n"
        "  - id: ok\n    uses: logs.loki\n"
        "    with: {connection: loki, selector: {app: '{{ incident.labels.service }}'}, limit: '{{ 5 * 2 }}'}\n"
    )  # fmt: skip
    assert problems(tmp_path, text) == [
        "playbooks/api.yaml: steps[0].with.selector.app: template '{{ incident.labels.service': "
        "syntax error: unexpected end of template, expected 'end of print statement'. (line 8)",
        'playbooks/api.yaml: steps[0].with.since: unknown param "windw" (declared: window) (line 8)',
        'playbooks/api.yaml: steps[0].if: step "later" has not run yet at this step (line 7)',
        "playbooks/api.yaml: steps[1].if: template 'params.window ==': syntax error: "
        "unexpected 'end of template' (line 11)",
        'playbooks/api.yaml: steps[1].with.text: unknown step "nope" (line 12)',
        'playbooks/api.yaml: steps[1].with.text: unknown name "stepz" (templates read incident, '
        "params, run, steps) (line 12)",
    ]


def test_file_shape_params_and_matchers(tmp_path: Path) -> None:
    text = (
        "id: api\nmatch: ['service=\"api\"', 'severity=~\"(critical\"']\n"
        "params:\n  n: {type: int, default: 50, max: 10}\n  c: {type: choice}\n"
        "steps:\n" + GOOD_STEP
    )
    assert problems(tmp_path, text) == [
        "playbooks/api.yaml: match[1]: invalid regex '(critical' for label 'severity': "
        "missing ), unterminated subpattern at position 0 (line 2)",
        "playbooks/api.yaml: params.n.default: must be at most 10 (line 4)",
        "playbooks/api.yaml: params.c.choices: a choice param needs a list of choices (line 5)",
    ]
    assert problems(tmp_path, "id: API\nrun: always\nsteps: []\nextra: 1\n") == [
        "playbooks/api.yaml: id: String should match pattern '^[a-z0-9][a-z0-9_-]{0,63}$' (line 1)",
        "playbooks/api.yaml: run: must be 'manual' or 'on_open' (line 2)",
        "playbooks/api.yaml: steps: List should have at least 1 item after validation, not 0 (line 3)",
        "playbooks/api.yaml: extra: unknown key (line 4)",
    ]
    assert problems(tmp_path, "id: api\nsteps:\n" + GOOD_STEP + GOOD_STEP) == [
        'playbooks/api.yaml: steps[1].id: "loki" is used by an earlier step (line 4)'
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id: a\nid: b\n", 'YAML syntax error at line 2, column 1: duplicate key "id" (first at line 1)'),
        ("id: [\n", "YAML syntax error at line 2, column 1: expected the node content, but found '<stream end>'"),
        ("- id: a\n", "a playbook file is a mapping (id:, match:, params:, steps:)"),
        ("", "a playbook file is a mapping (id:, match:, params:, steps:)"),
        ("id: !!python/object:os.system x\n", "YAML syntax error at line 1, column 5: could not determine a constructor for the tag 'tag:yaml.org,2002:python/object:os.system'"),
    ],
)  # fmt: skip
def test_files_that_are_not_playbooks(tmp_path: Path, text: str, message: str) -> None:
    assert problems(tmp_path, text) == [f"playbooks/api.yaml: {message}"]


def test_ids_are_unique_across_files_and_other_files_are_ignored(tmp_path: Path) -> None:
    folder = folder_with(
        tmp_path,
        a_yaml="id: api\nsteps:\n" + GOOD_STEP,
        b_yaml="id: api\nsteps:\n" + GOOD_STEP,
    )
    (folder / "c.yml").write_text("id: other\nsteps:\n" + GOOD_STEP)
    (folder / "README.md").write_text("not a playbook")
    (folder / ".#a.yaml").write_text("{")
    with pytest.raises(PlaybookErrors) as caught:
        load_catalog(folder, CONNECTIONS, ())
    assert caught.value.problems == [
        f'{folder}/b.yaml: id: "api" is already the id of {folder}/a.yaml'
    ]
    (folder / "b.yaml").unlink()
    catalog = load_catalog(folder, CONNECTIONS, ("s3cret",))
    assert sorted(catalog.playbooks) == ["api", "other"] and catalog.secrets == ("s3cret",)


def test_no_folder_is_an_empty_catalog_and_an_empty_match_matches_everything(
    tmp_path: Path,
) -> None:
    assert load_catalog(None, {}, ()) == Catalog({}, {}, ())
    folder = folder_with(tmp_path, api_yaml="id: api\nsteps:\n" + GOOD_STEP)
    catalog = load_catalog(folder, CONNECTIONS, ())
    assert [p.id for p in catalog.matching({})] == ["api"]
    assert [p.id for p in catalog.matching({"service": "anything"})] == ["api"]
