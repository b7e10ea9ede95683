"""Reactions, threads, pins and mentions across two real processes sharing one database and one Redis: what is
changed through process A reaches the sockets on process B once each, in the room's change order; and what B's
sockets miss while Redis is down reaches them from the database, each message as it now is.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import redis

from tests.helpers.contract import MESSAGE_CHANGE_EVENTS, viewer_fields
from tests.helpers.factories import make_message, make_room
from tests.helpers.private_services import RedisProcess
from tests.helpers.realtime import (
    RECOVERY_SECONDS,
    SETTLE_SECONDS,
    Cluster,
    Recorder,
    about,
    cluster_on,
    ok,
    wait_in_log,
)

pytestmark = pytest.mark.needs_redis  # given the service, redis-server is installed (.ci/setup)

REPLAYED = "Replayed missed changes"  # what a process logs when it read changes back from the database
REPLAY_SECONDS = 2.0 + 0.5 + 7.5  # the sweep's period, the gap's wait, and slack for a loaded machine


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    """A redis-server of this module's own: the last test stops it and starts it again."""
    server = RedisProcess(tmp_path_factory.mktemp("redis") / "redis.log")
    server.start()
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            server.process.send_signal(signal.SIGCONT)
        server.stop()


@pytest.fixture(scope="module")
def cluster(redis_server: RedisProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Processes A and B on one fresh database and the module's Redis, both listening."""
    with cluster_on(redis_server.url, tmp_path_factory.mktemp("cluster")) as running:
        yield running


def changes(recorder: Recorder) -> list[tuple[str, str]]:
    """(event, the message it is about) of every message change the socket heard, in order."""
    found = []
    for name, data in recorder.events:
        if name in MESSAGE_CHANGE_EVENTS:
            found.append((name, data.get("root_id") or data.get("message_id") or data["message"]["id"]))
    return found


def assert_nothing_viewer_specific(*recorders: Recorder) -> None:
    for recorder in recorders:
        for name, data in recorder.events:
            assert viewer_fields(data) == [], (recorder.name, name, data)


def reaction_path(message_id: str, emoji: str) -> str:
    return f"/api/chat/messages/{message_id}/reactions/{quote(emoji)}"


def test_changes_made_through_a_reach_sockets_on_b_once_each_in_the_rooms_change_order(cluster: Cluster) -> None:
    a, b = cluster.a, cluster.b
    alice, bob, carol = (cluster.user(name) for name in ("Alice", "Bob", "Carol"))
    room_id = make_room(alice, bob, carol)["id"]
    alice_on_a, bob_on_b, carol_on_b = cluster.socket(a, alice), cluster.socket(b, bob), cluster.socket(b, carol)
    bob_away_on_b = cluster.socket(b, bob)  # never joins the room
    for recorder in (alice_on_a, bob_on_b, carol_on_b):
        recorder.join(room_id)

    # Everything through A: REST on A, and Alice's socket on A.
    root = make_message(alice, room_id, "the root", url=a.url)["id"]
    ack = alice_on_a.call("add_reaction", {"message_id": root, "emoji": "👍"})
    assert ack["ok"] is True, ack
    ok(carol.call("PUT", reaction_path(root, "🎉"), a.url))
    ok(carol.call("DELETE", reaction_path(root, "🎉"), a.url))
    reply = make_message(carol, room_id, "a reply", url=a.url, thread_root_id=root, mentions=[bob.id])["id"]
    ok(alice.call("PUT", f"/api/chat/rooms/{room_id}/pins/{root}", a.url))
    ok(alice.call("DELETE", f"/api/chat/rooms/{room_id}/pins/{root}", a.url))
    ok(carol.call("DELETE", f"/api/chat/messages/{reply}", a.url))
    ok(alice.call("PATCH", f"/api/chat/messages/{root}", a.url, json={"content": "the root", "mentions": [bob.id]}))
    last = make_message(alice, room_id, "the last one", url=a.url)["id"]

    in_order = [
        ("new_message", root),
        ("reaction_added", root),
        ("reaction_added", root),
        ("reaction_removed", root),
        ("new_message", reply),
        ("thread_updated", root),
        ("mentioned", reply),
        ("message_pinned", root),
        ("message_unpinned", root),
        ("message_deleted", reply),
        ("thread_updated", root),
        ("message_edited", root),
        ("mentioned", root),
        ("new_message", last),
    ]
    for recorder in (alice_on_a, bob_on_b, carol_on_b):
        recorder.wait_for("new_message", about(last))
    bob_away_on_b.wait_for("mentioned", about(root))
    time.sleep(SETTLE_SECONDS)  # for any copy, or any replay of a change whose number had no event
    assert changes(bob_on_b) == in_order
    not_mentioned = [change for change in in_order if change[0] != "mentioned"]
    assert changes(carol_on_b) == not_mentioned
    assert changes(alice_on_a) == not_mentioned
    assert changes(bob_away_on_b) == [("mentioned", reply), ("mentioned", root)]
    # The thread's summary as it went: one reply, then none (its only reply deleted).
    threads = [data["thread"] for data in bob_on_b.matching("thread_updated")]
    assert [None if t is None else t["reply_count"] for t in threads] == [1, None]
    assert_nothing_viewer_specific(alice_on_a, bob_on_b, carol_on_b, bob_away_on_b)
    # Every change number these took came with its event: neither process had to read one back.
    for server in (a, b):
        assert REPLAYED not in server.log.read_text(errors="replace"), server.output()


def wait_subscribed(redis_server: RedisProcess, processes: int) -> None:
    """Wait until `processes` listeners subscribe again to the one channel of the module's own Redis."""
    with redis.Redis.from_url(redis_server.url) as client:
        deadline = time.monotonic() + RECOVERY_SECONDS
        while True:
            channels = client.pubsub_channels()
            if channels and dict(client.pubsub_numsub(*channels)).get(channels[0], 0) >= processes:
                return
            assert time.monotonic() < deadline, f"not {processes} listeners on {channels} in {RECOVERY_SECONDS}s"
            time.sleep(0.1)


def as_broadcast(message: dict[str, Any]) -> dict[str, Any]:
    """A message as REST shows it to one viewer, without what only that viewer sees (`me`)."""
    return {**message, "reactions": [{k: v for k, v in r.items() if k != "me"} for r in message["reactions"]]}


def test_changes_missed_while_redis_is_down_reach_b_from_the_database_as_the_messages_now_are(
    cluster: Cluster, redis_server: RedisProcess
) -> None:
    a, b = cluster.a, cluster.b
    alice, bob, carol = (cluster.user(name) for name in ("Alice", "Bob", "Carol"))
    room_id = make_room(alice, bob, carol)["id"]
    bob_on_b = cluster.socket(b, bob)
    bob_on_b.join(room_id)
    root = make_message(alice, room_id, "the root", url=a.url)["id"]
    ok(alice.call("PUT", reaction_path(root, "👍"), a.url))
    # A deleted root whose thread lives on.
    gone = make_message(alice, room_id, "a root to delete", url=a.url)["id"]
    first = make_message(carol, room_id, "first reply", url=a.url, thread_root_id=gone)["id"]
    ok(alice.call("DELETE", f"/api/chat/messages/{gone}", a.url))
    bob_on_b.wait_for("message_deleted", about(gone))

    redis_server.stop()
    wait_in_log(b, "Cannot receive from redis")
    # Made through A, whose events cannot reach B now: reactions, thread replies, a pin.
    ok(carol.call("PUT", reaction_path(root, "🎉"), a.url))
    ok(alice.call("DELETE", reaction_path(root, "👍"), a.url))
    reply = make_message(carol, room_id, "a reply", url=a.url, thread_root_id=root)
    ok(alice.call("PUT", f"/api/chat/rooms/{room_id}/pins/{root}", a.url))
    late = make_message(carol, room_id, "a late reply", url=a.url, thread_root_id=gone)

    # B finds the room behind on its next sweep, and reads each changed message back as it now is.
    edited = bob_on_b.wait_for("message_edited", about(root), timeout=REPLAY_SECONDS)["message"]
    assert redis_server.process is None or redis_server.process.poll() is not None, "Redis came back"
    wait_in_log(b, REPLAYED)  # logged once the replay is written, which the client may read first
    now = next(m for m in bob.history(room_id, b.url) if m["id"] == root)
    assert edited == as_broadcast(now)
    assert edited["reactions"] == [{"emoji": "🎉", "count": 1}] and edited["pinned_by"] == alice.id
    assert edited["thread"] == {"reply_count": 1, "last_reply_at": reply["created_at"], "participant_ids": [carol.id]}
    replayed_reply = bob_on_b.matching("new_message", about(reply["id"]))
    assert [data["message"] for data in replayed_reply] == bob.history(room_id, b.url, thread_root_id=root)
    # The deleted root's thread grew while B was deaf: its summary comes back too, not only its deletion again.
    late_thread = {"reply_count": 2, "last_reply_at": late["created_at"], "participant_ids": [carol.id]}
    summary = bob_on_b.wait_for("thread_updated", lambda d: d["thread"] == late_thread, timeout=REPLAY_SECONDS)
    assert summary == {"room_id": room_id, "root_id": gone, "thread": late_thread}
    assert next(m for m in bob.history(room_id, b.url) if m["id"] == gone)["thread"] == late_thread

    # Redis back: the next change arrives live again, as itself, once.
    redis_server.start()
    wait_in_log(a, "Publishing to Redis again")  # A publishes again (and told B to resync)
    wait_subscribed(redis_server, 2)
    ok(carol.call("DELETE", reaction_path(root, "🎉"), a.url))
    removed = bob_on_b.wait_for("reaction_removed", about(root), timeout=RECOVERY_SECONDS)
    assert removed == {"room_id": room_id, "message_id": root, "emoji": "🎉", "user_id": carol.id, "count": 0}
    time.sleep(SETTLE_SECONDS)
    assert changes(bob_on_b) == [
        ("new_message", root),
        ("reaction_added", root),
        ("new_message", gone),
        ("new_message", first),
        ("thread_updated", gone),
        ("message_deleted", gone),
        # Replayed, in change order, each message as it now is:
        ("new_message", reply["id"]),  # never had
        ("message_edited", root),  # four changes missed, one event
        ("new_message", late["id"]),
        ("message_deleted", gone),  # a tombstone has no JSON to send: its thread summary follows
        ("thread_updated", gone),
        # Live again.
        ("reaction_removed", root),
    ]
    assert_nothing_viewer_specific(bob_on_b)
    assert bob_on_b.client.connected
