"""Service names the config maps senders' names to must fit the alert tables: a longer
one would be refused on every alert it names, so the config is refused instead."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, parse_config


@pytest.mark.parametrize(
    ("text", "path"),
    [
        (f"services: {{job: {'s' * 201}}}\n", "services.job"),
        (f"sources:\n  nginx:\n    services: {{web: {'s' * 201}}}\n", "sources.nginx.services.web"),
        (
            f"sources:\n  sentry:\n    services: {{app: {'s' * 201}}}\n",
            "sources.sentry.services.app",
        ),
    ],
)
def test_a_service_name_too_long_to_store_is_a_config_error(text: str, path: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, {})
    assert caught.value.errors == [(path, "longer than 200 characters (201): too long to store")]


def test_a_service_name_of_200_characters_is_fine() -> None:
    settings = parse_config(f"services: {{job: {'s' * 200}}}\n", {})
    assert settings.services == {"job": "s" * 200}


def test_a_service_name_with_nul_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config('services: {job: "pay\\0ments"}\n', {})
    assert caught.value.errors == [
        ("services.job", "must not contain NUL or lone surrogate characters")
    ]
