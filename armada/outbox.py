"""Events on commit: what a service records leaves after its transaction commits, once, and never otherwise.

Zulip's `send_event_on_commit`, on SQLAlchemy's session events. A service calls `record(event)` right after the
change the event describes. The emitter (registered by `connect`) reads the event's payload and recipients at
once, inside the transaction, where it can still load what it needs and sees exactly this change; what it prepares
waits on the session. Once the transaction has committed and given its connection back to the pool, it is sent, in
the order recorded; a rollback, or a commit that fails, drops it. A SAVEPOINT keeps what was recorded inside it
when it is released, and drops only that when it is rolled back. So a change that never committed is never
announced, and one that did is announced exactly once, whichever door (REST, socket, CLI) it came through, and
however many services took part in the transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from armada.extensions import db

log = logging.getLogger(__name__)

Delivery = Callable[[], None]
"""Sends one prepared event."""
Prepare = Callable[[Any], Delivery]
"""The emitter: reads an event's payload and recipients now, returns what sends it later."""

_PENDING = "armada.outbox.pending"  # recorded in the open transaction
_COMMITTED = "armada.outbox.committed"  # its transaction committed: sent once the transaction has ended
_SAVEPOINTS = "armada.outbox.savepoints"  # open SAVEPOINT -> how many were pending when it began
_EMITTER = "armada.outbox.emitter"


def record(change: object) -> None:
    """Record an event about a change made in the current transaction; it is sent once the transaction commits."""
    session = db.session()
    if not session.in_transaction():
        # Nothing would ever commit or roll back to send or drop it: the event must describe this transaction.
        raise RuntimeError("record() needs the transaction of the change it describes")
    session.flush()  # the emitter reads the change as the database will have it (ids, defaults)
    prepare: Prepare = current_app.extensions[_EMITTER]
    session.info.setdefault(_PENDING, []).append(prepare(change))


def _began(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        session.info.setdefault(_SAVEPOINTS, {})[transaction] = len(session.info.get(_PENDING, ()))


def _committed(session: Session) -> None:
    # Also called when a SAVEPOINT is released: its events stay pending, for the transaction around it.
    if not session.in_nested_transaction():
        session.info[_COMMITTED] = session.info.pop(_PENDING, [])


def _rolled_back(session: Session, transaction: SessionTransaction) -> None:
    mark = session.info.get(_SAVEPOINTS, {}).get(transaction) if transaction.nested else 0
    if mark is not None:
        del session.info.setdefault(_PENDING, [])[mark:]


def _ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:
        return  # a SAVEPOINT: a rollback of it is handled after this (after_soft_rollback)
    # The whole transaction is over and its connection is back in the pool: a slow delivery (a Redis publish)
    # holds none. What is still pending here never committed.
    session.info.pop(_PENDING, None)
    session.info.pop(_SAVEPOINTS, None)
    for delivery in session.info.pop(_COMMITTED, ()):
        try:
            delivery()
        except Exception:  # the change is committed whatever happens here: the next events must still go
            log.exception("could not send the event of a committed change")


_LISTENERS: tuple[tuple[str, Callable[..., None]], ...] = (
    ("after_transaction_create", _began),
    ("after_commit", _committed),
    ("after_soft_rollback", _rolled_back),
    ("after_transaction_end", _ended),
)


def connect(app: Flask, prepare: Prepare) -> None:
    """Make `prepare` the app's emitter, and deliver the session's recorded events after each commit."""
    app.extensions[_EMITTER] = prepare
    for name, listener in _LISTENERS:
        # The session factory is a module singleton: listen once, whatever number of apps is built.
        if not event.contains(db.session, name, listener):
            event.listen(db.session, name, listener)
