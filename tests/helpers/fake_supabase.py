"""A small in-memory Supabase Storage server for tests, speaking the REST API Armada's storage3 client uses.

Modelled on supabase/storage (src/http/routes/object/*, src/internal/errors, src/storage/renderer). Reproduced:

- Routes under /storage/v1: POST/GET/HEAD /object/{bucket}/{path} (upload, download, head), GET /object/info/...,
  POST /object/sign/{bucket}/{path} and the batch POST /object/sign/{bucket}, the signed download
  GET /object/sign/{bucket}/{path}?token=..[&download=..], POST and PUT /object/upload/sign/{bucket}/{path},
  and DELETE /object/{bucket} with {"prefixes": [...]} answering the removed objects.
- Errors as Storage renders them: HTTP 400 (500 for internal errors) with a JSON body
  {"statusCode": "<real status>", "code": ..., "error": ..., "message": ...}, e.g. a missing object is
  400 {"statusCode": "404", "code": "NoSuchKey", "error": "not_found", "message": "Object not found"}, an existing
  key 400 {"statusCode": "409", "error": "Duplicate", ...}. storage3 reads statusCode/error/message from it.
- Auth: every route but the two signed ones needs `Authorization: Bearer <service key>` (Storage verifies that
  header; apikey is for the gateway). A bad one is 400 AccessDenied ("403"), except on the download/info/head
  routes, which treat it as anonymous and so answer "Bucket not found" for the private bucket, as Storage does.
- Signed URLs carry HS256 JWTs {url: "bucket/path", iat, exp} (uploads add owner, upsert) signed with the
  server's own secret: a bad token is 400 InvalidJWT ("jwt expired", "invalid signature", "jwt malformed"); a
  token for another path is 400 InvalidSignature. Signed upload URLs live UPLOAD_URL_SECONDS (Storage's
  uploadSignedUrlExpirationTime, 2 hours) and, not being upserts, work once: a second upload is a Duplicate.
- Uploads: multipart (storage3: a `file` part whose Content-Type is stored, plus cacheControl) or a raw body whose
  Content-Type header is stored; x-upsert: true overwrites. Keys must match Storage's isValidKey.
- Downloads send the stored type (text/html downgraded to text/plain, as Storage does), Content-Length, ETag,
  Last-Modified; signed ones add Expires, and with `download` Content-Disposition: attachment (filename
  percent-encoded like encodeURIComponent, with filename*=UTF-8'').

Not reproduced: RLS policies and user JWTs, public buckets, bucket size and MIME limits, Range requests, image
transformations, updates (PUT /object), move/copy/list, TUS and S3 protocols.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import jwt
import pytest
from werkzeug.http import http_date
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

PREFIX = "/storage/v1/"
UPLOAD_URL_SECONDS = 2 * 60 * 60
# Storage's isValidKey (JavaScript's \w is ASCII-only).
VALID_KEY = re.compile(r"^(\w|/|!|-|\.|\*|'|\(|\)| |&|\$|@|=|;|:|\+|,|\?)*$", re.ASCII)


@dataclass
class StoredObject:
    """One object with the metadata Storage keeps for it."""

    data: bytes
    content_type: str
    cache_control: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    version: str = field(default_factory=lambda: str(uuid.uuid4()))
    created: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def etag(self) -> str:
        return f'"{hashlib.md5(self.data).hexdigest()}"'

    def metadata(self) -> dict[str, Any]:
        return {
            "eTag": self.etag,
            "size": len(self.data),
            "mimetype": self.content_type,
            "cacheControl": self.cache_control,
            "lastModified": iso(self.created),
            "contentLength": len(self.data),
            "httpStatusCode": 200,
        }

    def row(self, bucket: str, name: str) -> dict[str, Any]:
        """The storage.objects row, as DELETE answers it."""
        return {
            "bucket_id": bucket,
            "name": name,
            "id": self.id,
            "version": self.version,
            "owner": None,
            "owner_id": None,
            "metadata": self.metadata(),
            "user_metadata": None,
            "created_at": iso(self.created),
            "updated_at": iso(self.created),
            "last_accessed_at": iso(self.created),
        }


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class StorageError(Exception):
    """A renderable Storage error: HTTP 400 (or 500) carrying the real status in statusCode."""

    def __init__(self, status: int, code: str, message: str, error: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.error = status, code, message, error or code

    def response(self) -> Response:
        body = {"statusCode": str(self.status), "code": self.code, "error": self.error, "message": self.message}
        return json_response(body, 500 if self.status == 500 else 400)


def no_such_key() -> StorageError:
    return StorageError(404, "NoSuchKey", "Object not found", error="not_found")


def no_such_bucket() -> StorageError:
    return StorageError(404, "NoSuchBucket", "Bucket not found", error="Bucket not found")


def duplicate() -> StorageError:
    return StorageError(409, "ResourceAlreadyExists", "The resource already exists", error="Duplicate")


def invalid_jwt(message: str) -> StorageError:
    return StorageError(400, "InvalidJWT", message)


class ValidationError(Exception):
    """Fastify's schema validation failure: a real 400."""

    def response(self) -> Response:
        return json_response({"statusCode": "400", "error": "Bad Request", "message": str(self)}, 400)


def json_response(body: object, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json; charset=utf-8")


def encode_uri_component(value: str) -> str:
    """JavaScript's encodeURIComponent."""
    return quote(value, safe="-_.!~*'()")


class FakeSupabaseStorage:
    """The WSGI app: buckets of objects in memory, behind Storage's routes and errors."""

    def __init__(self, service_key: str, buckets: tuple[str, ...] = ("chat-media",)) -> None:
        self.service_key = service_key
        self.buckets: dict[str, dict[str, StoredObject]] = {name: {} for name in buckets}
        self.jwt_secret = secrets.token_bytes(32)
        self.lock = threading.Lock()

    # --- plumbing -------------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except (StorageError, ValidationError) as exc:
            response = exc.response()
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        path = request.path
        if not path.startswith(PREFIX + "object/"):
            return self.route_not_found(request)
        rest = path[len(PREFIX + "object/") :]
        method = request.method
        if rest.startswith("upload/sign/"):
            bucket, name = split(rest[len("upload/sign/") :])
            if name and method == "POST":
                return self.sign_upload(request, bucket, name)
            if name and method == "PUT":
                return self.upload_signed(request, bucket, name)
        elif rest.startswith("sign/"):
            bucket, name = split(rest[len("sign/") :])
            if method == "POST":
                return self.sign(request, bucket, name) if name else self.sign_many(request, bucket)
            if name and method == "GET":
                return self.download_signed(request, bucket, name)
        elif rest.startswith("info/"):
            bucket, name = split(rest[len("info/") :])
            if name and method == "GET":
                return self.info(request, bucket, name)
        else:
            bucket, name = split(rest)
            if name and method == "POST":
                return self.upload(request, bucket, name)
            if name and method in ("GET", "HEAD"):
                return self.download(request, bucket, name)
            if not name and method == "DELETE":
                return self.remove(request, bucket)
        return self.route_not_found(request)

    @staticmethod
    def route_not_found(request: Request) -> Response:
        body = {"message": f"Route {request.method}:{request.path} not found", "error": "Not Found", "statusCode": 404}
        return json_response(body, 404)

    def authenticated(self, request: Request) -> bool:
        token = re.sub(r"^Bearer\s+", "", request.headers.get("Authorization", ""), flags=re.IGNORECASE)
        return bool(token) and hmac.compare_digest(token.encode(), self.service_key.encode())

    def require_auth(self, request: Request) -> None:
        token = re.sub(r"^Bearer\s+", "", request.headers.get("Authorization", ""), flags=re.IGNORECASE)
        if not token:
            raise StorageError(403, "AccessDenied", "jwt must be provided", error="Unauthorized")
        if not self.authenticated(request):
            message = "invalid signature" if token.count(".") == 2 else "jwt malformed"
            raise StorageError(403, "AccessDenied", message, error="Unauthorized")

    def objects(self, bucket: str) -> dict[str, StoredObject]:
        try:
            return self.buckets[bucket]
        except KeyError:
            raise no_such_bucket() from None

    def find(self, bucket: str, name: str) -> StoredObject:
        check_key(name)
        try:
            return self.objects(bucket)[name]
        except KeyError:
            raise no_such_key() from None

    def sign_token(self, claims: dict[str, Any], expires_in: int) -> str:
        now = int(time.time())
        return jwt.encode({**claims, "iat": now, "exp": now + expires_in}, self.jwt_secret, algorithm="HS256")

    def verify_token(self, token: str | None) -> dict[str, Any]:
        if not token:
            raise ValidationError("querystring must have required property 'token'")
        try:
            return jwt.decode(token, self.jwt_secret, algorithms=["HS256"])
        except jwt.ExpiredSignatureError:
            raise invalid_jwt("jwt expired") from None
        except jwt.InvalidSignatureError:
            raise invalid_jwt("invalid signature") from None
        except jwt.DecodeError:
            raise invalid_jwt("jwt malformed") from None
        except jwt.InvalidTokenError:
            raise invalid_jwt("invalid token") from None

    # --- routes ---------------------------------------------------------------------------------------------

    def upload(self, request: Request, bucket: str, name: str) -> Response:
        self.require_auth(request)
        stored = self.store(request, bucket, name, upsert=request.headers.get("x-upsert") == "true")
        return json_response({"Id": stored.id, "Key": f"{bucket}/{name}"})

    def store(self, request: Request, bucket: str, name: str, upsert: bool) -> StoredObject:
        check_key(name)
        objects = self.objects(bucket)
        if request.mimetype == "multipart/form-data":
            upload = request.files.get("file")
            if upload is None:
                raise StorageError(400, "InvalidRequest", "No content provided")
            data = upload.read()
            content_type = request.form.get("contentType") or upload.content_type or "application/octet-stream"
            cache_time = request.form.get("cacheControl")
            cache_control = f"max-age={cache_time}" if cache_time else "no-cache"
        else:
            data = request.get_data(cache=False)
            content_type = request.headers.get("Content-Type") or "application/octet-stream"
            cache_control = request.headers.get("Cache-Control") or "no-cache"
        with self.lock:
            if name in objects and not upsert:
                raise duplicate()
            objects[name] = stored = StoredObject(data, content_type, cache_control)
        return stored

    def download(self, request: Request, bucket: str, name: str) -> Response:
        if not self.authenticated(request):  # anonymous: only public buckets, and ours are private
            raise no_such_bucket()
        stored = self.find(bucket, name)
        response = self.asset(stored, request.args.get("download"))
        response.headers["Cache-Control"] = stored.cache_control
        return response

    def info(self, request: Request, bucket: str, name: str) -> Response:
        if not self.authenticated(request):
            raise no_such_bucket()
        stored = self.find(bucket, name)
        body = {
            "id": stored.id,
            "name": name,
            "version": stored.version,
            "bucket_id": bucket,
            "size": len(stored.data),
            "content_type": stored.content_type,
            "cache_control": stored.cache_control,
            "etag": stored.etag,
            "metadata": None,
            "last_modified": iso(stored.created),
            "created_at": iso(stored.created),
        }
        response = json_response(body)
        response.headers["ETag"] = stored.etag
        response.headers["Cache-Control"] = stored.cache_control
        return response

    def sign(self, request: Request, bucket: str, name: str) -> Response:
        self.require_auth(request)
        expires_in = expires_in_from(json_body(request))
        self.find(bucket, name)
        token = self.sign_token({"url": f"{bucket}/{name}"}, expires_in)
        return json_response({"signedURL": f"/object/sign/{bucket}/{name}?token={token}"})

    def sign_many(self, request: Request, bucket: str) -> Response:
        self.require_auth(request)
        body = json_body(request)
        expires_in = expires_in_from(body)
        paths = body.get("paths")
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise ValidationError("body/paths must be array")
        objects = self.objects(bucket)
        results = []
        for path in paths:
            if path in objects:
                token = self.sign_token({"url": f"{bucket}/{path}"}, expires_in)
                results.append(
                    {"error": None, "path": path, "signedURL": f"/object/sign/{bucket}/{path}?token={token}"}
                )
            else:
                error = "Either the object does not exist or you do not have access to it"
                results.append({"error": error, "path": path, "signedURL": None})
        return json_response(results)

    def download_signed(self, request: Request, bucket: str, name: str) -> Response:
        claims = self.verify_token(request.args.get("token"))
        if claims.get("url") != f"{bucket}/{name}":
            raise StorageError(400, "InvalidSignature", "Invalid signature")
        stored = self.find(bucket, name)
        response = self.asset(stored, request.args.get("download"))
        response.headers["Expires"] = http_date(int(claims["exp"]))
        return response

    def sign_upload(self, request: Request, bucket: str, name: str) -> Response:
        self.require_auth(request)
        check_key(name)
        upsert = request.headers.get("x-upsert") == "true"
        if not upsert and name in self.objects(bucket):  # Storage tests the insert it will make later
            raise duplicate()
        token = self.sign_token({"owner": None, "url": f"{bucket}/{name}", "upsert": upsert}, UPLOAD_URL_SECONDS)
        return json_response({"url": f"/object/upload/sign/{bucket}/{name}?token={token}", "token": token})

    def upload_signed(self, request: Request, bucket: str, name: str) -> Response:
        claims = self.verify_token(request.args.get("token"))
        if claims.get("url") != f"{bucket}/{name}":
            raise StorageError(400, "InvalidSignature", "Invalid signature")
        self.store(request, bucket, name, upsert=bool(claims.get("upsert")))
        return json_response({"Key": f"{bucket}/{name}"})

    def remove(self, request: Request, bucket: str) -> Response:
        self.require_auth(request)
        prefixes = json_body(request).get("prefixes")
        if not isinstance(prefixes, list) or not all(isinstance(p, str) for p in prefixes):
            raise ValidationError("body/prefixes must be array")
        if not prefixes:
            raise ValidationError("body/prefixes must NOT have fewer than 1 items")
        objects = self.objects(bucket)
        with self.lock:
            removed = [objects.pop(name).row(bucket, name) for name in dict.fromkeys(prefixes) if name in objects]
        return json_response(removed)

    @staticmethod
    def asset(stored: StoredObject, download: str | None) -> Response:
        # Storage never lets its own origin render HTML.
        content_type = "text/plain" if "text/html" in stored.content_type else stored.content_type
        response = Response(stored.data, content_type=content_type)
        response.headers["Accept-Ranges"] = "bytes"
        response.headers["ETag"] = stored.etag
        response.headers["Last-Modified"] = http_date(stored.created)
        if download is not None:
            if download == "":
                response.headers["Content-Disposition"] = "attachment;"
            else:
                name = encode_uri_component(download)
                response.headers["Content-Disposition"] = f"attachment; filename={name}; filename*=UTF-8''{name};"
        return response


def split(rest: str) -> tuple[str, str]:
    """`bucket/some/key` as (bucket, key); the key is empty when only a bucket is named."""
    bucket, _, name = rest.partition("/")
    return bucket, name


def check_key(name: str) -> None:
    if not name or not VALID_KEY.match(name):
        raise StorageError(400, "InvalidKey", f"Invalid key: {name}")


def json_body(request: Request) -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError("body must be object")
    return body


def expires_in_from(body: dict[str, Any]) -> int:
    """`expiresIn` as Fastify's coercing validator reads it (storage3 sends it as a string)."""
    if "expiresIn" not in body:
        raise ValidationError("body must have required property 'expiresIn'")
    raw = body["expiresIn"]
    try:
        value = int(raw) if isinstance(raw, (int, str)) and not isinstance(raw, bool) else None
    except ValueError:
        value = None
    if value is None:
        raise ValidationError("body/expiresIn must be integer")
    if value < 1:
        raise ValidationError("body/expiresIn must be >= 1")
    return value


class QuietHandler(WSGIRequestHandler):
    """No access log on stderr."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@dataclass
class FakeSupabase:
    """A running fake: the project URL (without /storage/v1), its service key, bucket, and the server state."""

    url: str
    key: str
    bucket: str
    app: FakeSupabaseStorage


@contextmanager
def serve_fake_supabase(bucket: str = "chat-media") -> Iterator[FakeSupabase]:
    """Run the fake on a free 127.0.0.1 port in a background thread for the duration of the block."""
    key = "fake-service-role-" + secrets.token_urlsafe(24)
    app = FakeSupabaseStorage(key, buckets=(bucket,))
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield FakeSupabase(url=f"http://127.0.0.1:{server.server_port}", key=key, bucket=bucket, app=app)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def fake_supabase() -> Iterator[FakeSupabase]:
    """A fresh fake Supabase Storage with one private bucket, `chat-media`."""
    with serve_fake_supabase() as fake:
        yield fake
