"""Supabase Storage: objects in a private bucket, through the supabase client; downloads redirect to Supabase."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import jwt
from flask import Flask

# The client comes from `supabase`; its storage errors and option types only from storage3 (which supabase does not
# re-export), so that stays a direct dependency.
from storage3.exceptions import StorageApiError
from storage3.types import URLOptions
from supabase import ClientOptions, create_client

from armada.media.storage import ObjectMissing, Redirect, SignedUpload

# Supabase fixes the lifetime of signed upload URLs server-side (two hours); a client cannot ask for another.
UPLOAD_URL_LIFETIME = timedelta(hours=2)
# Fail fast when Supabase is unreachable, but leave time to move an upload of MAX_UPLOAD_BYTES.
TIMEOUT = httpx.Timeout(60.0, connect=5.0)
# Keys per remove request: keeps each request body small however many objects a purge drops.
DELETE_BATCH = 1000


def _is_missing(exc: StorageApiError) -> bool:
    """Whether Storage said the object does not exist (not: the bucket is missing or the key is wrong)."""
    # A missing object is statusCode "404" with error "not_found" (or "Not found" when its row outlived its bytes);
    # a missing bucket is "404" too, but with error "Bucket not found": a configuration error that must surface.
    return str(exc.status) == "404" and exc.code in ("not_found", "Not found")


def _token_expiry(token: str) -> datetime:
    """When a Supabase signed-upload token expires: its `exp` claim, else the documented two hours."""
    try:
        # Supabase signed the token and checks it; we only read the claim to report the true deadline.
        claims = jwt.decode(token, options={"verify_signature": False})
        return datetime.fromtimestamp(int(claims["exp"]), UTC)
    except (jwt.PyJWTError, KeyError, TypeError, ValueError, OverflowError):
        return datetime.now(UTC) + UPLOAD_URL_LIFETIME


class SupabaseStorage:
    """Objects in the private bucket SUPABASE_BUCKET of the project at SUPABASE_URL, with the service-role key."""

    receives_direct_uploads = False  # clients PUT to Supabase's own signed upload URLs

    def __init__(self, app: Flask) -> None:
        url, key, bucket = (
            str(app.config.get(name) or "") for name in ("SUPABASE_URL", "SUPABASE_KEY", "SUPABASE_BUCKET")
        )
        for name, value in (("SUPABASE_URL", url), ("SUPABASE_KEY", key), ("SUPABASE_BUCKET", bucket)):
            if not value or not str(value).strip():
                raise RuntimeError(f"STORAGE_BACKEND=supabase needs {name} to be set")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise RuntimeError(f"SUPABASE_URL must be the project URL, like https://xyz.supabase.co; got {url!r}")
        # Our own httpx client: ClientOptions' storage timeout is whole seconds only (and storage3 warns about it).
        # create_client opens no connection and starts no thread; it sends the key as apikey and bearer token.
        self.http = httpx.Client(timeout=TIMEOUT)
        # The supabase client wants a lowercase scheme and puts its own "/" before storage/v1/.
        project = create_client(parts.geturl().rstrip("/"), key, ClientOptions(httpx_client=self.http))
        self.client = project.storage
        self.bucket = self.client.from_(bucket)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        try:
            self.bucket.upload(key, data, {"content-type": content_type, "x-upsert": "false"})
        except StorageApiError as exc:
            # Storage refuses an existing key ("409", Duplicate); raise what the local backend raises.
            if str(exc.status) == "409":
                raise FileExistsError(key) from exc
            raise

    def get(self, key: str) -> bytes:
        try:
            return self.bucket.download(key)
        except ValueError:  # storage3 refuses dot segments: no stored key has them
            raise ObjectMissing(key) from None
        except StorageApiError as exc:
            if _is_missing(exc):
                raise ObjectMissing(key) from None
            raise

    def size(self, key: str) -> int | None:
        try:
            info = self.bucket.info(key)
        except ValueError:
            return None
        except StorageApiError as exc:
            if _is_missing(exc):
                return None
            raise
        return int(info["size"])

    def delete(self, keys: list[str]) -> None:
        # Storage removes the keys it has and silently skips the others; an empty list is a 400, so never send one.
        for start in range(0, len(keys), DELETE_BATCH):
            self.bucket.remove(keys[start : start + DELETE_BATCH])

    def sign_upload(self, key: str, content_type: str, expires_in: int) -> SignedUpload:
        # expires_in cannot be honoured: Supabase decides (two hours), so report the deadline its token carries.
        signed = self.bucket.create_signed_upload_url(key)
        return SignedUpload(
            url=signed["signed_url"],
            method="PUT",
            # A raw-body PUT stores the Content-Type header as the object's type; the token says where and how often.
            headers={"Content-Type": content_type},
            expires_at=_token_expiry(signed["token"]),
        )

    def read_upload_token(self, token: str, max_age: int) -> None:
        return None  # Supabase checks the tokens of its upload URLs itself; none is ever Armada's to read

    def locate(self, key: str, download_name: str, as_attachment: bool, expires_in: int) -> Redirect:
        # `download` makes Supabase answer Content-Disposition: attachment; True (no name) still does, "" would not.
        options: URLOptions | None = {"download": download_name or True} if as_attachment else None
        try:
            signed = self.bucket.create_signed_url(key, expires_in, options)
        except ValueError:
            raise ObjectMissing(key) from None
        except StorageApiError as exc:
            if _is_missing(exc):
                raise ObjectMissing(key) from None
            raise
        # The target dies expires_in seconds after signing: a cached redirect must be followed well before that.
        url = signed["signedURL"]
        if not url:
            raise RuntimeError(f"Supabase Storage signed no URL for {key!r}")
        return Redirect(url, max_age=max(expires_in // 2, 0))
