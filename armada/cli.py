"""`flask armada ...`: operator and developer commands."""

from __future__ import annotations

import secrets
from datetime import timedelta

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from marshmallow import ValidationError
from sqlalchemy import select

from armada.api import message_list, validation_messages
from armada.auth.registration import MAX_INVITE_DAYS, MAX_INVITE_USES, create_invite, registration_mode
from armada.auth.schemas import RegisterSchema
from armada.auth.services import register_user
from armada.chat.rooms import create_room
from armada.chat.search_index import set_language
from armada.chat.sending import send_message
from armada.errors import DomainError
from armada.extensions import db
from armada.media.services import purge_media
from armada.models import RoomType, User

# An AppGroup wraps each command in an app context, also when invoked without the `flask` entry point.
armada_cli = AppGroup("armada", help="Armada developer commands.")

DEMO_USERS = [
    ("alice@example.com", "Alice"),
    ("bob@example.com", "Bob"),
    ("carol@example.com", "Carol"),
]


@armada_cli.command("create-user")
@click.option("--email", required=True)
@click.option("--display-name", required=True)
@click.password_option()
def create_user(email: str, display_name: str, password: str) -> None:
    """Create a user account."""
    # The same rules as POST /api/auth/register: the CLI is no back door for a bad email or weak password.
    try:
        data = RegisterSchema().load({"email": email, "password": password, "display_name": display_name})
    except ValidationError as exc:
        problems = "; ".join(
            f"--{name.replace('_', '-')}: {' '.join(message_list(messages))}"
            for name, messages in validation_messages(exc).items()
        )
        raise click.ClickException(problems) from None
    try:
        user = register_user(**data)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Created {user.email} ({user.id})")


@armada_cli.command("demo")
def demo() -> None:
    """Create demo users, a direct room, a group and a few messages; print the logins."""
    password = secrets.token_urlsafe(9)
    users: list[User] = []
    for email, name in DEMO_USERS:
        existing = db.session.scalar(select(User).where(User.email == email))
        if existing is not None:
            raise click.ClickException(f"{email} already exists: the demo data is already loaded.")
        users.append(register_user(email, password, name))
    alice, bob, carol = users
    direct, _ = create_room(alice, RoomType.DIRECT, [bob.id])
    group, _ = create_room(alice, RoomType.GROUP, [bob.id, carol.id], name="Demo team", description="Say hi!")
    first, _ = send_message(alice, direct.id, content="Hi Bob, welcome to Armada!")
    send_message(bob, direct.id, content="Thanks Alice!", reply_to_id=first.id)
    send_message(alice, group.id, content="Hello team 👋")
    send_message(carol, group.id, content="Hi all — the API docs are at /api/docs")
    click.echo("Demo data created. Log in with any of:")
    for user in users:
        click.echo(f"  {user.email}  password: {password}")


@armada_cli.command("invite")
@click.option(
    "--uses",
    type=click.IntRange(1, MAX_INVITE_USES),
    default=1,
    show_default=True,
    help="How many accounts the code may register.",
)
@click.option(
    "--expires-in",
    "days",
    type=click.IntRange(1, MAX_INVITE_DAYS),
    default=7,
    show_default=True,
    metavar="DAYS",
    help="Days until the code stops working.",
)
def invite(uses: int, days: int) -> None:
    """Make a registration invite code (for REGISTRATION=invite); the code is printed alone on the last line."""
    if registration_mode() != "invite":
        click.echo(f"Note: REGISTRATION is {registration_mode()}, so registering does not ask for this code.", err=True)
    code = create_invite(uses, timedelta(days=days))
    click.echo(f"Invite for {uses} registration(s), valid for {days} day(s):")
    click.echo(code)


@armada_cli.command("purge-media")
@click.option("--older-than", "days", type=click.IntRange(min=0), required=True, metavar="DAYS")
def purge_media_command(days: int) -> None:
    """Delete stored media of messages deleted more than DAYS ago, and uploads never used by a message."""
    report = purge_media(timedelta(days=days))
    click.echo(
        f"Removed the media of {report.deleted_message_objects} deleted message(s) "
        f"and {report.orphaned_uploads} unused upload(s)."
    )


@armada_cli.command("search-language")
def search_language_command() -> None:
    """Re-index message search for SEARCH_LANGUAGE (PostgreSQL; the migration used the value of its day)."""
    language = current_app.config["SEARCH_LANGUAGE"]
    if db.engine.dialect.name != "postgresql":
        raise click.ClickException("SQLite's search index is the same for every language: nothing to do.")
    with db.engine.begin() as conn:
        try:
            count = set_language(conn, language)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"Message search now uses {language!r}; re-indexed {count} message(s).")


def init_app(app: Flask) -> None:
    """Register the `flask armada` command group."""
    app.cli.add_command(armada_cli)
