"""Drives the web console in Debian's Chromium (Playwright, no browser download) against a
running gateway, as a person would: the key prompt, a metadata filter, a phone call as a
thread, a record, the targets page. Exits non-zero with the reason when something is wrong.

Usage: console_check.py BASE_URL ADMIN_KEY THREAD_ID FALLBACK_TURN
"""

import json
import sys
from urllib.parse import urlparse

from playwright.sync_api import expect, sync_playwright

base, key, thread_id, fallback_turn = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
origin = urlparse(base).netloc
auth = {"Authorization": f"Bearer {key}"}
errors, foreign = [], []


def api(page, path):
    response = page.request.get(base + path, headers=auth)
    assert response.ok, f"{path}: {response.status}"
    return response.json()


with sync_playwright() as playwright:
    browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
    page = browser.new_page()

    def on_console(message):
        # The first call is refused with 401 until the key is given: that one is expected.
        if message.type == "error" and "status of 401" not in message.text:
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: foreign.append(request.url)
            if urlparse(request.url).netloc not in ("", origin) else None)

    # The page loads without a key, then asks for it.
    page.goto(base + "/console")
    page.get_by_label("Admin key").fill(key)
    page.get_by_role("button", name="Use key").click()
    logs = page.get_by_role("table", name="Logs")
    expect(logs).to_be_visible()
    everything = api(page, "/api/logs?limit=50")["data"]
    expect(logs.locator("tbody tr")).to_have_count(len(everything))

    # A metadata filter shows exactly the rows the API returns.
    page.get_by_label("Filter").fill("metadata.language=es")
    page.get_by_role("button", name="Search").click()
    spanish = api(page, "/api/logs?metadata.language=es&limit=50")["data"]
    assert 0 < len(spanish) < len(everything), (len(spanish), len(everything))
    expect(logs.locator("tbody tr")).to_have_count(len(spanish))
    shown = logs.locator("tbody tr td:last-child").all_inner_texts()
    assert all("language=es" in cell for cell in shown), shown

    # The filter's export, as a file: exactly those records.
    with page.expect_download() as download:
        page.get_by_role("button", name="JSONL").click()
    with open(download.value.path(), encoding="utf-8") as exported:
        lines = [json.loads(line) for line in exported if line.strip()]
    assert sorted(r["id"] for r in lines) == sorted(r["id"] for r in spanish), len(lines)

    # The phone call as a thread: every turn, in order, the fallback marked.
    page.get_by_role("link", name=thread_id).first.click()
    turns = page.get_by_role("table", name="Turns")
    expect(turns).to_be_visible()
    expected = api(page, f"/api/threads/{thread_id}")["data"]
    rows = turns.locator("tbody tr")
    expect(rows).to_have_count(len(expected))
    numbers = [int(cell) for cell in turns.locator("tbody tr td:first-child").all_inner_texts()]
    assert numbers == list(range(len(expected))), numbers
    use_cases = turns.locator("tbody tr td:nth-child(3)").all_inner_texts()
    assert use_cases == [t["metadata"]["use_case"] for t in expected], use_cases
    expect(rows.nth(fallback_turn).get_by_text("fallback")).to_be_visible()
    for n in range(len(expected)):
        if n != fallback_turn:
            expect(rows.nth(n).get_by_text("fallback")).to_have_count(0)

    # A turn opens its record: the conversation, the attempts (two for the fallback), raw JSON.
    rows.nth(fallback_turn).get_by_role("link").click()
    expect(page.get_by_role("heading", name="Conversation")).to_be_visible()
    expect(page.get_by_role("table", name="Attempts").locator("tbody tr")).to_have_count(2)
    expect(page.locator("pre")).to_contain_text(expected[fallback_turn]["id"])

    # A trace: the span tree, children under their parent.
    page.goto(base + "/console#/traces/trace-console")
    tree = page.get_by_role("list", name="Spans")
    expect(tree).to_be_visible()
    root = tree.locator(":scope > li").filter(has=page.get_by_role("link", name="step root"))
    expect(root).to_have_count(1)
    expect(root.locator("ul > li")).to_have_count(2)
    expect(root.get_by_role("link", name="step plan")).to_be_visible()

    # Live counters: the last 15 minutes as the API counts them, the fallback among them.
    page.get_by_role("link", name="Live").click()
    live = page.get_by_role("table", name="Live counters")
    expect(live).to_be_visible()
    stats = api(page, "/api/stats?window=15m")
    expect(live.get_by_role("row", name="Requests")).to_contain_text(str(stats["requests"]))
    expect(live.get_by_role("row", name="Fallbacks")).to_contain_text(str(stats["fallbacks"]))
    assert stats["requests"] == len(everything) and stats["fallbacks"] == 1, stats

    # Targets: disable one from the console, see it disabled, enable it again.
    page.get_by_role("link", name="Targets").click()
    targets = page.get_by_role("table", name="Targets")
    expect(targets).to_be_visible()
    first = targets.locator("tbody tr").first
    first.get_by_role("button", name="Disable").click()
    expect(targets.locator("tbody tr").first.get_by_role("button", name="Enable")).to_be_visible()
    state = api(page, "/api/admin/targets")["data"][0]["state"]
    assert state == "disabled", state
    targets.locator("tbody tr").first.get_by_role("button", name="Enable").click()
    expect(targets.locator("tbody tr").first.get_by_role("button", name="Disable")).to_be_visible()

    browser.close()

assert not errors, f"console errors: {errors}"
assert not foreign, f"requests to other hosts: {foreign}"
print(json.dumps({"ok": True, "logs": len(everything), "spanish": len(spanish), "turns": len(expected)}))
