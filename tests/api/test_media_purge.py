"""`flask armada purge-media --older-than DAYS` on every storage backend."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from click.testing import Result

from armada.extensions import db
from armada.media.services import PurgeReport, purge_media
from armada.media.urls import thumbnail_key
from armada.models import MediaUpload, utcnow
from tests.helpers.media_support import Media, jpeg, png
from tests.helpers.support import Actor, assert_error

pytest_plugins = ["tests.helpers.media_fixtures"]  # the backend-parametrized `media` fixture


def purge(media: Media, *args: str) -> Result:
    return media.app.test_cli_runner().invoke(args=["armada", "purge-media", *args])


def purged(media: Media, days: str = "0") -> str:
    """Run the command; it must succeed. Its report line (on standard output: log records go to standard error)."""
    result = purge(media, "--older-than", days)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def report(deleted: int, orphans: int) -> str:
    return f"Removed the media of {deleted} deleted message(s) and {orphans} unused upload(s)."


def image_message(media: Media, sender: Actor, room: dict[str, Any], data: bytes | None = None) -> dict[str, Any]:
    upload = media.uploaded(sender, data or jpeg(), "photo.jpg")
    return media.sent(sender, room, message_type="image", media_url=upload["path"]) | {"path": upload["path"]}


def delete(actor: Actor, message: dict[str, Any]) -> None:
    assert actor.delete(f"/api/chat/messages/{message['id']}").status_code == 200


def assert_gone(media: Media, message: dict[str, Any]) -> None:
    """The message's objects are out of storage and its old links answer 404."""
    assert (media.stored(message["path"]), media.stored(thumbnail_key(message["path"]))) == (None, None)
    for link in (message["media_url"], message["thumbnail_url"]):
        assert_error(media.open(link), 404, "media_not_found")


def upload_rows(media: Media) -> set[str]:
    with media.app.app_context():
        keys = set(db.session.scalars(db.select(MediaUpload.key)))
        db.session.remove()
        return keys


def test_purge_removes_the_objects_of_deleted_messages(media: Media) -> None:
    alice, bob = media.user(), media.user()
    room = alice.make_group(bob)
    message = image_message(media, alice, room)
    assert media.fetch(message["media_url"]).status == 200
    delete(alice, message)
    assert purged(media) == report(1, 0)
    assert_gone(media, message)
    assert upload_rows(media) == set()
    tombstone = media.message_in_room(bob, room, message["id"])
    assert (tombstone["is_deleted"], tombstone["media_url"], tombstone["thumbnail_url"]) == (True, None, None)


def test_purge_keeps_an_object_a_live_forward_still_shows(media: Media) -> None:
    alice, bob, carol = media.user(), media.user(), media.user()
    data = jpeg(500, 500)
    original = image_message(media, alice, alice.make_group(bob), data)
    elsewhere = bob.make_group(carol, name="Elsewhere")
    forward = media.sent(bob, elsewhere, forwarded_from_id=original["id"]) | {"path": original["path"]}
    delete(alice, original)
    assert purged(media) == report(0, 0)
    seen = media.message_in_room(carol, elsewhere, forward["id"])
    assert media.fetch(seen["media_url"]).body == data
    assert media.fetch(seen["thumbnail_url"]).status == 200
    delete(bob, forward)
    assert purged(media) == report(1, 0)
    assert_gone(media, forward)


def test_purge_keeps_an_upload_another_live_message_of_its_owner_uses(media: Media) -> None:
    alice, bob = media.user(), media.user()
    room = alice.make_group(bob)
    upload = media.uploaded(alice, png(), "twice.png")
    first = media.sent(alice, room, message_type="image", media_url=upload["path"])
    second = media.sent(alice, room, message_type="image", media_url=upload["url"])
    delete(alice, first)
    assert purged(media) == report(0, 0)
    assert media.fetch(media.message_in_room(bob, room, second["id"])["media_url"]).status == 200


def test_purge_removes_uploads_never_attached_to_a_message(media: Media) -> None:
    alice, bob = media.user(), media.user()
    room = alice.make_group(bob)
    orphan = media.uploaded(alice, jpeg(), "forgotten.jpg")
    pending = media.client.get(
        "/api/chat/upload/signed-url?filename=never.png&mime_type=image/png&size=10", headers=alice.headers
    ).get_json()
    kept = image_message(media, alice, room)
    assert purged(media) == report(0, 2)
    assert upload_rows(media) == {kept["path"]}
    assert (media.stored(orphan["path"]), media.stored(thumbnail_key(orphan["path"]))) == (None, None)
    assert_error(media.open(orphan["url"]), 404, "media_not_found")
    for reference in (orphan["path"], pending["path"]):
        assert_error(media.send(alice, room, message_type="image", media_url=reference), 422)


def test_purge_leaves_live_messages_media_alone(media: Media) -> None:
    alice, bob = media.user(), media.user()
    room = alice.make_group(bob)
    data = jpeg()
    live = image_message(media, alice, room, data)
    gone = image_message(media, bob, room)
    delete(bob, gone)
    assert purged(media) == report(1, 0)
    seen = media.message_in_room(bob, room, live["id"])
    assert media.fetch(seen["media_url"]).body == data
    assert media.fetch(seen["thumbnail_url"]).status == 200
    assert upload_rows(media) == {live["path"]}


def test_purge_twice_is_harmless(media: Media) -> None:
    alice, bob = media.user(), media.user()
    room = alice.make_group(bob)
    live = image_message(media, alice, room)
    gone = image_message(media, alice, room)
    media.uploaded(alice, png(), "orphan.png")
    delete(alice, gone)
    assert purged(media) == report(1, 1)
    assert purged(media) == report(0, 0)
    assert_gone(media, gone)
    assert media.fetch(live["media_url"]).status == 200


def test_purge_only_touches_what_is_older_than_the_given_days(media: Media) -> None:
    alice, bob = media.user(), media.user()
    room = alice.make_group(bob)
    message = image_message(media, alice, room)
    orphan = media.uploaded(alice, png(), "orphan.png")
    delete(alice, message)
    assert purged(media, "7") == report(0, 0)  # deleted and uploaded just now
    assert media.fetch(message["media_url"]).status == 200
    assert media.fetch(orphan["url"]).status == 200
    with media.app.app_context():
        assert purge_media(timedelta(days=7), now=utcnow() + timedelta(days=6)) == PurgeReport(0, 0)
        assert purge_media(timedelta(days=7), now=utcnow() + timedelta(days=8)) == PurgeReport(1, 1)
        db.session.remove()
    assert_gone(media, message)
    assert_error(media.open(orphan["url"]), 404, "media_not_found")


@pytest.mark.parametrize(
    "args",
    [[], ["--older-than"], ["--older-than", "-1"], ["--older-than", "soon"], ["--older-than", "1.5"]],
    ids=["missing", "no value", "negative", "not a number", "not whole days"],
)
def test_purge_needs_a_whole_number_of_days(media: Media, args: list[str]) -> None:
    upload = media.uploaded(media.user(), png(), "kept.png")
    result = purge(media, *args)
    assert result.exit_code == 2, result.output
    assert "older-than" in result.output
    assert media.fetch(upload["url"]).status == 200  # nothing was purged
