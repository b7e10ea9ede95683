"""Re-deriving from the database what a process missed while it was not subscribed to Redis.

Redis pub/sub keeps nothing for an absent subscriber, so the internal events that make a removed member's
sockets leave a room, or a logged-out session's sockets disconnect, can be lost in an outage; a publisher that
gave up on a hung Redis loses them too. After every (re)subscription, and whenever another process says it
dropped events (managers.RESYNC), this process looks at its own sockets and applies those two rules from the
database, retried until the database answers. Missed message changes are replayed to the sockets that stayed
connected by armada.realtime.delivery, which calls this before each replay so that a removed member gets nothing
posted after the removal. Receipts and room notices missed meanwhile show on the clients' next REST read.
"""

from __future__ import annotations

import uuid

from flask import Flask

from armada.auth.services import revoked_sessions
from armada.auth.tokens import TokenIdentity
from armada.chat.members import active_memberships
from armada.extensions import db
from armada.realtime import events
from armada.realtime.managers import RedisQueueManager

ROOM_PREFIX = events.room_channel("")


def reconcile(app: Flask, manager: RedisQueueManager) -> None:
    """Disconnect sockets of revoked sessions; make sockets leave rooms their user no longer belongs to."""
    sockets: dict[str, tuple[TokenIdentity, list[uuid.UUID]]] = {}
    for sid, rooms in manager.socket_rooms().items():
        try:
            identity = manager.server.get_session(sid).get("identity")
        except KeyError:  # disconnected meanwhile
            continue
        if identity is not None:  # None: still connecting; its connect handler checks it
            joined = [uuid.UUID(room.removeprefix(ROOM_PREFIX)) for room in rooms if room.startswith(ROOM_PREFIX)]
            sockets[sid] = (identity, joined)
    if not sockets:
        return
    with app.app_context():
        try:
            revoked = revoked_sessions({identity.sid for identity, _ in sockets.values()})
            members = active_memberships({identity.user_id for identity, _ in sockets.values()})
        finally:
            db.session.remove()
    for sid, (identity, joined) in sockets.items():
        if identity.sid in revoked:
            manager.server.disconnect(sid, namespace="/", ignore_queue=True)
            continue
        for room_id in joined:
            if (identity.user_id, room_id) not in members:
                manager.basic_leave_room(sid, "/", events.room_channel(room_id))
                events.member_removed_while_away(sid, room_id, identity.user_id)
