"""Gunicorn hooks for the Procfile's web line."""

from __future__ import annotations

import signal
from typing import Any

import gevent


def post_worker_init(worker: Any) -> None:
    """On SIGTERM, also close the worker's Socket.IO connections, so that it drains and exits promptly."""
    stop_accepting = worker.handle_exit

    def handle_exit(sig: int, frame: Any) -> None:
        stop_accepting(sig, frame)
        gevent.spawn(_close_realtime_connections, worker)

    signal.signal(signal.SIGTERM, handle_exit)


def _close_realtime_connections(worker: Any) -> None:
    from armada.extensions import socketio

    # The worker closes its listeners within a second of SIGTERM; close the connections only then, so that
    # clients reconnect to another process rather than back to this one.
    for _ in range(30):
        if all(sock.fileno() == -1 for sock in worker.sockets):
            break
        gevent.sleep(0.1)
    eio = socketio.server.eio
    worker.log.info("closing %d Socket.IO connections", len(eio.sockets))
    for sock in list(eio.sockets.values()):
        # Not eio.disconnect(): it waits for each socket's CLOSE to be sent, which for long-polling means the
        # client's next poll, so one client that never polls again would hold up every socket after it.
        sock.close(wait=False, reason=eio.reason.SERVER_DISCONNECT)
    eio.sockets = {}
