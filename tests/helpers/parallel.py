"""Requests released together from parallel threads, each with a test client of its own: races through the API.

On SQLite the writers queue on the database file; on PostgreSQL (ARMADA_TEST_DATABASE_URL) they contend for row
locks, which is where a cap checked outside its lock would be overrun.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask
from werkzeug.test import TestResponse

from tests.helpers.support import Actor


def at_once(app: Flask, *requests: Callable[[Any], TestResponse]) -> list[TestResponse]:
    """Run the requests (each given a test client) in parallel threads, released together; their responses."""
    start = threading.Barrier(len(requests))

    def run(request: Callable[[Any], TestResponse]) -> TestResponse:
        client = app.test_client()
        start.wait()
        return request(client)

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(run, requests))


def request_as(actor: Actor, method: str, path: str, **kw: Any) -> Callable[[Any], TestResponse]:
    """One request for at_once: `method` on `path` as the actor, through the client it is given."""
    return lambda client: client.open(path, method=method.upper(), headers=actor.headers, **kw)
