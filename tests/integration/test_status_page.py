"""The status page in a real browser (Debian's chromium, driven by Playwright: `make browser`),
against two workers: loaded while callbacks flow, it comes to show the numbers that were sent,
group-wide, and its search box opens a message's state."""

from __future__ import annotations

import json
import shutil
import threading
import uuid
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

from tests.integration.pipeline import Pipeline, wait_group

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# revicom messages by how they end: the status callbacks each one gets
LIFECYCLES = {
    "delivered": ["sent", "delivered"],
    "failed": ["sent", "undelivered"],
    "pending": ["sent"],
}
MESSAGES_PER_OUTCOME = {"delivered": 6, "failed": 3, "pending": 4}


def callback(message_uuid: str, status: str, second: int) -> dict[str, object]:
    event = "delivered" if status == "undelivered" else status
    return {
        "message_uuid": message_uuid,
        "channel_type": "SMS",
        "callback_event": event,
        "status": status,
        "status_time": f"2024-06-01T10:00:{second:02d}Z",
    }


def post_all(pipeline: Pipeline, messages: dict[str, list[str]], failures: list[str]) -> None:
    try:
        for outcome, ids in messages.items():
            for message_uuid in ids:
                body = [callback(message_uuid, s, i) for i, s in enumerate(LIFECYCLES[outcome])]
                response = pipeline.post("revicom", json.dumps(body).encode(), "application/json")
                if response.status_code != 200:
                    failures.append(response.text)
        bad_time = [{**callback(str(uuid.uuid4()), "delivered", 0), "status_time": "16.10.2020 18:51"}]
        response = pipeline.post("revicom", json.dumps(bad_time).encode(), "application/json")
        if response.status_code != 200:
            failures.append(response.text)
    except Exception as exc:  # noqa: BLE001  (reported by the test thread)
        failures.append(repr(exc))


def field(page: Page, provider: str, name: str) -> object:
    return page.locator(f'section[data-provider="{provider}"] dd[data-field="{name}"]')


def test_the_status_page_shows_what_was_sent_and_opens_a_message(
    fresh_pipeline: Pipeline, tmp_path: Path
) -> None:
    pipeline = fresh_pipeline
    workers = [pipeline.start_worker("worker-1"), pipeline.start_worker("worker-2")]
    wait_group(workers)
    pipeline.start_gateway()
    messages = {o: [str(uuid.uuid4()) for _ in range(n)] for o, n in MESSAGES_PER_OUTCOME.items()}
    callbacks = sum(len(LIFECYCLES[o]) * n for o, n in MESSAGES_PER_OUTCOME.items()) + 1
    failures: list[str] = []
    sender = threading.Thread(target=post_all, args=(pipeline, messages, failures))

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            sender.start()
            page.goto(workers[0])  # redirected to /status
            expect(page).to_have_url(f"{workers[0]}/status")
            sender.join()
            assert not failures, failures

            for name, value in [
                ("callbacks", callbacks),
                ("delivered", MESSAGES_PER_OUTCOME["delivered"]),
                ("failed", MESSAGES_PER_OUTCOME["failed"]),
                ("pending", MESSAGES_PER_OUTCOME["pending"]),
                ("dead-letters", 1),
                ("lag", 0),
            ]:
                expect(field(page, "revicom", name)).to_have_text(str(value), timeout=60_000)
            expect(field(page, "edna", "callbacks")).to_have_text("0")
            expect(page.locator("#workers")).to_contain_text("2 of 2 workers answered")
            expect(page.locator("#dead-letters")).to_contain_text("status_time")
            assert page.locator('section[data-provider="revicom"] svg rect').count() >= 1
            screenshot = tmp_path / "status-page.png"
            page.screenshot(path=str(screenshot), full_page=True)
            print(f"status page screenshot: {screenshot}")

            wanted = messages["delivered"][0]
            page.select_option("#search-provider", "revicom")
            page.fill("#search-id", wanted)
            page.click("#search button[type=submit]")
            expect(page).to_have_url(f"{workers[0]}/messages/revicom/{wanted}")
            state = json.loads(page.locator("body").inner_text())
            assert (state["provider_message_id"], state["status"]["status"]) == (wanted, "DELIVERED")
        finally:
            browser.close()
