"""Users, tokens and who may do what: roles, areas, guards.

Tokens are 256 random bits shown once at creation; the database keeps only their SHA-256.
The authentication middleware turns the bearer token into a `User` on the request; the
guards below check the role. Area rules live in `server.areas`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from server import areas
from server.errors import ROLES_VI, ApiError, Forbidden, Malformed, Unauthorized
from server.forms import nfc
from server.item import encode, now_iso
from server.protocol import ROLES, FieldError
from server.store import Store
from server.store_schema import User, UserRow

RANK = {"officer": 0, "supervisor": 1, "admin": 2}


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(
    store: Store, name: str, role: str, area: str, *, by: User | None = None
) -> tuple[User, str]:
    """Create a user; returns it with its token, which is never stored or shown again."""
    if role not in RANK:
        raise ValueError(f"role must be one of {', '.join(RANK)}")
    area = "" if role == "admin" and area in ("", "*") else areas.parse(area)
    name = nfc(name.strip())
    token = new_token()
    now = now_iso()
    with store.write() as w:
        uid = w.add_user(name, role, area, token_hash(token), now)
        w.audit(
            now,
            by.id if by else None,
            None,
            "user.add",
            name,
            encode({"id": uid, "role": role, "area": area}).decode(),
        )
    return User(uid, name, role, area), token


def set_disabled(store: Store, user: UserRow, disabled: bool, *, by: User | None = None) -> bool:
    """Disable a user (a lost phone) or enable it again, audited in the same transaction;
    False, with nothing written, when it already was. Every request looks its token up
    (`authenticate`, nothing cached), so a running server refuses or accepts it at once."""
    now = now_iso()
    with store.write() as w:
        changed = w.set_user_disabled(user.id, disabled)
        if changed:
            w.audit(
                now,
                by.id if by else None,
                None,
                "user.disable" if disabled else "user.enable",
                user.name,
                encode({"id": user.id, "role": user.role, "area": user.area}).decode(),
            )
    return changed


def new_token_for(store: Store, user: UserRow, *, by: User | None = None) -> str:
    """A new token for `user` (a leaked setup link), audited in the same transaction: the old
    one is refused from the next request on, and the account stays the same (its id, its
    records, a phone set up again with the new link keeps what it holds)."""
    token = new_token()
    now = now_iso()
    with store.write() as w:
        w.set_user_token(user.id, token_hash(token))
        w.audit(
            now,
            by.id if by else None,
            None,
            "user.new_token",
            user.name,
            encode({"id": user.id, "role": user.role, "area": user.area}).decode(),
        )
    return token


def authenticate(store: Store, header: str | None) -> User:
    scheme, _, token = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():  # the scheme is case-insensitive
        raise Unauthorized("send Authorization: Bearer TOKEN", code="missing_token")
    token = token.strip()
    found = store.user_by_token_hash(token_hash(token))
    # The lookup is by hash; the comparison below keeps the check constant-time as well.
    if found is None or not hmac.compare_digest(found[1], token_hash(token)):
        raise Unauthorized("this token is not valid", code="bad_token")
    if found[2]:  # a real token, not a guess: say why, so the phone asks for a new one
        raise Unauthorized(
            "this account is disabled: ask an admin to enable it or for a new token",
            code="account_disabled",
        )
    return found[0]


class TokenAuth(AbstractAuthenticationMiddleware):
    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        state = connection.app.state
        client = connection.client.host if connection.client else ""
        sent = connection.headers.getall("authorization", [])
        if len(sent) > 1 or any("," in v for v in sent):  # a token has no comma: joined ones
            # not a list header (RFC 9110 5.3): a proxy may take either, so neither is
            raise Malformed(
                "send one Authorization header, not several",
                code="bad_request",
                errors=[FieldError("Authorization", "duplicate", "given more than once")],
            )
        try:
            user = authenticate(state.store, connection.headers.get("authorization"))
        except Unauthorized as exc:
            # A valid token always passes: phones share carrier NAT addresses (and a TLS
            # proxy's), and one phone with a revoked token must not lock out the commune; nor
            # does a disabled user's token count as a failure: it is no guess. Guessing a
            # 256-bit token is hopeless anyway; the limit keeps failures cheap and visible.
            if exc.code == "account_disabled":
                raise
            if state.auth_limiter.blocked(client):
                raise ApiError(
                    "too many failed sign-ins from this address; wait a minute",
                    code="rate_limited",
                    status=429,
                ) from None
            state.auth_limiter.failed(client)
            raise
        return AuthenticationResult(user=user, auth=None)


def _at_least(role: str):  # type: ignore[no-untyped-def]
    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        user: User = connection.user
        if RANK[user.role] < RANK[role]:
            top = role == ROLES[-1]  # nothing is above the admin
            raise Forbidden(
                f"this needs the {role} role{'' if top else ' or above'}; you are {user.role}",
                vi=f"Cần vai trò {ROLES_VI[role]}{'' if top else ' trở lên'};"
                f" bạn là {ROLES_VI[user.role]}",
            )

    guard.__name__ = f"{role}_or_above"
    return guard


officer_or_above = _at_least("officer")
supervisor_or_above = _at_least("supervisor")
admin_only = _at_least("admin")


def check_area(user: User, area: str, *, parameter: str | None = None) -> None:
    """Forbidden unless `area` lies inside the user's; `parameter`: the request's parameter
    that gave it, named (with its value) in the error."""
    if areas.contains(user.area, area):
        return
    if parameter is None:
        raise Forbidden("this is outside your area")
    said = f"{parameter} {area}: outside your area ({user.area or 'all'})"
    raise Forbidden(said, errors=[FieldError(parameter, "forbidden", said)])
