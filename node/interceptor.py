"""The one server interceptor: who is calling, one log line per call, errors mapped.

* Caller identity is decided here and nowhere else. Who holds the connection comes from
  the certificate the TLS handshake verified (``node.tls.Trust``: the CA, the clock, the
  CRL): ``ecnet://national``, ``ecnet://province/NN`` or ``ecnet://operator/NAME``. A
  certificate refused there (revoked, expired) answers -4, PERMISSION_DENIED, with the
  reason and one log line naming its subject. ``FederationService`` answers nodes only
  (-4 for an operator). A terminal is the certificate it holds
  (``ecnet://terminal/ORGID/TERMINALID``): its number and institution come from there,
  and the ``ec-terminal-id`` metadata is not read (a caller holding another certificate
  has no terminal, whatever it sends; the terminal's calls then answer -4). On an
  ``--insecure`` node (no TLS) the holder is the claim in ``ec-insecure-identity``, and
  the terminal the claim in ``ec-terminal-id``.
* The channel of a call to VoucherService or QrService comes from its signature only
  (:class:`ChannelCheck`, ``node.domain.channelsig``): ``ec-app-id``, ``ec-timestamp``,
  ``ec-nonce``, ``ec-sign`` checked against the channel's key as this node knows it; the
  ``ec-channel-id`` header alone names no channel (500036).
* Each call writes one structured (JSON) log line: method, caller, outcome, C.4 code,
  duration. No request bodies, so no id numbers, reach the log. Routine traffic that
  succeeds (ROUTINE_METHODS: provinces' heartbeats, health checks) is logged at debug,
  which a node's log leaves out unless started with ``--debug``: at every two seconds
  per province it would otherwise be most of national's log.
* Who may call which method beyond that (the operators' roles: AdminService's table)
  and what is written to the node's audit log are a :class:`Gate`'s to decide
  (``node.services.access``): it is asked before every handler (``allow``: -4 when the
  caller's role may not call the method), and every call it audits (``audited``) or
  refuses for permission (-4, anywhere) is recorded with who, the peer address, the
  method, the request's subject and the outcome (``record``). A handler adds to its
  call's record with :func:`audit_note` (a reveal's reason).
* A handler raises :class:`~node.errors.EcError`; any other exception is a bug, logged
  with its traceback and answered with code -1, never a dropped connection.
* A request whose bytes are not the method's message never reaches a handler: grpc would
  answer UNKNOWN with protobuf's own text. Every handler's ``request_deserializer`` is
  wrapped so that it yields an :class:`Undecodable` instead, which the call answers with
  -2 and a sentence naming the message expected (streams too: a Link frame that does not
  decode ends the stream with that status). A method whose refusals travel in its
  response (the Appendix B ``Trans``) answers it there (``envelopes``).
* Rate limits (``node.ratelimit``) and the limits every request meets
  (``node.inputcheck``: lengths, control characters, the envelope's 200K) are checked
  here, once the caller is known and the request decoded, before the handler: over a
  rate limit the call answers -6 or 500084 with ``retryAfterMs`` in its details, a
  request past an input limit -2. FederationService (nodes only) and streams (the
  Link) are not limited.
* Every unary call, refused or answered, is counted and timed for ``/metrics``
  (``node.metrics.NodeMetrics.call``: method, C.4 code, door ``grpc`` or ``https``),
  and counted per hour, code and calling channel or terminal for the management
  center's figures (``node.figures.CallTally``).
"""

from __future__ import annotations

import contextvars
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Protocol, TypeVar, cast

import grpc
from cryptography import x509

from node.domain import channelsig as cs
from node.errors import EcError, to_status
from node.inputcheck import check_request
from node.metrics import NodeMetrics
from node.pki import Identity, IdentityError, Refused
from node.pki import Role as IdentityRole
from node.ratelimit import RateLimiter
from node.tls import INSECURE_CLAIM, Trust, Verified

__all__ = [
    "CallCounter",
    "Caller",
    "CallerCheck",
    "Gate",
    "audit_note",
    "current_caller",
    "enter_caller",
    "exit_caller",
    "failure_of",
    "log_call",
    "CallInterceptor",
    "Undecodable",
    "ROUTINE_METHODS",
    "ChannelCheck",
    "UNSIGNED_METHODS",
]

log = logging.getLogger("ecnet.call")

# Calls logged at debug when they succeed (a failed one is news: info, as any other).
ROUTINE_METHODS = frozenset(
    {
        "/ecnet.v1.FederationService/Heartbeat",
        "/grpc.health.v1.Health/Check",
        "/grpc.health.v1.Health/Watch",  # a province's channel watching national replicas
    }
)

# The request and response messages of the method a call reaches.
Req = TypeVar("Req")
Resp = TypeVar("Resp")


FEDERATION_PREFIX = "/ecnet.v1.FederationService/"
# Methods of the channel services that may be called without a channel's signature
# (the CLI's simulated camera, as the operator); signed, they are checked as any other.
UNSIGNED_METHODS = frozenset({"/ecnet.v1.VoucherService/GetSimulatedFaceTemplate"})


@dataclass(frozen=True, slots=True)
class Caller:
    """Who holds the connection (``identity``, from its certificate; ``subject``: the
    certificate's subject, for the log) and the channel and terminal it calls for
    (``terminal_id``: the number of a terminal's certificate; empty for anyone else)."""

    identity: Identity | None = None
    channel_id: str = ""
    terminal_id: str = ""
    subject: str = ""
    # The scopes national approved for the channel (set with channel_id, from a verified
    # signature only: ChannelCheck).
    channel_scopes: tuple[str, ...] = ()
    # When the caller's certificate expires (ms since the epoch, its not_after); 0 on an
    # --insecure node, where there is no certificate.
    cert_not_after_ms: int = 0
    # Checks again that the certificate is still good (not revoked or expired since);
    # raises EcError -4. A Link stream calls it at every message it carries.
    recheck: Callable[[], None] = field(default=lambda: None, compare=False, repr=False)

    @property
    def org_id(self) -> str:
        """The institution a terminal's certificate names; empty for anyone else."""
        identity = self.identity
        if identity is None or identity.role is not IdentityRole.TERMINAL:
            return ""
        return identity.org_id or ""

    @property
    def node(self) -> str:
        """``national`` or ``pNN`` when a node calls; empty for anyone else."""
        identity = self.identity
        if identity is None or identity.role not in (IdentityRole.NATIONAL, IdentityRole.PROVINCE):
            return ""
        return identity.stem

    def describe(self) -> str:
        parts = []
        if self.identity is not None:
            parts.append(str(self.identity))
        if self.channel_id:
            parts.append(f"channel:{self.channel_id}")
        if self.terminal_id:
            parts.append(f"terminal:{self.terminal_id}")
        return ",".join(parts) or "anonymous"


_ANONYMOUS = Caller()
_caller: contextvars.ContextVar[Caller] = contextvars.ContextVar("ecnet_caller", default=_ANONYMOUS)
_notes: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "ecnet_audit_notes", default=None
)


class CallCounter(Protocol):
    """Counts every call answered, for the management center's figures
    (``node.figures.CallTally`` fills it; the interceptor sits below the storage)."""

    def call(self, method: str, code: int, channel: str, terminal: str) -> None:
        """Count one call of ``method`` answered with C.4 ``code`` (0 success)."""
        ...


class Gate(Protocol):
    """Who may call a method (beyond the certificate) and what the audit log keeps."""

    def allow(self, method: str, caller: Caller) -> None:
        """Raise EcError -4 when ``caller`` may not call ``method``."""
        ...

    def audited(self, method: str) -> bool:
        """Whether every call of ``method`` is written to the audit log."""
        ...

    async def record(
        self,
        method: str,
        who: str,
        peer: str,
        request: object,
        outcome: str,
        code: int,
        notes: Sequence[str],
    ) -> None:
        """Write one record of the audit log (never raises)."""
        ...


def audit_note(text: str) -> None:
    """Add ``text`` to the audit record of the call being handled (if it has one)."""
    notes = _notes.get()
    if notes is not None:
        notes.append(text)


def current_caller() -> Caller:
    """The caller of the RPC being handled."""
    return _caller.get()


def _caller_from(
    metadata: Iterable[tuple[str, str | bytes]] | None,
    identity: Identity | None,
    subject: str,
    insecure: bool,
) -> Caller:
    channel = terminal = ""  # the channel: only from a verified signature (ChannelCheck)
    # Only the values of keys ending in -bin are bytes; the keys read here carry text.
    for key, value in cast("Iterable[tuple[str, str]]", metadata or ()):
        if key == "ec-terminal-id" and insecure:  # over TLS: the certificate's number
            terminal = value
        elif insecure and key == INSECURE_CLAIM:
            try:
                identity = Identity.parse(value)
            except IdentityError:
                raise EcError(-4, f"{INSECURE_CLAIM} {value!r} is not an ecnet identity") from None
            subject = f"claimed {value}"
    if identity is not None and identity.role is IdentityRole.TERMINAL:
        terminal = identity.terminal_id or ""
    if identity is None and not (channel or terminal):
        return _ANONYMOUS
    return Caller(identity, channel, terminal, subject)


class CallerCheck:
    """Who is calling: the identity of the connection's certificate (``trust``), or, on
    an ``--insecure`` node (``trust`` None), the claim of the call's metadata."""

    def __init__(self, trust: Trust | None) -> None:
        self.trust = trust

    def caller(
        self,
        method: str,
        metadata: Iterable[tuple[str, str | bytes]] | None,
        auth_context: Callable[[], Mapping[str, Iterable[bytes]]],
        *,
        anonymous: bool = False,
    ) -> Caller:
        """The caller of a call to ``method``; -4 (PERMISSION_DENIED) for a certificate
        refused, and for anyone but a node calling ``FederationService``. ``anonymous``:
        a caller without a certificate is nobody (the channel door), not refused."""
        identity: Identity | None = None
        subject = ""
        if self.trust is not None:
            pems = list(auth_context().get("x509_pem_cert", ()))
            if not pems and anonymous:
                return _ANONYMOUS
            if not pems:  # gRPC's handshake requires one; the HTTPS door asks for one
                raise EcError(-4, "no client certificate: call with one of the national CA")
            try:
                verified = self.trust.identify(pems[0])
            except Refused as exc:
                raise EcError(
                    -4,
                    f"certificate refused ({exc.reason}): {exc.detail}",
                    subject=_subject_of(pems[0]),
                ) from None
            identity, subject = verified.identity, verified.subject
        caller = _caller_from(metadata, identity, subject, self.trust is None)
        if self.trust is not None and caller is not _ANONYMOUS:
            caller = replace(
                caller,
                recheck=partial(_recheck, self.trust, verified),
                cert_not_after_ms=round(verified.not_after * 1000),
            )
        if method.startswith(FEDERATION_PREFIX) and not caller.node:
            raise EcError(
                -4,
                f"FederationService answers nodes only; {caller.describe()} is not a node",
                subject=caller.subject,
            )
        return caller


def _peer(context: Any) -> str:
    """The caller's address as gRPC names it (``ipv4:127.0.0.1:53312``)."""
    try:
        return str(context.peer())
    except Exception:  # a context without one (never over a real connection)
        return ""


ChannelLookup = Callable[[str], "cs.ChannelKey | None"]


class ChannelCheck:
    """The signature of a channel's call (4.6): who the channel is, from its signature
    only. ``lookup``: the channel's key, status, scopes and SM4 key as this node knows
    them (national derives the SM4 key; a province was told it with the channel's
    record); ``now_ms``: the node's clock."""

    def __init__(
        self,
        lookup: ChannelLookup,
        now_ms: Callable[[], int],
        window_ms: int = cs.WINDOW_MS,
        services: Iterable[str] = cs.SIGNED_SERVICES,
    ) -> None:
        # the channel services this node serves (a call to another answers -5 unchecked)
        self.prefixes = tuple(f"/{s}/" for s in services if s in cs.SIGNED_SERVICES)
        self.lookup = lookup
        self.now_ms = now_ms
        self.nonces = cs.NonceBook(window_ms)

    def check(
        self,
        method: str,
        metadata: Iterable[tuple[str, str | bytes]] | None,
        request: Any,
        caller: Caller,
        *,
        envelope: Mapping[str, str] | None = None,
    ) -> Caller:
        """``caller`` calling for the channel its signature proves; raises the refusal:
        500036 (unsigned, bad signature), 500012 (unknown channel), -4 (stale, replayed,
        suspended, out of scope, another channel's certificate), 500072 (undecryptable).

        ``envelope``: the open platform's envelope fields of a call that came through the
        channel door (``encType``, ``signType``, ``version``;
        ``node.domain.openplatform.SealedRequest.envelope_fields``, with its
        ``metadata()`` as ``metadata`` and the decrypted request as ``request``): they
        join the signature base, and no field is decrypted (the whole request was the
        ciphertext)."""
        md: dict[str, str] = {}
        for key, value in cast("Iterable[tuple[str, str]]", metadata or ()):
            if key in (cs.APP_ID, cs.TIMESTAMP, cs.NONCE, cs.SIGN, cs.ENC_TYPE, "ec-channel-id"):
                md[key] = value
        app_id, signature = md.get(cs.APP_ID, ""), md.get(cs.SIGN, "")
        if not app_id and not signature:
            if method in UNSIGNED_METHODS and envelope is None:
                return caller
            claimed = md.get("ec-channel-id", "")
            if claimed:
                raise EcError(
                    500036,
                    f"the ec-channel-id header alone names no channel: sign the call as "
                    f"{claimed} (ec-app-id, ec-timestamp, ec-nonce, ec-sign; README, "
                    "'Signed channel calls')",
                )
            raise EcError(
                500036,
                "a channel's call must be signed: send ec-app-id, ec-timestamp, ec-nonce and "
                "ec-sign (README, 'Signed channel calls')",
            )
        missing = [k for k in (cs.APP_ID, cs.TIMESTAMP, cs.NONCE, cs.SIGN) if not md.get(k)]
        if missing:
            raise EcError(500036, f"the signed call lacks {', '.join(missing)}")
        channel = self.lookup(app_id)
        if channel is None:
            raise EcError(
                500012, f"channel {app_id!r} is not registered with the national platform"
            )
        if not channel.public_key:
            raise EcError(500036, f"channel {app_id} has no signing key registered")
        stamp = md[cs.TIMESTAMP]
        if not stamp.isdigit() or len(stamp) > 16:
            raise EcError(500036, f"ec-timestamp {stamp!r} is not milliseconds since the epoch")
        now = self.now_ms()
        ts = int(stamp)
        if abs(now - ts) > self.nonces.window_ms:
            raise EcError(
                -4,
                f"ec-timestamp {ts} is {abs(now - ts) // 1000} s from the node's clock; a "
                f"signed call is good for {self.nonces.window_ms // 60000} minutes either "
                "way: sign it again",
            )
        extra: dict[str, str] | None = None
        if envelope is None:
            enc_type = md.get(cs.ENC_TYPE, "")
        else:
            enc_type = envelope.get("encType", "")
            extra = {k: v for k, v in envelope.items() if k != "encType"}
        try:
            body = cs.message_body(request)
        except Exception:  # a message json_format cannot write (not reached for our contract)
            raise EcError(-2, "the request cannot be put in its signed form") from None
        ok = cs.verify_signature(
            channel.public_key,
            method,
            body,
            app_id,
            stamp,
            md[cs.NONCE],
            signature,
            enc_type,
            extra,
        )
        if not ok:
            raise EcError(
                500036,
                f"the signature does not verify with channel {app_id}'s key: the request, "
                "its metadata or the key differ from what was signed",
            )
        why = self.nonces.admit(app_id, md[cs.NONCE], ts, now)
        if why:
            raise EcError(-4, why)
        if channel.status != "approved":
            why = f": {channel.reason}" if channel.reason else ""
            by = "by the national management center"
            raise EcError(-4, f"channel {app_id} is {channel.status} {by}{why}")
        if not cs.scope_allows(channel.scopes, method):
            raise EcError(
                -4,
                f"channel {app_id} may not call {method.lstrip('/')}: it is outside the "
                "scopes national approved",
            )
        identity = caller.identity
        if identity and identity.role is IdentityRole.CHANNEL and identity.name != app_id:
            raise EcError(
                -4,
                f"the certificate of channel {identity.name} cannot call as {app_id}",
                subject=caller.subject,
            )
        if enc_type and envelope is None:
            self._decrypt(request, channel, enc_type)
        return replace(caller, channel_id=app_id, channel_scopes=tuple(channel.scopes))

    def _decrypt(self, request: Any, channel: cs.ChannelKey, enc_type: str) -> None:
        if enc_type != "SM4":
            raise EcError(-2, f"ec-enc-type {enc_type!r}: only SM4 is known")
        if not channel.sm4_key:
            raise EcError(
                -2,
                f"this node does not hold channel {channel.app_id}'s SM4 key yet (national "
                "sends it with the channel's record): send the fields in clear, or later",
            )
        for name in cs.ENCRYPTED_FIELDS:
            sealed = getattr(request, name, "")
            if isinstance(sealed, str) and sealed:
                try:
                    setattr(request, name, cs.sm4_open(channel.sm4_key, sealed))
                except ValueError as exc:
                    raise EcError(
                        500072, f"{name} could not be decrypted with the channel's SM4 key: {exc}"
                    ) from None


def _recheck(trust: Trust, verified: Verified) -> None:
    try:
        trust.recheck(verified)
    except Refused as exc:
        raise EcError(
            -4, f"certificate refused ({exc.reason}): {exc.detail}", subject=verified.subject
        ) from None


def _subject_of(pem: bytes) -> str:
    try:
        return x509.load_pem_x509_certificate(pem).subject.rfc4514_string()
    except ValueError:
        return "an unreadable certificate"


def enter_caller(caller: Caller) -> contextvars.Token[Caller]:
    """Make ``caller`` the :func:`current_caller` (undo with ``exit_caller``)."""
    return _caller.set(caller)


def exit_caller(token: contextvars.Token[Caller]) -> None:
    _caller.reset(token)


def failure_of(exc: Exception, method: str, node_name: str) -> tuple[str, EcError]:
    """(log outcome, the error to answer with) for an exception out of a handler.

    An :class:`EcError` is the answer itself; ``NotImplementedError`` is a method of a
    later issue (-5); anything else is a bug: logged with its traceback, answered -1.
    """
    if isinstance(exc, EcError):
        return exc.grpc_code.name, exc
    if isinstance(exc, NotImplementedError):
        return "UNIMPLEMENTED", EcError(-5, f"{method} is not implemented yet on this node")
    log.error("unexpected error in %s", method, exc_info=exc)
    return "INTERNAL", EcError(-1, f"unexpected error on node {node_name}; see its log")


def log_call(
    method: str, caller: Caller, outcome: str, code: int, start: float, **more: object
) -> None:
    """The one log line of a call (``start``: its ``time.perf_counter()``); a call
    refused for who made it (-4) is a warning, its line naming the certificate's subject."""
    routine = method in ROUTINE_METHODS and outcome == "OK"
    level = logging.DEBUG if routine else logging.INFO
    if code == -4:
        level = logging.WARNING
        more.setdefault("subject", caller.subject)
    log.log(
        level,
        "call",
        extra={
            "fields": {
                "method": method,
                "caller": caller.describe(),
                "outcome": outcome,
                "code": code,
                "ms": round((time.perf_counter() - start) * 1000, 3),
                **more,
            }
        },
    )


@dataclass(frozen=True, slots=True)
class Undecodable:
    """What a wrapped ``request_deserializer`` gives for bytes that are not the message."""

    method: str
    problem: str

    def error(self) -> EcError:
        name = self.method.rsplit("/", 1)[-1]
        return EcError(
            -2,
            f"the request to {name} could not be decoded: its bytes are corrupt or cut "
            "short, a text in it is not valid UTF-8, or it nests messages too deep (more "
            f"than 100 levels); send the protobuf message that {self.method} takes",
            problem=self.problem,
        )


def _tolerant(
    method: str, deserializer: Callable[[bytes], Any] | None
) -> Callable[[bytes], Any] | None:
    """``deserializer``, answering :class:`Undecodable` where it would raise."""
    if deserializer is None:
        return None
    inner = deserializer

    def deserialize(data: bytes) -> Any:
        try:
            return inner(data)
        except Exception as exc:  # DecodeError, and whatever a codec raises on bad bytes
            return Undecodable(method, type(exc).__name__)

    return deserialize


async def _checked_frames(frames: AsyncIterator[Any], bad: list[EcError]) -> AsyncIterator[Any]:
    """The frames of a stream up to the first that did not decode (kept in ``bad``)."""
    async for frame in frames:
        if isinstance(frame, Undecodable):
            bad.append(frame.error())
            return
        yield frame


Enter = Callable[[Any], Awaitable[contextvars.Token[Caller]]]


def _stream_handler(
    handler: grpc.RpcMethodHandler[Req, Resp], method: str, enter: Enter
) -> grpc.RpcMethodHandler[Req, Resp]:
    """A streaming handler that runs as its caller (``enter``: decided from the call's
    context, or the call ends refused) and whose requests that do not decode end the
    call with -2."""
    deserializer = _tolerant(method, handler.request_deserializer)
    serializer = handler.response_serializer
    # The aio behaviours (coroutine or async generator functions), untyped in the stubs.
    b: Any
    if handler.unary_stream is not None:
        b = handler.unary_stream
        if inspect.isasyncgenfunction(b):

            async def unary_gen(request: Any, context: Any) -> AsyncIterator[Any]:
                token = await enter(context)
                try:
                    if isinstance(request, Undecodable):
                        await context.abort_with_status(to_status(request.error()))
                    async for answer in b(request, context):
                        yield answer
                finally:
                    _caller.reset(token)

            return grpc.unary_stream_rpc_method_handler(
                unary_gen, request_deserializer=deserializer, response_serializer=serializer
            )

        async def unary_co(request: Any, context: Any) -> Any:
            token = await enter(context)
            try:
                if isinstance(request, Undecodable):
                    await context.abort_with_status(to_status(request.error()))
                return await b(request, context)
            finally:
                _caller.reset(token)

        return grpc.unary_stream_rpc_method_handler(
            unary_co, request_deserializer=deserializer, response_serializer=serializer
        )
    streaming = handler.stream_stream is not None
    b = handler.stream_stream if streaming else handler.stream_unary
    make = (
        grpc.stream_stream_rpc_method_handler if streaming else grpc.stream_unary_rpc_method_handler
    )
    if inspect.isasyncgenfunction(b):

        async def stream_gen(frames: AsyncIterator[Any], context: Any) -> AsyncIterator[Any]:
            token = await enter(context)
            try:
                bad: list[EcError] = []
                async for answer in b(_checked_frames(frames, bad), context):
                    yield answer
                if bad:
                    await context.abort_with_status(to_status(bad[0]))
            finally:
                _caller.reset(token)

        return make(stream_gen, request_deserializer=deserializer, response_serializer=serializer)

    async def stream_co(frames: AsyncIterator[Any], context: Any) -> Any:
        token = await enter(context)
        try:
            bad: list[EcError] = []
            result = await b(_checked_frames(frames, bad), context)
            if bad:
                await context.abort_with_status(to_status(bad[0]))
            return result
        finally:
            _caller.reset(token)

    return make(stream_co, request_deserializer=deserializer, response_serializer=serializer)


class CallInterceptor(grpc.aio.ServerInterceptor):
    """``envelopes`` maps the full name of a method whose refusals travel in its response
    (``/ecnet.v1.AcceptanceService/Trans``) to the response that carries an error.
    ``trust``: who may call (``node.tls.Trust``); None on an ``--insecure`` node."""

    def __init__(
        self,
        node_name: str,
        log_calls: bool = True,
        envelopes: Mapping[str, Callable[[EcError], object]] | None = None,
        trust: Trust | None = None,
        gate: Gate | None = None,
        limiter: RateLimiter | None = None,
        channels: ChannelCheck | None = None,
        metrics: NodeMetrics | None = None,
        tally: CallCounter | None = None,
    ) -> None:
        self.channels = channels
        # Every call counted per hour, code and caller for the figures (node.figures).
        self.tally = tally
        # Every call counted and timed (node.metrics); None: not measured.
        self.metrics = metrics
        self.node_name = node_name
        self.limiter = limiter
        self.log_calls = log_calls
        self.envelopes = dict(envelopes or {})
        self.check = CallerCheck(trust)
        self.gate = gate

    async def _audit_refusal(
        self, method: str, refusal: EcError, context: Any, request: object
    ) -> None:
        """The audit record of a call refused for its certificate (no caller to name:
        the certificate's subject)."""
        if self.gate is not None:
            subject = refusal.metadata.get("subject", "") or "no certificate"
            await self.gate.record(
                method,
                f"certificate {subject}",
                _peer(context),
                request,
                refusal.grpc_code.name,
                refusal.code,
                (refusal.message,),
            )

    def _refused(self, method: str, err: EcError, start: float, door: str = "") -> None:
        """The one log line of a call refused for who made it (always logged)."""
        log.warning(
            "call refused",
            extra={
                "fields": {
                    **({"door": door} if door else {}),
                    "method": method,
                    "subject": err.metadata.get("subject", ""),
                    "outcome": err.grpc_code.name,
                    "code": err.code,
                    "why": err.message,
                    "ms": round((time.perf_counter() - start) * 1000, 3),
                }
            },
        )

    async def call(
        self,
        method: str,
        metadata: Iterable[tuple[str, str | bytes]] | None,
        request: Any,
        context: Any,
        inner: Callable[[Any, Any], Awaitable[Any]],
        abort: Callable[[EcError], Awaitable[None]],
        aborted: tuple[type[BaseException], ...] = (grpc.aio.AbortError,),
        *,
        anonymous: bool = False,
        envelope_refusals: bool = True,
        door: str = "",
        signed_envelope: Mapping[str, str] | None = None,
        identity: Identity | None = None,
    ) -> Any:
        """One unary call of ``method`` through every check, then ``inner(request,
        context)``: what gRPC's handler runs, and what the HTTPS doors (``node.doors``)
        run for theirs, so that both doors keep the same rules.

        ``context`` gives ``auth_context()`` (the verified client certificate, as gRPC's
        does), ``peer()`` and ``code()``; ``abort(err)`` ends the call with the refusal
        ``err`` and raises one of ``aborted``. ``anonymous``: a caller without a client
        certificate is let through as nobody (the channel door, whose callers are their
        signatures) instead of refused. ``envelope_refusals`` False: a caller refused for
        its certificate is aborted even where the method answers refusals in its envelope
        (the terminal door answers those with HTTP 403). ``door``: the door the call came
        through (``https``), named in its log line; empty for the gRPC port.
        ``signed_envelope``: the channel door's envelope fields that join the signature
        base (``ChannelCheck.check``'s ``envelope``). ``identity``: the caller, already
        verified by the door (the management console's logged-in operator, whose
        password and session national checked: ``node.console``), instead of the
        connection's certificate; every other check is the same.
        """
        check, gate, limiter = self.check, self.gate, self.limiter
        envelope = self.envelopes.get(method)
        channels = self.channels
        if channels is not None and not method.startswith(channels.prefixes):
            channels = None
        # FederationService is nodes only, its requests events of its own shapes.
        checked = not method.startswith(FEDERATION_PREFIX)
        start = time.perf_counter()
        try:
            if identity is not None:
                caller = Caller(identity, subject=f"console session of {identity.uri}")
            else:
                caller = check.caller(method, metadata, context.auth_context, anonymous=anonymous)
        except EcError as refusal:
            self._refused(method, refusal, start, door)
            await self._audit_refusal(method, refusal, context, request)
            if self.metrics is not None:
                self.metrics.call(method, refusal.code, door or "grpc", time.perf_counter() - start)
            if self.tally is not None:
                self.tally.call(method, refusal.code, "", "")
            if envelope is not None and envelope_refusals:
                return envelope(refusal)
            await abort(refusal)
            raise  # not reached: abort raises
        token = _caller.set(caller)
        notes: list[str] = []
        notes_token = _notes.set(notes)
        recorded = False

        async def audit(outcome: str, code: int) -> None:
            """The call's audit record, once (every call the gate audits, and every
            refusal for permission)."""
            nonlocal recorded
            if recorded or gate is None or not (code == -4 or gate.audited(method)):
                return
            recorded = True
            peer = _peer(context)
            await gate.record(method, caller.describe(), peer, request, outcome, code, notes)

        outcome, ec_code = "OK", 0
        more: dict[str, str] = {"door": door} if door else {}
        try:
            if gate is not None:
                gate.allow(method, caller)
            if isinstance(request, Undecodable):
                if envelope is not None:
                    err = request.error()
                    outcome, ec_code = "OK", err.code
                    return envelope(err)
                raise request.error()
            if channels is not None:
                caller = channels.check(method, metadata, request, caller, envelope=signed_envelope)
                _caller.set(caller)
            if checked:
                try:
                    if limiter is not None:
                        limiter.admit(method, caller, request)
                    check_request(request)
                except EcError as refused:
                    if envelope is None:
                        raise
                    outcome, ec_code = refused.grpc_code.name, refused.code
                    return envelope(refused)
            answer = await inner(request, context)
            if envelope is not None:  # the envelope's own code (Trans: 0 or why not)
                ec_code = getattr(answer, "code", 0)
            return answer
        except aborted:
            outcome = context.code().name if context.code() else "ABORTED"
            raise
        except Exception as exc:
            outcome, err = failure_of(exc, method, self.node_name)
            ec_code = err.code
            if ec_code == -4:  # refused for who calls: the line names the certificate
                more.update(subject=caller.subject, why=err.message)
                notes.append(err.message)
            # Recorded before the answer leaves (abort sends it at once).
            await audit(outcome, ec_code)
            await abort(err)
            raise  # not reached: abort raises
        finally:
            _caller.reset(token)
            _notes.reset(notes_token)
            await audit(outcome, ec_code)
            if self.metrics is not None:
                self.metrics.call(method, ec_code, door or "grpc", time.perf_counter() - start)
            if self.tally is not None:
                self.tally.call(method, ec_code, caller.channel_id, caller.terminal_id)
            if self.log_calls or "why" in more:
                log_call(method, caller, outcome, ec_code, start, **more)

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Req, Resp] | None]
        ],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Req, Resp] | None:
        handler = await continuation(details)
        if handler is None:
            return handler
        method = details.method
        metadata = details.invocation_metadata
        check = self.check
        gate = self.gate

        if handler.unary_unary is None:

            async def enter(context: Any) -> contextvars.Token[Caller]:
                start = time.perf_counter()
                try:
                    caller = check.caller(method, metadata, context.auth_context)
                    if gate is not None:
                        gate.allow(method, caller)
                except EcError as refusal:
                    self._refused(method, refusal, start)
                    await self._audit_refusal(method, refusal, context, None)
                    await context.abort_with_status(to_status(refusal))
                    raise  # not reached: abort raises
                return _caller.set(caller)

            return _stream_handler(handler, method, enter)
        # On a grpc.aio server the behaviour is a coroutine function of the aio context;
        # the stubs type RpcMethodHandler for the synchronous server only.
        inner = cast(
            "Callable[[Req, grpc.aio.ServicerContext[Req, Resp]], Awaitable[Resp]]",
            handler.unary_unary,
        )

        async def behaviour(request: Req, context: grpc.aio.ServicerContext[Req, Resp]) -> Resp:
            async def abort(err: EcError) -> None:
                await context.abort_with_status(to_status(err))

            answer: Resp = await self.call(method, metadata, request, context, inner, abort)
            return answer

        return grpc.unary_unary_rpc_method_handler(
            behaviour,
            request_deserializer=_tolerant(method, handler.request_deserializer),
            response_serializer=handler.response_serializer,
        )
