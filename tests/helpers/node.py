"""Node scripts of tests/js (the official socket.io-client) run as processes that print one JSON line per event."""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.helpers.servers import ROOT, HttpUser, Server

JS_DIR = ROOT / "tests" / "js"
WAIT_SECONDS = 10


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


class NodeClient(NodeScript):
    """client.mjs in a node process; its JSON lines, one per event."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        super().__init__(process)
        self._taken: set[int] = set()

    def wait_for(self, event: str, timeout: float = WAIT_SECONDS) -> Any:
        """The data of the first `event` line not yet waited for, in whatever order the lines came.

        Fails, showing everything printed, if the script ends or the timeout passes first.
        """
        deadline = time.monotonic() + timeout
        while True:
            for index, line in enumerate(self.seen):
                if line["event"] == event and index not in self._taken:
                    self._taken.add(index)
                    return line["data"]
            line = self.next_line(deadline - time.monotonic())
            if line is None or (line["event"] == "exit" and event != "exit"):
                stderr = self.stderr()
                raise AssertionError(f"no {event!r} from the node client; it printed {self.seen}{line or ''}\n{stderr}")
            self.seen.append(line)

    def settle(self, seconds: float) -> list[dict[str, Any]]:
        """Take every line printed within `seconds` (duplicates and strays have that long to come); all seen."""
        deadline = time.monotonic() + seconds
        while (line := self.next_line(deadline - time.monotonic())) is not None:
            self.seen.append(line)
        return self.seen

    def exit(self) -> tuple[str, int]:
        """The reason the script gave for exiting, and its exit status."""
        reason = self.wait_for("exit")["reason"]
        return reason, self.process.wait(timeout=WAIT_SECONDS)

    def events(self) -> list[str]:
        """The names of the lines seen so far, in order."""
        return [line["event"] for line in self.seen]

    def emit(self, event: str, data: Any) -> Any:
        """Emit `event` through the official client (started with commands=True); its acknowledgement."""
        assert self.process.stdin is not None, "start the client with commands=True"
        self.process.stdin.write(json.dumps({"event": event, "data": data}) + "\n")
        self.process.stdin.flush()
        return self.wait_for(f"ack:{event}")


@contextmanager
def node_client(server: Server, token: str | None, **config: Any) -> Iterator[NodeClient]:
    """Run client.mjs with this config (stdin open for `emit` when commands=True); always killed afterwards."""
    config = {"url": server.url, "token": token, **config}
    with node_process("client.mjs", config, stdin=bool(config.get("commands"))) as process:
        yield NodeClient(process)


@contextmanager
def joined(server: Server, user: HttpUser, room_id: str, **config: Any) -> Iterator[NodeClient]:
    """A node client of `user` that has joined `room_id` (its join acknowledged) after upgrading to websocket."""
    with node_client(server, user.token, room_id=room_id, wait_upgrade=True, **config) as client:
        assert client.wait_for("ack:join_room") == {"ok": True, "room_id": room_id}
        yield client
