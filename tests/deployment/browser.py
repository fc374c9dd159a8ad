"""Headless Chromium driven over the DevTools protocol, for pictures of the deployment's UI.

Uses the system's ``chromium`` (Debian's package; ``make screenshots`` installs it) and the
``websockets`` client. The browser is a service of the deployment: stopped with it, its
DevTools endpoint on 127.0.0.1 only.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
from pathlib import Path
from typing import Any

import requests
from websockets.sync.client import ClientConnection, connect

from tests.deployment.cluster import Deployment, DeploymentError, Service

WINDOW = (1440, 900)


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise DeploymentError("no chromium on PATH: `make screenshots` installs Debian's package")


class Browser:
    """One page of a headless Chromium, logged in to the api-server with a JWT cookie."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        profile = deployment.root / "chromium-profile"
        profile.mkdir(exist_ok=True)
        service = Service(
            "browser",
            [
                chromium_path(),
                "--headless=new",
                "--no-sandbox",  # root has no user namespace sandbox here
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--hide-scrollbars",
                f"--window-size={WINDOW[0]},{WINDOW[1]}",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            deployment.base_env(),
            deployment.root / "browser.log",
        )
        deployment.start_service(service)
        port_file = profile / "DevToolsActivePort"
        port = deployment.wait(
            "Chromium's DevTools port",
            lambda: port_file.is_file() and port_file.read_text().split("\n", 1)[0].strip(),
            60,
        )
        pages = requests.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        page = next(p for p in pages if p["type"] == "page")
        self._ws: ClientConnection = connect(page["webSocketDebuggerUrl"], max_size=64 * 1024 * 1024)
        self._ids = itertools.count(1)
        self.call("Page.enable")
        self.call("Runtime.enable")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one DevTools command and return its result (events in between are skipped)."""
        message_id = next(self._ids)
        self._ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            answer = json.loads(self._ws.recv(timeout=60))
            if answer.get("id") != message_id:
                continue
            if "error" in answer:
                raise DeploymentError(f"{method}: {answer['error']}")
            result: dict[str, Any] = answer.get("result", {})
            return result

    def login(self, base_url: str, token: str) -> None:
        """The auth manager's JWT cookie, as its login page would set it."""
        self.call("Network.enable")
        self.call("Network.setCookie", name="_token", value=token, url=base_url, httpOnly=True)

    def open(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise DeploymentError(f"{expression[:80]}...: {result['exceptionDetails']}")
        return result["result"].get("value")

    def text(self) -> str:
        return str(self.evaluate("document.body ? document.body.innerText : ''"))

    def wait_for_text(self, *texts: str, timeout: float = 60) -> str:
        def shown() -> str:
            body = self.text()
            return body if all(t in body for t in texts) else ""

        return self.deployment.wait(f"the page to show {texts}", shown, timeout)

    def wait_still(self, timeout: float = 30) -> None:
        """Until no finite CSS animation or transition runs (dialogs and accordions open with one)."""
        still = (
            "document.getAnimations().every(a => a.playState !== 'running'"
            " || a.effect.getComputedTiming().iterations === Infinity)"
        )
        self.deployment.wait("the page's animations to finish", lambda: self.evaluate(still), timeout)

    def screenshot(self, path: Path, selector: str | None = None) -> Path:
        """A PNG of the viewport, or of the box of the first element matching ``selector``."""
        self.wait_still()
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": False}
        if selector:
            box = self.evaluate(
                f"(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
                " return {x: r.x, y: r.y, width: r.width, height: r.height}; })()"
            )
            params["clip"] = {**box, "scale": 1}
        data = self.call("Page.captureScreenshot", **params)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        self._ws.close()
        self.deployment.stop_service("browser", grace=10)
