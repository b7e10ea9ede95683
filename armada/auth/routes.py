"""REST endpoints of auth and users: parse, call one service, serialize."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_jwt_extended import current_user, get_jwt, jwt_required

from armada import ratelimit
from armada.api import ArmadaBlueprint
from armada.auth import directory, registration, services
from armada.auth.schemas import (
    AccessTokenSchema,
    AuthResultSchema,
    LoginSchema,
    RegisterSchema,
    RegistrationModeSchema,
    UserPageSchema,
    UserSchema,
    UserSearchArgsSchema,
)
from armada.auth.tokens import issue_access_token, issue_tokens
from armada.pagination import Page

auth_blp = ArmadaBlueprint("auth", __name__, url_prefix="/api/auth", description="Accounts and tokens.")
users_blp = ArmadaBlueprint("users", __name__, url_prefix="/api/users", description="Users.")

PUBLIC: list[dict[str, list[str]]] = []  # OpenAPI: no bearer token needed


@auth_blp.route("/register", methods=["POST"])
@auth_blp.doc(security=PUBLIC)
@ratelimit.per_address("register")
@auth_blp.arguments(RegisterSchema)
@auth_blp.response(201, AuthResultSchema)
@auth_blp.alt_response(
    403,
    description=(
        "Refused by the server's registration policy: `registration_closed` (REGISTRATION=closed), "
        "`invalid_invite` (REGISTRATION=invite and `invite_code` missing, unknown, expired or used up) or "
        "`email_domain_not_allowed` (the email's domain is not in REGISTRATION_EMAIL_DOMAINS)."
    ),
)
@auth_blp.alt_response(409, description="The email is already registered.")
@auth_blp.alt_response(429, **ratelimit.documented("register"))
def register(data: dict[str, Any]) -> dict[str, Any]:
    """Create an account and log it in."""
    user = registration.sign_up(**data)
    return {"user": user, **issue_tokens(user)}


@auth_blp.route("/registration", methods=["GET"])
@auth_blp.doc(security=PUBLIC)
@auth_blp.response(200, RegistrationModeSchema)
def registration_mode() -> dict[str, str]:
    """How this server takes new accounts, so a client knows whether to ask for an invite code."""
    return {"mode": registration.registration_mode()}


@auth_blp.route("/login", methods=["POST"])
@auth_blp.doc(security=PUBLIC)
@ratelimit.per_address("login")
@auth_blp.arguments(LoginSchema)
@auth_blp.response(200, AuthResultSchema)
@auth_blp.alt_response(401, description="Wrong email or password (the same answer for both).")
@auth_blp.alt_response(429, **ratelimit.documented("login"))
def login(data: dict[str, Any]) -> dict[str, Any]:
    """Log in with email and password."""
    user = services.authenticate(data["email"], data["password"])
    return {"user": user, **issue_tokens(user)}


@auth_blp.route("/refresh", methods=["POST"])
@auth_blp.doc(description="Send the **refresh** token as the bearer token.")
@jwt_required(refresh=True)
@auth_blp.response(200, AccessTokenSchema)
def refresh() -> dict[str, str]:
    """Exchange a refresh token for a new access token."""
    return {"access_token": issue_access_token(current_user, get_jwt()["sid"])}


@auth_blp.route("/logout", methods=["POST"])
@jwt_required()
@auth_blp.response(204)
def logout() -> None:
    """Revoke this login: its access and refresh tokens are refused from now on."""
    services.logout(get_jwt()["sid"])


@users_blp.route("/me")
class Me(MethodView):
    decorators = [jwt_required()]

    @users_blp.response(200, UserSchema)
    def get(self) -> Any:
        """The logged-in user."""
        return current_user


@users_blp.route("")
class Users(MethodView):
    decorators = [jwt_required()]

    @users_blp.arguments(UserSearchArgsSchema, location="query")
    @users_blp.response(200, UserPageSchema)
    def get(self, args: dict[str, Any]) -> Page[Any]:
        """Find users by the start of a word of their display name, or by their whole email; emails are not shown."""
        return directory.search_users(args["q"], args["limit"], args.get("cursor"))
