"""Acting on an incident in a real browser: acknowledge from the incident page (the
timeline grows in place, an open <details> and a half-typed note survive the updates),
the keyboard (`j` then `a`; nothing while typing), and a viewer who sees no action and
whose forced POST is refused."""

from __future__ import annotations

from playwright.sync_api import Request, expect

from tests.browser.pages import PageFactory
from tests.browser.world import ALICE, BOB, VICTOR, World, list_row, login, settled, unique

MARK_NODES = """() => document.querySelectorAll('#timeline li[data-timeline-id]')
  .forEach(li => { li.__kept = true; })"""
NODES_KEPT = """() => [...document.querySelectorAll('#timeline li[data-timeline-id]')]
  .filter(li => li.__kept).length"""


def test_acknowledge_on_the_incident_page_updates_it_in_place(
    world: World, new_page: PageFactory
) -> None:
    incident_id = world.post_alert()
    page = settled(login(new_page(), world.url, ALICE, f"/incidents/{incident_id}"))
    page.evaluate("window.__samePage = true")
    before = page.locator("#timeline li[data-timeline-id]").count()
    assert before >= 1
    page.evaluate(MARK_NODES)
    alert = page.locator("#alerts details").first
    alert.locator("summary").click()
    expect(alert).to_have_attribute("open", "")
    note = page.get_by_label("Add a note to the timeline")
    note.fill("checked the dashboards, th")

    page.get_by_role("button", name="Acknowledge").click()
    status = page.locator("#incident-status")
    expect(status).to_have_attribute("data-status", "acknowledged")
    expect(status).to_contain_text("by alice")
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)
    acked = page.locator("#timeline li[data-kind=acknowledged]")
    expect(acked).to_have_count(1)
    expect(acked).to_contain_text("alice")
    assert page.evaluate(NODES_KEPT) == before  # grown in place, the old entries kept

    # Bob adds a note from his browser while alice types hers: her page updates around it.
    bob = login(new_page(), world.url, BOB, f"/incidents/{incident_id}")
    note.click()
    note.press("End")
    note.press_sequentially("en the logs")
    bob.get_by_label("Add a note to the timeline").fill("rolling back")
    bob.get_by_role("button", name="Add note").click()
    expect(bob.locator("#timeline li[data-kind=note]").first).to_contain_text("rolling back")
    expect(page.locator("#timeline li[data-kind=note]").first).to_contain_text("rolling back")
    expect(alert).to_have_attribute("open", "")
    expect(note).to_have_value("checked the dashboards, then the logs")
    expect(note).to_be_focused()
    assert page.evaluate("window.__samePage === true")


def test_keyboard_j_then_a_acknowledges_but_not_while_typing(
    world: World, new_page: PageFactory
) -> None:
    service = unique("kb")
    incident_id = world.post_alert(service=service)
    page = login(new_page(), world.url, ALICE, f"/?service={service}")
    acks: list[Request] = []

    def sent(request: Request) -> None:
        if request.method == "POST" and "/ack" in request.url:
            acks.append(request)

    page.on("request", sent)
    row = list_row(page, incident_id)
    expect(row).to_have_attribute("data-status", "triggered")
    settled(page)

    field = page.get_by_label("Service")
    field.click()
    field.press("End")
    page.keyboard.type("ja")  # typed into the field, not taken as keys
    expect(field).to_have_value(service + "ja")
    assert acks == []
    page.evaluate("document.activeElement.blur()")

    page.keyboard.press("j")
    expect(row).to_be_focused()
    page.keyboard.press("a")
    expect(row).to_have_attribute("data-status", "acknowledged")
    expect(row.get_by_role("cell", name="alice", exact=True)).to_be_visible()
    assert len(acks) == 1
    assert world.incident(incident_id)["acknowledged_by"] == "alice"


def test_a_viewer_sees_no_actions_and_a_forced_post_is_refused(
    world: World, new_page: PageFactory
) -> None:
    incident_id = world.post_alert(service="api")
    page = login(new_page(), world.url, VICTOR)
    expect(list_row(page, incident_id)).to_be_visible()
    expect(page.get_by_role("banner")).to_contain_text("victor (viewer)")
    expect(page.get_by_role("button", name="Acknowledge selected")).to_have_count(0)
    expect(page.locator("#incident-list").get_by_role("button")).to_have_count(0)

    page.goto(f"{world.url}/incidents/{incident_id}")
    main = page.get_by_role("main")
    expect(main.get_by_role("heading", level=1)).to_contain_text(f"#{incident_id}")
    buttons = main.get_by_role("button")
    assert buttons.all_inner_texts() == []  # no ack, note, silence, run
    expect(page.locator("#playbooks")).to_contain_text("api-logs")

    # The server refuses anyway: his own cookie and CSRF token, same origin.
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    assert csrf
    refused = page.request.post(
        f"{world.url}/incidents/{incident_id}/ack",
        form={"csrf": csrf},
        headers={"Origin": world.url, "Sec-Fetch-Site": "same-origin"},
        max_redirects=0,
    )
    assert refused.status == 403, refused.text()
    assert "responder" in refused.text()
    assert world.incident(incident_id)["status"] == "triggered"
    # And the same POST as alice succeeds: the refusal was the role, not the request.
    alice = login(new_page(), world.url, ALICE)
    token = alice.locator('meta[name="csrf-token"]').get_attribute("content")
    done = alice.request.post(
        f"{world.url}/incidents/{incident_id}/ack",
        form={"csrf": token or ""},
        headers={"Origin": world.url, "Sec-Fetch-Site": "same-origin"},
        max_redirects=0,
    )
    assert done.status == 303, done.text()
    assert world.incident(incident_id)["acknowledged_by"] == "alice"
