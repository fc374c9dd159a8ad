"""``make screenshots``: pictures of the provider in the Airflow UI, for docs/img/.

Starts the deployment of cluster.py (LocalExecutor), runs the daily archive twice, then
drives headless Chromium against the api-server: the connection form of the
``usage_intelligence`` type, whose custom fields must render, and the DAG's grid. Fails,
writing nothing, when a field or a task is missing from the page.

    python -m tests.deployment.screenshots docs/img
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from pathlib import Path

from airflow_provider_usageintel.get_provider_info import (
    USAGE_INTELLIGENCE_CONN_FIELDS,
    USAGE_INTELLIGENCE_UI_BEHAVIOUR,
)
from tests.deployment.browser import Browser
from tests.deployment.cluster import AirflowApi, Deployment, DeploymentError, wait_for_run, wait_for_tasks

DAG_ID = "usageintel_daily_archive"
TASKS = ("wait_custom_events", "archive_custom_events", "write_manifest")
CONN_TYPE_LABEL = "Usage Intelligence"


def run_archive(deployment: Deployment, api: AirflowApi) -> None:
    """The latest scheduled run (its sensors wait until the clock moves), then a manual one."""
    api.patch(f"/dags/{DAG_ID}", {"is_paused": False})
    runs = deployment.wait(
        "the scheduled run", lambda: api.get(f"/dags/{DAG_ID}/dagRuns", run_type="scheduled")["dag_runs"], 60
    )
    run_id = runs[0]["dag_run_id"]
    day = dt.date.fromisoformat(runs[0]["data_interval_end"][:10]) - dt.timedelta(days=1)
    wait_for_tasks(
        deployment, api, DAG_ID, run_id, lambda ti: ti["task_id"].startswith("wait_"), "deferred", 150
    )
    deployment.advance_until_final(day)
    wait_for_run(deployment, api, DAG_ID, run_id, 150)
    manual = api.post(
        f"/dags/{DAG_ID}/dagRuns", {"logical_date": None, "conf": {"day": str(day - dt.timedelta(1))}}
    )
    wait_for_run(deployment, api, DAG_ID, manual["dag_run_id"], 150)


def click(browser: Browser, element_js: str) -> None:
    """A real mouse click (press and release) in the middle of the element ``element_js`` finds."""
    x, y = browser.evaluate(
        f"(() => {{ const e = {element_js}; if (!e) return null; e.scrollIntoView({{block: 'center'}});"
        " const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
    ) or (None, None)
    if x is None:
        raise DeploymentError(f"nothing on the page matches {element_js}")
    for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
        browser.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)


def button(label: str, scope: str = "") -> str:
    return f"[...document.querySelectorAll('{scope} button')].find(b => b.innerText.trim() === '{label}')"


def dialog_text(browser: Browser) -> str:
    return str(browser.evaluate("(document.querySelector('[role=dialog]') || {innerText: ''}).innerText"))


def wait_dialog(browser: Browser, deployment: Deployment, *texts: str) -> str:
    def shown() -> str:
        text = dialog_text(browser)
        return text if all(x in text for x in texts) else ""

    return deployment.wait(f"the dialog to show {texts}", shown, 30)


def connection_pictures(browser: Browser, deployment: Deployment, out: Path) -> list[Path]:
    """The Add Connection form of the type (every custom field), and the existing connection's."""
    labels = [field["label"] for field in USAGE_INTELLIGENCE_CONN_FIELDS.values()]
    relabeled = list(USAGE_INTELLIGENCE_UI_BEHAVIOUR["relabeling"].values())
    browser.call(
        "Emulation.setDeviceMetricsOverride", width=1440, height=1400, deviceScaleFactor=1, mobile=False
    )
    browser.open(f"{deployment.api_url}/connections")
    browser.wait_for_text("usage_intelligence_default", "Add Connection")

    click(browser, button("Add Connection"))
    wait_dialog(browser, deployment, "Connection Type")
    click(browser, "document.querySelector('[role=dialog] input[role=combobox]')")
    browser.call("Input.insertText", text=CONN_TYPE_LABEL)
    for kind in ("keyDown", "keyUp"):
        browser.call("Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter", windowsVirtualKeyCode=13)
    wait_dialog(browser, deployment, "Extra Fields", *relabeled)
    click(browser, button("Extra Fields", "[role=dialog]"))
    text = wait_dialog(browser, deployment, *labels)
    missing = [label for label in labels if label not in text]
    if missing:
        raise DeploymentError(f"custom connection fields not rendered: {missing}")
    form = browser.screenshot(out / "connection-form.png", "[role=dialog]")

    browser.open(f"{deployment.api_url}/connections")
    browser.wait_for_text("usage_intelligence_default")
    row = "[...document.querySelectorAll('tr')].find(r => r.innerText.includes('usage_intelligence_default'))"
    click(browser, f"{row}.querySelector('button[aria-label=\"Edit Connection\"]')")
    wait_dialog(browser, deployment, "Edit Connection", *relabeled)
    edit = browser.screenshot(out / "connection-edit.png", "[role=dialog]")
    return [form, edit]


def grid_picture(browser: Browser, deployment: Deployment, out: Path) -> Path:
    browser.call(
        "Emulation.setDeviceMetricsOverride", width=1440, height=900, deviceScaleFactor=1, mobile=False
    )
    browser.open(f"{deployment.api_url}/dags/{DAG_ID}")
    browser.wait_for_text(DAG_ID, *TASKS)
    return browser.screenshot(out / "grid-daily-archive.png")


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "docs/img")
    root = Path(tempfile.mkdtemp(prefix="usageintel-screenshots-"))
    with Deployment(root) as deployment:
        api = deployment.start_all(DAG_ID)
        run_archive(deployment, api)
        browser = Browser(deployment)
        try:
            browser.login(deployment.api_url, api.token)
            pictures = [
                *connection_pictures(browser, deployment, out),
                grid_picture(browser, deployment, out),
            ]
        finally:
            browser.close()
    for picture in pictures:
        print(f"wrote {picture}")
    print(f"logs: {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
