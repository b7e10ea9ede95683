"""Units of work: a service's changes commit together or not at all, and nest inside a calling service's.

A service that changes data is decorated with `transactional`. Called on its own (by a route, a socket event,
the CLI), it commits when it returns and rolls back when it raises; called by another service, it joins that
one's transaction, which then commits or rolls back as a whole. Events recorded meanwhile (armada.outbox) leave
after that one commit. As with Django's `atomic(savepoint=False)`, an error that leaves a joined service dooms the
whole unit: what the service wrote cannot be undone alone, so the outermost refuses to commit even if a service
between them caught the error (a service that means to carry on after a failure runs the call in a SAVEPOINT,
`db.session.begin_nested()`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from sqlalchemy.orm import Session

from armada.errors import Conflict
from armada.extensions import db

P = ParamSpec("P")
R = TypeVar("R")

_DEPTH = "armada.transaction.depth"
_DOOMED = "armada.transaction.doomed"


class DoomedUnitOfWork(RuntimeError):
    """A service caught the error of a service it called and carried on: what that one wrote cannot commit."""


def transactional(service: Callable[P, R]) -> Callable[P, R]:
    """Decorator: run a service as one unit of work, or as part of the caller's."""

    @functools.wraps(service)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        session = db.session()
        depth = session.info.get(_DEPTH, 0)
        session.info[_DEPTH] = depth + 1
        try:
            result = service(*args, **kwargs)
            if depth == 0:
                if session.info.pop(_DOOMED, False):
                    raise DoomedUnitOfWork(f"{service.__qualname__} went on after a service it called failed")
                _commit_keeping_state(session)
            return result
        except BaseException:
            if depth == 0:
                session.info.pop(_DOOMED, None)
                session.rollback()  # at once: it releases the row locks the service took
            else:
                session.info[_DOOMED] = True
            raise
        finally:
            session.info[_DEPTH] = depth

    return run


def discard() -> None:
    """End the unit of work early, having found nothing to change: roll back now, releasing its row locks.

    Inside another service's unit, what the service wrote so far stays, for that unit to commit: call it only where
    that is harmless (a change number taken and left unused, a room's lock stamp).
    """
    session = db.session()
    if session.info.get(_DEPTH, 0) <= 1:
        session.rollback()


def undo() -> None:
    """Undo what the unit of work wrote, now: roll back, releasing its row locks.

    Inside another service's unit, which cannot be undone in part, the whole is refused instead (409).
    """
    session = db.session()
    if session.info.get(_DEPTH, 0) > 1:
        raise Conflict("A concurrent change interfered; try again.")
    session.rollback()


def _commit_keeping_state(session: Session) -> None:
    """Commit without expiring the session's objects.

    What a service returns holds exactly what it wrote, and responses serialize nothing else, so reloading it after
    the commit (the default) would only cost every change another query. A session that lives on after a unit of
    work (the CLI, a test, a background job) reads its objects as they were then: `db.session.expire_all()` first
    where later changes matter; counters moved by unsynchronized UPDATEs (chat.sequencing, chat.receipts) are never
    current in memory.
    """
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True
