"""``/docs`` in a real browser: headless Chromium (Debian's ``chromium`` and ``chromium-driver``,
driven by Selenium) opens Swagger UI on the local runtime, which works with no network: every
asset comes from the gateway. The chat route expands with its schema and no "Resolver error",
"Authorize" offers the bearer and ``x-api-key`` schemes, and "Try it out" gets an answer.

A screenshot is kept in ``.artifacts/`` (gitignored) and its path printed. Skipped, saying why,
where Chromium or its driver is not installed (.ci/run installs both).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import LocalRuntime

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[2] / ".artifacts"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,2200",
)


@pytest.fixture
def browser() -> Iterator[Any]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip(
            f"needs Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER}): "
            "apt-get install -y chromium chromium-driver"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="switchyard-chromium-")
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_swagger_ui_renders_offline_and_the_chat_route_resolves(
    local_runtime: Callable[..., LocalRuntime], browser: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    runtime = local_runtime(env={"SWITCHYARD_LOCAL_STATE": "memory"})
    wait = WebDriverWait(browser, 30)
    browser.get(f"{runtime.url}/docs")
    chat = wait.until(
        ready.element_to_be_clickable(
            (By.ID, "operations-inference-chat_completions_v1_chat_completions_post")
        )
    )
    chat.find_element(By.CLASS_NAME, "opblock-summary").click()
    # The request body's schema, expanded all the way down: its $refs (Message, TextPart, …) are
    # followed, where an unresolved one would show "Resolver error".
    open_op = browser.find_element(By.CSS_SELECTOR, ".opblock.is-open")
    open_op.find_element(By.CSS_SELECTOR, "button.tablinks[data-name=model]").click()
    deep = "button.json-schema-2020-12-expand-deep-button"

    def expanded(driver: Any) -> bool:
        """Done once a message's content parts show; else opens the next collapsed level."""
        if "TextPart" in open_op.text and "ImagePart" in open_op.text:
            return True
        collapsed = [b for b in open_op.find_elements(By.CSS_SELECTOR, deep) if "Expand" in b.text]
        if collapsed:
            driver.execute_script("arguments[0].click()", collapsed[0])
        return False

    wait.until(expanded)
    schema_text = open_op.text
    # Authorize: both schemes, then the master key in the bearer one.
    browser.find_element(By.CSS_SELECTOR, "button.authorize").click()
    dialog = wait.until(ready.visibility_of_element_located((By.CSS_SELECTOR, ".modal-ux")))
    assert "bearer" in dialog.text and "x-api-key" in dialog.text
    dialog.find_element(By.CSS_SELECTOR, "input[type=text], input[type=password]").send_keys(
        runtime.master_key
    )
    dialog.find_element(By.CSS_SELECTOR, "button.authorize").click()
    dialog.find_element(By.CSS_SELECTOR, "button.btn-done").click()
    # Try it out with the example body: the gateway answers 200 from the mock provider.
    open_op.find_element(By.CSS_SELECTOR, "button.tablinks[data-name=example]").click()
    open_op.find_element(By.CSS_SELECTOR, "button.try-out__btn").click()
    open_op.find_element(By.CSS_SELECTOR, "button.execute").click()
    wait.until(
        lambda d: d.find_elements(
            By.CSS_SELECTOR, ".opblock.is-open .live-responses-table tr.response .response-col_status"
        )
    )
    status = open_op.find_element(
        By.CSS_SELECTOR, ".live-responses-table tr.response .response-col_status"
    ).text
    page = browser.find_element(By.TAG_NAME, "body").text
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "swagger-ui-chat.png"
    browser.save_screenshot(str(shot))
    print(f"screenshot: {shot}")
    assert "Resolver error" not in page and "Resolver error" not in schema_text
    assert "Failed to load API definition" not in page
    assert status.strip().startswith("200"), status
    loaded = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert loaded and all(url.startswith(runtime.url) for url in loaded), loaded  # nothing from a CDN
