"""Gunicorn hooks for the Procfile's web line."""

from __future__ import annotations

import signal
from typing import Any

import gevent

from config import config_or_exit

# Check the configuration in the master, before any worker boots: a bad setting ends gunicorn at once with one
# line naming it (a worker failing to boot would print its traceback, and the master several lines more).
config_or_exit()


def post_worker_init(worker: Any) -> None:
    """On SIGTERM, also close the worker's Socket.IO connections, so that it drains and exits promptly."""
    stop_accepting = worker.handle_exit

    def handle_exit(sig: int, frame: Any) -> None:
        stop_accepting(sig, frame)
        worker.armada_closing = gevent.spawn(_close_realtime_connections, worker)

    signal.signal(signal.SIGTERM, handle_exit)


def worker_exit(server: Any, worker: Any) -> None:
    """Before the worker process ends, let the closing of its Socket.IO connections finish.

    Websockets on the event loop (armada.thirdparty.lean_transport) are not gunicorn requests, so the gevent
    worker does not wait for them: without this it could exit before their clients are told and their disconnect
    handlers have run.
    """
    closing = getattr(worker, "armada_closing", None)
    if closing is not None:
        closing.join(timeout=worker.cfg.graceful_timeout)


def _close_realtime_connections(worker: Any) -> None:
    from armada.extensions import socketio
    from armada.thirdparty.engineio import close_connections_now, open_connection_count

    # The worker closes its listeners within a second of SIGTERM; close the connections only then, so that
    # clients reconnect to another process rather than back to this one.
    for _ in range(30):
        if all(sock.fileno() == -1 for sock in worker.sockets):
            break
        gevent.sleep(0.1)
    worker.log.info("closing %d Socket.IO connections", open_connection_count(socketio.server))
    close_connections_now(socketio.server)
