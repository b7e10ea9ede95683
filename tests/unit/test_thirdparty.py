"""armada.thirdparty against the installed libraries: every private method it overrides or calls, with the signature
the override assumes, and every undocumented attribute it reads, with its type on a real instance.

Run it first after bumping a library armada.thirdparty touches: a failure names what upstream renamed or reshaped.
Real library objects throughout; nothing connects anywhere, except in the one test marked needs_redis.
"""

from __future__ import annotations

import inspect
import io
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any, NoReturn

import engineio
import engineio.async_drivers.threading
import engineio.socket
import marshmallow as ma
import pytest
import redis
import simple_websocket
import socketio
from engineio.async_drivers._websocket_wsgi import SimpleWebSocketWSGI
from flask import Flask
from flask_limiter import Limiter
from flask_smorest import Api
from limits.storage import MemoryStorage
from packaging.specifiers import SpecifierSet
from webargs.flaskparser import FlaskParser

import armada
from armada.realtime.managers import LEAVE, LocalManager
from armada.thirdparty import UnsupportedVersion, require
from armada.thirdparty import engineio as fenced_engineio
from armada.thirdparty import flask_jwt_extended as fenced_jwt
from armada.thirdparty import flask_limiter as fenced_limiter
from armada.thirdparty import flask_smorest as fenced_smorest
from armada.thirdparty import lean_transport as fenced_lean
from armada.thirdparty import socketio as fenced_socketio
from armada.thirdparty import webargs as fenced_webargs
from armada.thirdparty.socketio import RedisManagerBase
from armada.thirdparty.webargs import FlaskParserBase

CLOSED_PORT_URL = "redis://127.0.0.1:1/0"  # connection refused at once, should anything try


def parameters(function: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(function).parameters)


# ---- version checks -----------------------------------------------------------------------------------------


RANGES = {
    "python-socketio": fenced_socketio.SUPPORTED,
    "python-engineio": fenced_engineio.ENGINEIO_SUPPORTED,
    "simple-websocket": fenced_engineio.SIMPLE_WEBSOCKET_SUPPORTED,
    "gunicorn": fenced_lean.GUNICORN_SUPPORTED,
    "Flask-JWT-Extended": fenced_jwt.SUPPORTED,
    "Flask-Limiter": fenced_limiter.SUPPORTED,
    "webargs": fenced_webargs.SUPPORTED,
    "flask-smorest": fenced_smorest.SUPPORTED,
}


@pytest.mark.parametrize("distribution", sorted(RANGES))
def test_each_supported_range_holds_the_version_requirements_txt_pins(distribution: str) -> None:
    pins = dict(
        line.split("==", 1)
        for line in (Path(armada.__file__).parents[1] / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    assert pins[distribution] in SpecifierSet(RANGES[distribution]), (distribution, pins[distribution])
    assert require(distribution, RANGES[distribution]) == version(distribution)


def test_an_installed_version_out_of_range_fails_naming_package_range_and_version() -> None:
    with pytest.raises(UnsupportedVersion) as refused:
        require("python-socketio", ">=0.1,<0.2")
    assert "python-socketio>=0.1,<0.2" in str(refused.value)
    assert f"python-socketio {version('python-socketio')} is installed" in str(refused.value)


def test_a_missing_package_fails_naming_it() -> None:
    with pytest.raises(UnsupportedVersion, match="no-such-package-armada is not installed"):
        require("no-such-package-armada", ">=1")


# ---- python-socketio ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "name", "expected"),
    [
        (socketio.RedisManager, "_redis_connect", ["self"]),
        (socketio.RedisManager, "_redis_listen_with_retries", ["self"]),
        (socketio.RedisManager, "_get_redis_module", ["self"]),
        (socketio.RedisManager, "_get_logger", ["self"]),
        (socketio.PubSubManager, "_handle_emit", ["self", "message"]),
        (socketio.PubSubManager, "_thread", ["self"]),
        # The extension points python-socketio documents for pub/sub managers (armada.realtime.managers).
        (socketio.PubSubManager, "_publish", ["self", "data"]),
        (socketio.PubSubManager, "_listen", ["self"]),
    ],
)
def test_socketio_private_methods_keep_their_signatures(cls: type, name: str, expected: list[str]) -> None:
    assert parameters(getattr(cls, name)) == expected


class RecordingManager(RedisManagerBase):
    """Implements the hooks and `_publish`/`_listen` by recording, so the base and python-socketio run for real."""

    def __init__(self, url: str, **options: Any) -> None:
        super().__init__(url, channel=f"armada-thirdparty-{uuid.uuid4().hex}", **options)
        self.incoming: list[dict[str, Any]] = []
        self.published: list[dict[str, Any]] = []
        self.intercepted: list[tuple[str, Any, str, Any]] = []
        self.subscriptions = 0
        self.delays_asked = 0

    def _publish(self, data: Any) -> None:
        self.published.append(data)

    def _listen(self) -> Iterator[dict[str, Any]]:
        yield from self.incoming

    def after_subscribe(self) -> None:
        self.subscriptions += 1

    def intercept_emit(self, event: str, data: Any, namespace: str, room: Any) -> bool:
        self.intercepted.append((event, data, namespace, room))
        return event == LEAVE

    def listen_retry_delays(self) -> Iterator[float]:
        for _ in range(2):
            self.delays_asked += 1
            yield 0.0
        raise GiveUp  # ends the endless loop of a test


class GiveUp(Exception):
    pass


@pytest.fixture
def manager() -> RecordingManager:
    recording = RecordingManager(CLOSED_PORT_URL, redis_options={"socket_connect_timeout": 1})
    socketio.Server(client_manager=recording, async_mode="threading")  # sets the server, starts nothing
    return recording


def test_a_real_server_gives_the_redis_manager_the_attributes_it_reads(manager: RecordingManager) -> None:
    assert isinstance(manager.server, socketio.Server)
    assert isinstance(manager.channel, str) and isinstance(manager.host_id, str)
    assert manager.redis_url == CLOSED_PORT_URL
    assert manager.redis_options == {"socket_connect_timeout": 1}
    assert manager.redis is None and manager.pubsub is None
    assert manager.manager_logger is manager.server.logger
    assert manager.redis_module is redis


def test_connecting_keeps_subscribe_confirmations(manager: RecordingManager) -> None:
    manager._redis_connect()  # redis-py connects lazily: nothing goes out yet
    assert isinstance(manager.redis, redis.Redis)
    assert isinstance(manager.pubsub, redis.client.PubSub)
    assert manager.pubsub.ignore_subscribe_messages is False
    client = manager.new_redis_client(socket_timeout=0.5)
    assert client.connection_pool.connection_kwargs["socket_timeout"] == 0.5
    assert client.connection_pool.connection_kwargs["socket_connect_timeout"] == 1  # from redis_options


def test_each_emit_reaches_intercept_emit_and_emit_message_is_what_pubsubmanager_publishes(
    manager: RecordingManager,
) -> None:
    manager.emit(LEAVE, {"room": "room:a"}, to="user:1")
    manager.emit("new_message", {"id": 1}, room="room:a", namespace="/")
    assert manager.intercepted == [
        (LEAVE, {"room": "room:a"}, "/", "user:1"),
        ("new_message", {"id": 1}, "/", "room:a"),
    ]
    assert manager.published == [
        manager.emit_message(LEAVE, {"room": "room:a"}, room="user:1"),
        manager.emit_message("new_message", {"id": 1}, room="room:a"),
    ]


def test_the_listener_hands_other_processes_messages_from_listen_to_intercept_emit(manager: RecordingManager) -> None:
    theirs = {**manager.emit_message(LEAVE, {"room": "room:b"}, room="user:2"), "host_id": "another-process"}
    manager.incoming = [theirs, manager.emit_message(LEAVE, {"room": "room:c"}, room="user:3")]  # the 2nd: ours
    manager._thread()  # returns once _listen ends (it never does in production)
    assert manager.intercepted == [(LEAVE, {"room": "room:b"}, "/", "user:2")]


def test_the_listener_retries_with_the_hooks_delays(
    manager: RecordingManager, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(GiveUp):
        next(manager.channel_payloads())  # subscribing to a closed port fails at once, each time
    assert manager.delays_asked == 2 and manager.subscriptions == 0
    assert caplog.text.count("Cannot receive from redis... retrying in 0.0 secs") == 2


@pytest.mark.needs_redis
def test_a_subscription_calls_after_subscribe_before_the_messages_that_follow(redis_url: str) -> None:
    listening = RecordingManager(redis_url, redis_options={"socket_timeout": 5})
    socketio.Server(client_manager=listening, async_mode="threading")
    publisher = redis.Redis.from_url(redis_url)

    def publish_once_subscribed() -> None:
        for _ in range(500):
            if dict(publisher.pubsub_numsub(listening.channel)).get(listening.channel.encode(), 0):
                publisher.publish(listening.channel, b"hello")
                return
            time.sleep(0.01)

    thread = threading.Thread(target=publish_once_subscribed)
    thread.start()
    try:
        assert next(listening.channel_payloads()) == b"hello"
        assert listening.subscriptions == 1
    finally:
        thread.join()
        listening.pubsub.close()
        publisher.close()


def test_local_manager_emit_intercepts_by_to_or_room() -> None:
    assert parameters(socketio.Manager.emit)[:5] == ["self", "event", "data", "namespace", "room"]
    assert "to" in parameters(socketio.Manager.emit)
    manager = LocalManager()
    socketio.Server(client_manager=manager, async_mode="threading")
    sid = manager.connect("eio-sid", "/")
    for room in ("user:1", "room:a", "room:b"):
        manager.enter_room(sid, "/", room)
    manager.emit(LEAVE, {"room": "room:a"}, to="user:1")
    manager.emit(LEAVE, {"room": "room:b"}, room="user:1")
    assert set(manager.get_rooms(sid, "/")) == {sid, "user:1"}


# ---- python-engineio and simple-websocket -------------------------------------------------------------------


def test_simple_websocket_wsgi_hands_its_server_args_to_simple_websocket() -> None:
    assert parameters(SimpleWebSocketWSGI.__init__) == ["self", "handler", "server", "kwargs"]
    assert "max_message_size" in parameters(simple_websocket.Server.__init__)
    driver = SimpleWebSocketWSGI(lambda ws: None, engineio.Server(async_mode="threading"), not_an_option=1)
    assert driver.server_args == {"not_an_option": 1}
    with pytest.raises(TypeError, match="not_an_option"):  # passed on to simple_websocket.Server as is
        driver({}, lambda status, headers: None)


@pytest.mark.parametrize("async_mode", ["threading", "gevent"])
def test_bounded_websockets_get_the_limit_on_this_server_only(async_mode: str) -> None:
    sio = socketio.Server(async_mode=async_mode)
    assert issubclass(sio.eio._async["websocket"], SimpleWebSocketWSGI)
    fenced_engineio.bound_websocket_messages(sio, 1234)
    driver = sio.eio._async["websocket"](lambda ws: None, sio.eio)  # as engineio.socket.Socket makes it
    assert isinstance(driver, SimpleWebSocketWSGI)
    assert driver.server_args["max_message_size"] == 1234
    assert engineio.async_drivers.threading._async["websocket"] is SimpleWebSocketWSGI
    assert engineio.Server(async_mode=async_mode)._async["websocket"] is not sio.eio._async["websocket"]


def test_an_upgrade_makes_the_driver_its_own_server_names() -> None:
    made: list[tuple[Any, Any]] = []

    class Driver:
        def __init__(self, handler: Any, server: Any) -> None:
            made.append((handler, server))

        def __call__(self, environ: dict[str, Any], start_response: Any) -> str:
            return "upgraded"

    eio = engineio.Server(async_mode="threading")
    eio._async = {**eio._async, "websocket": Driver}
    sock = engineio.socket.Socket(eio, "sid-1")
    assert sock._upgrade_websocket({}, lambda status, headers: None) == "upgraded"
    assert made == [(sock._websocket_handler, eio)]


def test_closing_connections_now_closes_each_without_waiting_and_forgets_them() -> None:
    assert {"wait", "reason"} <= set(parameters(engineio.socket.Socket.close))
    sio = socketio.Server(async_mode="threading")
    reasons: list[str] = []
    sio.eio.on("disconnect", lambda eio_sid, reason: reasons.append(reason))
    sockets = [engineio.socket.Socket(sio.eio, f"sid-{n}") for n in range(2)]
    sio.eio.sockets.update({sock.sid: sock for sock in sockets})
    assert fenced_engineio.open_connection_count(sio) == 2
    # No client reads these sockets' queues: waiting for them would never end.
    closing = threading.Thread(target=fenced_engineio.close_connections_now, args=(sio,), daemon=True)
    closing.start()
    closing.join(5)
    assert not closing.is_alive()
    assert all(sock.closed for sock in sockets) and sio.eio.sockets == {}
    assert reasons == [sio.eio.reason.SERVER_DISCONNECT] * 2


@pytest.mark.parametrize(
    ("owner", "name", "expected"),
    [
        (engineio.socket.Socket, "check_ping_timeout", ["self"]),
        (engineio.socket.Socket, "receive", ["self", "pkt"]),
        (engineio.socket.Socket, "close", ["self", "wait", "abort", "reason"]),
        (engineio.socket.Socket, "schedule_ping", ["self"]),
        (engineio.Server, "_bad_request", ["self", "message"]),
        (socketio.Server, "_send_eio_packet", ["self", "eio_sid", "eio_pkt"]),
        (socketio.Manager, "get_participants", ["self", "namespace", "room"]),
    ],
)
def test_the_lean_transports_private_calls_keep_their_signatures(owner: type, name: str, expected: list[str]) -> None:
    assert parameters(getattr(owner, name)) == expected


def test_an_engine_io_socket_has_the_state_the_lean_transport_reads_and_sets() -> None:
    sio = socketio.Server(async_mode="gevent")
    sock = engineio.socket.Socket(sio.eio, "sid-1")
    for flag in ("connected", "upgrading", "upgraded", "closing", "closed"):
        assert getattr(sock, flag) is False, flag
    assert isinstance(sock.last_ping, float)  # truthy: schedule_ping's first call starts the first ping
    assert sock.queue.get_nowait and sock.queue.task_done and sock.sid == "sid-1"
    assert isinstance(sio.eio.sockets, dict) and isinstance(sio.eio.handlers, dict)
    assert sio.eio.reason.TRANSPORT_CLOSE and sio.eio.logger
    assert sio.packet_class is socketio.packet.Packet
    assert sio.manager.server is sio and isinstance(sio.manager.rooms, dict)


def test_lean_websockets_serve_gevent_servers_only() -> None:
    threaded = socketio.Server(async_mode="threading")
    stock = threaded.eio._async["websocket"]
    assert not fenced_lean.use_lean_websockets(threaded, 1234, 4096)
    assert threaded.eio._async["websocket"] is stock
    sio = socketio.Server(async_mode="gevent")
    assert fenced_lean.use_lean_websockets(sio, 1234, 4096)
    assert sio.eio._async["websocket"] is not stock
    assert engineio.Server(async_mode="gevent")._async["websocket"] is not sio.eio._async["websocket"]


def test_each_new_engine_io_socket_pings_on_a_loop_timer_and_socket_io_still_hears_the_connect() -> None:
    sio = socketio.Server(async_mode="gevent")
    connected: list[str] = []
    sio.on("connect", lambda sid, environ, auth=None: connected.append(sid))
    fenced_lean.use_lean_websockets(sio, 1234, 4096)
    environ = {"REQUEST_METHOD": "GET", "QUERY_STRING": "EIO=4&transport=polling", "PATH_INFO": "/socket.io/"}
    body = b"".join(sio.eio.handle_request(environ, lambda status, headers: None))
    assert b'"sid"' in body
    (sock,) = sio.eio.sockets.values()
    assert sock.schedule_ping.__func__ is fenced_lean._ping_later
    assert sock.last_ping is None  # its first ping is scheduled (on a timer, no greenlet)
    try:
        sio.eio.handle_request(  # Socket.IO's CONNECT, over the polling transport
            {
                **environ,
                "REQUEST_METHOD": "POST",
                "QUERY_STRING": f"EIO=4&transport=polling&sid={sock.sid}",
                "CONTENT_LENGTH": "2",
                "wsgi.input": io.BytesIO(b"40"),
            },
            lambda status, headers: None,
        )
        assert len(connected) == 1
    finally:
        fenced_engineio.close_connections_now(sio)


# ---- Flask-Limiter -----------------------------------------------------------------------------------------


def bound_limiter(storage_uri: str, fallback: bool) -> tuple[Flask, Limiter]:
    app = Flask(__name__)
    app.config.update(RATELIMIT_STORAGE_URI=storage_uri, RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=fallback)
    limiter = Limiter(key_func=lambda: "everyone", strategy="fixed-window")

    @app.get("/limited")
    @limiter.limit("100/minute")
    def limited() -> str:
        return "ok"

    limiter.init_app(app)
    return app, limiter


def test_the_fallback_switch_makes_the_limiter_count_in_memory() -> None:
    _app, limiter = bound_limiter(CLOSED_PORT_URL, fallback=True)  # nothing connects until a count
    assert limiter._in_memory_fallback_enabled is True and limiter._storage_dead is False
    assert fenced_limiter.in_memory_fallback_enabled(limiter)
    primary = limiter.limiter
    fenced_limiter.fall_back_to_memory(limiter)
    assert limiter.limiter is not primary and isinstance(limiter.limiter.storage, MemoryStorage)
    assert not fenced_limiter.in_memory_fallback_enabled(bound_limiter("memory://", fallback=False)[1])


def test_a_request_switches_back_once_the_storage_answers() -> None:
    app, limiter = bound_limiter("memory://", fallback=True)
    primary = limiter.limiter
    fenced_limiter.fall_back_to_memory(limiter)
    limiter._Limiter__last_check_backend = 0.0  # flask-limiter rechecks at most once a second: now, at once
    assert app.test_client().get("/limited").status_code == 200
    assert limiter._storage_dead is False and limiter.limiter is primary


# ---- flask-smorest -------------------------------------------------------------------------------------------


def test_smorest_private_pagination_hook_keeps_its_signature() -> None:
    assert parameters(Api._register_pagination_header) == ["self"]


def smorest_document(api_class: type[Api]) -> dict[str, Any]:
    app = Flask(__name__)
    app.config.update(API_TITLE="t", API_VERSION="1", OPENAPI_VERSION="3.0.3")
    api = api_class(app)
    document: dict[str, Any] = api.spec.to_dict()
    return document


def test_smorest_registers_offset_pagination_through_the_hook_and_api_base_does_not() -> None:
    # The hook is what puts the page/offset schema in a document that paginates nothing; ApiBase skips it.
    assert "PaginationMetadata" in smorest_document(Api)["components"]["schemas"]
    assert "PaginationMetadata" not in smorest_document(fenced_smorest.ApiBase).get("components", {}).get("schemas", {})


# ---- webargs and marshmallow --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("_get_schema", ["self", "argmap", "req"]),
        ("_raw_load_json", ["self", "req"]),
        ("_handle_invalid_json_error", ["self", "error", "req", "args", "kwargs"]),
    ],
)
def test_webargs_private_methods_keep_their_signatures(name: str, expected: list[str]) -> None:
    assert parameters(getattr(FlaskParser, name)) == expected


def test_marshmallow_fields_deserialize_keeps_its_documented_signature() -> None:
    # Not fenced: marshmallow documents `_deserialize` as what a custom field implements (armada.schemas).
    assert parameters(ma.fields.String._deserialize) == ["self", "value", "attr", "data", "kwargs"]


class NameSchema(ma.Schema):
    name = ma.fields.String()


class BadJson(Exception):
    pass


class RecordingParser(FlaskParserBase):
    """Records its hooks' calls and leaves the work to the defaults."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def schema_for_class(self, schema_class: type[ma.Schema]) -> ma.Schema:
        self.calls.append(f"schema_for_class {schema_class.__name__}")
        return super().schema_for_class(schema_class)

    def load_json_body(self, req: Any) -> Any:
        self.calls.append("load_json_body")
        return super().load_json_body(req)

    def invalid_json(self, error: Exception, req: Any) -> NoReturn:
        raise BadJson(type(error).__name__)


def test_a_json_body_goes_through_the_parser_hooks() -> None:
    parser = RecordingParser()
    with Flask(__name__).test_request_context("/", method="POST", json={"name": "Ann"}):
        assert parser.parse(NameSchema, location="json") == {"name": "Ann"}
    assert parser.calls == ["schema_for_class NameSchema", "load_json_body"]


def test_a_malformed_json_body_goes_to_invalid_json() -> None:
    request = Flask(__name__).test_request_context("/", method="POST", data="{", content_type="application/json")
    with request, pytest.raises(BadJson, match="JSONDecodeError"):
        RecordingParser().parse(NameSchema, location="json")
