"""Rooms over REST: creating direct and group rooms, listing, reading one, and changing settings."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from armada.extensions import db
from armada.models import ChatRoom, ChatRoomMember
from tests.helpers.contract import MEMBER_KEYS, ROOM_KEYS
from tests.helpers.support import Actor, ApiClient, QueryCounter, assert_error, cursor_of

ROOMS = "/api/chat/rooms"


def room_count(app: Flask) -> int:
    """How many rooms the database holds."""
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(ChatRoom)) or 0


def membership_count(app: Flask, room_id: str, user_id: str) -> int:
    """How many membership rows (active or not) a user has in a room."""
    with app.app_context():
        return (
            db.session.scalar(
                select(func.count()).where(
                    ChatRoomMember.room_id == uuid.UUID(room_id), ChatRoomMember.user_id == uuid.UUID(user_id)
                )
            )
            or 0
        )


def members_by_id(room: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A room's members keyed by user id."""
    return {m["user_id"]: m for m in room["members"]}


def list_ids(actor: Actor, **query: Any) -> list[str]:
    """The ids of the actor's room list (first page), in order."""
    response = actor.get(ROOMS, query_string=query)
    assert response.status_code == 200, response.get_json()
    return [room["id"] for room in response.get_json()["items"]]


def create(actor: Actor, body: dict[str, Any]) -> Any:
    """POST a room-creation body as this actor."""
    return actor.post(ROOMS, json=body)


# ---- direct rooms ------------------------------------------------------------------------------------------


def test_direct_room_is_created_with_the_contract_shape(api: ApiClient) -> None:
    alice, bob = api.users("Alice", "Bob")
    response = create(alice, {"room_type": "direct", "member_ids": [bob.id]})
    assert response.status_code == 201
    room = response.get_json()
    assert set(room) == ROOM_KEYS
    assert room["room_type"] == "direct" and room["name"] is None
    assert room["created_by"] == alice.id and room["is_active"] is True
    assert room["unread_count"] == 0 and room["last_message"] is None
    assert all(set(m) == MEMBER_KEYS for m in room["members"])
    members = members_by_id(room)
    assert set(members) == {alice.id, bob.id}
    assert members[bob.id]["display_name"] == "Bob"
    assert not any(m["is_admin"] for m in room["members"])


@pytest.mark.parametrize("second_creator", ["same", "other"])
def test_creating_an_existing_direct_room_returns_it(api: ApiClient, app: Flask, second_creator: str) -> None:
    alice, bob = api.users("Alice", "Bob")
    first = create(alice, {"room_type": "direct", "member_ids": [bob.id]})
    again = (
        create(alice, {"room_type": "direct", "member_ids": [bob.id]})
        if second_creator == "same"
        else create(bob, {"room_type": "direct", "member_ids": [alice.id]})
    )
    assert first.status_code == 201 and again.status_code == 200
    assert again.get_json()["id"] == first.get_json()["id"]
    assert room_count(app) == 1


def test_direct_room_with_yourself_is_refused(api: ApiClient, app: Flask) -> None:
    alice = api.register("Alice")
    error = assert_error(create(alice, {"room_type": "direct", "member_ids": [alice.id]}), 422, "validation_failed")
    assert "member_ids" in error["details"]
    assert room_count(app) == 0


@pytest.mark.parametrize("how_many", [0, 2])
def test_direct_room_needs_exactly_one_other_user(api: ApiClient, app: Flask, how_many: int) -> None:
    alice, bob, carol = api.users("Alice", "Bob", "Carol")
    others = [bob.id, carol.id][:how_many]
    error = assert_error(create(alice, {"room_type": "direct", "member_ids": others}), 422, "validation_failed")
    assert "member_ids" in error["details"]
    assert room_count(app) == 0


def test_direct_room_listing_yourself_and_the_other_is_refused(api: ApiClient) -> None:
    alice, bob = api.users("Alice", "Bob")
    response = create(alice, {"room_type": "direct", "member_ids": [alice.id, bob.id]})
    assert "member_ids" in assert_error(response, 422, "validation_failed")["details"]


def test_direct_room_with_a_name_is_refused(api: ApiClient, app: Flask) -> None:
    alice, bob = api.users("Alice", "Bob")
    response = create(alice, {"room_type": "direct", "member_ids": [bob.id], "name": "Secret"})
    assert "name" in assert_error(response, 422, "validation_failed")["details"]
    assert room_count(app) == 0


def test_room_with_an_unknown_user_is_refused(api: ApiClient, app: Flask) -> None:
    alice = api.register("Alice")
    stranger = str(uuid.uuid4())
    for room_type in ("direct", "group"):
        body = {"room_type": room_type, "member_ids": [stranger], "name": "Team" if room_type == "group" else None}
        error = assert_error(create(alice, body), 422, "validation_failed")
        assert any(stranger in problem for problem in error["details"]["member_ids"])
    assert room_count(app) == 0


@pytest.mark.parametrize(
    "member_ids",
    ["not-a-list", ["not-a-uuid"], [123], [None], {"id": "x"}, 5],
    ids=["string", "bad-uuid", "number-item", "null-item", "object", "number"],
)
def test_member_ids_must_be_a_list_of_uuids(api: ApiClient, app: Flask, member_ids: Any) -> None:
    alice = api.register("Alice")
    response = create(alice, {"room_type": "group", "name": "Team", "member_ids": member_ids})
    assert "member_ids" in assert_error(response, 422, "validation_failed")["details"]
    assert room_count(app) == 0


@pytest.mark.parametrize("room_type", [None, "channel", "DIRECT", 1], ids=["missing", "unknown", "uppercase", "number"])
def test_room_type_must_be_direct_or_group(api: ApiClient, room_type: Any) -> None:
    alice, bob = api.users("Alice", "Bob")
    body: dict[str, Any] = {"name": "Team", "member_ids": [bob.id]}
    if room_type is not None:
        body["room_type"] = room_type
    assert "room_type" in assert_error(create(alice, body), 422, "validation_failed")["details"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/members/{carol}"), ("delete", "/members/{bob}"), ("delete", "/members/{alice}"), ("patch", "")],
    ids=["add", "remove-other", "leave", "patch"],
)
def test_direct_room_members_and_settings_never_change(api: ApiClient, method: str, path: str) -> None:
    alice, bob, carol = api.users("Alice", "Bob", "Carol")
    room = alice.make_direct(bob)
    url = f"{ROOMS}/{room['id']}" + path.format(alice=alice.id, bob=bob.id, carol=carol.id)
    response = getattr(alice, method)(url, json={"name": "Renamed"} if method == "patch" else None)
    assert_error(response, 409, "direct_room")
    after = alice.get(f"{ROOMS}/{room['id']}").get_json()
    assert set(members_by_id(after)) == {alice.id, bob.id} and after["name"] is None


# ---- group rooms -------------------------------------------------------------------------------------------


def test_group_creator_is_the_only_admin(api: ApiClient) -> None:
    alice, bob, carol = api.users("Alice", "Bob", "Carol")
    response = create(alice, {"room_type": "group", "name": "Team", "member_ids": [bob.id, carol.id]})
    assert response.status_code == 201
    room = response.get_json()
    assert set(room) == ROOM_KEYS and room["room_type"] == "group" and room["name"] == "Team"
    admins = {uid: m["is_admin"] for uid, m in members_by_id(room).items()}
    assert admins == {alice.id: True, bob.id: False, carol.id: False}


def test_group_with_no_other_members_is_allowed(api: ApiClient) -> None:
    alice = api.register("Alice")
    room = create(alice, {"room_type": "group", "name": "Notes"}).get_json()
    assert [m["user_id"] for m in room["members"]] == [alice.id]


@pytest.mark.parametrize("name", [None, "", "   ", "\t\n"], ids=["null", "empty", "spaces", "whitespace"])
def test_group_needs_a_name(api: ApiClient, app: Flask, name: str | None) -> None:
    alice, bob = api.users("Alice", "Bob")
    response = create(alice, {"room_type": "group", "name": name, "member_ids": [bob.id]})
    assert "name" in assert_error(response, 422, "validation_failed")["details"]
    assert room_count(app) == 0


def test_group_without_a_name_field_is_refused(api: ApiClient, app: Flask) -> None:
    alice, bob = api.users("Alice", "Bob")
    response = create(alice, {"room_type": "group", "member_ids": [bob.id]})
    assert "name" in assert_error(response, 422, "validation_failed")["details"]
    assert room_count(app) == 0


def test_group_name_is_trimmed(api: ApiClient) -> None:
    alice = api.register("Alice")
    assert create(alice, {"room_type": "group", "name": "  Team  "}).get_json()["name"] == "Team"


def test_duplicate_and_own_member_ids_give_one_membership_each(api: ApiClient, app: Flask) -> None:
    alice, bob = api.users("Alice", "Bob")
    body = {"room_type": "group", "name": "Team", "member_ids": [bob.id, bob.id, alice.id, alice.id]}
    response = create(alice, body)
    assert response.status_code == 201
    room = response.get_json()
    assert sorted(m["user_id"] for m in room["members"]) == sorted([alice.id, bob.id])
    assert members_by_id(room)[alice.id]["is_admin"] is True
    assert membership_count(app, room["id"], alice.id) == membership_count(app, room["id"], bob.id) == 1


def test_more_than_500_member_ids_are_refused(api: ApiClient, app: Flask) -> None:
    alice = api.register("Alice")
    member_ids = [str(uuid.uuid4()) for _ in range(501)]
    response = create(alice, {"room_type": "group", "name": "Crowd", "member_ids": member_ids})
    assert "member_ids" in assert_error(response, 422, "validation_failed")["details"]
    assert room_count(app) == 0


@pytest.mark.parametrize(("length", "status"), [(100, 201), (101, 422)])
def test_group_name_is_at_most_100_characters(api: ApiClient, length: int, status: int) -> None:
    alice = api.register("Alice")
    response = create(alice, {"room_type": "group", "name": "n" * length})
    assert response.status_code == status
    if status == 201:
        assert response.get_json()["name"] == "n" * length
    else:
        assert "name" in assert_error(response, 422, "validation_failed")["details"]


def test_description_longer_than_2000_characters_is_refused(api: ApiClient) -> None:
    alice = api.register("Alice")
    response = create(alice, {"room_type": "group", "name": "Team", "description": "d" * 2001})
    assert "description" in assert_error(response, 422, "validation_failed")["details"]


@pytest.mark.parametrize("field", ["name", "description"])
def test_nul_byte_in_room_text_is_refused(api: ApiClient, app: Flask, field: str) -> None:
    alice = api.register("Alice")
    body = {"room_type": "group", "name": "Team", field: "bad\u0000text"}
    assert field in assert_error(create(alice, body), 422, "validation_failed")["details"]
    assert room_count(app) == 0


@pytest.mark.parametrize("field", ["name", "description"])
def test_lone_surrogate_in_room_text_is_refused(api: ApiClient, app: Flask, field: str) -> None:
    alice = api.register("Alice")
    raw = '{"room_type": "group", "name": "Team", "%s": "bad \\ud800 text"}' % field
    response = alice.post(ROOMS, data=raw, content_type="application/json")
    assert field in assert_error(response, 422, "validation_failed")["details"]
    assert room_count(app) == 0


def test_emoji_and_unicode_round_trip(api: ApiClient) -> None:
    alice = api.register("Alice")
    name, description = "Équipe 🚀👩‍👩‍👧 日本", "Ünïcödé ✨ \U0001f600 𝔘"
    room = create(alice, {"room_type": "group", "name": name, "description": description}).get_json()
    fetched = alice.get(f"{ROOMS}/{room['id']}").get_json()
    assert (fetched["name"], fetched["description"]) == (name, description)


def test_https_avatar_url_round_trips(api: ApiClient) -> None:
    alice = api.register("Alice")
    url = "https://cdn.example.com/avatars/team.png?size=64"
    room = create(alice, {"room_type": "group", "name": "Team", "avatar_url": url}).get_json()
    assert alice.get(f"{ROOMS}/{room['id']}").get_json()["avatar_url"] == url


@pytest.mark.parametrize(
    "avatar_url",
    [
        "ftp://example.com/a.png",
        "javascript:alert(1)",
        "not a url",
        "/relative/a.png",
        42,
        "https://example.com/" + "a" * 2048,
    ],
    ids=["ftp", "javascript", "text", "relative", "number", "too-long"],
)
def test_avatar_url_must_be_an_http_url(api: ApiClient, app: Flask, avatar_url: Any) -> None:
    alice = api.register("Alice")
    response = create(alice, {"room_type": "group", "name": "Team", "avatar_url": avatar_url})
    assert "avatar_url" in assert_error(response, 422, "validation_failed")["details"]
    assert room_count(app) == 0


def test_extra_fields_cannot_mass_assign(api: ApiClient) -> None:
    alice, bob = api.users("Alice", "Bob")
    forged_id = str(uuid.uuid4())
    body = {
        "room_type": "group",
        "name": "Team",
        "member_ids": [bob.id],
        "id": forged_id,
        "created_by": bob.id,
        "is_admin": True,
        "is_active": False,
    }
    response = create(alice, body)
    assert response.status_code == 201
    room = response.get_json()
    assert room["id"] != forged_id and room["created_by"] == alice.id and room["is_active"] is True
    assert members_by_id(room)[bob.id]["is_admin"] is False
    assert_error(alice.get(f"{ROOMS}/{forged_id}"), 404, "room_not_found")


def test_body_that_is_not_a_json_object_is_refused(api: ApiClient) -> None:
    alice = api.register("Alice")
    assert_error(alice.post(ROOMS, data="[1, 2]", content_type="application/json"), 400)
    assert_error(alice.post(ROOMS, data="{nope", content_type="application/json"), 400)


def test_rooms_need_authentication(client: Any) -> None:
    assert_error(client.get(ROOMS), 401)
    assert_error(client.post(ROOMS, json={"room_type": "group", "name": "Team"}), 401)


# ---- listing -----------------------------------------------------------------------------------------------


def test_list_holds_only_the_callers_active_rooms(api: ApiClient) -> None:
    alice, bob, carol = api.users("Alice", "Bob", "Carol")
    mine = alice.make_group(bob, name="Mine")
    direct = alice.make_direct(bob)
    left = alice.make_group(bob, name="Left")
    theirs = bob.make_group(carol, name="Theirs")
    assert alice.delete(f"{ROOMS}/{left['id']}/members/{alice.id}").status_code == 204
    assert sorted(list_ids(alice)) == sorted([mine["id"], direct["id"]])
    assert list_ids(carol) == [theirs["id"]]


def test_list_is_most_recent_activity_first(api: ApiClient) -> None:
    alice, bob = api.users("Alice", "Bob")
    older = alice.make_group(bob, name="Older")
    newer = alice.make_group(bob, name="Newer")
    assert list_ids(alice) == [newer["id"], older["id"]]
    bob.say(older, "wake up")
    assert list_ids(alice) == [older["id"], newer["id"]]
    assert list_ids(bob) == [older["id"], newer["id"]]


def test_unread_count_counts_others_live_messages_after_the_read_pointer(api: ApiClient) -> None:
    alice, bob = api.users("Alice", "Bob")
    room = alice.make_group(bob)
    seen = bob.say(room, "one")
    assert alice.post(f"{ROOMS}/{room['id']}/read", json={"up_to": seen["id"]}).status_code == 200
    bob.say(room, "two")
    doomed = bob.say(room, "three")
    alice.say(room, "mine")
    bob.say(room, "four")
    assert bob.delete(f"/api/chat/messages/{doomed['id']}").status_code == 200
    listed = alice.get(ROOMS).get_json()["items"][0]
    assert listed["unread_count"] == 2
    assert alice.get(f"{ROOMS}/{room['id']}").get_json()["unread_count"] == 2
    assert bob.get(ROOMS).get_json()["items"][0]["unread_count"] == 1


def test_last_message_is_the_newest_message(api: ApiClient) -> None:
    alice, bob = api.users("Alice", "Bob")
    room = alice.make_group(bob)
    alice.say(room, "first")
    newest = bob.say(room, "second 🎉")
    listed = alice.get(ROOMS).get_json()["items"][0]
    assert listed["last_message"]["id"] == newest["id"]
    assert listed["last_message"]["content"] == "second 🎉"
    assert listed["last_message"]["sender_id"] == bob.id


def test_pagination_visits_each_room_exactly_once(api: ApiClient) -> None:
    alice, bob = api.users("Alice", "Bob")
    created = [alice.make_group(bob, name=f"Room {i}")["id"] for i in range(7)]
    seen: list[str] = []
    sizes: list[int] = []
    cursor: str | None = None
    while True:
        query = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = alice.get(ROOMS, query_string=query).get_json()
        seen += [room["id"] for room in page["items"]]
        sizes.append(len(page["items"]))
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert len(sizes) < 5, "pagination does not end"
    assert sizes == [3, 3, 1]
    assert seen == list(reversed(created))


@pytest.mark.parametrize("limit", ["101", "0", "-1", "abc", "2.5"])
def test_bad_limit_is_refused(api: ApiClient, limit: str) -> None:
    alice = api.register("Alice")
    response = alice.get(ROOMS, query_string={"limit": limit})
    assert "limit" in assert_error(response, 422, "validation_failed")["details"]


def test_limit_of_100_is_accepted(api: ApiClient) -> None:
    alice = api.register("Alice")
    alice.make_group(name="Solo")
    assert len(alice.get(ROOMS, query_string={"limit": "100"}).get_json()["items"]) == 1


ROOM_ID = "00000000-0000-4000-8000-000000000000"


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!!",
        "bm90IGpzb24",
        "WzEsMl0",
        "W10",
        "x" * 600,
        "bad\u0000cursor",
        cursor_of(["2024-01-01T00:00:00", ROOM_ID]),
        cursor_of(["2024-01-01T00:00:00+00:00", "not-a-uuid"]),
        cursor_of(["2024-01-01T00:00:00+00:00", ROOM_ID, 1]),
        cursor_of(["0001-01-01T00:00:00+01:00", ROOM_ID]),
        cursor_of(["9999-12-31T23:59:59-05:00", ROOM_ID]),
    ],
    ids=[
        "not-base64",
        "not-json",
        "wrong-types",
        "empty-list",
        "too-long",
        "nul",
        "naive-datetime",
        "bad-uuid",
        "too-many-values",
        "before-year-1-in-utc",
        "after-year-9999-in-utc",
    ],
)
def test_bad_cursor_is_refused(api: ApiClient, cursor: str) -> None:
    alice, bob = api.users("Alice", "Bob")
    alice.make_group(bob)
    response = alice.get(ROOMS, query_string={"cursor": cursor})
    assert "cursor" in assert_error(response, 422, "validation_failed")["details"]


def _busy_group(owner: Actor, others: list[Actor], index: int) -> None:
    """A group with several members and messages; every other room ends on a reply."""
    room = owner.make_group(*others, name=f"Busy {index}")
    first = owner.say(room, "hello")
    others[0].say(room, "hi", reply_to_id=first["id"])
    others[1].say(room, "hey")
    if index % 2 == 0:
        others[1].say(room, "re: hello", reply_to_id=first["id"])


def test_room_list_query_count_does_not_grow_with_rooms(api: ApiClient, count_queries: QueryCounter) -> None:
    alice, bob, carol, dave = api.users("Alice", "Bob", "Carol", "Dave")
    _busy_group(alice, [bob, carol, dave], 0)
    with count_queries as one:
        single = alice.get(ROOMS)
    assert len(single.get_json()["items"]) == 1
    queries_for_one = one.count
    for index in range(1, 50):
        _busy_group(alice, [bob, carol, dave], index)
    with count_queries as many:
        page = alice.get(ROOMS)
    items = page.get_json()["items"]
    assert len(items) == 50 and all(len(room["members"]) == 4 for room in items)
    assert all(room["unread_count"] >= 2 and room["last_message"] for room in items)
    assert many.count == queries_for_one, many.statements


# ---- one room ----------------------------------------------------------------------------------------------


def test_member_gets_the_room(api: ApiClient) -> None:
    alice, bob = api.users("Alice", "Bob")
    room = alice.make_group(bob, name="Team")
    response = bob.get(f"{ROOMS}/{room['id']}")
    assert response.status_code == 200
    fetched = response.get_json()
    assert set(fetched) == ROOM_KEYS and fetched["id"] == room["id"] and fetched["name"] == "Team"


def test_room_404s_are_identical_for_non_members_removed_members_and_unknown_ids(api: ApiClient) -> None:
    alice, bob, mallory = api.users("Alice", "Bob", "Mallory")
    room = alice.make_group(bob)
    assert alice.delete(f"{ROOMS}/{room['id']}/members/{bob.id}").status_code == 204
    outsider = mallory.get(f"{ROOMS}/{room['id']}")
    removed = bob.get(f"{ROOMS}/{room['id']}")
    unknown = mallory.get(f"{ROOMS}/{uuid.uuid4()}")
    for response in (outsider, removed, unknown):
        assert_error(response, 404)
    assert outsider.get_json() == removed.get_json() == unknown.get_json()


@pytest.mark.parametrize("room_id", ["not-a-uuid", "123", "%00"])
def test_non_uuid_room_id_is_a_contract_404(api: ApiClient, room_id: str) -> None:
    alice = api.register("Alice")
    assert_error(alice.get(f"{ROOMS}/{room_id}"), 404, "not_found")


# ---- settings ----------------------------------------------------------------------------------------------


def test_admin_patch_changes_only_the_sent_fields(api: ApiClient) -> None:
    alice, bob = api.users("Alice", "Bob")
    room = alice.make_group(bob, name="Team", description="About", avatar_url="https://example.com/a.png")
    response = alice.patch(f"{ROOMS}/{room['id']}", json={"name": "Renamed 🚀"})
    assert response.status_code == 200
    patched = response.get_json()
    assert (patched["name"], patched["description"], patched["avatar_url"]) == (
        "Renamed 🚀",
        "About",
        "https://example.com/a.png",
    )
    assert patched["updated_at"] > room["updated_at"] and patched["created_at"] == room["created_at"]
    assert bob.get(f"{ROOMS}/{room['id']}").get_json()["name"] == "Renamed 🚀"


def test_admin_patch_changes_description_and_avatar(api: ApiClient) -> None:
    alice = api.register("Alice")
    room = alice.make_group(name="Team")
    body = {"description": "New ✨", "avatar_url": "http://example.com/b.png"}
    patched = alice.patch(f"{ROOMS}/{room['id']}", json=body).get_json()
    assert (patched["name"], patched["description"], patched["avatar_url"]) == ("Team", *body.values())


def test_description_and_avatar_can_be_cleared_with_null(api: ApiClient) -> None:
    alice = api.register("Alice")
    room = alice.make_group(name="Team", description="About", avatar_url="https://example.com/a.png")
    response = alice.patch(f"{ROOMS}/{room['id']}", json={"description": None, "avatar_url": None})
    assert response.status_code == 200
    fetched = alice.get(f"{ROOMS}/{room['id']}").get_json()
    assert (fetched["name"], fetched["description"], fetched["avatar_url"]) == ("Team", None, None)


def test_non_admin_member_cannot_patch(api: ApiClient) -> None:
    alice, bob = api.users("Alice", "Bob")
    room = alice.make_group(bob, name="Team")
    assert_error(bob.patch(f"{ROOMS}/{room['id']}", json={"name": "Mine now"}), 403, "not_admin")
    assert alice.get(f"{ROOMS}/{room['id']}").get_json()["name"] == "Team"


def test_non_member_patch_is_indistinguishable_from_unknown_room(api: ApiClient) -> None:
    alice, mallory = api.users("Alice", "Mallory")
    room = alice.make_group(name="Team")
    existing = mallory.patch(f"{ROOMS}/{room['id']}", json={"name": "Pwned"})
    unknown = mallory.patch(f"{ROOMS}/{uuid.uuid4()}", json={"name": "Pwned"})
    assert_error(existing, 404)
    assert existing.get_json() == unknown.get_json()
    assert alice.get(f"{ROOMS}/{room['id']}").get_json()["name"] == "Team"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "n" * 101}, "name"),
        ({"name": "a\u0000b"}, "name"),
        ({"name": 5}, "name"),
        ({"description": "a\u0000b"}, "description"),
        ({"description": "d" * 2001}, "description"),
        ({"avatar_url": "ftp://example.com/a.png"}, "avatar_url"),
    ],
    ids=[
        "name-null",
        "name-empty",
        "name-blank",
        "name-long",
        "name-nul",
        "name-number",
        "description-nul",
        "description-long",
        "avatar-ftp",
    ],
)
def test_bad_patch_is_refused_and_changes_nothing(api: ApiClient, body: dict[str, Any], field: str) -> None:
    alice = api.register("Alice")
    room = alice.make_group(name="Team", description="About")
    response = alice.patch(f"{ROOMS}/{room['id']}", json=body)
    assert field in assert_error(response, 422, "validation_failed")["details"]
    fetched = alice.get(f"{ROOMS}/{room['id']}").get_json()
    assert (fetched["name"], fetched["description"], fetched["updated_at"]) == ("Team", "About", room["updated_at"])


def test_patch_with_lone_surrogate_is_refused(api: ApiClient) -> None:
    alice = api.register("Alice")
    room = alice.make_group(name="Team")
    response = alice.patch(f"{ROOMS}/{room['id']}", data='{"name": "x\\udc00"}', content_type="application/json")
    assert "name" in assert_error(response, 422, "validation_failed")["details"]


def test_patch_ignores_fields_it_does_not_own(api: ApiClient) -> None:
    alice, bob = api.users("Alice", "Bob")
    room = alice.make_group(bob, name="Team")
    body = {"created_by": bob.id, "room_type": "direct", "is_active": False, "name": "Kept"}
    patched = alice.patch(f"{ROOMS}/{room['id']}", json=body).get_json()
    assert (patched["name"], patched["created_by"], patched["room_type"], patched["is_active"]) == (
        "Kept",
        alice.id,
        "group",
        True,
    )


@pytest.mark.parametrize("bad", ["https://example.com/a\u0000b.png", "https://example.com/\ud800.png"])
def test_avatar_url_with_nul_or_lone_surrogate_is_refused(api, bad: str) -> None:
    alice = api.register("Alice")
    body = json.dumps({"room_type": "group", "name": "Team", "avatar_url": bad})
    response = alice.post("/api/chat/rooms", data=body, content_type="application/json")
    error = assert_error(response, 422, "validation_failed")
    assert "avatar_url" in error["details"]


def test_avatar_url_on_an_intranet_host_is_accepted(api) -> None:
    alice = api.register("Alice")
    room = alice.make_group(avatar_url="http://files/team.png")
    assert room["avatar_url"] == "http://files/team.png"
