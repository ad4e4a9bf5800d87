"""Who may do what at a node beyond holding a certificate, and the audit log.

**Operators' roles (4.8, 5.2.1).** A management-center operator's certificate names one
duty (``node.pki``): ``ecnet://operator/NAME`` and ``ecnet://operator/admin/NAME`` the
national administrator, ``…/auditor/NAME`` read-only, ``…/support/NAME`` masked data
only, ``…/pNN/NAME`` the operator of province NN (its province's channels, terminals
and persons). :data:`ADMIN_ROLES` is the one table of which duties may call each
``AdminService`` method; nodes (a province copying its terminals from national) appear
in it as ``node``. A method not in it answers -4 to everyone. The narrowing of a
province operator to its province is done by the handlers with :func:`province_scope`.

**Holders' data.** :class:`Holders` decides who may read or reverse a settlement: the
institution that made it (the orgId of the calling terminal: :meth:`Holders.calling_org`,
the one place that answers "which orgId is calling"), the insured province's node, or
an operator with a role.

**Audit.** :class:`Access` is the interceptor's :class:`~node.interceptor.Gate`: every
``AdminService`` call but ``Ping`` (the no-op of ``make bench``), and every call refused
for permission anywhere, is appended to the node's audit log (``node.storage.audit``)
with who, the peer address, the method, the request's subject (:func:`subject_of`: an
allow-list of fields, id numbers and names masked, no secrets) and the outcome. Scans,
settlements and QR codes are not audited when they succeed: a write per call on those
paths would cost more than the call.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from google.protobuf.message import Message

from node.clock import Clock
from node.domain.masking import mask_id_no, mask_name, mask_phone
from node.errors import EcError
from node.interceptor import Caller
from node.pki import Role
from node.storage.audit import AuditEntry, q_audit_append
from node.storage.db import NodeDatabase

__all__ = [
    "ADMIN",
    "AUDITOR",
    "SUPPORT",
    "PROVINCE",
    "NODE",
    "ANYONE",
    "ADMIN_SERVICE",
    "ADMIN_ROLES",
    "duty_of",
    "kind_of",
    "province_scope",
    "subject_of",
    "Access",
    "Holders",
]

log = logging.getLogger("ecnet.access")

ADMIN = "admin"
AUDITOR = "auditor"
SUPPORT = "support"
PROVINCE = "province"  # an operator pNN
NODE = "node"  # a node's certificate (national, a province)
ANYONE = "anyone"

ADMIN_SERVICE = "/ecnet.v1.AdminService/"
_READERS = frozenset({ADMIN, AUDITOR, SUPPORT, PROVINCE})

#: AdminService method → the kinds of caller allowed (the one table; tests check that
#: every method of the service is in it).
ADMIN_ROLES: dict[str, frozenset[str]] = {
    "Ping": frozenset({ANYONE}),
    "GetNodeInfo": _READERS | {NODE},
    "ListNodes": _READERS,
    "ListPersons": _READERS,  # masked; reveal: admin, auditor; pNN: its province
    "ListChannels": _READERS,
    "ListTerminals": _READERS | {NODE},  # pNN and province nodes: their province
    "UpdatePerson": frozenset({ADMIN, PROVINCE}),  # pNN: persons insured in NN only
    "RetryParked": frozenset({ADMIN}),
    "SetChannelStatus": frozenset({ADMIN}),
    # a channel's application, made at a province (its operator) and passed on by the
    # province's node; decided at national by the administrator (4.3)
    "ApplyChannel": frozenset({ADMIN, PROVINCE, NODE}),
    "ListChannelApplications": _READERS,
    "ApproveChannelApplication": frozenset({ADMIN}),
    "RejectChannelApplication": frozenset({ADMIN}),
    "RotateChannelKey": frozenset({ADMIN}),
    "RegisterTerminal": frozenset({ADMIN, PROVINCE}),  # national's registry (7.2.1.1)
    "RevokeTerminal": frozenset({ADMIN, PROVINCE}),
    "ListAudit": frozenset({ADMIN, AUDITOR}),
    "VerifyAudit": frozenset({ADMIN, AUDITOR}),
    # the management center's figures and an institution's day (no person named: the
    # days' settlements are masked); pNN: its province
    "GetFigures": _READERS,
    "GetInstitutionDay": _READERS,
}
#: Not written to the audit log: does nothing and answers nothing.
_UNAUDITED = frozenset({ADMIN_SERVICE + "Ping"})

# Request fields a record may name (anything else, passwords and codes above all, is
# left out); masked as the persons' list masks them.
_SUBJECT_FIELDS = frozenset(
    {
        "insuredProvince",
        "province",
        "pageSize",
        "pageToken",
        "channelId",
        "status",
        "reason",
        "destination",
        "idType",
        "newIdType",
        "settlementId",
        "orgId",
        "date",
        "requestId",
        "reveal",
        "limit",
        "insuOrg",
        "businessProvince",
    }
)
_MASKED: dict[str, Callable[[str], str]] = {
    "idNo": mask_id_no,
    "newIdNo": mask_id_no,
    "userName": mask_name,
    "newUserName": mask_name,
    "phone": mask_phone,
}
_VALUE_MAX = 80
_SUBJECT_MAX = 600


def duty_of(caller: Caller, insecure: bool = False) -> str:
    """``admin``, ``auditor``, ``support``, ``pNN`` for an operator; ``node`` for a node;
    "" for anyone else. On an ``--insecure`` node (no certificates) a caller that claims
    no identity and names no channel or terminal is the administrator, as every caller
    was before roles."""
    identity = caller.identity
    if identity is None:
        edge = caller.channel_id or caller.terminal_id
        return ADMIN if insecure and not edge else ""
    if identity.role is Role.OPERATOR:
        return identity.operator_duty or ""
    if identity.role in (Role.NATIONAL, Role.PROVINCE):
        return NODE
    return ""  # a terminal (or a channel): no management-center role


def kind_of(duty: str) -> str:
    """The kind :data:`ADMIN_ROLES` names: ``pNN`` is ``province``."""
    return PROVINCE if duty.startswith("p") and len(duty) == 3 else duty


def province_scope(caller: Caller, insecure: bool = False) -> str:
    """The province a caller is limited to (``NN`` of an operator pNN or of a province's
    node); "" when it is not limited."""
    identity = caller.identity
    if identity is None:
        return ""
    if identity.role is Role.PROVINCE:
        return identity.province or ""
    duty = duty_of(caller, insecure)
    return duty[1:] if kind_of(duty) == PROVINCE else ""


def _text(value: object) -> str:
    text = str(value).replace("\n", " ")
    return text if len(text) <= _VALUE_MAX else text[: _VALUE_MAX - 1] + "…"


def subject_of(request: object, notes: Sequence[str] = ()) -> str:
    """What a call was about, for its audit record: the request's allowed fields
    (``name=value``, id numbers and names masked), then ``notes``."""
    parts: list[str] = []
    if isinstance(request, Message):
        for fd, value in request.ListFields():
            name = fd.name
            if name in _MASKED and isinstance(value, str):
                parts.append(f"{name}={_MASKED[name](value)}")
            elif name == "insuredRegions":
                regions = ",".join(getattr(r, "insuOrg", "") for r in value)
                parts.append(f"insuredRegions={_text(regions)}")
            elif name in _SUBJECT_FIELDS and not isinstance(value, Message):
                parts.append(f"{name}={_text(value)}")
    parts.extend(_text(n) if len(n) <= 300 else n[:299] + "…" for n in notes)
    subject = " ".join(parts)
    return subject if len(subject) <= _SUBJECT_MAX else subject[: _SUBJECT_MAX - 1] + "…"


class Access:
    """The :class:`~node.interceptor.Gate` of a node: :data:`ADMIN_ROLES` and its audit
    log in ``db``."""

    def __init__(self, db: NodeDatabase, clock: Clock, insecure: bool = False) -> None:
        self.db = db
        self.clock = clock
        self.insecure = insecure

    def duty(self, caller: Caller) -> str:
        return duty_of(caller, self.insecure)

    def scope(self, caller: Caller) -> str:
        return province_scope(caller, self.insecure)

    def allow(self, method: str, caller: Caller) -> None:
        if not method.startswith(ADMIN_SERVICE):
            return
        name = method[len(ADMIN_SERVICE) :]
        allowed = ADMIN_ROLES.get(name, frozenset())
        duty = self.duty(caller)
        if ANYONE in allowed or (duty and kind_of(duty) in allowed):
            return
        who = f"role {duty}" if duty else "no role at the management center"
        raise EcError(
            -4,
            f"{name} is not allowed to {caller.describe()} ({who}); allowed: "
            f"{', '.join(sorted(allowed)) or 'nobody'}",
            subject=caller.subject,
        )

    def audited(self, method: str) -> bool:
        return method.startswith(ADMIN_SERVICE) and method not in _UNAUDITED

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
        entry = AuditEntry(who, peer, method, subject_of(request, notes), outcome, code)
        try:
            await self.db.write(q_audit_append, entry, self.clock.now_ms())
        except Exception:  # the call's answer stands; the failure is in the log
            log.exception("audit record not written", extra={"fields": {"method": method}})


OrgOf = Callable[[str], Awaitable[str | None]]


class Holders:
    """Who may see or reverse a settlement of this province (``province``): the
    institution that made it, the insured province's node, an operator with a role.
    ``org_of(terminal_id)``: the orgId a registered terminal of this province is bound
    to (None: not registered here)."""

    def __init__(self, access: Access, province: str, org_of: OrgOf) -> None:
        self.access = access
        self.province = province
        self.org_of = org_of

    async def calling_org(self, caller: Caller) -> str:
        """The orgId of the institution calling: the orgId of the terminal it calls from
        ("" when it names none, or one not registered here). Today the terminal is the
        ``ec-terminal-id`` metadata; a terminal certificate will name it instead, here."""
        if not caller.terminal_id:
            return ""
        return await self.org_of(caller.terminal_id) or ""

    def _operator_or_node(self, caller: Caller, insured: str, write: bool) -> bool:
        """Whether an operator or node (no terminal named) may see or reverse it."""
        duty = self.access.duty(caller)
        if duty == NODE:
            node = caller.node
            return node == "national" or node[1:] in (self.province, insured)
        kind = kind_of(duty)
        if kind == PROVINCE:
            return duty[1:] in (self.province, insured)
        if write:
            return kind == ADMIN
        return kind in (ADMIN, AUDITOR, SUPPORT)

    async def check(
        self, caller: Caller, what: str, org_id: str, insured: str, write: bool = False
    ) -> None:
        """-4 unless ``caller`` may read (or, ``write``, reverse) ``what``, made by the
        institution ``org_id`` ("" for data of no one institution) for a person insured
        in province ``insured``. A call that names a terminal is the institution's, and
        is judged as such whatever certificate carries it (until terminals hold
        certificates of their own, the programs of a terminal call with another's)."""
        if caller.terminal_id:
            org = await self.calling_org(caller)
            if org and org == org_id:
                return
            if not org:
                why = f"terminal {caller.terminal_id[:24]} is not registered at this province"
            elif org_id:
                why = f"it was made by another institution, not by {org}"
            else:
                why = f"it is no institution's, and {org} is an institution"
            raise EcError(-4, f"{what} is not yours: {why}", subject=caller.subject)
        if not self._operator_or_node(caller, insured, write):
            duty = self.access.duty(caller)
            raise EcError(
                -4,
                f"{what} is not for {caller.describe()} (role {duty or 'none'}): only its "
                "institution (by its terminal), its insured province or an operator with a "
                "role may " + ("reverse it" if write else "see it"),
                subject=caller.subject,
            )
