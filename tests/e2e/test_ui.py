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
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
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


# The label-scarce mode's own knobs at a tiny size: 3 teacher steps, every prediction kept, 30 per class.
TINY_LABEL_SCARCE = {"teacher_steps": 3, "pseudo_label_min_confidence": 0.0, "pseudo_label_max_per_class": 30}


@pytest.fixture
def tiny_on_demand(deployed, api, tmp_path, request):
    """Points augment-on-demand's defaults at the tiny config in tmp (what an operator would edit), then restores them.

    Parametrize indirectly with extra defaults to add to the tiny ones.
    """
    deployment = deployed["deployments"]["augment-on-demand"]
    original = dict(deployment["parameters"])
    extra = getattr(request, "param", {})
    tiny = {**original, **TINY, **extra, "output_root": str(tmp_path / "datasets"), "work_root": str(tmp_path / "work")}
    api.patch(f"/deployments/{deployment['id']}", {"parameters": tiny})
    try:
        yield deployment
    finally:
        api.patch(f"/deployments/{deployment['id']}", {"parameters": original})


def _form_field(page, parameter: str, control: str):
    """The input of one parameter in the schema form, found by its label ('<name> (Optional)')."""
    label = page.locator(".schema-form-property__label", has_text=re.compile(rf"^{parameter}\b"))
    return page.locator(".schema-form-property", has=label).last.locator(control)


def _open_custom_run(page, server_url: str, deployment_id: str) -> None:
    page.goto(f"{server_url}/deployments/deployment/{deployment_id}")
    # exact=True: a plain "Run" also matches the "Runs" tab.
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_text("Custom run", exact=True).click()
    page.wait_for_url(re.compile(r"/run(\?|$)"))


def _submit(page, attempts: int = SUBMIT_ATTEMPTS):
    """Clicks Submit; a 503 (SQLite busy in the server, which the UI shows as an error) is submitted again.

    Returns the last create_flow_run response and how many 503s came before it.
    """
    refused = 0
    for _ in range(attempts):
        with page.expect_response(
            lambda r: r.url.endswith("/create_flow_run") and r.request.method == "POST"
        ) as created:
            page.get_by_role("button", name="Submit").click()
        if created.value.status != 503:
            break
        refused += 1
    return created.value, refused


def test_custom_run_from_the_ui(
    prefect_server, worker, api, tiny_on_demand, browser_page, timings, e2e_artifacts, tmp_path
):
    page = browser_page
    _open_custom_run(page, prefect_server.url, tiny_on_demand["id"])

    from playwright.sync_api import expect  # retries until the UI has re-rendered

    samples = _form_field(page, "samples_per_class", "input[type=number]")
    expect(samples).to_have_value(str(TINY["samples_per_class"]))  # prefilled from the deployment
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


@pytest.mark.parametrize("tiny_on_demand", [TINY_LABEL_SCARCE], indirect=True)
def test_label_scarce_run_from_the_ui(
    prefect_server, worker, api, tiny_on_demand, browser_page, timings, e2e_artifacts, tmp_path
):
    """A user switches the label-scarce mode on in the form: the teacher labels the pool and judges."""
    from playwright.sync_api import expect  # retries until the UI has re-rendered

    page = browser_page
    _open_custom_run(page, prefect_server.url, tiny_on_demand["id"])
    # The form fills in the deployment's parameters after it first renders; a click before
    # that is undone. A prefilled field shows it has loaded.
    expect(_form_field(page, "samples_per_class", "input[type=number]")).to_have_value(
        str(TINY["samples_per_class"])
    )
    # A boolean renders as a switch (a label with role=switch around a hidden checkbox).
    toggle = _form_field(page, "use_unlabeled", "[role=switch]")
    expect(toggle).to_have_attribute("aria-checked", "false")  # off by default
    toggle.click()
    expect(toggle).to_have_attribute("aria-checked", "true")
    _form_field(page, "dataset_name", "textarea").fill("e2e-ui-scarce")
    toggle.scroll_into_view_if_needed()
    page.screenshot(path=str(e2e_artifacts / "ui-label-scarce-form.png"))

    created, refused = _submit(page)
    triggered_at = time.time()
    assert created.status == 201, f"create_flow_run answered {created.status} after {refused} retryable 503s"
    run_id = created.json()["id"]
    run = api.flow_run(run_id)
    assert run["parameters"]["use_unlabeled"] is True and run["parameters"]["teacher_steps"] == 3
    finished = api.wait_final(run_id)
    timings.add("ui-label-scarce", triggered_at, finished)
    assert any(task["name"].startswith("pseudo-label") for task in api.task_runs(run_id))

    version_dir = publish.resolve_version(tmp_path / "datasets" / "e2e-ui-scarce")
    publish.verify(version_dir)
    manifest = publish.read_manifest(version_dir)
    labeled = manifest["labeled_data"]
    assert labeled["use_unlabeled"] is True and labeled["labeled_count"] == TINY["real_labeled_limit"]
    assert labeled["pool_count"] == 8000 - TINY["real_labeled_limit"]  # the rest of the bundled train split
    pseudo = manifest["pseudo_labels"]
    assert pseudo["pool_count"] == labeled["pool_count"] and max(pseudo["per_class"]) == 30
    # The teacher rejected: its real-test accuracy is the rejecting judge's.
    assert manifest["metrics"]["judge_accuracy"] == pytest.approx(pseudo["teacher_test_accuracy"])
    # Only the N labeled images and the test split go out as real rows.
    assert manifest["rows_per_source"]["real"] == TINY["real_labeled_limit"] + 2000

    page.goto(f"{prefect_server.url}/runs/flow-run/{run_id}")
    page.get_by_text("Completed").first.wait_for()
    page.screenshot(path=str(e2e_artifacts / "ui-label-scarce-run-completed.png"))
