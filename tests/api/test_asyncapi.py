"""The AsyncAPI document at /api/asyncapi.json: served without a token, complete (every handler the server
registers, every server -> client event of the contract), every `$ref` resolvable, payloads generated from the
marshmallow schemas, true to what sockets actually receive, and valid for the official AsyncAPI parser."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import marshmallow as ma
import pytest
from flask import Flask
from flask.testing import FlaskClient

from armada.chat.schemas import MessageSchema, SendMessageSchema
from armada.extensions import socketio
from armada.realtime import schemas as s
from armada.realtime.asyncapi import DELIVERY_GUARANTEE
from armada.schemas import ErrorDetailSchema
from tests.helpers.contract import (
    BROADCAST_ROOM_KEYS,
    MEMBER_KEYS,
    MESSAGE_KEYS,
    SOCKET_CLIENT_EVENTS,
    SOCKET_REFUSAL_CODES,
    SOCKET_SERVER_EVENTS,
)
from tests.helpers.in_process import InProcessSocket
from tests.helpers.node import JS_DIR, node_process
from tests.helpers.openapi import resolve
from tests.helpers.support import ApiClient

Document = dict[str, Any]


@pytest.fixture
def doc(client: FlaskClient) -> Document:
    response = client.get("/api/asyncapi.json")
    assert response.status_code == 200
    document: Document = response.get_json()
    return document


def refs(node: Any) -> Iterator[str]:
    """Every `$ref` anywhere in a JSON value."""
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def operations(doc: Document, action: str) -> dict[str, Document]:
    """The operations of one action, by the Socket.IO event name of their message."""
    found = {}
    for operation in doc["operations"].values():
        if operation["action"] == action:
            [message] = [resolve(doc, ref) for ref in operation["messages"]]
            assert message["name"] not in found, message["name"]
            found[message["name"]] = operation
    return found


def payload(doc: Document, action: str, event: str) -> Document:
    """The payload schema of an event's message, its `$ref`s followed."""
    [message] = [resolve(doc, ref) for ref in operations(doc, action)[event]["messages"]]
    schema: Document = resolve(doc, message["payload"])
    return schema


def properties(doc: Document, schema: Document) -> set[str]:
    return set(resolve(doc, schema)["properties"])


def field_names(schema: type[ma.Schema]) -> set[str]:
    """The keys of a marshmallow schema's JSON."""
    return {field.data_key or name for name, field in schema().fields.items()}


# ---- the document ----------------------------------------------------------------------------------------------


def test_the_document_is_asyncapi_3_served_as_json_without_a_token(client: FlaskClient) -> None:
    response = client.get("/api/asyncapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    doc = response.get_json()
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["title"] and doc["info"]["version"]
    assert f"## Delivery guarantee\n\n{DELIVERY_GUARANTEE}" in doc["info"]["description"]


def test_the_server_is_socket_io_at_its_path_with_the_token_in_the_auth_payload(doc: Document) -> None:
    [server] = doc["servers"].values()
    assert server["pathname"] == "/socket.io" and server["protocol"] == "socket.io"
    assert server["host"] == "localhost"  # the address the document was asked at
    schemes = [resolve(doc, scheme) for scheme in server["security"]]
    assert any("auth payload" in scheme["description"] for scheme in schemes)
    assert {"type": "httpApiKey", "name": "token", "in": "query"}.items() <= schemes[1].items()
    for code in SOCKET_REFUSAL_CODES:
        assert f"`{code}`" in server["description"]


def test_send_operations_are_the_handlers_the_server_registers(app: Flask, doc: Document) -> None:
    registered = set(socketio.server.handlers["/"]) - {"connect", "disconnect"}
    assert set(operations(doc, "send")) == registered == SOCKET_CLIENT_EVENTS


def test_receive_operations_are_the_contract_server_events(doc: Document) -> None:
    assert set(operations(doc, "receive")) == set(SOCKET_SERVER_EVENTS)
    for operation in operations(doc, "receive").values():
        assert "**Who receives it:**" in operation["description"]


def test_every_ref_resolves(doc: Document) -> None:
    found = set(refs(doc))
    assert len(found) > 50
    for ref in found:
        assert resolve(doc, {"$ref": ref}) is not None, ref


def test_every_send_operation_replies_with_its_acknowledgement_or_the_refusal(doc: Document) -> None:
    for event, operation in operations(doc, "send").items():
        reply = operation["reply"]
        assert reply["channel"] == operation["channel"]
        ok, refused = (resolve(doc, resolve(doc, ref)["payload"]) for ref in reply["messages"])
        assert ok["properties"]["ok"]["enum"] == [True] and "ok" in ok["required"], event
        assert refused["properties"]["ok"]["enum"] == [False], event
        assert properties(doc, refused["properties"]["error"]) == {"code", "message", "details"}


@pytest.mark.parametrize("event", sorted(SOCKET_SERVER_EVENTS))
def test_server_event_payloads_have_the_contract_keys(doc: Document, event: str) -> None:
    schema = payload(doc, "receive", event)
    keys = SOCKET_SERVER_EVENTS[event]
    assert set(schema["required"]) == keys
    assert set(schema["properties"]) == (keys | {"details"} if event == "error" else keys)


def test_message_and_room_payloads_have_the_contract_fields(doc: Document) -> None:
    for event in ("new_message", "message_edited"):
        assert properties(doc, payload(doc, "receive", event)["properties"]["message"]) == MESSAGE_KEYS
    room = resolve(doc, payload(doc, "receive", "room_created")["properties"]["room"])
    assert set(room["properties"]) == BROADCAST_ROOM_KEYS
    assert properties(doc, room["properties"]["members"]["items"]) == MEMBER_KEYS
    assert "unread_count" not in properties(doc, payload(doc, "receive", "messages_read"))


CLIENT_PAYLOADS = {
    "join_room": [s.RoomRefSchema],
    "leave_room": [s.RoomRefSchema],
    "send_message": [SendMessageSchema, s.NotifySchema],
    "typing": [s.TypingSchema],
    "message_edited": [s.SocketEditSchema],
    "message_deleted": [s.MessageRefSchema],
    "mark_as_read": [s.SocketMarkReadSchema],
    "add_reaction": [s.ReactionRefSchema],
    "remove_reaction": [s.ReactionRefSchema],
}
CLIENT_KEYS = {  # as the contract's table spells them
    "join_room": {"room_id"},
    "typing": {"room_id", "is_typing"},
    # Second wave: "Send and edit bodies may carry mentions".
    "message_edited": {"message_id", "content", "mentions", "mentions_room"},
    "message_deleted": {"message_id"},
    "mark_as_read": {"room_id", "message_ids", "up_to"},
    "add_reaction": {"message_id", "emoji"},
    "remove_reaction": {"message_id", "emoji"},
}


@pytest.mark.parametrize("event", sorted(CLIENT_PAYLOADS))
def test_client_event_payloads_are_the_schemas_the_handlers_load(doc: Document, event: str) -> None:
    schema = payload(doc, "send", event)
    variants = [resolve(doc, variant) for variant in schema.get("anyOf", [schema])]
    assert [set(variant["properties"]) for variant in variants] == [field_names(c) for c in CLIENT_PAYLOADS[event]]
    if event in CLIENT_KEYS:
        assert set(variants[0]["properties"]) == CLIENT_KEYS[event]
    # Handlers ignore unknown fields, and the document does not claim otherwise.
    assert all(variant.get("additionalProperties", True) is not False for variant in variants)


def test_acknowledgement_and_event_schemas_have_the_marshmallow_fields(doc: Document) -> None:
    schemas = doc["components"]["schemas"]
    for name, schema in {
        "Message": MessageSchema,
        "ErrorDetail": ErrorDetailSchema,
        "BroadcastRoom": s.BroadcastRoomSchema,
        "ReadEvent": s.ReadEventSchema,
        "ReadAck": s.ReadAckSchema,
        "SendAck": s.SendAckSchema,
    }.items():
        assert set(schemas[name]["properties"]) == field_names(schema), name


# ---- against what sockets receive ------------------------------------------------------------------------------


def assert_valid(doc: Document, schema: Document, instance: Any) -> None:
    """The instance validates against a schema of the document (formats checked too: uuid, date-time)."""
    wrapped = {"allOf": [schema], "components": doc["components"]}
    validator = jsonschema_rs.Draft202012Validator(wrapped, validate_formats=True)
    errors = [str(error).splitlines()[0] for error in validator.iter_errors(instance)]
    assert errors == [], (schema, instance)


def payloads(doc: Document, refs: list[Document]) -> list[Document]:
    """The payload schemas of the messages that channel message refs name."""
    return [resolve(doc, ref)["payload"] for ref in refs]


def test_events_and_acknowledgements_sockets_receive_match_the_document(
    doc: Document, api: ApiClient, sockets: Callable[..., InProcessSocket]
) -> None:
    alice, bob, carol = api.users("Alice", "Bob", "Carol")
    a, b = sockets(alice.access_token), sockets(bob.access_token)
    room = alice.make_group(bob)["id"]
    acks: list[tuple[str, Any]] = []

    def call(socket: InProcessSocket, event: str, data: Any) -> Any:
        ack = socket.call(event, data)
        acks.append((event, ack))
        return ack

    call(a, "join_room", {"room_id": room})
    call(b, "join_room", {"room_id": room})
    sent = call(a, "send_message", {"room_id": room, "content": "hi", "client_id": "c-1"})["message"]
    call(a, "send_message", {"message_id": alice.say(room, "over REST")["id"], "room_id": room})
    call(a, "typing", {"room_id": room, "is_typing": True})
    call(a, "message_edited", {"message_id": sent["id"], "content": "hi, edited"})
    call(b, "mark_as_read", {"room_id": room, "up_to": sent["id"]})
    call(b, "message_edited", {"message_id": sent["id"], "content": "not Bob's"})  # refused: error
    call(b, "join_room", {"room_id": "not a uuid"})  # refused with details
    call(b, "add_reaction", {"message_id": sent["id"], "emoji": "\N{THUMBS UP SIGN}"})
    call(b, "remove_reaction", {"message_id": sent["id"], "emoji": "\N{THUMBS UP SIGN}"})
    call(b, "add_reaction", {"message_id": sent["id"], "emoji": "\N{HEAVY BLACK HEART}\ufe0f"})
    call(
        b,
        "send_message",
        {"room_id": room, "content": "in thread", "thread_root_id": sent["id"], "mentions": [alice.id]},
    )
    assert alice.put(f"/api/chat/rooms/{room}/pins/{sent['id']}").status_code == 200
    assert alice.delete(f"/api/chat/rooms/{room}/pins/{sent['id']}").status_code == 200
    call(a, "message_deleted", {"message_id": sent["id"]})
    assert alice.patch(f"/api/chat/rooms/{room}", json={"name": "Renamed"}).status_code == 200
    assert alice.post(f"/api/chat/rooms/{room}/members/{carol.id}").status_code in (200, 201)
    assert alice.delete(f"/api/chat/rooms/{room}/members/{carol.id}").status_code in (200, 204)
    call(b, "leave_room", {"room_id": room})

    received = operations(doc, "receive")
    heard = set()
    for socket in (a, b):
        for item in socket.queue:
            heard.add(item["name"])
            [schema] = payloads(doc, received[item["name"]]["messages"])
            assert_valid(doc, schema, item["args"][0])
    assert heard == set(SOCKET_SERVER_EVENTS)  # the scenario heard every event, so each was checked

    sent_events = operations(doc, "send")
    for event, ack in acks:
        ok, refused = payloads(doc, sent_events[event]["reply"]["messages"])
        assert_valid(doc, ok if ack["ok"] else refused, ack)
    assert {event for event, _ in acks} == SOCKET_CLIENT_EVENTS
    assert any(not ack["ok"] and ack["error"].get("details") for _, ack in acks)


def test_a_refused_connection_matches_the_document(doc: Document, sockets: Callable[..., InProcessSocket]) -> None:
    [server] = doc["servers"].values()
    for token in (None, "not-a-jwt"):
        socket = sockets(token)
        assert not socket.is_connected()
        assert_valid(doc, server["x-connect-error"], socket.refusal)
        assert socket.refusal["data"]["code"] in SOCKET_REFUSAL_CODES


# ---- links and the official validation -------------------------------------------------------------------------


def test_the_openapi_document_and_so_the_docs_page_point_to_it(client: FlaskClient) -> None:
    spec = client.get("/api/openapi.json").get_json()
    assert spec["externalDocs"]["url"] == "/api/asyncapi.json"
    assert "/api/asyncapi.json" in spec["info"]["description"]


def test_the_official_asyncapi_parser_finds_no_error_or_warning(doc: Document, tmp_path: Path) -> None:
    assert (JS_DIR / "node_modules" / "@asyncapi" / "parser").is_dir(), "run `make test` (npm ci in tests/js)"
    path = tmp_path / "asyncapi.json"
    path.write_text(json.dumps(doc))
    with node_process("validate_asyncapi.mjs", {"path": str(path)}) as process:
        out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    diagnostics = json.loads(out)["diagnostics"]
    # Severity 0 is an error, 1 a warning; 2 (information) only says that AsyncAPI 3.1 exists.
    assert [d for d in diagnostics if d["severity"] <= 1] == []
