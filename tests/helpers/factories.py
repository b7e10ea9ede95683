"""Test-data factories, as Redash's tests/factories.py, for an API-first app: users, rooms and messages are made
through the API, so each one is what a client would have made, and each factory asserts its own success.

make_room and make_message work for both kinds of caller: an `Actor` (the in-process test client, tests/api) and
an `HttpUser` (a real server over HTTP, tests/system); `url` sends to another process of a cluster. Actor's
make_group, make_direct and say are these factories, spelt as the actor's own calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias, overload

if TYPE_CHECKING:  # only for the types: support.py, which servers.py imports, imports this module
    import requests
    from werkzeug.test import TestResponse

    from tests.helpers.servers import HttpUser
    from tests.helpers.support import Actor, ApiClient

    Caller: TypeAlias = Actor | HttpUser

ROOMS = "/api/chat/rooms"
MESSAGES = "/api/chat/messages"


def _post(who: Caller, path: str, body: dict[str, Any], url: str | None) -> requests.Response | TestResponse:
    """POST a JSON body as `who`: over HTTP for an HttpUser (to `url`, if given), else through the test client."""
    from tests.helpers.servers import HttpUser  # here, not above: servers.py imports support.py, which imports us

    if isinstance(who, HttpUser):
        return who.call("POST", path, url, json=body)
    assert url is None, "an in-process Actor has no other process to send to"
    return who.post(path, json=body)


def _body(response: requests.Response | TestResponse) -> Any:
    """The JSON body of either kind of response."""
    return response.get_json() if hasattr(response, "get_json") else response.json()


def _text(response: requests.Response | TestResponse) -> str:
    """The body as text, for a failure's message (it may not be JSON)."""
    return response.get_data(as_text=True) if hasattr(response, "get_data") else response.text


def make_user(api: ApiClient, name: str | None = None, **fields: Any) -> Actor:
    """A user registered through the API (a unique name and email unless given), able to call it as themselves."""
    return api.register(name, **fields)


def make_room(
    owner: Caller,
    *members: Caller,
    room_type: str = "group",
    name: str = "Team",
    url: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A room made by `owner`: a group with `members` (named `name`), or the direct room with the one member (made
    now, or the one that already exists)."""
    body: dict[str, Any] = {"room_type": room_type, "member_ids": [member.id for member in members], **extra}
    if room_type == "group":
        body["name"] = name
    response = _post(owner, ROOMS, body, url)
    assert response.status_code in ((201,) if room_type == "group" else (200, 201)), _text(response)
    room: dict[str, Any] = _body(response)
    return room


@overload
def post_message(
    sender: HttpUser, room: dict[str, Any] | str, content: str = ..., url: str | None = ..., **extra: Any
) -> requests.Response: ...


@overload
def post_message(
    sender: Actor, room: dict[str, Any] | str, content: str = ..., url: str | None = ..., **extra: Any
) -> TestResponse: ...


def post_message(
    sender: Caller, room: dict[str, Any] | str, content: str = "hello", url: str | None = None, **extra: Any
) -> requests.Response | TestResponse:
    """Send a message to the room (a room or its id), whatever the answer: for tests of refusals."""
    room_id = room if isinstance(room, str) else room["id"]
    return _post(sender, MESSAGES, {"room_id": room_id, "content": content, **extra}, url)


def make_message(
    sender: Caller, room: dict[str, Any] | str, content: str = "hello", url: str | None = None, **extra: Any
) -> dict[str, Any]:
    """A message sent by `sender` to the room (a room or its id)."""
    response = post_message(sender, room, content, url, **extra)
    assert response.status_code == 201, _text(response)
    message: dict[str, Any] = _body(response)
    return message
