"""Who may use the page, and whose jobs are whose.

- The token: a server that others can reach (any bind address but loopback) requires one, made at start (or given
  with --token / STYLEGRAM_TOKEN). The first visit with `?token=...` sets it as an HttpOnly cookie; a script may send
  `Authorization: Bearer ...` instead. Every route answers 401 without it. Compared in constant time.
- The person: each browser gets a random id in an HttpOnly cookie on its first visit; the jobs it submits are its
  own (queue.WebJob.owner), and only its own are listed, streamed, downloaded, stopped or deleted, unless the
  server shares its gallery (--shared-gallery: everyone sees every job; only the owner changes one).
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode

if TYPE_CHECKING:  # starlette comes with the web extra; the CLI reads this module's names without it
    from starlette.requests import Request
    from starlette.responses import Response

TOKEN_COOKIE = "stylegram_token"
OWNER_COOKIE = "stylegram_person"
TOKEN_ENV = "STYLEGRAM_TOKEN"
OWNER_PATTERN = re.compile(r"^[0-9a-f]{32}$")
COOKIE_MAX_AGE = 365 * 24 * 3600


def is_loopback(host: str) -> bool:
    """True for addresses only this machine reaches (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class Access:
    """The server's rule: the token it requires (None: none) and whether the gallery is shared."""

    token: str | None = None
    shared_gallery: bool = False

    def admits(self, request: Request) -> tuple[bool, bool]:
        """(admitted, by the URL's ?token=: the cookie is still to be set)."""
        if self.token is None:
            return True, False
        given = request.cookies.get(TOKEN_COOKIE, "")
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            given = given or header[7:].strip()
        if given and self.matches(given):
            return True, False
        query = request.query_params.get("token", "")
        return (True, True) if query and self.matches(query) else (False, False)

    def matches(self, given: str) -> bool:
        assert self.token is not None
        return hmac.compare_digest(given.encode(), self.token.encode())

    def may_see(self, owner: str | None, person: str) -> bool:
        return self.shared_gallery or owner == person

    @staticmethod
    def may_change(owner: str | None, person: str) -> bool:
        return owner == person


def person_of(request: Request) -> str:
    """The browser's id, set by the middleware before any route runs."""
    return request.state.person


def middleware(access: Access) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    """The token check and the person's cookie, around every route (page, API, files, static)."""

    from starlette.responses import JSONResponse, RedirectResponse

    async def check(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        admitted, by_url = access.admits(request)
        if not admitted:
            return JSONResponse({"error": "this server needs its token: open the URL it printed at start "
                                          "(http://HOST:PORT/?token=...)", "fields": {}}, status_code=401)
        person = request.cookies.get(OWNER_COOKIE, "")
        new_person = not OWNER_PATTERN.match(person)
        request.state.person = secrets.token_hex(16) if new_person else person
        if by_url and request.method == "GET" and request.url.path == "/":
            # the token leaves the address bar (and the history) once it is a cookie
            rest = urlencode([(k, v) for k, v in parse_qsl(request.url.query) if k != "token"])
            response: Response = RedirectResponse("/" + (f"?{rest}" if rest else ""), status_code=303)
        else:
            response = await call_next(request)
        secure = request.url.scheme == "https"
        if by_url:
            response.set_cookie(TOKEN_COOKIE, access.token or "", max_age=COOKIE_MAX_AGE, httponly=True,
                                samesite="lax", secure=secure)
        if new_person:
            response.set_cookie(OWNER_COOKIE, request.state.person, max_age=COOKIE_MAX_AGE, httponly=True,
                                samesite="lax", secure=secure)
        return response

    return check
