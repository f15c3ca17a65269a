"""Paths the tests share: the repository, the captured payloads beside it, the example policy."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Reference payloads captured from the real tools (../shared/fixtures), read when present.
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"
POLICY_EXAMPLE = Path(__file__).with_name("routing_policy_example.yaml")
