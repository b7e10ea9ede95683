"""Media fixtures, loaded with `pytest_plugins = ["tests.helpers.media_fixtures"]`: `media` runs a test on each backend.

STORAGE_BACKEND=local (MEDIA_ROOT in a temporary folder) and STORAGE_BACKEND=supabase against
tests/helpers/fake_supabase.py, or against the real service when SUPABASE_URL, SUPABASE_KEY and SUPABASE_BUCKET are set.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from flask import Flask

from armada.extensions import db
from armada.media.storage import storage
from armada.media.urls import thumbnail_key
from armada.models import MediaUpload
from tests.helpers.fake_supabase import serve_fake_supabase
from tests.helpers.media_support import REAL_SUPABASE, SUPABASE_ENV, Backend, Media
from tests.helpers.support import ApiClient


@pytest.fixture(scope="module", params=["local", "supabase"])
def backend(
    request: pytest.FixtureRequest, app: Flask, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    """Each storage backend in turn (the `app` fixture has migrated the database they share)."""
    instance = tmp_path_factory.mktemp("media-instance")
    with ExitStack() as stack:
        fake = None
        if request.param == "local":
            settings = {"STORAGE_BACKEND": "local", "MEDIA_ROOT": str(tmp_path_factory.mktemp("media-root"))}
        elif REAL_SUPABASE:
            settings = {"STORAGE_BACKEND": "supabase", **{name: os.environ[name] for name in SUPABASE_ENV}}
        else:
            fake = stack.enter_context(serve_fake_supabase())
            settings = {
                "STORAGE_BACKEND": "supabase",
                "SUPABASE_URL": fake.url,
                "SUPABASE_KEY": fake.key,
                "SUPABASE_BUCKET": fake.bucket,
            }
        yield Backend(request.param, database_url, instance, settings, fake)


@pytest.fixture(scope="module")
def media_app(backend: Backend) -> Flask:
    """The app with default media settings on this backend."""
    return backend.build()


@pytest.fixture
def media(media_app: Flask, backend: Backend, app: Flask) -> Iterator[Media]:
    """The media app and a fresh API client; removes the test's stored objects afterwards."""
    client = media_app.test_client()
    yield Media(backend.kind, media_app, client, ApiClient(client), backend.fake)
    # The `app` fixture empties the tables after each test; the objects go here, so a real bucket stays clean.
    with media_app.app_context():
        keys = list(db.session.scalars(db.select(MediaUpload.key)))
        if keys:
            storage().delete([k for key in keys for k in (key, thumbnail_key(key))])
        db.session.remove()
