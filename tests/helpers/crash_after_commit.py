"""A WSGI entry for fault tests: Armada's production app, whose worker kills itself with SIGKILL right after the
commit of a message whose text contains the environment's CRASH_MARKER, and so before that message's event is
published. (Never import it into the test process: it patches the standard library for gevent.)

It makes the window between a commit and its publish deterministic: the test knows which message died in it.
It listens to SQLAlchemy's public session events, after armada.outbox's own: `after_commit` runs before the
transaction ends, which is when the outbox would send. Serve it as the Procfile's web line with `wsgi:app`
replaced by `tests.helpers.crash_after_commit:app`.
"""

from __future__ import annotations

import os
import signal
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from armada.extensions import db
from armada.models import ChatMessage
from wsgi import app  # patches the standard library for gevent first

CRASH_MARKER = os.environ["CRASH_MARKER"]
_DOOMED = "tests.crash_after_commit"

__all__ = ["app"]


def _note_doomed_message(session: Session, _context: Any) -> None:
    if any(isinstance(row, ChatMessage) and CRASH_MARKER in (row.content or "") for row in session.new):
        session.info[_DOOMED] = True


def _crash_if_doomed(session: Session) -> None:
    if session.info.pop(_DOOMED, False):
        os.kill(os.getpid(), signal.SIGKILL)


event.listen(db.session, "after_flush", _note_doomed_message)
event.listen(db.session, "after_commit", _crash_if_doomed)
