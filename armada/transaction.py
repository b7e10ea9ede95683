"""Units of work: a service's changes commit together or not at all, and nest inside a calling service's.

A service that changes data is decorated with `transactional`. Called on its own (by a route, a socket event,
the CLI), it commits when it returns and rolls back when it raises; called by another service, it joins that
one's transaction, which then commits or rolls back as a whole. Events recorded meanwhile (armada.outbox) leave
after that one commit.
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

_DEPTH = "armada.transaction_depth"


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
                _commit_keeping_state(session)
            return result
        except BaseException:
            if depth == 0:
                session.rollback()  # at once: it releases the row locks the service took
            raise
        finally:
            session.info[_DEPTH] = depth

    return run


def discard() -> None:
    """End the unit of work with nothing written: roll back now, releasing its row locks.

    For a service that finds, once it holds a lock, that there is nothing left to do. Inside another service's
    unit of work, which cannot be undone in part, the whole is refused instead.
    """
    session = db.session()
    if session.info.get(_DEPTH, 0) > 1:
        raise Conflict("A concurrent change interfered; try again.")
    session.rollback()


def _commit_keeping_state(session: Session) -> None:
    """Commit without expiring the session's objects.

    What a service returns holds exactly what it wrote, and responses serialize nothing else, so reloading it after
    the commit (the default) would only cost every change another query.
    """
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True
