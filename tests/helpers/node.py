"""Node scripts of tests/js (the official socket.io-client) run as processes that print one JSON line per event."""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.helpers.servers import ROOT

JS_DIR = ROOT / "tests" / "js"


class NodeScript:
    """A running script: its printed lines arrive on a queue (a reader thread), `seen` keeps those taken so far."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.seen: list[dict[str, Any]] = []
        self._lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(json.loads(line))
        self._lines.put(None)

    def next_line(self, timeout: float) -> dict[str, Any] | None:
        """The next printed line, or None if none came in time or the script ended (and stays ended)."""
        try:
            line = self._lines.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None
        if line is None:
            self._lines.put(None)
        return line

    def stderr(self) -> str:
        """What the script wrote to stderr (killing it first if it still runs), for a failure's message."""
        if self.process.poll() is None:
            self.process.kill()
        return self.process.stderr.read() if self.process.stderr else ""


@contextmanager
def node_process(script: str, config: dict[str, Any], stdin: bool = False) -> Iterator[subprocess.Popen[str]]:
    """`node tests/js/<script> <config as JSON>`; always killed afterwards."""
    assert shutil.which("node"), "node is not installed (.ci/run installs the Debian nodejs package)"
    assert (JS_DIR / "node_modules" / "socket.io-client").is_dir(), "run `make test` (it runs npm ci in tests/js)"
    process = subprocess.Popen(
        ["node", str(JS_DIR / script), json.dumps(config)],
        stdin=subprocess.PIPE if stdin else None,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=JS_DIR,
    )
    try:
        yield process
    finally:
        process.kill()
        process.wait(timeout=10)
