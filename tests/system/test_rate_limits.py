"""Rate limits: 429 + Retry-After over REST and error acknowledgements over Socket.IO, against real gunicorn
processes with low limits; counted per client address, per user and per socket, in memory or in a shared Redis.

Per-address counts would carry over from test to test on one server, so every test talks from a loopback
address of its own (127.0.0.N: Linux routes the whole 127.0.0.0/8 to the loopback interface).
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from limits import parse_many

from tests.helpers.factories import make_room, post_message
from tests.helpers.realtime import Crew, Listener
from tests.helpers.servers import (
    PASSWORD,
    SECRETS,
    HttpUser,
    Server,
    client_at,
    free_port,
    fresh_database,
    migrate,
    run_server,
    serve_fresh,
)
from tests.helpers.tokens import forge

LIMITED = {
    "RATE_LIMIT_ENABLED": "true",
    "RATE_LIMIT_LOGIN": "3/minute",
    "RATE_LIMIT_REGISTER": "4/minute",
    "RATE_LIMIT_SEND_MESSAGE": "4/minute",
    "RATE_LIMIT_CREATE_ROOM": "2/minute",
    "RATE_LIMIT_UPLOAD": "2/minute",
    "RATE_LIMIT_SEARCH": "3/minute",
    "RATE_LIMIT_SOCKET_SEND_MESSAGE": "3/minute",
    "RATE_LIMIT_SOCKET_TYPING": "3/minute",
    "RATE_LIMIT_CHANGE_MESSAGE": "3/minute",
    "RATE_LIMIT_SOCKET_JOIN_ROOM": "3/minute",
    "RATE_LIMIT_SOCKET_JOIN_ROOM_TOTAL": "8/minute",
}
ADDRESSES = (f"127.0.0.{n}" for n in itertools.count(2))


# ---- clients at addresses of their own ---------------------------------------------------------------------


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A client at a loopback address no other test uses."""
    with client_at(next(ADDRESSES)) as session:
        yield session


@pytest.fixture
def elsewhere() -> Iterator[requests.Session]:
    """A second client, at another address of its own."""
    with client_at(next(ADDRESSES)) as session:
        yield session


# ---- servers -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Low limits counted in memory (no REDIS_URL)."""
    tmp = tmp_path_factory.mktemp("limits")
    with serve_fresh(tmp, prefix="armada_limits", MEDIA_ROOT=str(tmp / "media"), **LIMITED) as running:
        yield running


# ---- helpers -----------------------------------------------------------------------------------------------


def window_seconds(limit: str) -> int:
    return parse_many(limit)[0].get_expiry()


def assert_rate_limited(response: requests.Response, limit: str, what: str) -> int:
    """A 429 in the contract's format for `limit` (as "3 per 1 minute"), whose Retry-After agrees with its body."""
    assert response.status_code == 429, (response.status_code, response.text)
    header = response.headers.get("Retry-After", "")
    assert header.isdigit(), response.headers
    seconds = int(header)
    assert 1 <= seconds <= window_seconds(limit), seconds
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == "rate_limited", body
    assert body["error"]["details"] == {"retry_after": seconds, "limit": limit}, body
    assert what in body["error"]["message"], body
    return seconds


def assert_refused_ack(ack: Any, limit: str) -> dict[str, Any]:
    """A Socket.IO acknowledgement refusing an event over `limit`; its error body."""
    assert set(ack) == {"ok", "error"} and ack["ok"] is False, ack
    error = ack["error"]
    assert set(error) == {"code", "message", "details"} and error["code"] == "rate_limited", error
    assert set(error["details"]) == {"retry_after", "limit"} and error["details"]["limit"] == limit, error
    assert 1 <= error["details"]["retry_after"] <= window_seconds(limit), error
    assert isinstance(error["message"], str) and error["message"], error
    return error


def login(http: requests.Session, server: Server, email: str, password: str = PASSWORD) -> requests.Response:
    return http.post(f"{server.url}/api/auth/login", json={"email": email, "password": password}, timeout=10)


def contents_of(who: HttpUser, room_id: str) -> list[str]:
    """The contents of the room's messages, oldest first: a refused message must not be among them."""
    return [message["content"] for message in who.history(room_id)]


# ---- per client address: login and register ------------------------------------------------------------------


def test_login_over_the_limit_is_a_429_with_retry_after_in_the_contract_format(
    user: Callable[[str], HttpUser], server: Server, http: requests.Session
) -> None:
    email = user("Alice").email()
    for _ in range(3):
        assert login(http, server, email, "wrong password").status_code == 401
    # Even the right password is refused now: the limit is what stops guessing.
    assert_rate_limited(login(http, server, email), "3 per 1 minute", "login attempts")
    assert_rate_limited(login(http, server, email), "3 per 1 minute", "login attempts")


def test_the_login_limit_is_per_client_address(
    user: Callable[[str], HttpUser], server: Server, http: requests.Session, elsewhere: requests.Session
) -> None:
    email = user("Alice").email()
    for _ in range(3):
        assert login(http, server, email, "wrong password").status_code == 401
    assert_rate_limited(login(http, server, email), "3 per 1 minute", "login attempts")
    assert login(elsewhere, server, email).status_code == 200
    assert_rate_limited(login(http, server, email), "3 per 1 minute", "login attempts")


def test_forwarding_headers_do_not_move_a_client_to_another_address(
    user: Callable[[str], HttpUser], server: Server, http: requests.Session
) -> None:
    email = user("Alice").email()
    forged = [
        {"X-Forwarded-For": "203.0.113.1"},
        {"X-Real-IP": "203.0.113.2"},
        {"Forwarded": "for=203.0.113.3"},
        {"X-Forwarded-For": "203.0.113.4, 198.51.100.7", "X-Real-IP": "203.0.113.4"},
    ]
    answers = [
        http.post(f"{server.url}/api/auth/login", json={"email": email, "password": PASSWORD}, headers=h, timeout=10)
        for h in forged
    ]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    assert_rate_limited(answers[3], "3 per 1 minute", "login attempts")


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Low limits, behind one trusted proxy (TRUSTED_PROXIES=1): our clients play the proxy's part."""
    tmp = tmp_path_factory.mktemp("proxied")
    with serve_fresh(tmp, prefix="armada_proxied", TRUSTED_PROXIES="1", **LIMITED) as running:
        yield running


def forwarded_client() -> str:
    """An address in a /64 no other test forwards (documentation prefix)."""
    return f"2001:db8:{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}::1"


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_login_count(
    proxied: Server, http: requests.Session
) -> None:
    email = HttpUser(http, proxied.url, "Alice").email()
    client, neighbour = forwarded_client(), forwarded_client()

    def attempt(forwarded_for: str | None, password: str = PASSWORD) -> requests.Response:
        headers = {"X-Forwarded-For": forwarded_for} if forwarded_for is not None else {}
        body = {"email": email, "password": password}
        return http.post(f"{proxied.url}/api/auth/login", json=body, headers=headers, timeout=10)

    for _ in range(3):
        assert attempt(client, "wrong password").status_code == 401
    assert_rate_limited(attempt(client), "3 per 1 minute", "login attempts")
    # The client wrote the header itself and the proxy appended the address it saw: only that last hop counts.
    assert_rate_limited(attempt(f"203.0.113.9, {client}"), "3 per 1 minute", "login attempts")
    assert_rate_limited(attempt(f"{neighbour}, {client}"), "3 per 1 minute", "login attempts")
    # Another client behind the same proxy, and a request with no forwarding header (the proxy's own address).
    assert attempt(neighbour).status_code == 200
    assert attempt(f"{client}, {neighbour}").status_code == 200
    assert attempt(None).status_code == 200


def test_an_ipv6_client_is_counted_by_its_64_and_an_ipv4_one_by_its_address(
    proxied: Server, http: requests.Session
) -> None:
    email = HttpUser(http, proxied.url, "Alice").email()
    network = forwarded_client().removesuffix("::1")

    def attempt(forwarded_for: str) -> int:
        body = {"email": email, "password": "wrong password"}
        headers = {"X-Forwarded-For": forwarded_for}
        return http.post(f"{proxied.url}/api/auth/login", json=body, headers=headers, timeout=10).status_code

    # Three addresses of one /64 (a subscriber's), written differently: one count.
    assert [attempt(f"{network}::1"), attempt(f"{network}:0:0:0:2"), attempt(f"{network}::ffff:1")] == [401] * 3
    assert attempt(f"{network}::dead:beef") == 429
    assert attempt(forwarded_client()) == 401  # another /64 is someone else
    # An IPv4 client, and the same one written as an IPv4-mapped IPv6 address, share a count of their own.
    four = f"198.51.100.{uuid.uuid4().int % 250 + 1}"
    assert [attempt(four), attempt(f"::ffff:{four}"), attempt(four)] == [401] * 3
    assert attempt(f"::ffff:{four}") == 429
    # Anything else a proxy may pass (not an address at all) is still a key of its own, never an error.
    assert attempt("unknown") == 401
    # A proxy that forwards the client's port too: the port is not part of the count, or every connection of
    # one client would start afresh.
    other_four, other_network = f"192.0.2.{uuid.uuid4().int % 250 + 1}", forwarded_client().removesuffix("::1")
    assert [attempt(f"{other_four}:{port}") for port in (40001, 40002, 40003)] == [401] * 3
    assert attempt(f"{other_four}:40004") == 429 and attempt(other_four) == 429
    assert [attempt(f"[{other_network}::{n}]:443") for n in (1, 2, 3)] == [401] * 3
    assert attempt(f"{other_network}::4") == 429


def test_the_request_log_names_the_client_a_trusted_proxy_forwarded(proxied: Server, http: requests.Session) -> None:
    client = forwarded_client()
    response = http.get(f"{proxied.url}/api/health", headers={"X-Forwarded-For": f"198.51.100.4, {client}"})
    assert response.status_code == 200
    request_id = response.headers["X-Request-ID"]
    deadline = time.monotonic() + 5
    while not (records := [r for r in proxied.records() if r.get("request_id") == request_id]):
        assert time.monotonic() < deadline, proxied.output()
        time.sleep(0.05)
    assert [r["remote_addr"] for r in records if r["logger"] == "armada.request"] == [client], records


def test_only_a_trusted_proxy_makes_a_request_https(server: Server, proxied: Server, http: requests.Session) -> None:
    https = {"X-Forwarded-Proto": "https"}
    # From 127.0.0.2 and up, gunicorn's own FORWARDED_ALLOW_IPS (127.0.0.1) does not apply: TRUSTED_PROXIES does.
    trusted = http.get(f"{proxied.url}/api/health", headers=https, timeout=10)
    assert trusted.headers.get("Strict-Transport-Security") == "max-age=31536000", trusted.headers
    untrusted = http.get(f"{server.url}/api/health", headers=https, timeout=10)
    assert untrusted.status_code == 200 and "Strict-Transport-Security" not in untrusted.headers


def test_every_register_attempt_counts_against_the_address_and_a_refused_one_creates_nobody(
    server: Server, http: requests.Session, elsewhere: requests.Session
) -> None:
    def register(email: str, **body: Any) -> requests.Response:
        fields = {"email": email, "password": PASSWORD, "display_name": "Someone", **body}
        return http.post(f"{server.url}/api/auth/register", json=fields, timeout=10)

    first = f"first-{uuid.uuid4().hex[:8]}@example.com"
    assert register(first).status_code == 201
    assert register(first).status_code == 409  # taken
    assert register(f"nul-{uuid.uuid4().hex[:8]}\x00@example.com").status_code == 422
    assert register(f"ü-{uuid.uuid4().hex[:8]}@example.com", display_name="Zoë 🚀").status_code == 201
    refused = f"refused-{uuid.uuid4().hex[:8]}@example.com"
    assert_rate_limited(register(refused), "4 per 1 minute", "registrations")
    # Nobody was created: the account cannot log in, and its email is still free elsewhere.
    assert login(elsewhere, server, refused).status_code == 401
    body = {"email": refused, "password": PASSWORD, "display_name": "Later"}
    assert elsewhere.post(f"{server.url}/api/auth/register", json=body, timeout=10).status_code == 201


# ---- per user: sends, room creation, uploads -----------------------------------------------------------------


def test_the_message_limit_is_per_user_and_a_refused_message_is_not_stored(crew: Crew) -> None:
    alice, bob, room_id = crew
    for i in range(4):
        assert post_message(alice, room_id, f"m{i}").status_code == 201
    assert_rate_limited(post_message(alice, room_id, "one too many"), "4 per 1 minute", "messages")
    # Over the limit, a malformed send is refused the same way (the limit comes before validation).
    malformed = alice.call("POST", "/api/chat/messages", json={"room_id": "not a uuid"})
    assert_rate_limited(malformed, "4 per 1 minute", "messages")
    assert post_message(bob, room_id, "bob is fine").status_code == 201
    assert contents_of(bob, room_id) == ["m0", "m1", "m2", "m3", "bob is fine"]


def test_requests_refused_for_their_token_do_not_use_up_the_users_limit(
    crew: Crew, server: Server, http: requests.Session
) -> None:
    alice, _, room_id = crew
    expired = forge(alice.token, SECRETS["JWT_SECRET_KEY"], exp=int(time.time()) - 60)
    wrong_key = forge(alice.token, "x" * 48)
    for token in [expired, wrong_key, "garbage", expired, wrong_key, "garbage"]:
        response = http.post(
            f"{server.url}/api/chat/messages",
            json={"room_id": room_id, "content": "sneaky"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert response.status_code == 401, response.text
    for i in range(4):
        assert post_message(alice, room_id, f"m{i}").status_code == 201
    assert_rate_limited(post_message(alice, room_id, "over"), "4 per 1 minute", "messages")


def test_the_room_creation_limit_is_per_user_and_listing_rooms_is_not_limited(
    user: Callable[[str], HttpUser], server: Server, elsewhere: requests.Session
) -> None:
    alice, bob, carol = (user(name) for name in ("Alice", "Bob", "Carol"))
    make_room(alice, bob)
    make_room(alice, carol)
    direct = alice.call("POST", "/api/chat/rooms", json={"room_type": "direct", "member_ids": [carol.id]})
    assert_rate_limited(direct, "2 per 1 minute", "new rooms")
    for _ in range(5):
        assert alice.call("GET", "/api/chat/rooms").status_code == 200
    assert len(alice.rooms()) == 2
    make_room(bob, carol)
    # Another user at another address is just as free.
    dave = HttpUser(elsewhere, server.url, "Dave")
    make_room(dave, alice)


def test_the_upload_limit_counts_uploads_and_direct_upload_urls_together(user: Callable[[str], HttpUser]) -> None:
    alice, bob = user("Alice"), user("Bob")

    def upload(who: HttpUser) -> requests.Response:
        return who.call("POST", "/api/chat/upload", files={"file": ("notes.txt", b"hello\n", "text/plain")})

    def signed_url(who: HttpUser) -> requests.Response:
        params = {"filename": "big.bin", "mime_type": "application/octet-stream", "size": "1000"}
        return who.call("GET", "/api/chat/upload/signed-url", params=params)

    assert upload(alice).status_code == 201
    assert signed_url(alice).status_code == 200
    assert_rate_limited(upload(alice), "2 per 1 minute", "uploads")
    assert_rate_limited(signed_url(alice), "2 per 1 minute", "uploads")
    assert upload(bob).status_code == 201


def test_the_search_limit_is_per_user_and_a_refused_search_is_a_429(user: Callable[[str], HttpUser]) -> None:
    alice, bob = user("Alice"), user("Bob")
    make_room(alice, bob)

    def search(who: HttpUser, q: str) -> requests.Response:
        return who.call("GET", "/api/chat/search", params={"q": q})

    for q in ("a", "ab", "abc"):  # search as you type
        assert search(alice, q).status_code == 200
    assert_rate_limited(search(alice, "abcd"), "3 per 1 minute", "searches")
    assert search(bob, "abcd").status_code == 200


def test_edits_and_deletions_share_a_per_user_limit_over_rest_and_sockets(
    crew: Crew, connect: Callable[..., Listener]
) -> None:
    alice, bob, room_id = crew
    first, second = (post_message(alice, room_id, text).json()["id"] for text in ("first", "second"))
    socket = connect(alice)

    def edit(message_id: str, content: str) -> requests.Response:
        return alice.call("PATCH", f"/api/chat/messages/{message_id}", json={"content": content})

    assert edit(first, "first, edited").status_code == 200
    assert socket.call("message_edited", {"message_id": first, "content": "first, edited twice"})["ok"] is True
    assert alice.call("DELETE", f"/api/chat/messages/{second}").status_code == 200
    # Three changes, whichever way they came: the fourth is refused both ways, and changes nothing.
    assert_rate_limited(edit(first, "over REST"), "3 per 1 minute", "message edits and deletions")
    over = socket.call("message_edited", {"message_id": first, "content": "over the socket"})
    assert_refused_ack(over, "3 per 1 minute")
    assert_refused_ack(socket.call("message_deleted", {"message_id": first}), "3 per 1 minute")
    assert_rate_limited(alice.call("DELETE", f"/api/chat/messages/{first}"), "3 per 1 minute", "message edits")
    contents = contents_of(bob, room_id)
    assert "first, edited twice" in contents and not {"over REST", "over the socket"} & set(contents), contents
    # Bob's count is his own.
    bobs = post_message(bob, room_id, "bob's").json()["id"]
    bobs_edit = bob.call("PATCH", f"/api/chat/messages/{bobs}", json={"content": "bob's, edited"})
    assert bobs_edit.status_code == 200, bobs_edit.text


# ---- per socket ----------------------------------------------------------------------------------------------


def test_a_send_message_flood_gets_error_acks_and_the_socket_stays_usable(
    crew: Crew, connect: Callable[..., Listener]
) -> None:
    alice, bob, room_id = crew
    first, watcher = connect(alice), connect(bob)
    for listener in (first, watcher):
        assert listener.call("join_room", {"room_id": room_id}) == {"ok": True, "room_id": room_id}

    acks = [first.call("send_message", {"room_id": room_id, "content": f"flood {i}"}) for i in range(6)]
    assert [ack["ok"] for ack in acks] == [True, True, True, False, False, False], acks
    errors = [assert_refused_ack(ack, "3 per 1 minute") for ack in acks[3:]]
    # The same errors also arrive as `error` events, for clients without acknowledgements.
    assert first.wait_for_count("error", 3) == errors
    watcher.wait_for_count("new_message", 3)
    watcher.assert_no("new_message", lambda d: d["message"]["content"] in ("flood 3", "flood 4", "flood 5"))
    assert first.client.connected
    assert first.call("join_room", {"room_id": room_id}) == {"ok": True, "room_id": room_id}

    # Another socket of Alice's has a count of its own, but her sends also count per user (4/minute), with
    # REST and sockets together: one more goes through, then both ways are refused.
    second = connect(alice)
    assert second.call("send_message", {"room_id": room_id, "content": "from the second socket"})["ok"] is True
    assert_refused_ack(second.call("send_message", {"room_id": room_id, "content": "over"}), "4 per 1 minute")
    assert_rate_limited(post_message(alice, room_id, "over REST"), "4 per 1 minute", "messages")
    assert post_message(bob, room_id, "bob is fine").status_code == 201
    assert [c for c in contents_of(bob, room_id) if c.startswith("flood")] == ["flood 0", "flood 1", "flood 2"]


def test_join_and_leave_are_limited_per_socket_and_room(
    user: Callable[[str], HttpUser], connect: Callable[..., Listener]
) -> None:
    alice, bob = user("Alice"), user("Bob")
    toggled, other = make_room(alice, bob)["id"], make_room(alice, bob)["id"]
    toggler, watcher = connect(alice), connect(bob)
    assert watcher.call("join_room", {"room_id": toggled})["ok"] is True
    acks = [toggler.call("leave_room" if i % 2 else "join_room", {"room_id": toggled}) for i in range(5)]
    assert [ack["ok"] for ack in acks] == [True, True, True, False, False], acks
    for ack in acks[3:]:
        assert_refused_ack(ack, "3 per 1 minute")
    # The room heard the three that went through (join, leave, join) and nothing of the refused ones.
    watcher.wait_for_count("user_joined", 2)
    watcher.wait_for("user_left")
    watcher.assert_no("user_left", lambda d: d["room_id"] == other)  # and a moment for any stray to arrive
    assert len(watcher.matching("user_joined")) == 2 and len(watcher.matching("user_left")) == 1
    # Counted per room, and per socket: joining another room, or the same room from another socket, still works.
    assert toggler.call("join_room", {"room_id": other}) == {"ok": True, "room_id": other}
    assert connect(alice).call("join_room", {"room_id": toggled}) == {"ok": True, "room_id": toggled}
    assert toggler.client.connected


def test_join_and_leave_also_count_per_socket_over_all_rooms_unknown_and_malformed_ones_included(
    crew: Crew, connect: Callable[..., Listener]
) -> None:
    alice, _, room_id = crew
    prober = connect(alice)
    # Each unknown id would start a per-room count of its own: the total (8/minute) still stops the probing.
    unknown = [prober.call("join_room", {"room_id": str(uuid.uuid4())}) for _ in range(5)]
    assert [ack["error"]["code"] for ack in unknown] == ["room_not_found"] * 5, unknown
    malformed = [prober.call(event, "not a room") for event in ("join_room", "leave_room", "join_room")]
    assert [ack["error"]["code"] for ack in malformed] == ["validation_failed"] * 3, malformed
    assert_refused_ack(prober.call("join_room", {"room_id": room_id}), "8 per 1 minute")
    assert_refused_ack(prober.call("leave_room", {"room_id": str(uuid.uuid4())}), "8 per 1 minute")
    # Per socket: another socket of Alice's joins at once.
    assert connect(alice).call("join_room", {"room_id": room_id}) == {"ok": True, "room_id": room_id}


def test_malformed_socket_edits_and_deletions_count_like_rest_ones(
    crew: Crew, connect: Callable[..., Listener]
) -> None:
    alice, bob, room_id = crew
    message_id = post_message(alice, room_id, "hello").json()["id"]
    socket = connect(alice)
    malformed = [
        socket.call("message_edited", {"message_id": message_id}),
        socket.call("message_deleted", "not an object"),
        socket.call("message_edited", {"message_id": "nope", "content": "x"}),
    ]
    assert [ack["error"]["code"] for ack in malformed] == ["validation_failed"] * 3, malformed
    # Three changes attempted (3/minute): a well-formed one is refused now, over either door.
    assert_refused_ack(socket.call("message_edited", {"message_id": message_id, "content": "hi"}), "3 per 1 minute")
    refused = alice.call("PATCH", f"/api/chat/messages/{message_id}", json={"content": "hi"})
    assert_rate_limited(refused, "3 per 1 minute", "message edits and deletions")
    assert contents_of(bob, room_id) == ["hello"]


def test_a_typing_flood_gets_error_acks_per_socket(crew: Crew, connect: Callable[..., Listener]) -> None:
    alice, _, room_id = crew
    first, second = connect(alice), connect(alice)
    for listener in (first, second):
        assert listener.call("join_room", {"room_id": room_id}) == {"ok": True, "room_id": room_id}
    acks = [first.call("typing", {"room_id": room_id, "is_typing": i % 2 == 0}) for i in range(5)]
    assert [ack["ok"] for ack in acks] == [True, True, True, False, False], acks
    for ack in acks[3:]:
        assert_refused_ack(ack, "3 per 1 minute")
    # Malformed events count too: a flood of junk is still a flood.
    assert_refused_ack(first.call("typing", "not an object"), "3 per 1 minute")
    assert second.call("typing", {"room_id": room_id, "is_typing": True})["ok"] is True


# ---- the window ends -----------------------------------------------------------------------------------------


def test_the_limit_resets_when_its_window_ends(tmp_path: Path, http: requests.Session) -> None:
    with serve_fresh(tmp_path, prefix="armada_reset", RATE_LIMIT_ENABLED="true", RATE_LIMIT_LOGIN="2/2 seconds") as s:
        email = HttpUser(http, s.url, "Alice").email()
        # A slow machine may see a window end mid-way: send until refused (at most two windows' worth).
        for _ in range(6):
            refused = login(http, s, email)
            if refused.status_code != 200:
                break
        retry_after = assert_rate_limited(refused, "2 per 2 second", "login attempts")
        time.sleep(retry_after + 0.2)  # Retry-After is whole seconds, rounded up; a margin for the clocks
        assert login(http, s, email).status_code == 200


def test_a_refused_attempt_counts_in_every_window_and_retry_after_names_the_one_that_frees_last(
    tmp_path: Path, http: requests.Session
) -> None:
    two_windows = "2/2 seconds;3/minute"
    env = {"RATE_LIMIT_ENABLED": "true", "RATE_LIMIT_LOGIN": two_windows, "RATE_LIMIT_SOCKET_TYPING": two_windows}
    with serve_fresh(tmp_path, prefix="armada_windows", **env) as s:
        alice, bob = HttpUser(http, s.url, "Alice"), HttpUser(http, s.url, "Bob")
        email, room_id = alice.email(), make_room(alice, bob)["id"]
        typist = Listener("Alice")
        typist.connect(s.url, {"token": alice.token})
        try:
            typist.wait_for("connected")
            assert typist.call("join_room", {"room_id": room_id})["ok"] is True
            # A machine slow enough to see the 2-second window end mid-way is told so by the first assertion.
            started = time.monotonic()
            logins = [login(http, s, email) for _ in range(4)]
            typing = [typist.call("typing", {"room_id": room_id, "is_typing": i % 2 == 0}) for i in range(4)]
            assert time.monotonic() - started < 2, "too slow to stay inside one 2-second window"
        finally:
            typist.client.disconnect()
        assert [r.status_code for r in logins[:2]] == [200, 200]
        # The third is over the 2 seconds only; the fourth is over the minute too, which frees last.
        assert assert_rate_limited(logins[2], "2 per 2 second", "login attempts") <= 2
        assert assert_rate_limited(logins[3], "3 per 1 minute", "login attempts") > 2
        assert [ack["ok"] for ack in typing] == [True, True, False, False], typing
        assert assert_refused_ack(typing[2], "2 per 2 second")["details"]["retry_after"] <= 2
        assert assert_refused_ack(typing[3], "3 per 1 minute")["details"]["retry_after"] > 2
        # The refused attempts were counted in the minute too: once the 2 seconds are over, still refused.
        time.sleep(2.2)
        assert_rate_limited(login(http, s, email), "3 per 1 minute", "login attempts")


# ---- storage -------------------------------------------------------------------------------------------------


def test_limits_count_in_memory_while_redis_is_unreachable(tmp_path: Path, http: requests.Session) -> None:
    nothing_there = f"redis://127.0.0.1:{free_port()}/0"
    env = {"RATE_LIMIT_ENABLED": "true", "RATE_LIMIT_LOGIN": "2/minute", "REDIS_URL": nothing_there}
    with serve_fresh(tmp_path, prefix="armada_no_redis", **env) as s:
        email = HttpUser(http, s.url, "Alice").email()
        assert [login(http, s, email).status_code for _ in range(2)] == [200, 200]
        assert_rate_limited(login(http, s, email), "2 per 1 minute", "login attempts")


def test_socket_sends_count_per_user_in_memory_while_redis_is_unreachable(
    tmp_path: Path, http: requests.Session
) -> None:
    nothing_there = f"redis://127.0.0.1:{free_port()}/0"
    limits = {
        "RATE_LIMIT_ENABLED": "true",
        "RATE_LIMIT_SEND_MESSAGE": "2/minute",
        "RATE_LIMIT_SOCKET_SEND_MESSAGE": "10/minute",
        "REDIS_URL": nothing_there,
    }
    with fresh_database(tmp_path, "armada_no_redis_sockets") as database_url:
        migrate(database_url)
        # Users and their room come from a server without limits, so the limited one serves sockets alone: no
        # REST request has found Redis unreachable for it before the first socket send does.
        with run_server(database_url, tmp_path, "setup") as setup:
            alice, bob = HttpUser(http, setup.url, "Alice"), HttpUser(http, setup.url, "Bob")
            room_id = make_room(alice, bob)["id"]
        with run_server(database_url, tmp_path, "limited", **limits) as limited:
            sender = Listener("Alice")
            sender.connect(limited.url, {"token": alice.token})
            try:
                sender.wait_for("connected")
                acks = [sender.call("send_message", {"room_id": room_id, "content": f"m{i}"}) for i in range(3)]
            finally:
                sender.client.disconnect()
            assert [ack["ok"] for ack in acks] == [True, True, False], acks
            assert_refused_ack(acks[2], "2 per 1 minute")
            assert "counting in memory" in limited.output()


@contextmanager
def servers_on_redis(redis_url: str, tmp_path: Path, **channels: str) -> Iterator[dict[str, Server]]:
    """One server per keyword (name=REDIS_CHANNEL) on one database and one Redis, with low limits."""
    env = {**LIMITED, "REDIS_URL": redis_url, "RATE_LIMIT_SOCKET_SEND_MESSAGE": "10/minute"}
    with fresh_database(tmp_path, "armada_limits_redis") as database_url:
        migrate(database_url)
        with ExitStack() as stack:
            yield {
                name: stack.enter_context(run_server(database_url, tmp_path, name, REDIS_CHANNEL=channel, **env))
                for name, channel in channels.items()
            }


@pytest.mark.needs_redis
def test_processes_sharing_redis_and_a_channel_share_their_counts(
    redis_url: str, tmp_path: Path, http: requests.Session
) -> None:
    channel, other_channel = f"armada-test-{uuid.uuid4().hex}", f"armada-test-{uuid.uuid4().hex}"
    with servers_on_redis(redis_url, tmp_path, a=channel, b=channel, c=other_channel) as servers:
        a, b, c = servers["a"], servers["b"], servers["c"]
        alice, bob = HttpUser(http, a.url, "Alice"), HttpUser(http, b.url, "Bob")
        email = alice.email()

        # Per address: three attempts spread over both processes use up the limit on both.
        assert [login(http, server, email, "wrong").status_code for server in (a, b, a)] == [401, 401, 401]
        assert_rate_limited(login(http, b, email), "3 per 1 minute", "login attempts")
        assert_rate_limited(login(http, a, email), "3 per 1 minute", "login attempts")
        address = http.get_adapter(a.url).address  # type: ignore[attr-defined]
        with redis.Redis.from_url(redis_url) as client:
            assert client.exists(f"{channel}:ratelimit:LIMITER/ip:{address}/login/3/1/minute")
        # A deployment on another channel of the same Redis counts apart.
        assert login(http, c, email).status_code == 200

        # Per user: REST sends on A and socket sends on B share Alice's count.
        room_id = make_room(alice, bob)["id"]
        assert [post_message(alice, room_id, f"rest {i}", url=a.url).status_code for i in range(2)] == [201, 201]
        listener = Listener("Alice@B")
        try:
            listener.connect(b.url, {"token": alice.token})
            listener.wait_for("connected")
            for i in range(2):
                assert listener.call("send_message", {"room_id": room_id, "content": f"socket {i}"})["ok"] is True
            assert_refused_ack(listener.call("send_message", {"room_id": room_id, "content": "over"}), "4 per 1 minute")
        finally:
            listener.client.disconnect()
        assert_rate_limited(post_message(alice, room_id, "over", url=a.url), "4 per 1 minute", "messages")
        assert_rate_limited(post_message(alice, room_id, "over", url=b.url), "4 per 1 minute", "messages")
