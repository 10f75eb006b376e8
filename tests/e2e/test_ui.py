"""A user in the Prefect UI: deployment page -> Run -> Custom run -> edit the form -> Submit.

Debian's chromium is driven through playwright's ``executable_path`` (never ``playwright
install``). Screenshots are kept in test-artifacts/e2e/.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from gan_core import publish
from tests.e2e.conftest import TINY

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
UI_TIMEOUT_MS = 120_000  # the first page load compiles a large bundle on a busy machine
# Prefect answers 503 when SQLite is busy (another writer won: SQLITE_BUSY_SNAPSHOT, which
# busy_timeout does not wait out). Its Python client retries those; the UI leaves it to the user.
SUBMIT_ATTEMPTS = 3


@pytest.fixture
def browser_page():
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed: run `scripts/setup.sh --browser` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(UI_TIMEOUT_MS)
            yield page
        finally:
            browser.close()


@pytest.fixture
def tiny_on_demand(deployed, api, tmp_path):
    """Points augment-on-demand's defaults at the tiny config in tmp (what an operator would edit), then restores them."""
    deployment = deployed["deployments"]["augment-on-demand"]
    original = dict(deployment["parameters"])
    tiny = {**original, **TINY, "output_root": str(tmp_path / "datasets"), "work_root": str(tmp_path / "work")}
    api.patch(f"/deployments/{deployment['id']}", {"parameters": tiny})
    try:
        yield deployment
    finally:
        api.patch(f"/deployments/{deployment['id']}", {"parameters": original})


def _form_field(page, parameter: str, control: str):
    """The input of one parameter in the schema form, found by its label ('<name> (Optional)')."""
    label = page.locator(".schema-form-property__label", has_text=re.compile(rf"^{parameter}\b"))
    return page.locator(".schema-form-property", has=label).last.locator(control)


def _submit(page, attempts: int = SUBMIT_ATTEMPTS):
    """Clicks Submit; a 503 (SQLite busy in the server, which the UI shows as an error) is submitted again.

    Returns the last create_flow_run response and how many 503s came before it.
    """
    refused = 0
    for _ in range(attempts):
        with page.expect_response(lambda r: r.url.endswith("/create_flow_run") and r.request.method == "POST") as created:
            page.get_by_role("button", name="Submit").click()
        if created.value.status != 503:
            break
        refused += 1
    return created.value, refused


def test_custom_run_from_the_ui(prefect_server, worker, api, tiny_on_demand, browser_page, timings, e2e_artifacts, tmp_path):
    page = browser_page
    page.goto(f"{prefect_server.url}/deployments/deployment/{tiny_on_demand['id']}")
    # exact=True: a plain "Run" also matches the "Runs" tab.
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_text("Custom run", exact=True).click()
    page.wait_for_url(re.compile(r"/run(\?|$)"))

    samples = _form_field(page, "samples_per_class", "input[type=number]")
    assert samples.input_value() == str(TINY["samples_per_class"])  # prefilled from the deployment
    samples.fill("12")
    _form_field(page, "dataset_name", "textarea").fill("e2e-ui")
    samples.scroll_into_view_if_needed()  # the form scrolls inside the app; full_page does not reach it
    page.screenshot(path=str(e2e_artifacts / "ui-custom-run-form.png"))

    created, refused = _submit(page)
    triggered_at = time.time()
    assert created.status == 201, f"create_flow_run answered {created.status} after {refused} retryable 503s"
    run_id = created.json()["id"]

    run = api.flow_run(run_id)
    assert run["deployment_id"] == tiny_on_demand["id"]
    assert run["parameters"]["samples_per_class"] == 12 and run["parameters"]["dataset_name"] == "e2e-ui"
    finished = api.wait_final(run_id)
    timings.add("ui", triggered_at, finished)

    version_dir = publish.resolve_version(tmp_path / "datasets" / "e2e-ui")
    verified = publish.verify(version_dir)
    manifest = publish.read_manifest(version_dir)
    assert manifest["rows_per_split_source"]["train"]["synthetic"] == 120  # 12 per class, open gate
    assert verified["rows"] == 120 + TINY["real_labeled_limit"] + 2000

    page.goto(f"{prefect_server.url}/runs/flow-run/{run_id}")
    page.get_by_text("Completed").first.wait_for()
    page.screenshot(path=str(e2e_artifacts / "ui-flow-run-completed.png"))
    page.locator("li.p-tab", has_text="Artifacts").click()
    page.get_by_text("quality-report").first.wait_for()
    page.screenshot(path=str(e2e_artifacts / "ui-flow-run-artifacts.png"))

    # The quality report renders in the UI with its embedded PNGs (sample grid, curves, acceptance).
    page.get_by_text("quality-report").first.click()
    page.get_by_text("Training curves").first.scroll_into_view_if_needed()
    images = page.locator("article img")
    sizes = [image.evaluate("element => element.decode().then(() => element.naturalWidth)") for image in images.all()]
    assert len(sizes) >= 3 and all(width > 0 for width in sizes), sizes
    page.screenshot(path=str(e2e_artifacts / "ui-quality-report.png"))
