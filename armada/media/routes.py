"""Media endpoints: uploads, direct-upload URLs, and the signed download links."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import current_app, redirect, request, send_file
from flask_jwt_extended import current_user, jwt_required
from werkzeug.wrappers import Response

from armada import database, ratelimit
from armada.api import ArmadaBlueprint
from armada.errors import NotFound, PayloadTooLarge
from armada.media import services, urls
from armada.media.schemas import SignedUploadArgsSchema, SignedUploadSchema, UploadFormSchema, UploadResultSchema
from armada.media.storage import Download, ObjectMissing, Redirect, storage

blp = ArmadaBlueprint("media", __name__, description="Media uploads and downloads.")

# Room for the multipart framing and form fields around the file itself.
MULTIPART_OVERHEAD = 64 * 1024


def upload_size_limit(view: Callable[..., Any]) -> Callable[..., Any]:
    """Raise this request's body limit to the upload cap, refuse a larger declared body before reading it, and
    hold no database connection while the body arrives."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        limit = current_app.config["MAX_UPLOAD_BYTES"] + MULTIPART_OVERHEAD
        if request.content_length is not None and request.content_length > limit:
            raise PayloadTooLarge(
                f"Files may be at most {current_app.config['MAX_UPLOAD_BYTES']} bytes.", code="file_too_large"
            )
        request.max_content_length = limit  # werkzeug stops a body without a length at the same point
        # The token check has read the user; a slow client may take minutes to send the rest (see release_connection).
        database.release_connection()
        return view(*args, **kwargs)

    return wrapper


@blp.route("/api/chat/upload", methods=["POST"])
@jwt_required()
@ratelimit.per_user("upload")
@upload_size_limit
@blp.arguments(UploadFormSchema, location="files")
@blp.response(201, UploadResultSchema)
@blp.alt_response(413, description="Larger than MAX_UPLOAD_BYTES (default 25 MB).")
@blp.alt_response(415, description="The name or declared type claims another kind of media than the bytes are.")
@blp.alt_response(429, **ratelimit.documented("upload"))
def upload(files: dict[str, Any]) -> Any:
    """Upload a file; its type comes from its bytes, images get a thumbnail."""
    file = files["file"]
    return services.upload_file(current_user, file.read(), file.filename, file.mimetype or None)


@blp.route("/api/chat/upload/signed-url")
@jwt_required()
@ratelimit.per_user("upload")  # the same count as uploads through Armada: a direct upload is an upload
@blp.arguments(SignedUploadArgsSchema, location="query")
@blp.response(200, SignedUploadSchema)
@blp.alt_response(413, description="`size` is over MAX_UPLOAD_BYTES (default 25 MB).")
@blp.alt_response(429, **ratelimit.documented("upload"))
def signed_upload_url(args: dict[str, Any]) -> dict[str, Any]:
    """A URL to upload one file straight to storage; send its `path` as a message's media_url afterwards."""
    upload, signed = services.issue_upload_url(current_user, args["filename"], args["mime_type"], args["size"])
    return {
        "upload_url": signed.url,
        "path": upload.key,
        "method": signed.method,
        "headers": signed.headers,
        "expires_at": signed.expires_at,
    }


@blp.route("/api/media/<token>")
@blp.doc(security=[])
@blp.doc(
    responses={
        "200": {"description": "The file.", "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}
    }
)
@blp.alt_response(403, description="The link was tampered with or has expired.")
def download(token: str) -> Response:
    """Open a signed media link (as found in messages and upload results); no bearer token needed."""
    link = urls.verify(token)
    try:
        found = storage().locate(link.key, link.filename, not link.inline, current_app.config["MEDIA_URL_EXPIRES"])
    except ObjectMissing:
        raise NotFound("This media no longer exists.", code="media_not_found") from None
    return download_response(found, link)


def download_response(found: Download, link: urls.MediaLink) -> Response:
    """A located download as HTTP: the file's bytes, or a redirect to the backend's URL; cached privately only."""
    if isinstance(found, Redirect):
        response = redirect(found.url, code=302)
        response.headers["Cache-Control"] = f"private, max-age={found.max_age}"
        return response
    response = send_file(
        found.path,
        mimetype=link.mime_type,
        as_attachment=not link.inline,
        download_name=link.filename,
        max_age=found.max_age,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    # send_file marks a max_age response public: a shared cache must never keep someone's private media.
    response.cache_control.public = False
    response.cache_control.private = True
    return response


@blp.route("/api/media/upload/<token>", methods=["PUT"])
@blp.doc(security=[])
@blp.doc(responses={"201": {"description": "Stored."}})
@blp.alt_response(403, description="The upload link was tampered with or has expired.")
@blp.alt_response(413, description="Larger than MAX_UPLOAD_BYTES (default 25 MB).")
@upload_size_limit
def direct_upload(token: str) -> tuple[str, int]:
    """The local backend's signed upload URL (Supabase uploads go to Supabase instead)."""
    services.receive_direct_upload(token, request.get_data(cache=False), request.mimetype or None)
    return "", 201
