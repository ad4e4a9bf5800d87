"""A national node with its management console and operators, for the console's tests."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pyotp
from voucherkit import start_nation

from node.console.enrol import Enrolment, enrol
from node.storage.audit import AuditRecord, q_audit_tail

NEW_PASSWORD = "a long new password 1"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class ConsoleNation:
    kit: object
    root: Path
    operators: dict[str, Enrolment] = field(default_factory=dict)

    @property
    def national(self):
        return self.kit.national

    @property
    def url(self) -> str:
        return f"https://{self.national.https_address}/console/"

    def enrol(self, name: str, duty: str) -> Enrolment:
        db = self.root / "national" / "national.db"
        url = self.kit.cluster.db_url("national")  # on PostgreSQL
        given = enrol(db, db.parent / "master.key", name, duty, url=url)
        self.operators[name] = given
        return given

    def totp(self, name: str) -> str:
        return pyotp.parse_uri(self.operators[name].totp_uri).now()

    def client(self) -> httpx.AsyncClient:
        """A browser-like client without a client certificate, verifying the node's
        certificate against the test CA."""
        pki = self.kit.cluster.pki
        return httpx.AsyncClient(
            base_url=f"https://{self.national.https_address}",
            verify=pki.ssl_context(None),
            timeout=30,
        )

    async def audit(self, limit: int = 200) -> list[AuditRecord]:
        return await self.national.store.db.read(q_audit_tail, limit)


async def start_console_nation(cluster, root: Path, provinces=("44", "31")) -> ConsoleNation:
    kit = await start_nation(cluster, root, population=40, https=True)
    for p in provinces:
        await cluster.start_province(p)
    return ConsoleNation(kit, root)


def csrf_of(page: str) -> str:
    found = _CSRF.search(page)
    assert found, f"no CSRF token in the page: {page[:400]}"
    return found.group(1)


async def login(
    http: httpx.AsyncClient, name: str, password: str, code: str = ""
) -> httpx.Response:
    form = await http.get("/console/login")
    return await http.post(
        "/console/login",
        data={"csrf": csrf_of(form.text), "name": name, "password": password, "totp": code},
    )


async def first_login(cn: ConsoleNation, http: httpx.AsyncClient, name: str) -> None:
    """Log in with the one-time password and set NEW_PASSWORD."""
    given = cn.operators[name]
    code = cn.totp(name) if given.totp_uri else ""
    answer = await login(http, name, given.password, code)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/console/password"
    page = await http.get("/console/password")
    changed = await http.post(
        "/console/password",
        data={
            "csrf": csrf_of(page.text),
            "current": given.password,
            "new": NEW_PASSWORD,
            "again": NEW_PASSWORD,
        },
    )
    assert changed.status_code == 303, changed.text
