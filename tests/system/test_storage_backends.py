"""One conformance suite for every storage backend: local files, and Supabase through the real supabase client.

Supabase runs against tests/helpers/fake_supabase.py, or against the real service when SUPABASE_URL, SUPABASE_KEY and
SUPABASE_BUCKET are set (objects go under a random `armada-conformance/` prefix and are removed afterwards).
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import requests
from flask import Blueprint, Flask, Response
from storage3.exceptions import StorageApiError

from armada.media.backends import init_app
from armada.media.local_storage import LocalStorage
from armada.media.routes import download_response
from armada.media.storage import ObjectMissing, Storage, storage
from armada.media.supabase_storage import SupabaseStorage
from armada.media.urls import MediaLink
from tests.helpers.fake_supabase import FakeSupabase, serve_fake_supabase

SUPABASE_ENV = ("SUPABASE_URL", "SUPABASE_KEY", "SUPABASE_BUCKET")
REAL_SUPABASE = all(os.environ.get(name) for name in SUPABASE_ENV)
BINARY = bytes(range(256)) * 64 + b"\x00\r\n\xff"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(200))


@dataclass
class Harness:
    """A backend under test, inside a request context of its minimal app."""

    kind: str
    storage: Storage
    bucket: str = ""
    url: str = ""
    service_key: str = ""
    prefix: str = field(default_factory=lambda: f"armada-conformance/{uuid.uuid4()}")
    created: list[str] = field(default_factory=list)

    def key(self, ext: str = "bin") -> str:
        """A fresh key shaped like Armada's (`<owner uuid>/<hex>.<ext>`), removed after the test."""
        key = f"{self.prefix}/{uuid.uuid4().hex}.{ext}"
        self.created.append(key)
        return key


@dataclass
class Fetched:
    """What a browser ends up with after following a download response."""

    status: int
    headers: Mapping[str, str]
    body: bytes


def minimal_app(tmp_path: Path, **config: object) -> Flask:
    """A bare Flask app with the storage settings, and an endpoint named like the local upload route."""
    app = Flask(__name__, instance_path=str(tmp_path / "instance"))
    app.config.update({"SECRET_KEY": "conformance-secret-key-0123456789abcdef", "MEDIA_ROOT": None, **config})
    media = Blueprint("media", __name__)

    @media.route("/api/media/upload/<token>", methods=["PUT"])
    def direct_upload(token: str) -> tuple[str, int]:
        return "", 404  # only its URL is used here; armada.media.routes has the real one

    app.register_blueprint(media)
    return app


def supabase_settings(stack: ExitStack) -> tuple[str, str, str]:
    """(url, service key, bucket): the real project when configured, else a fake started for this test."""
    if REAL_SUPABASE:
        return os.environ["SUPABASE_URL"].rstrip("/"), os.environ["SUPABASE_KEY"], os.environ["SUPABASE_BUCKET"]
    fake = stack.enter_context(serve_fake_supabase())
    return fake.url, fake.key, fake.bucket


def supabase_app(tmp_path: Path, url: str, key: str, bucket: str) -> Flask:
    return minimal_app(tmp_path, STORAGE_BACKEND="supabase", SUPABASE_URL=url, SUPABASE_KEY=key, SUPABASE_BUCKET=bucket)


@pytest.fixture(params=["local", "supabase"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    """Each backend in turn, built through the registry from config."""
    with ExitStack() as stack:
        url = key = bucket = ""
        if request.param == "local":
            app = minimal_app(tmp_path, STORAGE_BACKEND="local", MEDIA_ROOT=str(tmp_path / "media"))
        else:
            url, key, bucket = supabase_settings(stack)
            app = supabase_app(tmp_path, url, key, bucket)
        init_app(app)
        stack.enter_context(app.test_request_context())
        harness = Harness(request.param, storage(), bucket, url, key)
        yield harness
        harness.storage.delete(harness.created)


@pytest.fixture
def supabase(tmp_path: Path) -> Iterator[Harness]:
    """The Supabase backend alone (against the fake, or the real service when configured)."""
    with ExitStack() as stack:
        url, key, bucket = supabase_settings(stack)
        app = supabase_app(tmp_path, url, key, bucket)
        init_app(app)
        stack.enter_context(app.test_request_context())
        harness = Harness("supabase", storage(), bucket, url, key)
        yield harness
        harness.storage.delete(harness.created)


@pytest.fixture
def fake() -> Iterator[FakeSupabase]:
    """Always the fake, for what only it can show (its refusals of requests Armada never makes)."""
    with serve_fake_supabase() as server:
        yield server


def serve(backend: Storage, key: str, content_type: str, name: str, as_attachment: bool, expires_in: int) -> Response:
    """The download route's answer for a link to this object: the backend locates it, the route responds."""
    found = backend.locate(key, name, as_attachment, expires_in)
    return download_response(found, MediaLink(key, name, content_type, inline=not as_attachment))


def fetch(response: Response) -> Fetched:
    """Follow a download response like a browser: a redirect is fetched with a plain GET, without credentials."""
    if response.status_code in (301, 302, 303, 307, 308):
        got = requests.get(response.headers["Location"], allow_redirects=False, timeout=30)
        return Fetched(got.status_code, got.headers, got.content)
    response.direct_passthrough = False
    body = response.get_data()
    response.close()
    return Fetched(response.status_code, response.headers, body)


def attachment_filename(disposition: str) -> str | None:
    """The file name an attachment Content-Disposition gives (filename* preferred), or None if not an attachment."""
    if not disposition.startswith("attachment"):
        return None
    params = dict(part.strip().split("=", 1) for part in disposition.split(";")[1:] if "=" in part)
    if "filename*" in params:
        charset, _, encoded = params["filename*"].partition("''")
        assert charset.upper() == "UTF-8"
        return unquote(encoded)
    return unquote(params["filename"].strip('"'))


def tamper(token: str) -> str:
    """The token with one character of its signature changed."""
    head, _, signature = token.rpartition(".")
    return f"{head}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"


def with_token(url: str, token: str) -> str:
    base, _, query = url.partition("?")
    rest = "&".join(part for part in query.split("&") if not part.startswith("token="))
    return f"{base}?token={token}" + (f"&{rest}" if rest else "")


def token_of(url: str) -> str:
    return next(part[len("token=") :] for part in urlsplit(url).query.split("&") if part.startswith("token="))


def assert_storage_error(response: requests.Response, status: str, error: str) -> dict[str, str]:
    """Supabase's error shape: HTTP 400 with the real status inside, as storage3 parses it."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert (body["statusCode"], body["error"]) == (status, error), body
    assert body["message"]
    return body


# --- the conformance suite: every backend -------------------------------------------------------------------


def test_put_then_get_returns_the_same_bytes(backend: Harness) -> None:
    key = backend.key()
    backend.storage.put(key, BINARY, "application/octet-stream")
    assert backend.storage.get(key) == BINARY
    assert backend.storage.size(key) == len(BINARY)


def test_keys_are_independent(backend: Harness) -> None:
    first, second = backend.key(), backend.key()
    backend.storage.put(first, b"first", "text/plain")
    backend.storage.put(second, b"second", "text/plain")
    assert (backend.storage.get(first), backend.storage.get(second)) == (b"first", b"second")


def test_put_refuses_to_overwrite_an_existing_key(backend: Harness) -> None:
    key = backend.key("png")
    backend.storage.put(key, PNG, "image/png")
    with pytest.raises(FileExistsError):
        backend.storage.put(key, b"replacement", "image/png")
    assert backend.storage.get(key) == PNG


@pytest.mark.parametrize("name", ["never-stored.bin", "../escape.bin", "a/../../escape.bin"])
def test_missing_key_get_raises_object_missing_and_size_is_none(backend: Harness, name: str) -> None:
    key = f"{backend.prefix}/{name}"
    with pytest.raises(ObjectMissing):
        backend.storage.get(key)
    assert backend.storage.size(key) is None


def test_delete_removes_existing_keys_and_ignores_missing_ones(backend: Harness) -> None:
    first, second, kept, missing = backend.key(), backend.key(), backend.key(), backend.key()
    for key in (first, second, kept):
        backend.storage.put(key, b"x", "text/plain")
    backend.storage.delete([first, missing, second])
    assert backend.storage.size(first) is None
    with pytest.raises(ObjectMissing):
        backend.storage.get(second)
    assert backend.storage.get(kept) == b"x"


def test_deleting_again_or_nothing_is_harmless(backend: Harness) -> None:
    key = backend.key()
    backend.storage.put(key, b"x", "text/plain")
    backend.storage.delete([key])
    backend.storage.delete([key])
    backend.storage.delete([])
    assert backend.storage.size(key) is None


def test_a_deleted_key_can_be_stored_again(backend: Harness) -> None:
    key = backend.key()
    backend.storage.put(key, b"old", "text/plain")
    backend.storage.delete([key])
    backend.storage.put(key, b"new", "text/plain")
    assert backend.storage.get(key) == b"new"


def test_sign_upload_describes_a_put_with_the_content_type(backend: Harness) -> None:
    before = datetime.now(UTC)
    signed = backend.storage.sign_upload(backend.key("png"), "image/png", 300)
    url = urlsplit(signed.url)
    assert url.scheme in ("http", "https") and url.netloc
    assert signed.method == "PUT"
    assert signed.headers == {"Content-Type": "image/png"}
    # Local honours the requested lifetime; Supabase fixes its own (two hours) and reports that.
    lifetime = timedelta(seconds=300) if backend.kind == "local" else timedelta(hours=2)
    assert (
        before + lifetime - timedelta(seconds=5)
        <= signed.expires_at
        <= datetime.now(UTC) + lifetime + timedelta(seconds=5)
    )


def test_a_backend_receives_direct_uploads_exactly_when_its_upload_urls_lead_to_armada(backend: Harness) -> None:
    signed = backend.storage.sign_upload(backend.key("png"), "image/png", 300)
    url = urlsplit(signed.url)
    to_armada = url.netloc == "localhost" and url.path.startswith("/api/media/upload/")
    assert backend.storage.receives_direct_uploads is to_armada
    if not to_armada:  # Armada never accepts another service's upload token as its own
        assert backend.storage.read_upload_token(token_of(signed.url), max_age=300) is None


def test_serve_gives_the_bytes_with_the_stored_type_inline(backend: Harness) -> None:
    key = backend.key("png")
    backend.storage.put(key, PNG, "image/png")
    got = fetch(serve(backend.storage, key, "image/png", "photo.png", False, 60))
    assert got.status == 200
    assert got.body == PNG
    assert got.headers["Content-Type"] == "image/png"
    assert attachment_filename(got.headers.get("Content-Disposition", "")) is None


@pytest.mark.parametrize("name", ["report.pdf", "my report (final).pdf", "résumé 📄.pdf"])
def test_serve_as_attachment_names_the_file(backend: Harness, name: str) -> None:
    key = backend.key("pdf")
    backend.storage.put(key, b"%PDF-1.4 fake", "application/pdf")
    got = fetch(serve(backend.storage, key, "application/pdf", name, True, 60))
    assert got.status == 200
    assert got.body == b"%PDF-1.4 fake"
    assert attachment_filename(got.headers["Content-Disposition"]) == name


def test_locating_a_missing_key_raises_object_missing(backend: Harness) -> None:
    with pytest.raises(ObjectMissing):
        backend.storage.locate(backend.key(), "photo.png", False, 60)


# --- choosing a backend ---------------------------------------------------------------------------------------


def test_an_unknown_backend_is_refused_naming_the_choices(tmp_path: Path) -> None:
    app = minimal_app(tmp_path, STORAGE_BACKEND="s3")
    with pytest.raises(RuntimeError, match=r"STORAGE_BACKEND must be one of local, supabase, got 's3'"):
        init_app(app)


# --- local: its upload URL is Armada's own route --------------------------------------------------------------


def test_local_sign_upload_points_at_the_direct_upload_route_with_a_token_for_the_key(tmp_path: Path) -> None:
    app = minimal_app(tmp_path, STORAGE_BACKEND="local")
    init_app(app)
    with app.test_request_context():
        local = storage()
        assert isinstance(local, LocalStorage)
        signed = local.sign_upload("owner/abc.png", "image/png", 300)
        assert signed.url.startswith("http://localhost/api/media/upload/")
        token = signed.url.rsplit("/", 1)[1]
        assert local.read_upload_token(token, max_age=300) == ("owner/abc.png", "image/png")
        assert local.read_upload_token(tamper(token), max_age=300) is None


# --- Supabase: the URLs it hands out, through the real client and plain HTTP ---------------------------------


def test_signed_upload_url_accepts_the_bytes_once(supabase: Harness) -> None:
    harness = supabase
    key = harness.key("png")
    signed = harness.storage.sign_upload(key, "image/png", 300)
    first = requests.request(signed.method, signed.url, data=PNG, headers=signed.headers, timeout=30)
    assert first.status_code == 200, first.text
    assert first.json()["Key"] == f"{harness.bucket}/{key}"
    assert harness.storage.get(key) == PNG
    assert fetch(serve(harness.storage, key, "image/png", "a.png", False, 60)).headers["Content-Type"] == "image/png"

    again = requests.request(signed.method, signed.url, data=b"replacement", headers=signed.headers, timeout=30)
    assert_storage_error(again, "409", "Duplicate")
    assert harness.storage.get(key) == PNG


def test_signed_upload_url_for_an_existing_key_is_refused(supabase: Harness) -> None:
    harness = supabase
    key = harness.key()
    harness.storage.put(key, b"taken", "text/plain")
    with pytest.raises(StorageApiError) as caught:
        harness.storage.sign_upload(key, "text/plain", 300)
    assert (str(caught.value.status), caught.value.code) == ("409", "Duplicate")


def test_signed_upload_token_works_only_for_its_own_key(supabase: Harness) -> None:
    harness = supabase
    signed_key, other_key = harness.key("png"), harness.key("png")
    signed = harness.storage.sign_upload(signed_key, "image/png", 300)
    other_url = signed.url.replace(signed_key, other_key)
    refused = requests.put(other_url, data=PNG, headers=signed.headers, timeout=30)
    assert_storage_error(refused, "400", "InvalidSignature")
    assert harness.storage.size(other_key) is None
    assert harness.storage.size(signed_key) is None


def test_tampered_signed_upload_url_is_refused(supabase: Harness) -> None:
    harness = supabase
    key = harness.key("png")
    signed = harness.storage.sign_upload(key, "image/png", 300)
    refused = requests.put(
        with_token(signed.url, tamper(token_of(signed.url))), data=PNG, headers=signed.headers, timeout=30
    )
    assert_storage_error(refused, "400", "InvalidJWT")
    assert harness.storage.size(key) is None


def test_supabase_serve_redirects_to_a_signed_url_that_needs_no_credentials(supabase: Harness) -> None:
    harness, url = supabase, supabase.url
    key = harness.key("png")
    harness.storage.put(key, PNG, "image/png")
    response = serve(harness.storage, key, "image/png", "photo.png", False, 120)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(f"{url}/storage/v1/object/sign/{harness.bucket}/{key}?token=")
    assert response.headers["Cache-Control"] == "private, max-age=60"
    got = requests.get(location, timeout=30)
    assert (got.status_code, got.content) == (200, PNG)


def test_tampered_signed_download_url_is_refused(supabase: Harness) -> None:
    harness = supabase
    key = harness.key("png")
    harness.storage.put(key, PNG, "image/png")
    location = serve(harness.storage, key, "image/png", "photo.png", True, 60).headers["Location"]
    refused = requests.get(with_token(location, tamper(token_of(location))), timeout=30)
    assert_storage_error(refused, "400", "InvalidJWT")
    assert PNG not in refused.content


def test_signed_download_token_works_only_for_its_own_key(supabase: Harness) -> None:
    harness = supabase
    secret, public = harness.key("png"), harness.key("png")
    harness.storage.put(secret, b"secret", "image/png")
    harness.storage.put(public, PNG, "image/png")
    location = serve(harness.storage, public, "image/png", "p.png", False, 60).headers["Location"]
    refused = requests.get(location.replace(public, secret), timeout=30)
    assert_storage_error(refused, "400", "InvalidSignature")
    assert b"secret" not in refused.content


def test_expired_signed_download_url_is_refused(supabase: Harness) -> None:
    harness = supabase
    key = harness.key("png")
    harness.storage.put(key, PNG, "image/png")
    location = serve(harness.storage, key, "image/png", "photo.png", False, 1).headers["Location"]
    time.sleep(2.1)  # tokens carry whole seconds: this is past exp whatever the rounding
    refused = requests.get(location, timeout=30)
    body = assert_storage_error(refused, "400", "InvalidJWT")
    assert "expired" in body["message"]


def test_signed_download_of_a_deleted_object_is_not_found(supabase: Harness) -> None:
    harness = supabase
    key = harness.key("png")
    harness.storage.put(key, PNG, "image/png")
    location = serve(harness.storage, key, "image/png", "photo.png", False, 60).headers["Location"]
    harness.storage.delete([key])
    assert_storage_error(requests.get(location, timeout=30), "404", "not_found")


def test_batch_signing_signs_what_exists_and_reports_the_rest(supabase: Harness) -> None:
    harness = supabase
    assert isinstance(harness.storage, SupabaseStorage)
    present, absent = harness.key(), harness.key()
    harness.storage.put(present, b"here", "text/plain")
    results = {item["path"]: item for item in harness.storage.bucket.create_signed_urls([present, absent], 60)}
    assert results[absent]["signedURL"] is None and results[absent]["error"]
    assert results[present]["error"] is None
    assert requests.get(results[present]["signedURL"], timeout=30).content == b"here"


def test_missing_object_is_reported_as_supabase_does(supabase: Harness) -> None:
    harness, url = supabase, supabase.url
    assert isinstance(harness.storage, SupabaseStorage)
    key = harness.key()
    headers = {"Authorization": f"Bearer {harness.service_key}"}
    info = requests.get(f"{url}/storage/v1/object/info/{harness.bucket}/{key}", headers=headers, timeout=30)
    assert_storage_error(info, "404", "not_found")
    assert harness.storage.bucket.exists(key) is False


# --- Supabase: configuration and failures that must not look like a missing object ---------------------------


@pytest.mark.parametrize("missing", SUPABASE_ENV)
@pytest.mark.parametrize("value", [None, "", "   "])
def test_supabase_backend_names_a_missing_setting(tmp_path: Path, missing: str, value: str | None) -> None:
    settings: dict[str, object] = {
        "SUPABASE_URL": "https://xyz.supabase.co",
        "SUPABASE_KEY": "k",
        "SUPABASE_BUCKET": "b",
    }
    settings[missing] = value
    app = minimal_app(tmp_path, STORAGE_BACKEND="supabase", **settings)
    with pytest.raises(RuntimeError, match=missing):
        init_app(app)


@pytest.mark.parametrize("url", ["xyz.supabase.co", "ftp://xyz.supabase.co", "https://"])
def test_supabase_backend_refuses_a_url_that_is_not_a_project_url(tmp_path: Path, url: str) -> None:
    with pytest.raises(RuntimeError, match="SUPABASE_URL"):
        SupabaseStorage(supabase_app(tmp_path, url, "k", "b"))


@pytest.mark.parametrize(
    "key", ["sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz", "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2ln"]
)
def test_building_the_supabase_backend_reaches_no_network_and_starts_no_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network use while building the backend: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    threads = set(threading.enumerate())
    # Both key formats Supabase issues (secret keys and legacy service-role JWTs) are taken as they are.
    init_app(supabase_app(tmp_path, "https://xyz.supabase.co", key, "chat-media"))
    assert set(threading.enumerate()) <= threads


def test_a_wrong_service_key_is_an_error_never_a_missing_object(tmp_path: Path) -> None:
    with ExitStack() as stack:
        url, _, bucket = supabase_settings(stack)
        wrong = SupabaseStorage(supabase_app(tmp_path, url, "not-the-service-key", bucket))
        key = f"armada-conformance/{uuid.uuid4()}/x.bin"
        with pytest.raises(StorageApiError):
            wrong.put(key, b"x", "text/plain")
        with pytest.raises(StorageApiError):
            wrong.get(key)
        with pytest.raises(StorageApiError):
            wrong.size(key)
        with pytest.raises(StorageApiError):
            wrong.delete([key])


def test_a_missing_bucket_is_an_error_never_a_missing_object(tmp_path: Path) -> None:
    with ExitStack() as stack:
        url, key, _ = supabase_settings(stack)
        nowhere = SupabaseStorage(supabase_app(tmp_path, url, key, f"armada-no-such-bucket-{uuid.uuid4().hex[:8]}"))
        name = f"armada-conformance/{uuid.uuid4()}/x.bin"
        with pytest.raises(StorageApiError) as caught:
            nowhere.get(name)
        assert (str(caught.value.status), caught.value.code) == ("404", "Bucket not found")
        with pytest.raises(StorageApiError):
            nowhere.size(name)
        with pytest.raises(StorageApiError):
            nowhere.put(name, b"x", "text/plain")
        with pytest.raises(StorageApiError):
            nowhere.locate(name, "x.txt", False, 60)


# --- the fake's own refusals: requests Armada never makes, so only the fake is asked ------------------------


@pytest.mark.parametrize(
    ("authorization", "message"),
    [(None, "jwt must be provided"), ("Bearer wrong", "jwt malformed"), ("Bearer a.b.c", "invalid signature")],
)
def test_fake_refuses_uploads_without_the_service_key(
    fake: FakeSupabase, authorization: str | None, message: str
) -> None:
    headers = {"Content-Type": "text/plain"} | ({"Authorization": authorization} if authorization else {})
    refused = requests.post(
        f"{fake.url}/storage/v1/object/{fake.bucket}/a/b.txt", data=b"x", headers=headers, timeout=10
    )
    body = assert_storage_error(refused, "403", "Unauthorized")
    assert body["message"] == message
    assert fake.app.buckets[fake.bucket] == {}


def test_fake_hides_a_private_bucket_from_anonymous_downloads(fake: FakeSupabase) -> None:
    auth = {"Authorization": f"Bearer {fake.key}", "Content-Type": "text/plain"}
    stored = requests.post(
        f"{fake.url}/storage/v1/object/{fake.bucket}/a/b.txt", data=b"private", headers=auth, timeout=10
    )
    assert stored.status_code == 200 and stored.json()["Key"] == f"{fake.bucket}/a/b.txt"
    anonymous = requests.get(f"{fake.url}/storage/v1/object/{fake.bucket}/a/b.txt", timeout=10)
    assert_storage_error(anonymous, "404", "Bucket not found")
    assert b"private" not in anonymous.content


def test_fake_serves_html_as_plain_text_like_supabase(fake: FakeSupabase) -> None:
    auth = {"Authorization": f"Bearer {fake.key}", "Content-Type": "text/html"}
    requests.post(
        f"{fake.url}/storage/v1/object/{fake.bucket}/a/page.html", data=b"<script>1</script>", headers=auth, timeout=10
    )
    got = requests.get(f"{fake.url}/storage/v1/object/{fake.bucket}/a/page.html", headers=auth, timeout=10)
    assert got.status_code == 200
    assert got.headers["Content-Type"] == "text/plain"


@pytest.mark.parametrize("body", [{}, {"expiresIn": "soon"}, {"expiresIn": 0}])
def test_fake_validates_sign_requests(fake: FakeSupabase, body: dict[str, object]) -> None:
    auth = {"Authorization": f"Bearer {fake.key}"}
    requests.post(f"{fake.url}/storage/v1/object/{fake.bucket}/a/b.txt", data=b"x", headers=auth, timeout=10)
    refused = requests.post(
        f"{fake.url}/storage/v1/object/sign/{fake.bucket}/a/b.txt", json=body, headers=auth, timeout=10
    )
    assert refused.status_code == 400
    assert refused.json()["statusCode"] == "400"


def test_fake_refuses_keys_supabase_refuses(fake: FakeSupabase) -> None:
    auth = {"Authorization": f"Bearer {fake.key}", "Content-Type": "text/plain"}
    refused = requests.post(
        f"{fake.url}/storage/v1/object/{fake.bucket}/a/%C3%A9t%C3%A9.txt", data=b"x", headers=auth, timeout=10
    )
    assert_storage_error(refused, "400", "InvalidKey")
