"""Events on commit: what a service records leaves after its transaction commits, once, and never otherwise.

Zulip's `send_event_on_commit`, on SQLAlchemy's session events. A service calls `record(event)` right after the
change the event describes. The emitter (registered by `connect`) reads the event's payload and recipients at
once, inside the transaction, where it can still load what it needs and sees exactly this change; what it prepares
waits on the session. The commit hands it over to be sent, in the order recorded; a rollback, or a commit that
fails, drops it. So a change that never committed is never announced, and one that did is announced exactly once,
whichever door (REST, socket, CLI) it came through, and however many services took part in the transaction.
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

_PENDING = "armada.outbox"
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


def pending() -> int:
    """How many events wait for the current transaction to commit."""
    return len(db.session().info.get(_PENDING, ()))


def _send(session: Session) -> None:
    for delivery in session.info.pop(_PENDING, ()):
        try:
            delivery()
        except Exception:  # the change is committed whatever happens here: the next events must still go
            log.exception("could not send the event of a committed change")


def _drop(session: Session, *_: Any) -> None:
    session.info.pop(_PENDING, None)


def _drop_unsent(session: Session, transaction: SessionTransaction) -> None:
    # Reached after a commit too, whose events are gone by then: what is left here never committed.
    if transaction.parent is None:
        _drop(session)


def connect(app: Flask, prepare: Prepare) -> None:
    """Make `prepare` the app's emitter, and deliver the session's recorded events after each commit."""
    app.extensions[_EMITTER] = prepare
    for name, listener in (("after_commit", _send), ("after_rollback", _drop), ("after_transaction_end", _drop_unsent)):
        # The session factory is a module singleton: listen once, whatever number of apps is built.
        if not event.contains(db.session, name, listener):
            event.listen(db.session, name, listener)
