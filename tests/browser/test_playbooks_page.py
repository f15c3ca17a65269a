"""Playbooks from the incident page in real browsers: a dry-run shows the requests and
sends nothing; alice starts a deploy that waits for bob's approval, bob approves in his
browser, and the CI webhook receives exactly one dispatch."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.pages import PageFactory
from tests.browser.world import ALICE, BOB, TOKENS, World, login, settled, unique
from tests.support.waiting import wait_for


def test_a_dry_run_shows_the_requests_and_sends_nothing(
    world: World, new_page: PageFactory
) -> None:
    incident_id = world.post_alert(unique("Errors"), service="api")
    page = login(new_page(), world.url, ALICE, f"/incidents/{incident_id}")
    sent_before = len(world.loki.requests)
    page.get_by_role("button", name="Dry-run api-logs", exact=True).click()

    result = page.locator("#dry-run")
    expect(result.get_by_role("heading")).to_have_text("Dry-run of api-logs: nothing was sent")
    request = result.locator('li[data-step="loki"] pre.request')
    expect(request).to_contain_text(f"GET {world.loki.base_url}/loki/api/v1/query_range")
    expect(request).to_contain_text("***")
    expect(page.locator("#timeline li[data-kind=playbook_dry_run]")).to_contain_text("alice")
    assert TOKENS["LOKI_TOKEN"] not in page.content()
    assert len(world.loki.requests) == sent_before  # not even the read went out
    expect(page.locator("#runs")).to_contain_text("No playbook runs.")
    # The live refresh the dry-run caused (its timeline entry) keeps the result shown.
    settled(page)
    expect(request).to_contain_text("/loki/api/v1/query_range")


def test_alice_starts_a_deploy_and_bob_approves_it_in_his_browser(
    world: World, new_page: PageFactory
) -> None:
    incident_id = world.post_alert(unique("Rollback"), service="api")
    path = f"/incidents/{incident_id}"
    alice = login(new_page(), world.url, ALICE, path)
    alice.get_by_role("button", name="Run api-deploy", exact=True).click()

    gate = alice.locator("#approvals article.approval")
    expect(gate).to_contain_text("step rollback awaits approval")
    expect(gate).to_contain_text("You cannot decide this")
    expect(gate.get_by_role("button", name="Approve")).to_have_count(0)
    run = alice.locator("#runs article.run")
    expect(run).to_have_attribute("data-status", "running")
    assert world.hook.dispatches == []

    bob = login(new_page(), world.url, BOB, path)
    bob_gate = bob.locator("#approvals article.approval")
    bob_gate.get_by_label("Comment").fill("go ahead")
    bob_gate.get_by_role("button", name="Approve").click()

    wait_for("the deploy hook", lambda: len(world.hook.dispatches) >= 1, timeout=30)
    expect(bob.locator("#runs article.run")).to_have_attribute("data-status", "succeeded")
    expect(run).to_have_attribute("data-status", "succeeded")  # alice's page, live
    expect(alice.locator("#approvals")).to_contain_text("Nothing awaits approval.")
    (hook,) = world.hook.dispatches
    assert hook.json()["incident"]["id"] == incident_id
    assert hook.json()["body"] == {"incident": str(incident_id), "action": "rollback"}
    decided = alice.locator("#timeline li[data-kind=playbook_approval]")
    expect(decided).to_contain_text("bob")
