"""Step outputs: redacted of every configured secret and token shape, then capped."""

from __future__ import annotations

import json

from hypothesis import assume, given
from hypothesis import strategies as st

from playbooks.outputs import (
    MAX_BYTES,
    MAX_LINES,
    REDACTED,
    Redactor,
    cap_lines,
    excerpt,
    prepare_output,
)


def test_cap_keeps_the_newest_lines_and_counts_the_rest() -> None:
    lines = [f"line {i}" for i in range(MAX_LINES + 20)]
    out = cap_lines(lines)
    assert out.lines == lines[20:]
    assert out.cut_lines == 20
    assert out.cut_bytes == sum(len(f"line {i}") + 1 for i in range(20))


def test_cap_by_bytes() -> None:
    lines = ["x" * 1023] * 300  # 300 KiB with the newlines
    out = cap_lines(lines)
    assert len(out.lines) == MAX_BYTES // 1024
    assert out.cut_lines == 300 - len(out.lines)
    assert len(out.text.encode()) + out.cut_bytes == len("\n".join(lines).encode())


def test_a_line_longer_than_the_cap_keeps_its_end() -> None:
    out = cap_lines(["head" + "y" * MAX_BYTES + "END"])
    assert len(out.lines) == 1 and out.lines[0].endswith("END")
    assert len(out.text.encode()) == MAX_BYTES
    assert out.cut_lines == 0 and out.cut_bytes == 4 + 3


def test_nothing_cut_when_it_fits() -> None:
    out = prepare_output(["a", "b"], Redactor())
    assert (out.lines, out.cut_lines, out.cut_bytes) == (["a", "b"], 0, 0)


def test_excerpt_is_the_last_lines_within_500_chars() -> None:
    assert excerpt([str(i) for i in range(10)]) == "5\n6\n7\n8\n9"
    assert excerpt(["z" * 2000]) == "z" * 500


TOKENS = [
    ("Authorization: Bearer abc.def-123", "abc.def-123"),
    ('{"authorization": "Basic dXNlcjpwYXNz"}', "dXNlcjpwYXNz"),
    ("curl -H 'Proxy-Authorization: Token 9f8e7d6c'", "9f8e7d6c"),
    ("sent bearer eyJhbGciOiJIUzI1NiJ9 ok", "eyJhbGciOiJIUzI1NiJ9"),
    ("key AKIAIOSFODNN7EXAMPLE used", "AKIAIOSFODNN7EXAMPLE"),
    ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
    ("token ghp_" + "a1B2" * 9 + " pushed", "a1B2" * 9),
    ("gho_" + "Z9" * 18, "Z9" * 18),
    ("github_pat_11ABCDEFG0_" + "q" * 40, "q" * 40),
    ("slack xoxb-1234-5678-abcdefghij", "1234-5678-abcdefghij"),
    ("xoxp-99887766-aabbcc", "99887766-aabbcc"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "eyJzdWIiOiIxIn0"),
    ("connect postgresql://app:hunter2pass@db:5432/x", "hunter2pass"),
    ("GET /login?user=a&password=opensesame&x=1", "opensesame"),
    ("db_password: s3cretvalue", "s3cretvalue"),
    ("dsn https://0123456789abcdef0123456789abcdef@o1.ingest.sentry.io/42", "0123456789abcdef"),
    (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\nabcdEFGH==\n"
        "-----END RSA PRIVATE KEY-----",
        "MIIEowIBAAKCAQEA7",
    ),
    ('{"key": "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg\\nkqhkiG9w0"}', "MIIEvQIBADANBg"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEA\n(cut)", "b3BlbnNzaC1rZXktdjEA"),
]


def test_token_patterns_are_redacted() -> None:
    redactor = Redactor()
    for text, secret in TOKENS:
        out = redactor.text(text)
        assert secret not in out, (text, out)
        assert REDACTED in out


def test_ordinary_lines_are_kept() -> None:
    line = '2026-12-06T10:00:01Z {app="api"} error: upstream timed out (GET /api/v1/orders)'
    assert Redactor(["s3cr3t"]).text(line) == line


def test_configured_secrets_in_their_json_and_url_forms() -> None:
    secret = 'p@ss "word"/x'
    redactor = Redactor([secret])
    text = f"raw {secret} json {json.dumps(secret)} url p%40ss%20%22word%22%2Fx"
    out = redactor.text(text)
    assert "ss " not in out.replace(REDACTED, "")
    assert out.count(REDACTED) == 3


JWT = r"eyJ[A-Za-z0-9_-]{8,20}\.eyJ[A-Za-z0-9_-]{8,20}\.[A-Za-z0-9_-]{8,30}"
SEPARATORS = st.text(alphabet=" \t\n,;\"'()[]{}<>|!", max_size=5)


@given(
    prefix=st.text(max_size=30),
    suffix=st.text(max_size=30),
    secrets=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=4),
    picks=st.lists(st.integers(0, 3), max_size=6),
)
def test_no_configured_secret_survives(
    prefix: str, suffix: str, secrets: list[str], picks: list[int]
) -> None:
    assume(all(s.strip("*") for s in secrets))
    # The secrets glued together and into arbitrary text, across lines too.
    middle = "\n".join(secrets[i % len(secrets)] for i in picks)
    lines = (prefix + secrets[0] + middle + suffix).split("\n")
    redactor = Redactor(secrets)
    out = prepare_output(lines, redactor)
    for text in (out.text, excerpt(out.lines), redactor.text("\n".join(lines))):
        for secret in secrets:
            assert secret not in text


@given(
    before=SEPARATORS,
    after=SEPARATORS,
    token=st.one_of(
        st.from_regex(r"ghp_[A-Za-z0-9]{36}", fullmatch=True),
        st.from_regex(r"github_pat_[A-Za-z0-9_]{40,60}", fullmatch=True),
        st.from_regex(r"xox[abpr]-[0-9]{6,12}-[A-Za-z0-9]{8,24}", fullmatch=True),
        st.from_regex(r"AKIA[0-9A-Z]{16}", fullmatch=True),
        st.from_regex(JWT, fullmatch=True),
    ),
)
def test_no_token_shape_survives(before: str, after: str, token: str) -> None:
    assert token not in Redactor().text(before + token + after)


@given(
    header=st.sampled_from(["Authorization: Bearer ", "authorization: Basic ", "Bearer "]),
    value=st.from_regex(r"[A-Za-z0-9._~+/-]{8,40}", fullmatch=True),
    after=SEPARATORS,
)
def test_no_authorization_value_survives(header: str, value: str, after: str) -> None:
    assert value not in Redactor().text(f"GET /x {header}{value}{after}")
