"""Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``): standard library only.

Chromium reads protocol commands (JSON, each ended by a NUL byte) from file
descriptor 3 and writes replies and events to descriptor 4; no port, no
WebSocket, no driver binary. :func:`open_page` loads a page and reports its
images, its console errors and a screenshot.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

#: Where to look for a browser: $BETAVAE_CHROMIUM, then these names on PATH (Debian's package is ``chromium``).
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: Flags for a quiet headless run on a closed network, as root (no sandbox), with no first-run or background work.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--remote-debugging-pipe")


def find_browser() -> str | None:
    named = os.environ.get("BETAVAE_CHROMIUM")
    if named:
        return named
    return next((path for path in map(shutil.which, BROWSER_NAMES) if path), None)


class DevTools:
    """One Chromium process and its protocol pipe."""

    def __init__(self, browser: str, user_data_dir: Path, timeout: float = 60.0):
        self.timeout = timeout
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()
        # the child must see them as fds 3 and 4: dup them high first, so that dup2 cannot clobber one with the other
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_browser_read, from_browser_write)]

        def map_fds():
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self.process = subprocess.Popen([browser, *FLAGS, f"--user-data-dir={user_data_dir}", "about:blank"],
                                        pass_fds=(3, 4), preexec_fn=map_fds, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for fd in (to_browser_read, from_browser_write, *high):
            os.close(fd)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise ConnectionError("Chromium closed its protocol pipe: "
                                      + self.process.stderr.read().decode(errors="replace")[-2000:])
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send one command and return its result (events that arrive meanwhile are kept in ``events``)."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> dict:
        """The first event ``method`` (already received or still to come)."""
        deadline = time.monotonic() + self.timeout
        while True:
            for event in self.events:
                if event.get("method") == method:
                    return event
            self.events.append(self._read_message(deadline))

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (OSError, RuntimeError, TimeoutError, ConnectionError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self._to_browser, self._from_browser):
            os.close(fd)
        self.process.stderr.close()


@dataclass
class PageReport:
    """What a page did when loaded: its images ``[{"alt", "complete", "naturalWidth"}]``, console errors and
    uncaught exceptions (``errors``, text), and a PNG screenshot of the whole page."""

    images: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    screenshot: bytes = b""


def _errors(events: list[dict]) -> list[str]:
    found = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            found.append("console." + params["type"] + ": " + " ".join(str(a.get("value", a.get("description", "")))
                                                                    for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            found.append("exception: " + details.get("exception", {}).get("description", details.get("text", "")))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            found.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}".strip())
    return found


def open_page(browser: str, page: Path, user_data_dir: Path, max_height: int = 30000) -> PageReport:
    """Load the file ``page`` in a new headless Chromium and report its images, errors and a screenshot."""
    tools = DevTools(browser, user_data_dir)
    try:
        target = tools.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = tools.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            tools.send(f"{domain}.enable", session=session)
        tools.send("Emulation.setDeviceMetricsOverride",
                   {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session=session)
        tools.send("Page.navigate", {"url": Path(page).resolve().as_uri()}, session=session)
        tools.wait_for("Page.loadEventFired")
        images = tools.send("Runtime.evaluate", {
            "expression": "Array.from(document.images, i => ({alt: i.alt, complete: i.complete, "
                          "naturalWidth: i.naturalWidth}))", "returnByValue": True}, session=session)
        size = tools.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
        shot = tools.send("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], max_height), "scale": 1}},
            session=session)
        return PageReport(images=images["result"]["value"], errors=_errors(tools.events),
                          screenshot=base64.b64decode(shot["data"]))
    finally:
        tools.close()
