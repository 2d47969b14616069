"""Look at a page in a real browser: headless Chromium driven over the DevTools protocol on a pipe.

``--remote-debugging-pipe`` makes Chromium read protocol commands from its file descriptor 3 and write replies and
events to descriptor 4 (JSON messages ended by a NUL byte): no port is opened and nothing else is needed.

    with Chromium() as browser:
        result = browser.inspect(Path("report.html"), width=1200, expressions={"n": "document.title"})
    result.screenshot  # PNG bytes of the whole page; result.values["n"]; result.requests; result.errors

Command line (the README's screenshot is made this way):

    python -m mivolo.evaluation.browser outputs/demo/report.html docs/report.png [--width 1200]
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXECUTABLES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe", "--no-first-run",
         "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
         "--disable-default-apps", "--disable-sync", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
         "--force-color-profile=srgb")


def find_chromium() -> str | None:
    """Path of a Chromium (or Chrome) executable: $CHROMIUM, else the first of EXECUTABLES on PATH."""
    named = os.environ.get("CHROMIUM")
    if named and shutil.which(named):
        return shutil.which(named)
    return next((shutil.which(name) for name in EXECUTABLES if shutil.which(name)), None)


@dataclass
class PageResult:
    """What a page did when loaded: a PNG of the whole page, the values of the expressions asked for, every URL
    it requested (the page itself included), and console errors, uncaught exceptions and error log entries."""

    screenshot: bytes
    values: dict[str, Any] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Chromium:
    """One headless Chromium process spoken to over its DevTools pipe (``call`` a method, ``events`` collected)."""

    def __init__(self, executable: str | None = None, timeout_s: float = 30.0) -> None:
        self.executable = executable or find_chromium()
        if self.executable is None:
            raise FileNotFoundError("no Chromium found (install Debian's chromium package, or set $CHROMIUM)")
        self.timeout_s = timeout_s
        self.next_id = 0
        self.replies: dict[int, dict] = {}
        self.events: list[dict] = []
        self.inbox: queue.Queue[dict | None] = queue.Queue()

    def __enter__(self) -> Chromium:
        self.profile = tempfile.TemporaryDirectory(prefix="chromium-")
        to_browser, self._commands = os.pipe()  # we write commands, the browser reads them on fd 3
        self._replies, from_browser = os.pipe()  # the browser writes on fd 4, we read

        def wire() -> None:  # in the child: the pipe ends on fds 3 and 4 (via fds >= 10, whatever they were)
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_browser, from_browser)]
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self.process = subprocess.Popen([self.executable, *FLAGS, f"--user-data-dir={self.profile.name}",
                                         "about:blank"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, preexec_fn=wire, close_fds=False)
        os.close(to_browser)
        os.close(from_browser)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        return self

    def _read(self) -> None:
        buffer = b""
        with os.fdopen(self._replies, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                buffer += chunk
                *messages, buffer = buffer.split(b"\0")
                for message in messages:
                    self.inbox.put(json.loads(message))
        self.inbox.put(None)

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send one command and wait for its reply (events that arrive meanwhile go to ``events``)."""
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        while self.next_id not in self.replies:
            self._pump()
        reply = self.replies.pop(self.next_id)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    def _pump(self) -> None:
        try:
            message = self.inbox.get(timeout=self.timeout_s)
        except queue.Empty:
            raise TimeoutError(f"Chromium did not answer within {self.timeout_s:.0f} s") from None
        if message is None:
            raise RuntimeError("Chromium closed its DevTools pipe")
        if "id" in message:
            self.replies[message["id"]] = message
        else:
            self.events.append(message)

    def wait_for(self, method: str) -> dict:
        """The first event called ``method`` (already received or still to come)."""
        while True:
            for event in self.events:
                if event.get("method") == method:
                    return event
            self._pump()

    def __exit__(self, *exc: object) -> None:
        try:
            if self.process.poll() is None:
                os.write(self._commands, json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0")
                self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        finally:
            os.close(self._commands)
            self.profile.cleanup()

    def inspect(self, path: Path, width: int = 1200, height: int = 900, mobile: bool = False,
                expressions: dict[str, str] | None = None) -> PageResult:
        """Load a local file in a fresh tab at ``width`` x ``height`` CSS pixels and report what it did."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=session)
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}
        self.call("Emulation.setDeviceMetricsOverride", metrics, session)
        self.events.clear()
        self.call("Page.navigate", {"url": Path(path).resolve().as_uri()}, session)
        self.wait_for("Page.loadEventFired")
        values = {name: self.evaluate(code, session) for name, code in (expressions or {}).items()}
        full = self.evaluate("document.documentElement.scrollHeight", session)
        self.call("Emulation.setDeviceMetricsOverride", {**metrics, "height": int(full)}, session)
        shot = self.call("Page.captureScreenshot", {"format": "png"}, session)
        self.call("Target.closeTarget", {"targetId": target})
        return PageResult(base64.b64decode(shot["data"]), values, *self._findings(session))

    def evaluate(self, expression: str, session: str) -> Any:
        """The JSON value of a JavaScript expression in the page (exceptions raise RuntimeError)."""
        reply = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
        if "exceptionDetails" in reply:
            raise RuntimeError(f"{expression!r}: {reply['exceptionDetails'].get('text')}")
        return reply["result"].get("value")

    def _findings(self, session: str) -> tuple[list[str], list[str]]:
        requests, errors = [], []
        for event in (e for e in self.events if e.get("sessionId") == session):
            method, params = event.get("method"), event.get("params", {})
            if method == "Network.requestWillBeSent":
                requests.append(params["request"]["url"])
            elif method == "Runtime.exceptionThrown":
                errors.append(f"exception: {params['exceptionDetails'].get('text')}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                errors.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in
                                                     params.get("args", [])))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                errors.append(f"log: {params['entry'].get('text')}")
        return requests, errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Screenshot of a local HTML page in headless Chromium")
    parser.add_argument("page", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--width", type=int, default=1200)
    args = parser.parse_args(argv)
    if not args.page.is_file():
        print(f"error: {args.page} not found", file=sys.stderr)
        return 2
    try:
        with Chromium() as browser:
            result = browser.inspect(args.page, width=args.width)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.png.write_bytes(result.screenshot)
    for line in result.errors:
        print(f"page error: {line}", file=sys.stderr)
    print(f"{args.png}: {len(result.screenshot)} bytes; {len(result.requests)} requests; {len(result.errors)} errors")
    return 1 if result.errors else 0


if __name__ == "__main__":
    sys.exit(main())
