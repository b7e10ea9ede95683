"""The official npm socket.io-client 4.x (tests/js/client.mjs under node) against the real server."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import requests

from tests.helpers.factories import make_room
from tests.helpers.node import joined, node_client
from tests.helpers.realtime import Crew
from tests.helpers.servers import HttpUser, Server, serve_fresh
from tests.helpers.tokens import access_claims, forge


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One migrated fresh database and the Procfile's web process, shared by this module's tests."""
    tmp_path = tmp_path_factory.mktemp("js_client")
    with serve_fresh(tmp_path, prefix="armada_js") as running:
        yield running


def test_js_client_connects_with_auth_token_upgrades_to_websocket_and_joins(crew: Crew, server: Server) -> None:
    alice, _, room_id = crew
    with node_client(server, alice.token, room_id=room_id, wait_upgrade=True) as client:
        # Default transports: the handshake is long-polling, then the client upgrades to websocket.
        assert client.wait_for("open") == {"transport": "polling"}
        assert client.wait_for("connected") == {"user_id": alice.id}
        assert client.wait_for("upgrade") == {"transport": "websocket"}
        assert client.wait_for("ack:join_room") == {"ok": True, "room_id": room_id}
        assert client.wait_for("room_joined") == {"room_id": room_id}
        assert "connect_error" not in client.events() and "upgrade_error" not in client.events()


def test_js_client_hears_connected_first(user: Callable[[str], HttpUser], server: Server) -> None:
    alice = user("Alice")
    with node_client(server, alice.token, count=1) as client:
        assert client.exit() == ("got connected", 0)
        assert [line for line in client.seen if line["event"] not in ("open", "connect", "upgrade", "exit")] == [
            {"event": "connected", "data": {"user_id": alice.id}}
        ]


def test_js_client_cannot_join_a_room_it_is_not_a_member_of(user: Callable[[str], HttpUser], server: Server) -> None:
    alice, bob, eve = (user(name) for name in ("Alice", "Bob", "Eve"))
    room_id = make_room(alice, bob)["id"]
    # The refusal is the same as for a room that does not exist, as over REST: existence is not revealed.
    rest = eve.call("GET", f"/api/chat/rooms/{room_id}")
    assert rest.status_code == 404, rest.text
    with node_client(server, eve.token, room_id=room_id) as client:
        assert client.wait_for("ack:join_room") == {"ok": False, "error": rest.json()["error"]}
        assert "room_joined" not in client.events()


def test_js_client_receives_new_message_posted_over_rest_by_another_member(crew: Crew, server: Server) -> None:
    alice, bob, room_id = crew
    with joined(server, alice, room_id, until="new_message") as client:
        body = {"room_id": room_id, "content": "hello from REST 🚀"}
        posted = bob.call("POST", "/api/chat/messages", json=body)
        assert posted.status_code == 201, posted.text
        event = client.wait_for("new_message")
        assert event["room_id"] == room_id
        message = event["message"]
        assert (message["id"], message["sender_id"]) == (posted.json()["id"], bob.id)
        assert message["content"] == "hello from REST 🚀"
        assert client.exit() == ("got new_message", 0)
        assert client.events().count("new_message") == 1


def test_js_client_typing_reaches_the_other_js_client_but_not_the_typist(crew: Crew, server: Server) -> None:
    alice, bob, room_id = crew
    with (
        joined(server, alice, room_id) as listener,
        joined(server, bob, room_id, typing={"is_typing": True}) as typist,
    ):
        assert typist.wait_for("ack:typing") == {"ok": True, "forwarded": True}
        # The server emits user_typing before it acknowledges, so it would already be here if sent back.
        assert "user_typing" not in typist.events()
        assert listener.wait_for("user_typing") == {"room_id": room_id, "user_id": bob.id, "is_typing": True}


def test_js_client_typing_sent_right_after_join_like_the_seed_is_forwarded(crew: Crew, server: Server) -> None:
    """The seed's JS example emits join_room then typing without waiting: the server must keep their order."""
    alice, bob, room_id = crew
    pipelined = {"room_id": room_id, "pipelined": True, "typing": {"is_typing": True}}
    with joined(server, alice, room_id) as listener:
        for _ in range(5):  # a fresh connection each time: the first one of a process can win the race by luck
            with node_client(server, bob.token, **pipelined) as typist:
                assert typist.wait_for("ack:join_room") == {"ok": True, "room_id": room_id}
                assert typist.wait_for("ack:typing") == {"ok": True, "forwarded": True}
                assert listener.wait_for("user_typing") == {"room_id": room_id, "user_id": bob.id, "is_typing": True}


@pytest.mark.parametrize("kind", ["garbage", "forged", "tampered"])
def test_js_client_with_a_bad_token_gets_connect_error_saying_it_is_invalid(
    user: Callable[[str], HttpUser], server: Server, kind: str
) -> None:
    alice = user("Alice")
    token = {
        "garbage": "not-a-jwt",
        "forged": forge(access_claims(alice.id), "x" * 48),  # well-formed, signed with a key the server has not
        "tampered": alice.token[:-4] + "AAAA",
    }[kind]
    with node_client(server, token) as client:
        error = client.wait_for("connect_error")
        assert "token is invalid" in error["message"], error
        assert error["data"] == {"code": "invalid_token"}
        assert "connected" not in client.events() and "connect" not in client.events()


def test_js_client_without_a_token_is_told_to_send_one(server: Server, http: requests.Session) -> None:
    with node_client(server, None) as client:
        error = client.wait_for("connect_error")
        assert "auth payload" in error["message"] and error["data"] == {"code": "authorization_required"}


def test_js_client_with_a_logged_out_token_is_told_it_was_revoked(
    user: Callable[[str], HttpUser], server: Server
) -> None:
    alice = user("Alice")
    assert alice.call("POST", "/api/auth/logout").status_code == 204
    with node_client(server, alice.token) as client:
        error = client.wait_for("connect_error")
        assert "revoked" in error["message"] and error["data"] == {"code": "token_revoked"}
