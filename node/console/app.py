"""The management console (5.2.1, issue 15): national's pages for the people who run
the network, served on its HTTPS port under ``/console/``.

**Logging in.** An operator (``ecnet operators add NAME --role ROLE``) logs in with its
name and console password; an administrator also with the TOTP code of its
authenticator app; a code opens one login (the last time-step accepted is kept, and a
code of that step or an earlier one is refused). A one-time password (what ``operators
add`` and ``nation up`` print) must be replaced at the first login. Five wrong
passwords or codes in a row (``ECNET_CONSOLE_MAX_FAILURES``) lock the account for 15 minutes
(``ECNET_CONSOLE_LOCK_MINUTES``). A session is a random id in a cookie (``Secure``,
``HttpOnly``, ``SameSite=Strict``, path ``/console``) that national knows by its digest
(``node.storage.console``), for 30 minutes (``ECNET_CONSOLE_SESSION_MINUTES``) by the
node's clock. Every form carries the session's CSRF token (the login form a token of
its own cookie), checked on every POST. Logins, failures, lock-outs, refusals and
password changes are appended to the node's audit log (``/ecnet.console/…``). The
password hashes (scrypt) are computed on worker threads, so that the node's event loop
goes on serving calls meanwhile, and an unknown name costs a hash too (the answer's
time does not tell which names exist).

**What an operator may see and do** is what ``AdminService`` lets it: each page runs
the service's methods through the node's one call path (``node.doors.calls.Calls``)
as the logged-in operator (``identity=``), so that the role table
(``node.services.access.ADMIN_ROLES``), a province operator's narrowing and the audit
record are the gRPC call's. A page shows a button only when the table allows its
method to the operator's role; a province operator's pages show its province only.
"""

from __future__ import annotations

import asyncio
import datetime
import html
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from google.protobuf.message import Message
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ecnet.v1 import admin_service_pb2 as pb
from node.config import ConfigError
from node.console.charts import horizontal_bars, hourly_bars
from node.console.enrol import ADMIN_DUTY, CONSOLE
from node.console.passwords import (
    MIN_PASSWORD,
    check_password,
    hash_password,
    new_csrf,
    new_session_id,
    open_totp,
    same,
    session_digest,
    totp_step,
)
from node.domain.codes import ERRORS
from node.doors.calls import Calls, DoorContext, DoorRefusal
from node.doors.terminal import peer_of
from node.figures import MAX_DAYS
from node.interceptor import Caller, Gate
from node.pki import Identity
from node.reports import (
    RATE_LIMITED,
    Cell,
    ChannelLine,
    Line,
    Supervised,
    cst_day,
    csv_text,
    daily,
    daily_by_channel,
    hourly,
    matrix,
    refusals,
    supervision,
)
from node.services.access import (
    ADMIN,
    ADMIN_ROLES,
    ADMIN_SERVICE,
    AUDITOR,
    kind_of,
    province_scope,
)
from node.storage.console import (
    OperatorRow,
    q_login_failed,
    q_login_ok,
    q_operator,
    q_password_set,
    q_session,
    q_session_add,
    q_session_end,
    q_totp_claim,
)
from node.storage.db import NodeDatabase
from node.vault import NodeKeys

__all__ = ["ConsoleSettings", "Console", "SESSION_COOKIE", "LOGIN_COOKIE"]

SESSION_COOKIE = "ecnet_console"
LOGIN_COOKIE = "ecnet_console_login"
PATH = "/console"
_CSS = Path(__file__).with_name("static") / "console.css"
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
_STATE = {1: "up", 2: "down", 3: "stopped"}
_DECOY_SALT, _DECOY_HASH = b"ecnet/console/no", b"\0" * 32


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number of minutes or tries") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, not {value}")
    return value


@dataclass(frozen=True)
class ConsoleSettings:
    session_minutes: int = 30
    lock_minutes: int = 15
    max_failures: int = 5

    @classmethod
    def from_env(cls) -> ConsoleSettings:
        return cls(
            _env_int("ECNET_CONSOLE_SESSION_MINUTES", 30),
            _env_int("ECNET_CONSOLE_LOCK_MINUTES", 15),
            _env_int("ECNET_CONSOLE_MAX_FAILURES", 5),
        )


@dataclass(frozen=True)
class Session:
    digest: str
    operator: OperatorRow
    csrf: str
    expires_at: int

    @property
    def identity(self) -> Identity:
        return Identity.operator(self.operator.name, duty=self.operator.duty)

    @property
    def kind(self) -> str:
        return kind_of(self.operator.duty)

    def may(self, method: str) -> bool:
        """Whether the role table lets this operator call ``AdminService/method``."""
        return self.kind in ADMIN_ROLES.get(method, frozenset())

    @property
    def scope(self) -> str:
        return province_scope(Caller(self.identity))


class Refused(Exception):
    """A console request refused: its C.4 code, the sentence shown, the HTTP status."""

    def __init__(self, code: int, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


_FORM_MAX = 16_384


async def _form(request: Request) -> dict[str, str]:
    """The fields of a form posted as ``application/x-www-form-urlencoded`` (the only
    kind the console's pages send); anything else, or more than 16 KiB, is refused."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise Refused(-2, "the console takes forms sent by its pages only", 415)
    body = await request.body()
    if len(body) > _FORM_MAX:
        raise Refused(-2, "the form is too large", 413)
    try:
        return dict(parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=20))
    except (UnicodeDecodeError, ValueError):
        raise Refused(-2, "the form cannot be read", 400) from None


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _when(ms: int) -> str:
    if not ms:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ms / 1000))


def _ts(t: Any) -> str:
    return _when(t.seconds * 1000 + t.nanos // 1_000_000) if t.seconds else "—"


# The Nation page marks a certificate expiring within this many days, and a delivery
# lagging (its oldest pending event older) by more than this many seconds.
EXPIRING_DAYS = 30
LATE_SECONDS = 60


def _ms(t: Any) -> int:
    """A Timestamp in ms since the epoch (0: unset)."""
    return int(t.seconds * 1000 + t.nanos // 1_000_000) if t.seconds else 0


def _age(seconds: int) -> str:
    """A duration as an operator reads it: ``12 s``, ``5 min``, ``3 h``, ``2 d``."""
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 120 * 60:
        return f"{seconds // 60} min"
    if seconds < 48 * 3600:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


@dataclass(frozen=True)
class CertExpiry:
    """A certificate's end of validity as the Nation page shows it, judged at ``now``
    (seconds, the wall clock: as the TLS handshake judges certificates)."""

    not_after_ms: int  # 0: no certificate known (--insecure)
    now: float

    @property
    def days_left(self) -> int:
        return int((self.not_after_ms / 1000 - self.now) // 86400)

    @property
    def state(self) -> str:
        """``none``, ``expired``, ``expiring`` (under EXPIRING_DAYS days) or ``valid``."""
        if not self.not_after_ms:
            return "none"
        if self.not_after_ms / 1000 <= self.now:
            return "expired"
        return "expiring" if self.days_left < EXPIRING_DAYS else "valid"

    def words(self) -> str:
        left = self.days_left
        if self.state == "expired":
            return f"EXPIRED {-left - 1} day(s) ago" if left < -1 else "EXPIRED"
        return f"{left} day{'' if left == 1 else 's'} left"

    def html(self) -> str:
        if self.state == "none":
            return '<span class="cert none">—</span>'
        date = time.strftime("%Y-%m-%d", time.gmtime(self.not_after_ms / 1000))
        return (
            f'<span class="cert {self.state}" title="not after {esc(_when(self.not_after_ms))}">'
            f"{date} ({esc(self.words())})</span>"
        )


def _lag(oldest_ms: int, now_ms: int) -> tuple[int, str]:
    """The age in seconds of a province's oldest pending event (-1: none) and its cell,
    marked late over LATE_SECONDS."""
    if not oldest_ms:
        return -1, '<span class="lag none">—</span>'
    age = max(0, (now_ms - oldest_ms) // 1000)
    kind = "late" if age > LATE_SECONDS else "ok"
    since = esc(_when(oldest_ms))
    return age, f'<span class="lag {kind}" title="oldest pending since {since}">{_age(age)}</span>'


def _table(headers: Iterable[str], rows: Iterable[Iterable[str]], empty: str) -> str:
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    if not body:
        return f'<p class="empty">{esc(empty)}</p>'
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _seen(ms: int, now_ms: int) -> str:
    """A last call: how long ago, and when."""
    if not ms:
        return '<span class="empty">never</span>'
    ago = max(0, now_ms - ms) // 1000
    if ago < 120:
        said = f"{ago} s ago"
    elif ago < 7200:
        said = f"{ago // 60} min ago"
    elif ago < 172_800:
        said = f"{ago // 3600} h ago"
    else:
        said = f"{ago // 86_400} days ago"
    return f'<span title="{esc(_when(ms))}">{esc(said)}</span>'


def _rate(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "—"


@dataclass(frozen=True)
class _Watched:
    """The channels' supervision figures of the Channels page."""

    today: dict[str, Supervised]
    week: dict[str, Supervised]
    seen: dict[str, int]
    missing: list[str]
    now_ms: int

    headers = ("calls today", "refused today", "rate-limited today", "7 days", "last call")

    def cells(self, channel: str) -> list[str]:
        t = self.today.get(channel, Supervised())
        w = self.week.get(channel, Supervised())
        alarm = ' class="alarm"' if t.calls and t.refused / t.calls >= 0.2 else ""
        return [
            f'<span id="calls-{esc(channel)}">{t.calls}</span>',
            f'<span id="refused-{esc(channel)}"{alarm}>{t.refused} ({_rate(t.refused, t.calls)})'
            "</span>",
            f'<span id="limited-{esc(channel)}">{t.rate_limited}</span>',
            f"{w.calls} calls, {_rate(w.refused, w.calls)} refused, {w.rate_limited} limited",
            _seen(self.seen.get(channel, 0), self.now_ms),
        ]

    @property
    def note(self) -> str:
        said = (
            '<p class="empty">Calls counted at every node (national and each province), '
            "today and over the last 7 days, China Standard Time; refused: answered with any "
            "C.4 code but 0; rate-limited: refused by a rate limit (-6, 500084).</p>"
        )
        if self.missing:
            said += (
                '<p class="error" role="alert">Not counted: province '
                + ", ".join(esc(p) for p in self.missing)
                + " did not answer.</p>"
            )
        return said


class Console:
    """The console's pages over national's database (``db``), its key (``keys``: seals
    the TOTP secrets), its gate's audit log (``gate``) and calls (``calls``), by the
    node's clock (``now_ms``)."""

    def __init__(
        self,
        db: NodeDatabase,
        keys: Callable[[], NodeKeys],
        gate: Gate,
        calls: Calls,
        now_ms: Callable[[], int],
        settings: ConsoleSettings | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.keys = keys
        self.gate = gate
        self.calls = calls
        self.now_ms = now_ms
        self.settings = settings or ConsoleSettings.from_env()
        self.wall = wall  # TOTP codes follow the wall clock, as the operator's phone does

    # -- the application -----------------------------------------------------------------
    def app(self) -> Starlette:
        def page(
            handler: Callable[[Request, Session], Awaitable[Response]],
        ) -> Callable[[Request], Awaitable[Response]]:
            async def run(request: Request) -> Response:
                return await self._page(request, handler)

            return run

        return Starlette(
            routes=[
                Route("/", page(self.nation_page), methods=["GET"]),
                Route("/login", self.login_form, methods=["GET"]),
                Route("/login", self.login, methods=["POST"]),
                Route("/logout", page(self.logout), methods=["POST"]),
                Route("/password", page(self.password_form), methods=["GET"]),
                Route("/password", page(self.password_change), methods=["POST"]),
                Route("/nation/retry", page(self.retry_parked), methods=["POST"]),
                Route("/channels", page(self.channels_page), methods=["GET"]),
                Route("/channels/approve", page(self.approve), methods=["POST"]),
                Route("/channels/reject", page(self.reject), methods=["POST"]),
                Route("/channels/status", page(self.channel_status), methods=["POST"]),
                Route("/terminals", page(self.terminals_page), methods=["GET"]),
                Route("/terminals/register", page(self.register_terminal), methods=["POST"]),
                Route("/terminals/revoke", page(self.revoke_terminal), methods=["POST"]),
                Route("/flows", page(self.flows_page), methods=["GET"]),
                Route("/reports", page(self.reports_page), methods=["GET"]),
                Route("/reports.csv", page(self.reports_csv), methods=["GET"]),
                Route("/audit", page(self.audit_page), methods=["GET"]),
                Route("/persons", page(self.persons_page), methods=["GET"]),
                Route("/persons/reveal", page(self.reveal_persons), methods=["POST"]),
                Route("/console.css", self.css, methods=["GET"]),
            ]
        )

    async def css(self, request: Request) -> Response:
        return FileResponse(_CSS, media_type="text/css", headers={"Cache-Control": "no-cache"})

    # -- sessions ------------------------------------------------------------------------
    async def _session(self, request: Request) -> Session | None:
        sid = request.cookies.get(SESSION_COOKIE, "")
        if not sid or len(sid) > 100:
            return None
        digest = session_digest(sid)
        row = await self.db.read(q_session, digest)
        if row is None:
            return None
        if row.expires_at <= self.now_ms():
            await self.db.write(q_session_end, digest)
            await self._audit(request, row.name, "SessionExpired", "refused", -4, [])
            return None
        operator = await self.db.read(q_operator, row.name)
        if operator is None:
            return None
        return Session(digest, operator, row.csrf, row.expires_at)

    async def _page(
        self, request: Request, handler: Callable[[Request, Session], Awaitable[Response]]
    ) -> Response:
        session = await self._session(request)
        if session is None:
            if request.method == "POST":
                await self._audit(request, "", "NoSession", "refused", -4, [request.url.path])
                return self._refusal(
                    None, Refused(-4, "no session, or it has ended: log in again", 401)
                )
            return RedirectResponse(f"{PATH}/login", 303)
        try:
            if request.method == "POST":
                form = await _form(request)
                token = str(form.get("csrf", ""))
                if not token or not same(token, session.csrf):
                    await self._audit(
                        request,
                        session.identity.uri,
                        "CsrfRefused",
                        "refused",
                        -4,
                        [request.url.path],
                    )
                    raise Refused(
                        -4,
                        "this form does not carry your session's token (CSRF): it was not "
                        "sent by a page of this console; nothing was done",
                    )
            if session.operator.must_change and request.url.path not in (
                f"{PATH}/password",
                f"{PATH}/logout",
            ):
                return RedirectResponse(f"{PATH}/password", 303)
            return await handler(request, session)
        except Refused as refused:
            return self._refusal(session, refused)
        except DoorRefusal as door:
            err = door.error
            status = 403 if err.code == -4 else 400
            return self._refusal(session, Refused(err.code, err.message, status))

    async def _audit(
        self,
        request: Request,
        who: str,
        what: str,
        outcome: str,
        code: int,
        notes: list[str],
    ) -> None:
        await self.gate.record(
            CONSOLE + what, who or "anonymous", peer_of(request), None, outcome, code, notes
        )

    async def call(self, request: Request, session: Session, method: str, msg: Message) -> Any:
        """``AdminService/method`` as the session's operator, through the node's call path."""
        return await self.calls.run(
            ADMIN_SERVICE + method,
            msg,
            DoorContext([], peer_of(request)),
            identity=session.identity,
        )

    # -- rendering -----------------------------------------------------------------------
    def _html(
        self,
        title: str,
        body: str,
        session: Session | None,
        status: int = 200,
        cookies: Callable[[Response], None] | None = None,
    ) -> Response:
        nav = ""
        if session is not None:
            links = [
                ("Nation", f"{PATH}/"),
                ("Flows", f"{PATH}/flows"),
                ("Channels", f"{PATH}/channels"),
                ("Terminals", f"{PATH}/terminals"),
                ("Reports", f"{PATH}/reports"),
                ("Persons", f"{PATH}/persons"),
            ]
            if session.may("ListAudit"):
                links.append(("Audit", f"{PATH}/audit"))
            who = f"{esc(session.operator.name)} ({esc(session.operator.duty)})"
            nav = (
                '<nav><span class="brand">ecnet management center</span>'
                + "".join(f'<a href="{h}">{esc(t)}</a>' for t, h in links)
                + f'<span class="who">{who}</span>'
                + f'<form method="post" action="{PATH}/logout" class="inline">'
                + self._csrf(session)
                + '<button type="submit">Log out</button></form></nav>'
            )
        text = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{esc(title)} · ecnet console</title>"
            f'<link rel="stylesheet" href="{PATH}/console.css"></head><body>'
            f"{nav}<main><h1>{esc(title)}</h1>{body}</main></body></html>"
        )
        response = HTMLResponse(text, status, headers=_HEADERS)
        if cookies is not None:
            cookies(response)
        return response

    def _refusal(self, session: Session | None, refused: Refused) -> Response:
        body = (
            f'<p class="error" role="alert"><strong>Refused ({refused.code})</strong>: '
            f"{esc(refused.message)}</p>"
        )
        if session is None:
            body += f'<p><a href="{PATH}/login">Log in</a></p>'
        else:
            body += f'<p><a href="{PATH}/">Back to the console</a></p>'
        return self._html("Refused", body, session, refused.status)

    @staticmethod
    def _csrf(session: Session) -> str:
        return f'<input type="hidden" name="csrf" value="{esc(session.csrf)}">'

    @staticmethod
    def _notice(request: Request) -> str:
        said = request.query_params.get("said", "")
        return f'<p class="notice" role="status">{esc(said[:300])}</p>' if said else ""

    def _set_cookie(self, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=PATH,
            secure=True,
            httponly=True,
            samesite="strict",
        )

    # -- login ---------------------------------------------------------------------------
    def _login_page(self, message: str = "", status: int = 200) -> Response:
        token = new_csrf()
        error = f'<p class="error" role="alert">{esc(message)}</p>' if message else ""
        body = (
            f'{error}<form method="post" action="{PATH}/login" class="login">'
            f'<input type="hidden" name="csrf" value="{esc(token)}">'
            '<label>Name <input name="name" autocomplete="username" required></label>'
            '<label>Password <input name="password" type="password" '
            'autocomplete="current-password" required></label>'
            "<label>Code (administrators: the authenticator app's 6 digits) "
            '<input name="totp" inputmode="numeric" autocomplete="one-time-code"></label>'
            '<button type="submit">Log in</button></form>'
        )
        return self._html(
            "Log in",
            body,
            None,
            status,
            lambda r: self._set_cookie(r, LOGIN_COOKIE, token, 3600),
        )

    async def login_form(self, request: Request) -> Response:
        return self._login_page()

    async def login(self, request: Request) -> Response:
        try:
            form = await _form(request)
        except Refused as refused:
            return self._login_page(f"Refused ({refused.code}): {refused.message}", refused.status)
        token = str(form.get("csrf", ""))
        cookie = request.cookies.get(LOGIN_COOKIE, "")
        name = str(form.get("name", "")).strip()[:64]
        if not token or not cookie or not same(token, cookie):
            await self._audit(request, name, "LoginCsrfRefused", "refused", -4, [])
            return self._login_page(
                "Refused (-4): this login form was not sent by this console's login page "
                "(CSRF); log in from the page below",
                403,
            )
        password = str(form.get("password", ""))
        code = str(form.get("totp", ""))
        now = self.now_ms()
        operator = await self.db.read(q_operator, name) if name else None
        wrong = "Refused (-4): wrong name, password or code"
        if operator is None:
            # as long as a wrong password takes: the answer's time does not tell names
            await asyncio.to_thread(check_password, password, _DECOY_SALT, _DECOY_HASH)
            await self._audit(request, name, "LoginFailed", "refused", -4, ["no such operator"])
            return self._login_page(wrong, 401)
        who = Identity.operator(operator.name, duty=operator.duty).uri
        if operator.locked_until > now:
            await self._audit(request, who, "LoginLocked", "refused", -4, [])
            return self._login_page(
                f"Refused (-4): the account {name} is locked after "
                f"{self.settings.max_failures} wrong passwords until "
                f"{_when(operator.locked_until)}",
                403,
            )
        good = await asyncio.to_thread(check_password, password, operator.pw_salt, operator.pw_hash)
        step: int | None = None
        if good and operator.duty == ADMIN_DUTY:
            secret = (
                open_totp(self.keys(), operator.name, operator.totp_sealed)
                if operator.totp_sealed
                else ""
            )
            step = totp_step(secret, code, self.wall()) if secret else None
            good = step is not None

        async def refuse(note: str, message: str) -> Response:
            until = now + self.settings.lock_minutes * 60_000
            failures, locked = await self.db.write(
                q_login_failed, operator.name, self.settings.max_failures, until
            )
            if locked:
                await self._audit(
                    request, who, "Lockout", "locked", -4, [note, f"locked until {_when(until)}"]
                )
                return self._login_page(
                    f"Refused (-4): {self.settings.max_failures} wrong passwords: the account "
                    f"{name} is locked until {_when(until)}",
                    403,
                )
            notes = [note, f"failure {failures}"] if note else [f"failure {failures}"]
            await self._audit(request, who, "LoginFailed", "refused", -4, notes)
            return self._login_page(message, 401)

        if not good:
            return await refuse("", wrong)
        sid, csrf = new_session_id(), new_csrf()
        expires = now + self.settings.session_minutes * 60_000

        def start(conn: Any) -> bool:
            # a TOTP code is accepted once: its step must be after the last one accepted
            if step is not None and not q_totp_claim(conn, operator.name, step):
                return False
            q_login_ok(conn, operator.name)
            q_session_add(conn, session_digest(sid), operator.name, csrf, now, expires)
            return True

        if not await self.db.write(start):
            return await refuse(
                "TOTP code used already",
                "Refused (-4): this code was used already (a code opens one login): "
                "wait for your authenticator's next code",
            )
        await self._audit(request, who, "Login", "OK", 0, [])
        target = f"{PATH}/password" if operator.must_change else f"{PATH}/"
        response = RedirectResponse(target, 303)
        self._set_cookie(response, SESSION_COOKIE, sid, self.settings.session_minutes * 60)
        response.delete_cookie(
            LOGIN_COOKIE, path=PATH, secure=True, httponly=True, samesite="strict"
        )
        return response

    async def logout(self, request: Request, session: Session) -> Response:
        await self.db.write(q_session_end, session.digest)
        await self._audit(request, session.identity.uri, "Logout", "OK", 0, [])
        response = RedirectResponse(f"{PATH}/login", 303)
        response.delete_cookie(
            SESSION_COOKIE, path=PATH, secure=True, httponly=True, samesite="strict"
        )
        return response

    async def password_form(self, request: Request, session: Session, error: str = "") -> Response:
        first = (
            '<p class="notice">Your password is a one-time password: choose your own to go on.</p>'
            if session.operator.must_change
            else ""
        )
        failed = f'<p class="error" role="alert">{esc(error)}</p>' if error else ""
        body = (
            f'{first}{failed}<form method="post" action="{PATH}/password" class="login">'
            + self._csrf(session)
            + '<label>Current password <input name="current" type="password" '
            'autocomplete="current-password" required></label>'
            f'<label>New password (at least {MIN_PASSWORD} characters) <input name="new" '
            'type="password" autocomplete="new-password" required></label>'
            '<label>New password again <input name="again" type="password" '
            'autocomplete="new-password" required></label>'
            '<button type="submit">Set password</button></form>'
        )
        return self._html("Password", body, session, 400 if error else 200)

    async def password_change(self, request: Request, session: Session) -> Response:
        form = await _form(request)
        current, new = str(form.get("current", "")), str(form.get("new", ""))
        op = session.operator
        if not await asyncio.to_thread(check_password, current, op.pw_salt, op.pw_hash):
            await self._audit(
                request, session.identity.uri, "PasswordChange", "refused", -4, ["wrong current"]
            )
            return await self.password_form(
                request, session, "Refused (-4): wrong current password"
            )
        why = ""
        if len(new) < MIN_PASSWORD:
            why = f"the new password must be at least {MIN_PASSWORD} characters"
        elif new != str(form.get("again", "")):
            why = "the two new passwords differ"
        elif new == current:
            why = "the new password must differ from the current one"
        if why:
            await self._audit(request, session.identity.uri, "PasswordChange", "refused", -2, [why])
            return await self.password_form(request, session, f"Refused (-2): {why}")
        salt, digest = await asyncio.to_thread(hash_password, new)
        await self.db.write(q_password_set, op.name, salt, digest, self.now_ms(), session.digest)
        await self._audit(request, session.identity.uri, "PasswordChange", "OK", 0, [])
        return RedirectResponse(f"{PATH}/?said={quote('password changed')}", 303)

    # -- nation ----------------------------------------------------------------------------
    async def nation_page(self, request: Request, session: Session) -> Response:
        """Every province national knows: link, version, address, heartbeat, when its
        certificate expires, its delivery backlog and lag (the age of its oldest event
        pending), its parked events (with Retry); national's own facts; and, first, what
        needs attention this morning (a certificate expiring within EXPIRING_DAYS days or
        expired, a delivery lagging more than LATE_SECONDS)."""
        info = await self.call(request, session, "GetNodeInfo", pb.GetNodeInfoRequest())
        listed = await self.call(request, session, "ListNodes", pb.ListNodesRequest())
        scope = session.scope
        nodes = [n for n in listed.nodes if not scope or n.province == scope]
        retry = session.may("RetryParked")
        wall, now_ms = self.wall(), self.now_ms()
        rows, attention = [], []
        for n in nodes:
            state = _STATE.get(n.state, "unknown")
            action = ""
            if retry and n.parkedEvents:
                action = (
                    f'<form method="post" action="{PATH}/nation/retry" class="inline">'
                    + self._csrf(session)
                    + f'<input type="hidden" name="destination" value="{esc(n.province)}">'
                    + f'<button type="submit" id="retry-{esc(n.province)}">Retry</button></form>'
                )
            cert = CertExpiry(_ms(n.certNotAfter), wall)
            age, lag = _lag(_ms(n.oldestPendingAt) if n.pendingEvents else 0, now_ms)
            if cert.state in ("expired", "expiring"):
                attention.append(f"p{esc(n.province)}: certificate {esc(cert.words())}")
            if age > LATE_SECONDS:
                attention.append(
                    f"p{esc(n.province)}: {n.pendingEvents} event(s) waiting, the oldest "
                    f"for {_age(age)}"
                )
            rows.append(
                [
                    f"p{esc(n.province)}",
                    esc(n.provinceName),
                    f'<span class="state {state}">{state}</span>',
                    esc(n.version),
                    esc(n.address),
                    _ts(n.lastHeartbeatAt),
                    cert.html(),
                    f'<span class="backlog">{n.pendingEvents}</span>',
                    lag,
                    str(n.parkedEvents) + " " + action,
                ]
            )
        counts = ", ".join(f"{esc(k)} {v:,}" for k, v in sorted(info.counts.items()))
        own = CertExpiry(_ms(info.certNotAfter), wall)
        if own.state in ("expired", "expiring"):
            attention.insert(0, f"national: certificate {esc(own.words())}")
        national = (
            '<section><h2>National</h2><dl class="facts">'
            f"<dt>version</dt><dd>{esc(info.version)}</dd>"
            f"<dt>gRPC</dt><dd>{esc(info.address)} ({esc(info.transport)})</dd>"
            f"<dt>HTTPS</dt><dd>{esc(request.url.netloc)}</dd>"
            f'<dt>certificate</dt><dd id="national-cert">{own.html()}</dd>'
            f"<dt>started</dt><dd>{_ts(info.startedAt)}</dd>"
            f"<dt>records</dt><dd>{counts}</dd></dl></section>"
        )
        if scope:
            national = ""
            attention = [a for a in attention if not a.startswith("national:")]
        table = _table(
            (
                "node",
                "province",
                "link",
                "version",
                "address",
                "last heartbeat",
                "certificate expires",
                "backlog (events)",
                "lag",
                "parked",
            ),
            rows,
            "no provincial node has registered" + (f" for province {scope}" if scope else ""),
        )
        where = f" (province {esc(scope)} only)" if scope else ""
        alert = (
            '<section id="attention" class="error" role="alert"><strong>Needs attention'
            "</strong><ul>" + "".join(f"<li>{a}</li>" for a in attention) + "</ul></section>"
            if attention
            else ""
        )
        body = (
            self._notice(request)
            + alert
            + national
            + f'<section><h2>Provincial nodes{where}</h2><div id="nodes">{table}</div></section>'
        )
        return self._html("Nation", body, session)

    async def retry_parked(self, request: Request, session: Session) -> Response:
        form = await _form(request)
        destination = str(form.get("destination", ""))
        answer = await self.call(
            request, session, "RetryParked", pb.RetryParkedRequest(destination=destination)
        )
        said = f"p{destination}: {len(answer.events)} parked event(s) queued again"
        return RedirectResponse(f"{PATH}/?said={quote(said)}", 303)

    # -- channels --------------------------------------------------------------------------
    async def channels_page(self, request: Request, session: Session) -> Response:
        apps = await self.call(
            request, session, "ListChannelApplications", pb.ListChannelApplicationsRequest()
        )
        channels = await self.call(request, session, "ListChannels", pb.ListChannelsRequest())
        scope = session.scope
        approve, reject = (
            session.may("ApproveChannelApplication"),
            session.may("RejectChannelApplication"),
        )
        waiting, decided = [], []
        for a in apps.applications:
            if scope and a.province != scope:
                continue
            base = [
                esc(a.applicationId),
                f"p{esc(a.province)}",
                esc(a.name),
                esc(", ".join(a.scopes)),
                _ts(a.appliedAt),
            ]
            if a.status == "pending":
                forms = ""
                if approve:
                    forms += (
                        f'<form method="post" action="{PATH}/channels/approve" class="inline">'
                        + self._csrf(session)
                        + f'<input type="hidden" name="application" value="{esc(a.applicationId)}">'
                        + '<input name="appId" placeholder="appId" required '
                        + f'aria-label="appId for {esc(a.applicationId)}">'
                        + '<button type="submit">Approve</button></form>'
                    )
                if reject:
                    forms += (
                        f'<form method="post" action="{PATH}/channels/reject" class="inline">'
                        + self._csrf(session)
                        + f'<input type="hidden" name="application" value="{esc(a.applicationId)}">'
                        + '<input name="reason" placeholder="reason" required '
                        + f'aria-label="reason for {esc(a.applicationId)}">'
                        + '<button type="submit">Reject</button></form>'
                    )
                waiting.append([*base, forms])
            else:
                decided.append([*base, esc(a.status), esc(a.appId), esc(a.reason)])
        may_status = session.may("SetChannelStatus")
        watched = await self._supervision(
            request, session, [c.channelId for c in channels.channels]
        )
        rows = []
        for c in channels.channels:
            action = ""
            if may_status:
                to = "suspended" if c.status == "approved" else "approved"
                label = "Suspend" if to == "suspended" else "Resume"
                action = (
                    f'<form method="post" action="{PATH}/channels/status" class="inline">'
                    + self._csrf(session)
                    + f'<input type="hidden" name="channel" value="{esc(c.channelId)}">'
                    + f'<input type="hidden" name="status" value="{to}">'
                    + '<input name="reason" placeholder="reason" required '
                    + f'aria-label="reason for {esc(c.channelId)}">'
                    + f'<button type="submit" id="{label.lower()}-{esc(c.channelId)}">'
                    + f"{label}</button></form>"
                )
            rows.append(
                [
                    esc(c.channelId),
                    esc(c.name),
                    f'<span class="status {esc(c.status)}">{esc(c.status)}</span>',
                    esc(c.statusReason),
                    _ts(c.statusChangedAt),
                    str(c.keyVersion),
                    *watched.cells(c.channelId),
                    action,
                ]
            )
        body = (
            self._notice(request)
            + '<section><h2>Applications waiting</h2><div id="waiting">'
            + _table(
                ("application", "province", "name", "scopes", "applied", ""),
                waiting,
                "no application is waiting",
            )
            + '</div></section><section><h2>Channels</h2><div id="channels">'
            + _table(
                (
                    "channel",
                    "name",
                    "status",
                    "reason",
                    "since",
                    "key version",
                    *watched.headers,
                    "",
                ),
                rows,
                "no channel",
            )
            + watched.note
            + "</div></section><section><h2>Applications decided</h2>"
            + _table(
                (
                    "application",
                    "province",
                    "name",
                    "scopes",
                    "applied",
                    "decision",
                    "appId",
                    "reason",
                ),
                decided,
                "none yet",
            )
            + "</section>"
        )
        return self._html("Channels", body, session)

    async def approve(self, request: Request, session: Session) -> Response:
        form = await _form(request)
        answer = await self.call(
            request,
            session,
            "ApproveChannelApplication",
            pb.ApproveChannelApplicationRequest(
                applicationId=str(form.get("application", "")),
                appId=str(form.get("appId", "")).strip(),
            ),
        )
        body = (
            f'<p class="notice" role="status">application {esc(answer.application.applicationId)} '
            f"approved: channel <strong>{esc(answer.channel.channelId)}</strong>.</p>"
            "<p>Give the channel its SM4 key now (it is shown once, here):</p>"
            f'<pre id="sm4">{esc(answer.sm4Key)}</pre>'
            f'<p><a href="{PATH}/channels">Back to the channels</a></p>'
        )
        return self._html("Channel approved", body, session)

    async def reject(self, request: Request, session: Session) -> Response:
        form = await _form(request)
        answer = await self.call(
            request,
            session,
            "RejectChannelApplication",
            pb.RejectChannelApplicationRequest(
                applicationId=str(form.get("application", "")),
                reason=str(form.get("reason", "")).strip(),
            ),
        )
        said = f"application {answer.application.applicationId} rejected"
        return RedirectResponse(f"{PATH}/channels?said={quote(said)}", 303)

    async def channel_status(self, request: Request, session: Session) -> Response:
        form = await _form(request)
        answer = await self.call(
            request,
            session,
            "SetChannelStatus",
            pb.SetChannelStatusRequest(
                channelId=str(form.get("channel", "")),
                status=str(form.get("status", "")),
                reason=str(form.get("reason", "")).strip(),
            ),
        )
        said = f"channel {answer.channel.channelId} is {answer.channel.status}"
        return RedirectResponse(f"{PATH}/channels?said={quote(said)}", 303)

    # -- supervision (5.2.1 渠道监管) -----------------------------------------------------
    _WATCH_DAYS = 7

    async def _supervision(
        self, request: Request, session: Session, channels: list[str]
    ) -> _Watched:
        """Each channel's calls today and over the last week (every node's, gathered by
        GetFigures), refused and rate-limited, and its last call."""
        today = cst_day(self.now_ms())
        week = (
            datetime.date.fromisoformat(today) - datetime.timedelta(days=self._WATCH_DAYS - 1)
        ).isoformat()
        got = await self.call(
            request,
            session,
            "GetFigures",
            pb.GetFiguresRequest(fromDate=week, toDate=today, lastSeenOf=channels[:200]),
        )
        todays = [r for r in got.rows if cst_day(r.hour.ToMilliseconds()) == today]
        return _Watched(
            supervision(todays),
            supervision(got.rows),
            {s.caller: s.lastAt.ToMilliseconds() for s in got.lastSeen},
            [m.province for m in got.missing],
            self.now_ms(),
        )

    async def _last_seen(
        self, request: Request, session: Session, callers: list[str]
    ) -> dict[str, int]:
        """When each of ``callers`` (terminals, channels) last called any node."""
        if not callers:
            return {}
        today = cst_day(self.now_ms())
        got = await self.call(
            request,
            session,
            "GetFigures",
            pb.GetFiguresRequest(fromDate=today, toDate=today, lastSeenOf=callers[:200]),
        )
        return {s.caller: s.lastAt.ToMilliseconds() for s in got.lastSeen}

    # -- terminals -------------------------------------------------------------------------
    _TERMINAL_FIELDS = (
        ("province", "province (NN)"),
        ("orgId", "orgId of the institution"),
        ("orgName", "institution (终端的使用单位)"),
        ("name", "terminal's name"),
        ("purpose", "purpose (终端的用途)"),
        ("version", "software version X.Y"),
        ("developer", "developer (开发单位)"),
        ("mac", "MAC, e.g. f8:34:41:bd:e1:88"),
    )

    async def terminals_page(self, request: Request, session: Session) -> Response:
        asked = request.query_params.get("province", "")[:2]
        after = request.query_params.get("after", "")[:24]
        listed = await self.call(
            request,
            session,
            "ListTerminals",
            pb.ListTerminalsRequest(province=session.scope or asked, pageSize=100, pageToken=after),
        )
        revoke = session.may("RevokeTerminal")
        seen = await self._last_seen(request, session, [t.terminalId for t in listed.terminals])
        rows = []
        for t in listed.terminals:
            revoked = bool(t.revokedAt.seconds)
            action = ""
            if revoke and not revoked:
                action = (
                    f'<form method="post" action="{PATH}/terminals/revoke" class="inline">'
                    + self._csrf(session)
                    + f'<input type="hidden" name="terminal" value="{esc(t.terminalId)}">'
                    + '<input name="reason" placeholder="reason" '
                    + f'aria-label="reason for {esc(t.terminalId)}">'
                    + f'<button type="submit" id="revoke-{esc(t.terminalId)}">Revoke</button>'
                    + "</form>"
                )
            state = (
                f'<span class="status suspended">revoked {_ts(t.revokedAt)}</span> '
                + esc(t.revokeReason)
                if revoked
                else '<span class="status approved">registered</span>'
            )
            rows.append(
                [
                    esc(t.terminalId),
                    f"p{esc(t.province)}",
                    f"{esc(t.orgId)}<br>{esc(t.orgName)}",
                    esc(t.name),
                    esc(t.purpose),
                    esc(t.version),
                    esc(t.mac),
                    esc(t.registeredOn),
                    _seen(seen.get(t.terminalId, 0), self.now_ms()),
                    state,
                    action,
                ]
            )
        more = ""
        if listed.nextPageToken:
            query = f"province={quote(asked)}&" if asked else ""
            more = (
                f'<p><a href="{PATH}/terminals?{query}after={quote(listed.nextPageToken)}">'
                "Next 100</a></p>"
            )
        register = ""
        if session.may("RegisterTerminal"):
            fields = "".join(
                f'<label>{esc(label)} <input name="{name}" required'
                + (
                    f' value="{esc(session.scope)}" readonly'
                    if name == "province" and session.scope
                    else ""
                )
                + "></label>"
                for name, label in self._TERMINAL_FIELDS
            )
            register = (
                "<section><h2>Register a terminal</h2>"
                f'<form method="post" action="{PATH}/terminals/register" class="grid">'
                + self._csrf(session)
                + fields
                + '<button type="submit">Register</button></form>'
                '<p class="empty">Its certificate is issued from the nation\'s CA: a request '
                "made at the terminal (<code>ecnet ca request --role terminal</code>) signed with "
                "<code>ecnet ca sign</code>, or <code>ecnet terminals register</code> at the "
                "command line, which does both.</p></section>"
            )
        where = f" of province {esc(session.scope or asked)}" if (session.scope or asked) else ""
        body = (
            self._notice(request)
            + register
            + f'<section><h2>Registry{where}</h2><div id="terminals">'
            + _table(
                (
                    "terminal",
                    "province",
                    "institution",
                    "name",
                    "purpose",
                    "version",
                    "MAC",
                    "registered",
                    "last call",
                    "state",
                    "",
                ),
                rows,
                "no terminal registered",
            )
            + f"</div>{more}</section>"
        )
        return self._html("Terminals", body, session)

    async def register_terminal(self, request: Request, session: Session) -> Response:
        form = await _form(request)
        fields = {name: str(form.get(name, "")).strip() for name, _ in self._TERMINAL_FIELDS}
        answer = await self.call(
            request, session, "RegisterTerminal", pb.RegisterTerminalRequest(**fields)
        )
        t = answer.terminal
        said = f"terminal {t.terminalId} registered for {t.orgId} in province {t.province}"
        return RedirectResponse(f"{PATH}/terminals?said={quote(said)}", 303)

    async def revoke_terminal(self, request: Request, session: Session) -> Response:
        form = await _form(request)
        answer = await self.call(
            request,
            session,
            "RevokeTerminal",
            pb.RevokeTerminalRequest(
                terminalId=str(form.get("terminal", "")), reason=str(form.get("reason", ""))
            ),
        )
        t = answer.terminal
        said = f"terminal {t.terminalId} " + (
            "was revoked already" if answer.alreadyRevoked else "revoked"
        )
        return RedirectResponse(f"{PATH}/terminals?said={quote(said)}", 303)

    # -- audit -----------------------------------------------------------------------------
    _AUDIT_WINDOW = 1000  # ListAudit's most
    _AUDIT_PAGE = 50
    _AUDIT_FILTERS = (
        ("who", "who"),
        ("method", "method"),
        ("outcome", "outcome or code"),
        ("subject", "subject"),
    )

    async def audit_page(self, request: Request, session: Session) -> Response:
        """National's audit log, newest first, 50 a page, filtered by the words typed
        (each a case-insensitive part of its column); the chain checked by VerifyAudit.
        ListAudit answers the newest records only (at most 1000) and has no filters: the
        page filters those, and says so."""
        asked = {k: request.query_params.get(k, "").strip()[:100] for k, _ in self._AUDIT_FILTERS}
        try:
            page_no = max(1, min(int(request.query_params.get("page", "1")), 1000))
        except ValueError:
            page_no = 1
        check = await self.call(request, session, "VerifyAudit", pb.VerifyAuditRequest())
        listed = await self.call(
            request, session, "ListAudit", pb.ListAuditRequest(limit=self._AUDIT_WINDOW)
        )

        def matches(r: Any) -> bool:
            outcome = f"{r.outcome} {r.code}"
            fields = {"who": r.who, "method": r.method, "outcome": outcome, "subject": r.subject}
            return all(v.lower() in fields[k].lower() for k, v in asked.items() if v)

        found = [r for r in reversed(listed.records) if matches(r)]
        start = (page_no - 1) * self._AUDIT_PAGE
        shown = found[start : start + self._AUDIT_PAGE]
        if check.intact:
            verdict = (
                '<p class="verdict intact" id="verdict" role="status"><strong>Chain intact'
                f"</strong>: {check.records:,} records checked, each as written and none "
                "missing.</p>"
            )
        else:
            verdict = (
                '<p class="verdict broken error" id="verdict" role="alert"><strong>Chain BROKEN'
                f"</strong> at record {check.firstBadSequence}: {esc(check.problem)} "
                f"({check.records:,} records checked). Records from {check.firstBadSequence} on "
                "cannot be trusted as written.</p>"
            )
        rows = [
            [
                str(r.sequence),
                _ts(r.at),
                esc(r.who),
                esc(r.peer),
                esc(r.method.rsplit("/", 1)[-1]) + f"<br><small>{esc(r.method)}</small>",
                esc(r.subject),
                f'<span class="status {"approved" if r.code == 0 else "suspended"}">'
                f"{esc(r.outcome)} ({r.code})</span>",
            ]
            for r in shown
        ]
        fields = "".join(
            f'<label>{esc(label)} <input name="{name}" value="{esc(asked[name])}"></label>'
            for name, label in self._AUDIT_FILTERS
        )
        query = "&".join(f"{k}={quote(v)}" for k, v in asked.items() if v)
        pages = []
        if page_no > 1:
            pages.append(f'<a href="{PATH}/audit?{query}&page={page_no - 1}">Newer</a>')
        if start + self._AUDIT_PAGE < len(found):
            pages.append(f'<a href="{PATH}/audit?{query}&page={page_no + 1}">Older</a>')
        body = (
            "<section><h2>National's chain</h2>"
            + verdict
            + '<p class="empty">Only national\'s log is checked here: each province keeps its '
            "own, which the console (national's pages) does not reach; "
            "<code>ecnet audit verify</code> checks every node of the nation.</p></section>"
            + "<section><h2>Records, newest first</h2>"
            + f'<form method="get" action="{PATH}/audit" class="grid" id="search">{fields}'
            + '<button type="submit">Search</button></form>'
            + f'<p class="empty">Searching the newest {len(listed.records):,} records '
            f"(ListAudit answers at most {self._AUDIT_WINDOW:,} and has no filters: this page "
            "filters them; <code>ecnet audit show --limit N</code> for more). "
            f"{len(found):,} match; page {page_no}.</p>"
            + '<div id="audit">'
            + _table(
                ("#", "at", "who", "peer", "method", "subject", "outcome"),
                rows,
                "no record matches",
            )
            + "</div>"
            + (f'<p class="pages">{" · ".join(pages)}</p>' if pages else "")
            + "</section>"
        )
        return self._html("Audit", body, session)

    # -- persons ---------------------------------------------------------------------------
    _PERSONS_PAGE = 50

    def _persons_table(self, persons: Iterable[Any]) -> str:
        rows = [
            [
                esc(p.userName),
                esc(p.idType),
                esc(p.idNo),
                esc(p.gender),
                esc(p.birthday),
                esc(p.phone),
                esc(", ".join(f"{r.insuOrg} {r.insuType}" for r in p.insuredRegions)),
            ]
            for p in persons
        ]
        return _table(
            ("name", "id type", "id number", "gender", "born", "phone", "insured at"),
            rows,
            "no person",
        )

    def _persons_query(self, request: Request, session: Session) -> tuple[str, str]:
        province = session.scope or request.query_params.get("province", "")[:2]
        return province, request.query_params.get("after", "")[:24]

    async def persons_page(self, request: Request, session: Session) -> Response:
        """The registry's persons, masked (ListPersons), 50 a page; for an administrator
        or auditor a form to see this page unmasked, with a reason (the view is audited).
        The form is sent as POST with the session's CSRF token."""
        province, after = self._persons_query(request, session)
        listed = await self.call(
            request,
            session,
            "ListPersons",
            pb.ListPersonsRequest(
                insuredProvince=province, pageSize=self._PERSONS_PAGE, pageToken=after
            ),
        )
        more = ""
        if listed.nextPageToken:
            query = f"province={quote(province)}&" if province else ""
            more = (
                f'<p><a href="{PATH}/persons?{query}after={quote(listed.nextPageToken)}">'
                f"Next {self._PERSONS_PAGE}</a></p>"
            )
        reveal = ""
        if session.kind in (ADMIN, AUDITOR):
            reveal = (
                "<section><h2>Reveal this page</h2>"
                f'<form method="post" action="{PATH}/persons/reveal" class="grid" id="reveal">'
                + self._csrf(session)
                + f'<input type="hidden" name="province" value="{esc(province)}">'
                + f'<input type="hidden" name="after" value="{esc(after)}">'
                + "<label>Why the names and id numbers are needed (kept in the audit log) "
                '<input name="reason" maxlength="200" required></label>'
                '<button type="submit">Reveal</button></form></section>'
            )
        where = f" insured in province {esc(province)}" if province else ""
        body = (
            self._notice(request)
            + f"<section><h2>Persons{where}, masked</h2>"
            + '<div id="persons">'
            + self._persons_table(listed.persons)
            + f"</div>{more}</section>"
            + reveal
        )
        return self._html("Persons", body, session)

    async def reveal_persons(self, request: Request, session: Session) -> Response:
        """The same page unmasked: ListPersons with reveal and the reason given, which the
        servicer refuses to other roles (-4) and without a reason (-2); both
        the view and a refusal are in the audit log."""
        form = await _form(request)
        province = session.scope or str(form.get("province", ""))[:2]
        reason = str(form.get("reason", "")).strip()
        listed = await self.call(
            request,
            session,
            "ListPersons",
            pb.ListPersonsRequest(
                insuredProvince=province,
                pageSize=self._PERSONS_PAGE,
                pageToken=str(form.get("after", ""))[:24],
                reveal=True,
                reason=reason,
            ),
        )
        body = (
            f'<p class="notice" role="status">Shown unmasked for: {esc(reason)}. This view is '
            "recorded in the audit log under your name.</p>"
            '<div id="persons">' + self._persons_table(listed.persons) + "</div>"
            f'<p><a href="{PATH}/persons">Back to the masked list</a></p>'
        )
        return self._html("Persons, revealed", body, session)

    # -- flows (5.2.1 运行监控) ------------------------------------------------------------
    async def _attempt(
        self, request: Request, session: Session, method: str, msg: Message
    ) -> tuple[Any, Refused | None]:
        """``call``, with a refusal returned (to be shown beside the form that asked)
        instead of raised; the call path has audited it as any other."""
        try:
            return await self.call(request, session, method, msg), None
        except DoorRefusal as door:
            err = door.error
            return None, Refused(err.code, err.message, 403 if err.code == -4 else 400)

    @staticmethod
    def _refused_here(refused: Refused) -> str:
        return (
            f'<p class="error" role="alert" id="refused"><strong>Refused ({refused.code})'
            f"</strong>: {esc(refused.message)}</p>"
        )

    def _province_field(self, session: Session, asked: str) -> str:
        """The province field of a figures form: a province operator's own, fixed."""
        if session.scope:
            return (
                f'<label>province <input name="province" value="{esc(session.scope)}" '
                "readonly></label>"
            )
        return (
            f'<label>province (NN, empty: all) <input name="province" value="{esc(asked)}" '
            'maxlength="2" inputmode="numeric"></label>'
        )

    async def flows_page(self, request: Request, session: Session) -> Response:
        """One day's flows (China Standard Time; today by the node's clock unless ``day``
        is given): scans and settlements per province and hour, the cross-province matrix
        (which province served the persons of which), and the calls refused by C.4 code,
        each drawn and in a table, all added up by ``node.reports`` from GetFigures. A
        province operator sees its province only; asking for another (``province=``) is
        refused by GetFigures (-4), which audits it."""
        q = request.query_params
        day = q.get("day", "").strip()[:20] or cst_day(self.now_ms())
        asked = q.get("province", "").strip()[:4]
        shown = asked or session.scope
        form = (
            f'<form method="get" action="{PATH}/flows" class="grid" id="ask">'
            f'<label>day (YYYY-MM-DD, Beijing time) <input name="day" value="{esc(day)}" '
            'maxlength="10"></label>'
            + self._province_field(session, asked)
            + '<button type="submit">Show</button></form>'
        )
        got, refused = await self._attempt(
            request,
            session,
            "GetFigures",
            pb.GetFiguresRequest(fromDate=day, toDate=day, province=shown),
        )
        if refused is not None:
            body = form + self._refused_here(refused)
            return self._html("Flows", body, session, refused.status)
        rows = list(got.rows)
        if shown:  # what the servicer narrowed to, and no other province's line
            rows = [r for r in rows if shown in (r.province, r.peerProvince)]
        hours = {p: v for p, v in hourly(rows, day).items() if not shown or p == shown}
        cells = {k: c for k, c in matrix(rows).items() if not shown or shown in k}
        calls = [r for r in rows if not shown or r.province == shown]
        # the day's totals as the Reports page and `ecnet report daily` add them up
        lines = [x for x in daily(rows) if x.date == day and (not shown or x.province == shown)]
        scans = sum(x.scans for x in lines)
        settled = sum(x.settlements for x in lines)
        fee = sum(x.fee_fen for x in lines)
        where = f"province {esc(shown)}" if shown else "every province"
        summary = (
            f'<p class="summary">{esc(day)}, {where}: <strong id="total-scans">{scans}</strong> '
            f'scans, <strong id="total-settlements">{settled}</strong> settlements '
            f'(<span id="total-fee" data-fen="{fee}">{_yuan(fee)}</span> yuan billed).</p>'
        )
        body = (
            form
            + _missing(got.missing)
            + summary
            + self._hours_section(day, hours)
            + self._matrix_section(cells)
            + self._refusals_section(calls)
        )
        return self._html("Flows", body, session)

    @staticmethod
    def _hours_section(day: str, hours: dict[str, dict[str, list[int]]]) -> str:
        if not hours:
            return (
                "<section><h2>Scans and settlements per hour</h2>"
                f'<p class="empty" id="hourly">no scan or settlement on {esc(day)}</p></section>'
            )
        charts = "".join(
            f"<figure><figcaption>p{esc(p)}</figcaption>"
            + hourly_bars(
                f"chart-{p}",
                f"province {p}: scans and settlements per hour of {day}",
                [("scans", "scans", v["scans"]), ("settlements", "settlements", v["settlements"])],
            )
            + "</figure>"
            for p, v in hours.items()
        )
        head = "".join(f"<th>{h:02d}</th>" for h in range(24))
        lines = ""
        for p, v in hours.items():
            for kind in ("scans", "settlements"):
                cells = "".join(
                    f'<td id="{kind}-{esc(p)}-{h:02d}">{n}</td>' for h, n in enumerate(v[kind])
                )
                lines += (
                    f"<tr><th>p{esc(p)} {kind}</th>{cells}"
                    f'<td id="{kind}-{esc(p)}"><strong>{sum(v[kind])}</strong></td></tr>'
                )
        return (
            "<section><h2>Scans and settlements per hour</h2>"
            '<p class="empty">Counted by the serving province (where the code was scanned and '
            "the bill settled), per hour of Beijing time.</p>"
            + charts
            + '<div class="wide"><table class="hours" id="hourly"><thead><tr><th></th>'
            + head
            + "<th>day</th></tr></thead><tbody>"
            + lines
            + "</tbody></table></div></section>"
        )

    @staticmethod
    def _matrix_section(cells: dict[tuple[str, str], Cell]) -> str:
        title = "<section><h2>Who served whom</h2>"
        if not cells:
            return title + '<p class="empty" id="matrix">no scan or settlement</p></section>'
        serving = sorted({s for s, _ in cells})
        insured = sorted({i for _, i in cells})
        most = max(c.settlements for c in cells.values()) or 1
        lines = ""
        for s in serving:
            tds = ""
            for i in insured:
                c = cells.get((s, i))
                if c is None:
                    tds += '<td class="heat0">—</td>'
                    continue
                heat = 0 if not c.settlements else 1 + (3 * c.settlements) // most
                remote = " remote" if s != i else ""
                tds += (
                    f'<td class="heat{min(heat, 4)}{remote}">'
                    f'<span id="matrix-{esc(s)}-{esc(i)}">{c.settlements}</span> settled'
                    f'<br><small>scans: <span id="matrix-{esc(s)}-{esc(i)}-scans">{c.scans}</span>'
                    f' · <span data-fen="{c.fee_fen}">{_yuan(c.fee_fen)}</span> yuan'
                    "</small></td>"
                )
            lines += f"<tr><th>served in p{esc(s)}</th>{tds}</tr>"
        head = "".join(f"<th>insured in p{esc(i)}</th>" for i in insured)
        return (
            title + '<p class="empty">Rows: the province that scanned and settled; columns: where '
            "the persons are insured. Off the diagonal: remote (异地) care, settled by the "
            "insured province through national.</p>"
            + f'<table class="matrix" id="matrix"><thead><tr><th></th>{head}</tr></thead>'
            + f"<tbody>{lines}</tbody></table></section>"
        )

    @staticmethod
    def _refusals_section(rows: list[Any]) -> str:
        by_code: dict[int, int] = {}
        methods: dict[int, list[str]] = {}
        for (method, code), n in refusals(rows).items():
            by_code[code] = by_code.get(code, 0) + n
            methods.setdefault(code, []).append(f"{method.rsplit('/', 1)[-1]} {n}")
        ordered = sorted(by_code.items(), key=lambda kv: (-kv[1], kv[0]))
        title = "<section><h2>Refusals by C.4 code</h2>"
        if not ordered:
            return title + '<p class="empty" id="refusals">no call refused</p></section>'
        chart = horizontal_bars(
            "chart-refusals",
            "calls refused, by C.4 code",
            [(f"{code} {_meaning(code)}", n) for code, n in ordered],
        )
        table = _table(
            ("code", "meaning", "calls refused", "methods"),
            [
                [
                    f'<span class="alarm">{code}</span>' if code in RATE_LIMITED else str(code),
                    esc(_meaning(code)),
                    f'<span id="refusals-{code}">{n}</span>',
                    esc(", ".join(methods[code][:4])) + (" …" if len(methods[code]) > 4 else ""),
                ]
                for code, n in ordered
            ],
            "",
        )
        return (
            title + '<p class="empty">Calls answered with a C.4 code other than 0 at every node '
            "shown, whoever called.</p>" + chart + f'<div id="refusals">{table}</div></section>'
        )

    # -- reports (5.2.1 报表统计) -----------------------------------------------------------
    _REPORT_FIELDS = (
        ("activations", "activations", False),
        ("authorizations", "authorizations", False),
        ("qr_codes", "QR codes", False),
        ("scans", "scans", False),
        ("settlements", "settlements", False),
        ("fee_fen", "fee (yuan)", True),
        ("fund_fen", "fund", True),
        ("psn_acct_fen", "personal account", True),
        ("own_pay_fen", "own pay", True),
        ("reversals", "reversals", False),
        ("reversed_fee_fen", "reversed fee", True),
    )
    _CHANNEL_FIELDS = (
        ("activations", "activations"),
        ("authorizations", "authorizations"),
        ("qr_codes", "QR codes"),
        ("calls", "calls"),
        ("refused", "refused"),
        ("rate_limited", "rate-limited"),
    )

    async def reports_page(self, request: Request, session: Session) -> Response:
        """The daily figures of a range of days (``from``, ``to``: at most GetFigures'
        92) per province and per channel, as ``ecnet report daily`` prints them (both
        by ``node.reports.daily`` and ``daily_by_channel``), with the CSV files of
        ``/reports.csv``; and an institution's day (``orgId``, ``date``:
        GetInstitutionDay) as a statement and its settlements."""
        q = request.query_params
        today = cst_day(self.now_ms())
        first = q.get("from", "").strip()[:20] or today
        last = q.get("to", "").strip()[:20] or first
        asked = q.get("province", "").strip()[:4]
        org = q.get("orgId", "").strip()[:40]
        org_day = q.get("date", "").strip()[:20] or today
        after = q.get("after", "").strip()[:40]
        keep_range = "".join(
            f'<input type="hidden" name="{k}" value="{esc(v)}">'
            for k, v in (("from", first), ("to", last), ("province", asked))
        )
        keep_org = "".join(
            f'<input type="hidden" name="{k}" value="{esc(v)}">'
            for k, v in (("orgId", org), ("date", org_day))
            if org
        )
        form = (
            f'<form method="get" action="{PATH}/reports" class="grid" id="range">'
            f'<label>from (YYYY-MM-DD) <input name="from" value="{esc(first)}" maxlength="10">'
            f'</label><label>to (included, at most {MAX_DAYS} days) <input name="to" '
            f'value="{esc(last)}" maxlength="10"></label>'
            + self._province_field(session, asked)
            + keep_org
            + '<button type="submit">Show</button></form>'
        )
        status = 200
        got, refused = await self._attempt(
            request,
            session,
            "GetFigures",
            pb.GetFiguresRequest(fromDate=first, toDate=last, province=asked or session.scope),
        )
        if refused is not None:
            daily_html = self._refused_here(refused)
            status = refused.status
        else:
            query = urlencode({"from": first, "to": last, "province": asked})
            daily_html = (
                _missing(got.missing)
                + '<p class="downloads">CSV (amounts in fen, what <code>ecnet report daily '
                "--csv</code> prints): "
                f'<a id="csv-province" href="{PATH}/reports.csv?{query}&amp;by=province" '
                "download>per province</a> · "
                f'<a id="csv-channel" href="{PATH}/reports.csv?{query}&amp;by=channel" '
                "download>per channel</a></p>"
                + self._daily_table(daily(got.rows))
                + "<h3>Per channel</h3>"
                + self._channel_table(daily_by_channel(got.rows))
            )
        statement = ""
        if org:
            day, refused = await self._attempt(
                request,
                session,
                "GetInstitutionDay",
                pb.GetInstitutionDayRequest(orgId=org, date=org_day, pageToken=after),
            )
            if refused is not None:
                statement = self._refused_here(refused)
                status = max(status, refused.status)
            else:
                statement = self._statement(day, org, org_day, first, last, asked)
        statement_form = (
            f'<form method="get" action="{PATH}/reports" class="grid" id="statement-form">'
            + keep_range
            + f'<label>institution (orgId, 12 characters) <input name="orgId" value="{esc(org)}"'
            ' maxlength="12" required></label>'
            f'<label>day (YYYY-MM-DD) <input name="date" value="{esc(org_day)}" maxlength="10">'
            "</label>"
            '<button type="submit">Statement</button></form>'
        )
        body = (
            "<section><h2>Daily figures</h2>"
            + form
            + '<p class="empty">Days of Beijing time; activations and authorizations count for '
            "the person's insured province, QR codes for the province that displayed them, "
            "scans, settlements and reversals for the serving province. Amounts in yuan.</p>"
            + f'<div id="daily">{daily_html}</div></section>'
            + "<section><h2>An institution's daily statement (对账单)</h2>"
            + statement_form
            + f'<div id="statement">{statement}</div></section>'
        )
        return self._html("Reports", body, session, status)

    def _daily_table(self, lines: list[Line]) -> str:
        if not lines:
            return '<p class="empty" id="daily-province">nothing counted on these days</p>'
        total = Line("", "")
        body = ""
        for x in lines:
            key = f"{x.date}-{x.province or 'nation'}"
            cells = f"<td>{esc(x.date)}</td><td>" + (
                f"p{esc(x.province)}</td>" if x.province else "—</td>"
            )
            for name, _, money in self._REPORT_FIELDS:
                value = getattr(x, name)
                setattr(total, name, getattr(total, name) + value)
                shown = _yuan(value) if money else str(value)
                cells += f'<td id="line-{esc(key)}-{name}" data-n="{value}">{shown}</td>'
            body += f"<tr>{cells}</tr>"
        foot = "".join(
            f'<td id="total-{name}" data-n="{getattr(total, name)}"><strong>'
            + (_yuan(getattr(total, name)) if money else str(getattr(total, name)))
            + "</strong></td>"
            for name, _, money in self._REPORT_FIELDS
        )
        head = "".join(
            f"<th>{esc(h)}</th>"
            for h in ("date", "province", *(label for _, label, _ in self._REPORT_FIELDS))
        )
        return (
            '<div class="wide" id="daily-province"><table><thead><tr>'
            + head
            + f"</tr></thead><tbody>{body}</tbody>"
            + f'<tfoot><tr><th colspan="2">total</th>{foot}</tr></tfoot></table></div>'
        )

    def _channel_table(self, lines: list[ChannelLine]) -> str:
        rows = [
            [esc(x.date), esc(x.channel)]
            + [
                f'<span id="channel-{esc(x.date)}-{esc(x.channel)}-{name}">{getattr(x, name)}'
                "</span>"
                for name, _ in self._CHANNEL_FIELDS
            ]
            for x in lines
        ]
        heads = ("date", "channel", *(label for _, label in self._CHANNEL_FIELDS))
        return f'<div id="daily-channel">{_table(heads, rows, "no channel counted")}</div>'

    @staticmethod
    def _statement(day: Any, org: str, date: str, first: str, last: str, asked: str) -> str:
        st = day.statement
        parts = []
        for part_name in ("local", "remote", "total"):
            part = getattr(st, part_name)
            for side in ("settled", "reversed", "net"):
                t = getattr(part, side)
                key = f"stmt-{part_name}-{side}"
                parts.append(
                    [
                        esc(part_name),
                        esc(side),
                        f'<span id="{key}-count">{t.count}</span>',
                        *(
                            f'<span id="{key}-{f}" data-fen="{getattr(t, f)}">'
                            f"{_yuan(getattr(t, f))}</span>"
                            for f in ("feeSumamt", "fundPay", "psnAcctPay", "ownPayAmt")
                        ),
                    ]
                )
        summary = _table(
            ("part", "", "count", "fee (yuan)", "fund", "personal account", "own pay"), parts, ""
        )
        pending = (
            f'<p class="error" role="status">{st.pendingCount} remote settlement(s) not yet '
            "confirmed by the insured province: not in the sums, the day is not final.</p>"
            if st.pendingCount
            else ""
        )
        listed = _table(
            (
                "settlement",
                "requestId",
                "settled",
                "reversed",
                "insured in",
                "person",
                "fee (yuan)",
                "fund",
                "personal account",
                "own pay",
                "settled by",
            ),
            [
                [
                    esc(s.settlementId),
                    esc(s.requestId),
                    _ts(s.settledAt),
                    _ts(s.reversedAt),
                    f"{esc(s.insuOrg)} (p{esc(s.insuredProvince)})",
                    esc(s.userName),
                    _yuan(s.feeSumamt),
                    _yuan(s.fundPay),
                    _yuan(s.psnAcctPay),
                    _yuan(s.ownPayAmt),
                    f"p{esc(s.settledBy)}",
                ]
                for s in day.settlements
            ],
            "no settlement on the day",
        )
        more = ""
        if day.nextPageToken:
            query = urlencode(
                {
                    "from": first,
                    "to": last,
                    "province": asked,
                    "orgId": org,
                    "date": date,
                    "after": day.nextPageToken,
                }
            )
            more = f'<p><a href="{PATH}/reports?{query}">Next settlements</a></p>'
        return (
            f'<p class="summary">{esc(org)}, {esc(date)}, served by province '
            f"p{esc(day.province)}: as its province's <code>GetDayStatement</code> answers it "
            "(<code>ecnet settlement statement</code>); persons' names masked.</p>"
            + pending
            + f'<div id="statement-sums">{summary}</div>'
            + f'<h3>Settlements</h3><div id="statement-list" class="wide">{listed}</div>{more}'
        )

    async def reports_csv(self, request: Request, session: Session) -> Response:
        """The daily figures of ``from``..``to`` as CSV (``by`` province or channel), byte
        for byte what ``ecnet report daily --csv`` prints for the same days; a province
        not counted is named in the ``X-Ecnet-Missing`` header (the CLI says it on
        stderr). A refusal is the console's refusal page, with its code."""
        q = request.query_params
        first = q.get("from", "").strip()[:20] or cst_day(self.now_ms())
        last = q.get("to", "").strip()[:20] or first
        asked = q.get("province", "").strip()[:4]
        by = q.get("by", "province")
        if by not in ("province", "channel"):
            raise Refused(-2, f"by={by[:20]!r}: give province or channel", 400)
        got = await self.call(
            request,
            session,
            "GetFigures",
            pb.GetFiguresRequest(fromDate=first, toDate=last, province=asked or session.scope),
        )
        text = (
            csv_text(daily(got.rows), Line)
            if by == "province"
            else csv_text(daily_by_channel(got.rows), ChannelLine)
        )
        headers = {
            **_HEADERS,
            "Content-Disposition": f'attachment; filename="ecnet-{by}-{first}-{last}.csv"',
        }
        if got.missing:
            headers["X-Ecnet-Missing"] = ",".join(m.province for m in got.missing)
        return Response(text.encode(), 200, headers=headers, media_type="text/csv; charset=utf-8")


def _yuan(fen: int) -> str:
    """Integer fen as yuan with two decimals (no float on the way)."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100:,}.{abs(fen) % 100:02d}"


def _meaning(code: int) -> str:
    known = ERRORS.get(code)
    return f"{known.zh} ({known.en})" if known else "not a code of table C.4"


def _missing(missing: Iterable[Any]) -> str:
    named = list(missing)
    if not named:
        return ""
    return (
        '<p class="error" role="alert" id="missing">Not counted: '
        + "; ".join(f"province {esc(m.province)} ({esc(m.reason)})" for m in named)
        + ".</p>"
    )
