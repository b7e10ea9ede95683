"""`flask run` (the development server) serves the API and Socket.IO websockets, as the README promises."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import socketio

from tests.helpers.servers import ROOT, VENV_BIN, HttpUser, Server, base_env, free_port, serve_process


@pytest.fixture
def dev_server(tmp_path: Path) -> Iterator[Server]:
    database = f"sqlite:///{tmp_path / 'dev.db'}"
    env = base_env(ARMADA_ENV="development", DATABASE_URL=database, FLASK_APP="armada")
    flask = str(VENV_BIN / "flask")
    upgrade = subprocess.run([flask, "db", "upgrade"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert upgrade.returncode == 0, upgrade.stderr[-2000:]
    port = free_port()
    with serve_process([flask, "run", "--port", str(port)], env, port, tmp_path / "flask-run.log") as server:
        yield server


def test_flask_run_serves_rest_and_websocket_socketio(dev_server: Server) -> None:
    with requests.Session() as http:
        user = HttpUser(http, dev_server.url, "Dev")
    received = threading.Event()
    client = socketio.Client()
    client.on("connected", lambda data: received.set() if data == {"user_id": user.id} else None)
    try:
        client.connect(dev_server.url, auth={"token": user.token}, transports=["websocket"], wait_timeout=10)
        assert received.wait(10), dev_server.output()
        assert client.transport() == "websocket"
    finally:
        client.disconnect()
