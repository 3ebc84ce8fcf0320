"""The emulator's page in a real browser: headless Chromium (the machine's package, driven by
Playwright) watches a fast transcription, a batch job and a web hook happen, live.

Without Chromium or Playwright these tests are skipped with a message saying what to
install, except when ``SPEECHREST_REQUIRE_BROWSER=1`` (``.ci/run`` sets it): then they fail,
so that CI never skips them silently. ``SPEECHREST_CHROMIUM`` names another Chromium binary.
``SPEECHREST_PAGE_SCREENSHOT=docs/images/emulator-page.png`` saves the screenshot the docs
show.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from yarl import URL

from speechrest import SpeechClient
from speechrest.testing import Fault, FaultPlan, Quota, Quotas, SpeechEmulator, make_wav
from speechrest.webhooks import EVENT_HEADER, SIGNATURE_HEADER
from tests._sink import Sink
from tests.conftest import UNMETERED
from tests.resources.custom_speech import FAST, POLL

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PATIENCE_MS = 60_000
"""How long an expectation waits before the test fails: a guard against a hang, far above
what the page needs even on a loaded machine."""


def _unavailable(reason: str) -> None:
    if os.environ.get("SPEECHREST_REQUIRE_BROWSER") == "1":
        pytest.fail(f"a browser is required here (SPEECHREST_REQUIRE_BROWSER=1): {reason}")
    pytest.skip(reason)


def _chromium_path() -> str | None:
    named = os.environ.get("SPEECHREST_CHROMIUM")
    if named:
        return named
    return shutil.which("chromium") or shutil.which("chromium-browser")


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """A headless Chromium browser (Playwright's ``Browser``)."""
    path = _chromium_path()
    if path is None:
        _unavailable("Chromium is not installed (Debian: apt-get install chromium)")
    try:
        from playwright.async_api import async_playwright, expect
    except ImportError:
        _unavailable("Playwright is not installed: pip install -e '.[test]'")
    expect.set_options(timeout=PATIENCE_MS)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def _everything_served(emulator: SpeechEmulator) -> str:
    """All the page's JSON: the snapshot, each request's detail, the first event."""
    base = emulator.endpoint + "/_emulator/"
    texts = []
    async with aiohttp.ClientSession() as session:
        async with session.get(base + "api/snapshot") as response:
            snapshot = await response.json()
            texts.append(json.dumps(snapshot))
        for request in snapshot["requests"]:
            async with session.get(f"{base}api/requests/{request['seq']}") as response:
                assert response.status == 200
                texts.append(await response.text())
        async with session.get(base + "events") as response:
            assert response.headers["Content-Type"] == "text/event-stream"
            assert await response.content.readline() == b"event: snapshot\n"
            texts.append((await response.content.readline()).decode())
    return "\n".join(texts)


def test_without_a_browser_the_tests_skip_except_where_one_is_required(monkeypatch) -> None:
    monkeypatch.delenv("SPEECHREST_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        _unavailable("Chromium is not installed (Debian: apt-get install chromium)")
    monkeypatch.setenv("SPEECHREST_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="SPEECHREST_REQUIRE_BROWSER=1"):
        _unavailable("Chromium is not installed")


@pytest.mark.anyio
async def test_the_page_shows_requests_jobs_and_web_hooks_live(tmp_path: Path) -> None:
    from playwright.async_api import expect

    faults = FaultPlan()
    quotas = Quotas(fast=Quota(600, 60.0), rest=None)
    async with (
        Sink().running() as sink,
        SpeechEmulator(timing=FAST, faults=faults, quotas=quotas) as emulator,
        chromium() as browser,
    ):
        page = await browser.new_page(viewport={"width": 1440, "height": 1000})
        await page.goto(emulator.endpoint + "/")
        await expect(page.locator("#connection")).to_have_text("live")
        await expect(page.locator("#no-requests")).to_be_visible()
        await page.evaluate("window.loadedOnce = true")

        async with SpeechClient(
            emulator.endpoint, key=emulator.key, rest_quota=UNMETERED
        ) as client:
            hook = await client.webhooks.create(
                sink.url,
                events=["transcriptionCompletion"],
                secret="s3cret",
                display_name="Batch notifications",
            )
            await client.webhooks.wait(hook, policy=POLL)
            await client.transcribe(
                make_wav(comment="hello from the page"),
                locales=["en-US"],
                profanity_filter_mode="Removed",
            )
            fast = page.locator("#requests tr.request", has_text="Transcriptions_Transcribe")
            await expect(fast).to_have_count(1)
            await expect(fast).to_have_attribute("data-status", "200")

            faults.add(Fault.unavailable(retry_after=0), operation="Transcriptions_Get")
            audio = emulator.serve_bytes(make_wav(comment="a batch call"), "call.wav")
            job = await client.transcriptions.submit(
                content_urls=[audio], locale="en-US", display_name="Nightly calls"
            )
            await client.transcriptions.wait(job.id, policy=POLL)
            project = await client.projects.create(display_name="Call center", locale="en-US")

        # The batch job, its injected fault and its web hook delivery arrive without reload.
        entity = page.locator(f'#entities [data-group="transcriptions"] tr[data-id="{job.id}"]')
        await expect(entity).to_have_attribute("data-status", "Succeeded")
        await expect(entity).to_contain_text("Nightly calls")
        project_row = page.locator(f'#entities [data-group="projects"] tr[data-id="{project.id}"]')
        await expect(project_row).to_contain_text("Call center")
        faulted = page.locator("#requests tr.request", has_text="fault http_503")
        await expect(faulted).to_have_count(1)
        await expect(faulted).to_have_attribute("data-status", "503")
        await sink.wait_kind("transcriptionCompletion")
        box = page.locator(f'#webhooks .hook[data-id="{hook.id}"]')
        await expect(box).to_have_attribute("data-status", "Succeeded")
        await expect(box.locator('tr.delivery[data-event="challenge"]')).to_have_count(1)
        delivery = box.locator('tr.delivery[data-event="transcriptionCompletion"]')
        await expect(delivery).to_have_count(1)
        await expect(delivery).to_have_attribute("data-status", "200")
        [sent] = [r for r in sink.requests if r.headers[EVENT_HEADER] == "transcriptionCompletion"]
        await expect(delivery).to_contain_text(sent.headers[SIGNATURE_HEADER])
        await expect(page.locator('#quotas tr[data-family="fast"] td').nth(2)).to_have_text("1")
        assert await page.evaluate("window.loadedOnce") is True
        await page.locator("#filter").fill("fault 503")
        await expect(page.locator("#requests tr.request")).to_have_count(1)
        await page.locator("#filter").fill("")

        # A click shows the request in detail: headers with the key redacted, the definition.
        await fast.click()
        headers = page.locator("#detail-headers")
        await expect(headers).to_contain_text("ocp-apim-subscription-key")
        await expect(headers).to_contain_text("REDACTED")
        definition = json.loads(await page.locator("#detail-definition").inner_text())
        assert definition["locales"] == ["en-US"]
        assert definition["profanityFilterMode"] == "Removed"

        await entity.click()
        shown = json.loads(await page.locator("#detail-entity").inner_text())
        assert shown["displayName"] == "Nightly calls"
        assert shown["status"] == "Succeeded"
        await box.locator("h3").click()
        shown = json.loads(await page.locator("#detail-entity").inner_text())
        assert shown["properties"]["secret"] == "REDACTED"
        await fast.click()  # the request again, for the screenshot
        await expect(page.locator("#detail-definition")).to_be_visible()

        await page.locator("#requests-panel .scroll").evaluate("list => list.scrollTo(0, 0)")
        await page.mouse.move(0, 0)
        shot = Path(os.environ.get("SPEECHREST_PAGE_SCREENSHOT") or tmp_path / "page.png")
        await page.screenshot(path=str(shot), full_page=False)
        assert shot.read_bytes().startswith(b"\x89PNG")

        # Never the key, nor a SAS signature: not in the page, nor in anything it fetched.
        secrets = [emulator.key, URL(audio).query["sig"], "s3cret"]
        html = await page.content()
        served = await _everything_served(emulator)
        for secret in secrets:
            assert secret not in html
            assert secret not in served
        assert "sig=REDACTED" in served


@pytest.mark.anyio
async def test_a_request_being_handled_shows_its_answer_when_it_comes() -> None:
    from playwright.async_api import expect

    plan = FaultPlan()
    plan.add(Fault.latency(3600), operation="Projects_List")  # until the client hangs up
    async with SpeechEmulator(faults=plan) as emulator, chromium() as browser:
        page = await browser.new_page()
        await page.goto(emulator.endpoint + "/")
        await expect(page.locator("#connection")).to_have_text("live")
        async with aiohttp.ClientSession() as session:
            url = f"{emulator.endpoint}/speechtotext/projects?api-version=2025-10-15"
            slow = asyncio.ensure_future(session.get(url))
            row = page.locator("#requests tr.request", has_text="Projects_List")
            await expect(row).to_have_attribute("data-status", "")
            await row.click()
            await expect(page.locator("#detail")).to_contain_text("being handled")
            await expect(page.locator("#detail")).to_contain_text("fault latency")
            slow.cancel()  # the client hangs up: the emulator stops waiting and answers
            with contextlib.suppress(asyncio.CancelledError):
                await slow
        await expect(row).not_to_have_attribute("data-status", "")
        await expect(page.locator("#detail")).not_to_contain_text("being handled")
