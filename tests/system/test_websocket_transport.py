"""The websocket transport as a black box (issue 17): what engine.io promises on the wire -- pings, close codes,
the message cap, the polling -> websocket upgrade, SIGTERM -- and what a broadcast promises every socket of a room
(order, completeness, large frames written in pieces, a slow consumer holding nobody up). Real gunicorn servers,
the official socket.io-client and a frame-level client (tests/helpers/raw_websocket.py); nothing here depends on
how the server writes its frames, so these hold for python-engineio's transport and for its replacement."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio
import websocket

from tests.helpers.factories import make_message, make_room
from tests.helpers.node import joined as node_joined
from tests.helpers.node import node_client
from tests.helpers.raw_websocket import CLOSE, Closed, RawSocket
from tests.helpers.realtime import Listener, ok
from tests.helpers.servers import HttpUser, Server, assert_exits_cleanly, serve_fresh

LIMIT = 64 * 1024  # this module's SOCKETIO_MAX_MESSAGE_BYTES
GRACEFUL_SECONDS = 20  # the Procfile's --graceful-timeout
DELIVERY_SECONDS = 60  # how long a burst may take to arrive in full on a loaded 2-core machine
TIMEOUT_MS = 2 * DELIVERY_SECONDS * 1000  # the official client's own deadline, past any of ours


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The module's server, with a message cap small enough to cross quickly."""
    with serve_fresh(tmp_path_factory.mktemp("transport"), SOCKETIO_MAX_MESSAGE_BYTES=str(LIMIT)) as running:
        yield running


@pytest.fixture
def own_user(server: Server) -> Iterator[Callable[[str], HttpUser]]:
    """Registers users on the module's server, each with an HTTP session of their own (to send from a thread)."""
    sessions: list[requests.Session] = []

    def register(name: str) -> HttpUser:
        sessions.append(requests.Session())
        return HttpUser(sessions[-1], server.url, name)

    yield register
    for session in sessions:
        session.close()


@pytest.fixture
def raw(server: Server) -> Iterator[Callable[..., RawSocket]]:
    """Opens frame-level websockets to the module's server; all dropped afterwards."""
    opened: list[RawSocket] = []

    def open_raw(**options: Any) -> RawSocket:
        opened.append(RawSocket(server, **options))
        return opened[-1]

    yield open_raw
    for sock in opened:
        sock.close()


def whole_history(user: HttpUser, room_id: str) -> list[dict[str, Any]]:
    """Every message of the room, oldest first (the room's own order), page by page."""
    pages: list[list[dict[str, Any]]] = []
    params = {"limit": "100"}
    while True:
        page = ok(user.call("GET", f"/api/chat/rooms/{room_id}/messages", params=params))
        pages.insert(0, page["items"])
        if not page["next_cursor"]:
            return [message for items in pages for message in items]
        params["before"] = page["next_cursor"]


def node_messages(client: Any, count: int) -> list[dict[str, Any]]:
    """The next `count` new_message payloads the official client printed, in arrival order."""
    got: list[dict[str, Any]] = []
    try:
        while len(got) < count:
            got.append(client.wait_for("new_message", timeout=DELIVERY_SECONDS)["message"])
    except AssertionError:  # its own message holds every line printed: too long with large messages
        raise AssertionError(f"the official client got {len(got)} of {count}; then {client.events()[-5:]}") from None
    return got


def ids(messages: list[dict[str, Any]]) -> list[str]:
    return [message["id"] for message in messages]


# ---- the handshake and pings ------------------------------------------------------------------------------------


def test_the_websocket_handshake_states_the_ping_schedule_and_the_cap(raw: Callable[..., RawSocket]) -> None:
    handshake = raw().handshake
    assert isinstance(handshake["sid"], str) and handshake["sid"]
    # Already on websocket: nothing to upgrade to. The ping schedule and cap are what clients time out by.
    assert handshake["upgrades"] == []
    assert (handshake["pingInterval"], handshake["pingTimeout"], handshake["maxPayload"]) == (25_000, 20_000, LIMIT)


# With the defaults (25 s + 20 s) a silent client is dropped only after 45 s: too slow for the suite.
PING_SETTINGS = {"SOCKETIO_PING_INTERVAL": "1", "SOCKETIO_PING_TIMEOUT": "1"}


def test_pinged_clients_that_answer_stay_and_a_silent_one_is_closed(tmp_path: Path) -> None:
    with serve_fresh(tmp_path, **PING_SETTINGS) as server, requests.Session() as http:
        alice, bob = HttpUser(http, server.url, "Alice"), HttpUser(http, server.url, "Bob")
        room_id = make_room(alice, bob)["id"]
        answering, silent = RawSocket(server), RawSocket(server, answer_pings=False)
        assert (answering.handshake["pingInterval"], answering.handshake["pingTimeout"]) == (1000, 1000)
        answering.join(bob, room_id)
        silent.join(alice, room_id)
        frames: list[tuple[int, bytes]] = []
        stop = threading.Event()

        def keep_reading() -> None:  # reading is what answers the pings
            while not stop.is_set():
                try:
                    frames.append(answering.frame(timeout=0.5))
                except websocket.WebSocketTimeoutException:
                    continue
                except Closed:
                    return

        reading = threading.Thread(target=keep_reading)
        reading.start()
        try:
            with node_joined(server, alice, room_id) as official:
                # The silent client reads (it sees the pings) but never answers: after interval + timeout, gone.
                code, _ = silent.close_frame(timeout=10)
                assert code == 1000 and silent.pings >= 1
                # Meanwhile the others answered several pings and still hear the room.
                deadline = time.monotonic() + 30
                while answering.pings < 4:
                    assert reading.is_alive() and time.monotonic() < deadline, (answering.pings, frames)
                    time.sleep(0.2)
                sent = make_message(alice, room_id, "after several pings")
                assert official.wait_for("new_message")["message"]["id"] == sent["id"]
                assert "disconnect" not in official.events()
        finally:
            stop.set()
            reading.join()
        assert [data for _, data in frames if sent["id"].encode() in data], frames
        assert CLOSE not in [opcode for opcode, _ in frames], frames


# ---- close codes and the message cap ----------------------------------------------------------------------------


def test_a_client_close_frame_gets_a_normal_close_back(
    raw: Callable[..., RawSocket], user: Callable[[str], HttpUser]
) -> None:
    sock = raw()
    sock.connect(user("Alice").token)
    sock.ws.send_close(1000, b"bye")
    assert sock.close_frame()[0] == 1000


def test_an_engineio_close_packet_ends_the_websocket_with_a_normal_close(
    raw: Callable[..., RawSocket], user: Callable[[str], HttpUser]
) -> None:
    sock = raw()
    sock.connect(user("Alice").token)
    sock.ws.send("1")
    assert sock.close_frame()[0] == 1000


def test_a_message_of_exactly_the_cap_is_handled_and_one_byte_more_closes_with_1009(
    raw: Callable[..., RawSocket], user: Callable[[str], HttpUser]
) -> None:
    alice = user("Alice")
    room_id = make_room(alice)["id"]

    def event_of(size: int) -> str:
        head = f'421["typing",{{"room_id":"{room_id}","is_typing":true,"pad":"'
        return head + "a" * (size - len(head) - 3) + '"}]'

    within = raw()
    within.connect(alice.token)
    within.ws.send(event_of(LIMIT))
    # Handled (a validation error, since the socket never joined): the connection lives on.
    assert within.ack(1)["error"]["code"] == "validation_failed"
    over = raw()
    over.connect(alice.token)
    over.ws.send(event_of(LIMIT + 1))
    assert over.close_frame()[0] == 1009
    within.emit("join_room", {"room_id": room_id}, 2)
    assert within.ack(2) == {"ok": True, "room_id": room_id}


def test_logout_tells_the_official_client_the_server_disconnected_it(
    server: Server, user: Callable[[str], HttpUser]
) -> None:
    alice = user("Alice")
    room_id = make_room(alice)["id"]
    with node_joined(server, alice, room_id) as official:
        ok(alice.call("POST", "/api/auth/logout"), 204)
        assert official.wait_for("disconnect") == {"reason": "io server disconnect"}


# ---- polling -> websocket -------------------------------------------------------------------------------------


def test_events_keep_flowing_in_order_across_the_official_clients_upgrade(
    server: Server, own_user: Callable[[str], HttpUser], connect: Callable[..., Listener]
) -> None:
    alice, bob = own_user("Alice"), own_user("Bob")
    room_id = make_room(alice, bob)["id"]
    posted: list[str] = []
    upgraded = threading.Event()
    stop = threading.Event()

    def post_until_stopped() -> None:
        after = 0
        while not stop.is_set() and after < 30:
            posted.append(make_message(alice, room_id, f"flow {len(posted)}")["id"])
            after += upgraded.is_set()

    # The client joins over long-polling and holds its websocket probe for a second: messages are flowing when
    # the upgrade happens, and keep flowing after it.
    with node_client(
        server, bob.token, room_id=room_id, commands=True, upgrade_delay_ms=1000, timeout_ms=TIMEOUT_MS
    ) as official:
        assert official.wait_for("open") == {"transport": "polling"}
        official.wait_for("ready")
        poster = threading.Thread(target=post_until_stopped)
        poster.start()
        try:
            assert official.wait_for("upgrade") == {"transport": "websocket"}
            before = len(posted)
            upgraded.set()
        finally:
            poster.join(timeout=DELIVERY_SECONDS)
            stop.set()
        assert before > 0 and len(posted) > before, "the messages did not span the upgrade"
        assert ids(node_messages(official, len(posted))) == posted
        # Both ways on the websocket: the official client's own send reaches the room.
        listener = connect(alice)
        listener.join(room_id)
        ack = official.emit("send_message", {"room_id": room_id, "content": "over the websocket"})
        assert ack["ok"] is True, ack
        assert listener.wait_for("new_message")["message"]["id"] == ack["message"]["id"]
        assert official.wait_for("new_message")["message"]["id"] == ack["message"]["id"]
        assert {"upgrade_error", "disconnect", "connect_error"}.isdisjoint(official.events())
    assert ids(whole_history(alice, room_id))[: len(posted)] == posted


def polling(server: Server, sid: str | None = None) -> str:
    """A session's long-polling URL (a new session's without `sid`)."""
    return f"{server.url}/socket.io/?EIO=4&transport=polling" + (f"&sid={sid}" if sid else "")


def test_the_upgrade_handshake_ends_the_pending_poll_and_delivers_what_was_sent_meanwhile_on_the_websocket(
    server: Server, user: Callable[[str], HttpUser], http: requests.Session
) -> None:
    alice, bob = user("Alice"), user("Bob")
    room_id = make_room(alice, bob)["id"]
    opening = http.get(polling(server), timeout=10).text
    assert opening.startswith("0{") and json.loads(opening[1:])["upgrades"] == ["websocket"], opening
    sid = json.loads(opening[1:])["sid"]
    assert http.post(polling(server, sid), data="40" + json.dumps({"token": bob.token}), timeout=10).ok
    assert http.post(polling(server, sid), data=f'421["join_room",{{"room_id":"{room_id}"}}]', timeout=10).ok
    seen = ""
    while '431[{"ok":true' not in seen:  # connected, the namespace's CONNECT, room_joined, the join's ack
        seen += http.get(polling(server, sid), timeout=10).text
    # A client keeps a long-poll pending while it probes the websocket; the server must end it once probed.
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(http.get, polling(server, sid), timeout=DELIVERY_SECONDS)
        time.sleep(0.2)  # the poll is waiting on the server
        sock = RawSocket(server, sid=sid)
        sock.ws.send("2probe")
        assert sock.packet() == "3probe"
        assert "6" in pending.result().text.split("\x1e")  # a noop ends it
    # Sent between the probe and the client's UPGRADE packet: held, then written on the websocket, once.
    first = make_message(alice, room_id, "during the upgrade")["id"]
    sock.ws.send("5")
    second = make_message(alice, room_id, "after the upgrade")["id"]
    assert [event["message"]["id"] for event in sock.events("new_message", 2)] == [first, second]
    sock.emit("typing", {"room_id": room_id, "is_typing": True}, 2)
    assert sock.ack(2) == {"ok": True, "forwarded": True}
    sock.close()


# ---- broadcasts -----------------------------------------------------------------------------------------------


def test_a_burst_from_several_senders_arrives_once_each_in_the_rooms_order(
    server: Server, own_user: Callable[[str], HttpUser], user: Callable[[str], HttpUser], raw: Callable[..., RawSocket]
) -> None:
    per_sender = 125
    senders = [own_user(f"Sender{i}") for i in range(4)]
    reader, watcher = user("Reader"), user("Watcher")
    room_id = make_room(senders[0], *senders[1:], reader, watcher)["id"]
    frames = raw()
    frames.join(watcher, room_id)
    failures: list[BaseException] = []

    def over_rest(sender: HttpUser) -> None:
        for n in range(per_sender):
            make_message(sender, room_id, f"{sender.name} {n}")

    def over_socket(sender: HttpUser) -> None:
        client = socketio.Client(reconnection=False, handle_sigint=False)
        try:
            client.connect(server.url, auth={"token": sender.token}, transports=["websocket"], wait_timeout=10)
            for n in range(per_sender):
                ack = client.call("send_message", {"room_id": room_id, "content": f"{sender.name} {n}"}, timeout=30)
                assert ack["ok"] is True, ack
        finally:
            client.disconnect()

    def guarded(work: Callable[[HttpUser], None], sender: HttpUser) -> Callable[[], None]:
        def run() -> None:
            try:
                work(sender)
            except BaseException as error:  # reported by the main thread
                failures.append(error)

        return run

    with node_joined(server, reader, room_id, timeout_ms=TIMEOUT_MS) as official:
        threads = [
            threading.Thread(target=guarded(over_rest if i % 2 else over_socket, sender))
            for i, sender in enumerate(senders)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=DELIVERY_SECONDS)
        assert not failures, failures
        total = per_sender * len(senders)
        order = ids(whole_history(reader, room_id))
        assert len(order) == total
        assert ids(node_messages(official, total)) == order
        assert ids([event["message"] for event in frames.events("new_message", total)]) == order
        # No copy follows: the next thing each hears is a message sent after the burst.
        last = make_message(reader, room_id, "after the burst")["id"]
        assert official.wait_for("new_message")["message"]["id"] == last
        assert frames.events("new_message", 1)[0]["message"]["id"] == last


# Past what the kernel buffers for one loopback connection (up to 4 MB sent, a few KB received) and the server's
# backlog for it (WEBSOCKET_BACKLOG_BYTES, 1 MiB): the server must write frames in pieces, and give up on a socket
# that reads nothing.
FLOOD_MESSAGES = 300
LARGE = "é" * 9_990  # 20-60 KB a frame, as the JSON encoder escapes it or not: 6-18 MB in all
# Within that backlog however the encoder escapes them (at most ~63 KB a frame): a slow reader keeps up.
SLOW_READ_MESSAGES = 12


def test_large_messages_to_a_tiny_receive_buffer_read_slowly_arrive_whole_and_in_order(
    user: Callable[[str], HttpUser], raw: Callable[..., RawSocket]
) -> None:
    alice, bob = user("Alice"), user("Bob")
    room_id = make_room(alice, bob)["id"]
    slow = raw(receive_buffer=4096)  # the server can write only a few KB of each frame at a time
    slow.join(bob, room_id)
    # Each message different throughout (its number at both ends, mixed widths): a lost or repeated piece shows.
    contents = [f"{n:03d}|" + ("é🚀a" * 3_300) + f"|{n:03d}" for n in range(SLOW_READ_MESSAGES)]
    sent = [make_message(alice, room_id, content)["id"] for content in contents]
    received: list[dict[str, Any]] = []
    while len(received) < len(sent):
        received.extend(event["message"] for event in slow.events("new_message", 1, timeout=DELIVERY_SECONDS))
        time.sleep(0.005)  # a slow reader: the server's buffer for it stays full, its sends partial
    assert ids(received) == sent
    assert [message["content"] for message in received] == contents, "a message arrived altered"


def flood_past_a_stalled_socket(
    server: Server, user: Callable[[str], HttpUser], raw: Callable[..., RawSocket]
) -> tuple[RawSocket, list[str]]:
    """A room where one socket (tiny receive buffer) stops reading while FLOOD_MESSAGES large messages are sent:
    the official client and a frame-level reader in the room must get every one, in order, meanwhile. The stalled
    socket and the messages' ids."""
    alice, bob, carol, dave = user("Alice"), user("Bob"), user("Carol"), user("Dave")
    room_id = make_room(alice, bob, carol, dave)["id"]
    stalled = raw(receive_buffer=4096)
    stalled.join(dave, room_id)  # and never reads again until the test says so
    reader = raw()
    reader.join(carol, room_id)
    heard: list[str] = []
    failures: list[BaseException] = []

    def read_all() -> None:
        try:
            heard.extend(event["message"]["id"] for event in reader.events("new_message", FLOOD_MESSAGES, 120))
        except BaseException as error:  # reported by the test
            failures.append(error)

    reading = threading.Thread(target=read_all)
    reading.start()
    with node_joined(server, bob, room_id, timeout_ms=TIMEOUT_MS) as official:
        sent = [make_message(alice, room_id, LARGE)["id"] for _ in range(FLOOD_MESSAGES)]
        assert ids(node_messages(official, len(sent))) == sent
    reading.join(timeout=DELIVERY_SECONDS)
    assert not failures and heard == sent, (failures, len(heard))
    return stalled, sent


def test_a_consumer_that_stops_reading_holds_up_neither_the_senders_nor_the_room(
    server: Server, user: Callable[[str], HttpUser], raw: Callable[..., RawSocket]
) -> None:
    flood_past_a_stalled_socket(server, user, raw)


def test_a_consumer_that_stops_reading_is_disconnected_once_its_backlog_is_full(
    server: Server, user: Callable[[str], HttpUser], raw: Callable[..., RawSocket]
) -> None:
    stalled, sent = flood_past_a_stalled_socket(server, user, raw)
    # Read what it was left: a bounded backlog means the server gave up on it before the last message.
    got = 0
    try:
        while True:
            opcode, data = stalled.frame(timeout=5)
            if opcode == CLOSE:
                break
            got += data.startswith(b'42["new_message"')
    except Closed:
        pass
    except websocket.WebSocketTimeoutException:
        raise AssertionError(f"the stalled socket is still open, with {got} of {len(sent)} messages") from None
    assert got < len(sent)


# ---- SIGTERM ----------------------------------------------------------------------------------------------------


def test_sigterm_sends_websockets_a_close_frame_and_the_official_client_a_disconnect(tmp_path: Path) -> None:
    with serve_fresh(tmp_path) as server, requests.Session() as http:
        alice, bob = HttpUser(http, server.url, "Alice"), HttpUser(http, server.url, "Bob")
        room_id = make_room(alice, bob)["id"]
        frames = RawSocket(server)
        frames.join(alice, room_id)
        with node_joined(server, bob, room_id) as official:
            server.process.send_signal(signal.SIGTERM)
            # A close handshake, not a dropped connection: normal closure or going away.
            assert frames.close_frame(timeout=GRACEFUL_SECONDS / 2)[0] in (1000, 1001)
            assert "reason" in official.wait_for("disconnect", timeout=GRACEFUL_SECONDS / 2)
            assert_exits_cleanly(server, GRACEFUL_SECONDS / 2)
