"""The management console (node.console): its logins, sessions, CSRF and roles, attacked
over HTTPS against a real national node (the browser's view: tests/test_console_browser.py)."""

from __future__ import annotations

import re

import pytest
from consolekit import NEW_PASSWORD, csrf_of, first_login, login, start_console_nation

from ecnet.v1 import admin_service_pb2 as apb
from node.console.app import SESSION_COOKIE


@pytest.fixture
async def cn(cluster, tmp_path):
    return await start_console_nation(cluster, tmp_path)


def _methods(records) -> list[str]:
    return [r.method.rsplit("/", 1)[-1] for r in records]


@pytest.mark.backends  # and on PostgreSQL (tests/conftest.py)
async def test_admin_logs_in_with_password_and_totp_and_sees_the_nation(cn):
    cn.enrol("root", "admin")
    async with cn.client() as http:
        # the password alone is not enough for an administrator
        answer = await login(http, "root", cn.operators["root"].password, "")
        assert answer.status_code == 401 and "wrong name, password or code" in answer.text
        await first_login(cn, http, "root")
        cookie = next(c for c in http.cookies.jar if c.name == SESSION_COOKIE)
        assert cookie.secure and cookie.path == "/console"
        assert cookie.has_nonstandard_attr("HttpOnly")
        page = await http.get("/console/")
        assert page.status_code == 200
        assert "p44" in page.text and "p31" in page.text and "National" in page.text
        # the one-time password no longer opens the account
    async with cn.client() as http:
        again = await login(http, "root", cn.operators["root"].password, cn.totp("root"))
        assert again.status_code == 401
    methods = _methods(await cn.audit())
    assert {"Login", "LoginFailed", "PasswordChange", "ListNodes"} <= set(methods)


async def test_a_form_without_its_csrf_token_is_refused_and_audited(cn):
    cn.enrol("root", "admin")
    async with cn.client() as http:
        await first_login(cn, http, "root")
        forged = await http.post(
            "/console/channels/status",
            data={"channel": "WECHAT", "status": "suspended", "reason": "forged"},
        )
        assert forged.status_code == 403 and "CSRF" in forged.text
        wrong = await http.post(
            "/console/channels/status",
            data={"csrf": "x" * 43, "channel": "WECHAT", "status": "suspended", "reason": "f"},
        )
        assert wrong.status_code == 403
    channels = await cn.kit.cluster.stubs(cn.national).admin.ListChannels(
        apb.ListChannelsRequest(), timeout=10
    )
    assert {c.channelId: c.status for c in channels.channels}["WECHAT"] == "approved"
    assert _methods(await cn.audit()).count("CsrfRefused") == 2
    # a login form posted from elsewhere (no login cookie) is refused too
    async with cn.client() as http:
        answer = await http.post(
            "/console/login", data={"csrf": "abc", "name": "root", "password": NEW_PASSWORD}
        )
        assert answer.status_code == 403 and "CSRF" in answer.text


async def test_a_session_past_its_lifetime_is_refused(cn):
    cn.enrol("wang", "auditor")
    async with cn.client() as http:
        await first_login(cn, http, "wang")
        page = await http.get("/console/")
        assert page.status_code == 200
        token = csrf_of(page.text)
        cn.kit.clock.advance(31 * 60)  # the default lifetime is 30 minutes
        gone = await http.get("/console/")
        assert gone.status_code == 303 and gone.headers["location"] == "/console/login"
        post = await http.post("/console/logout", data={"csrf": token})
        assert post.status_code == 401 and "log in again" in post.text
    assert "SessionExpired" in _methods(await cn.audit())


@pytest.mark.backends  # and on PostgreSQL (tests/conftest.py)
async def test_five_wrong_passwords_lock_the_account(cn):
    cn.enrol("wang", "auditor")
    async with cn.client() as http:
        await first_login(cn, http, "wang")
    async with cn.client() as http:
        for n in range(4):
            bad = await login(http, "wang", f"wrong password {n}")
            assert bad.status_code == 401
        fifth = await login(http, "wang", "wrong password 5")
        assert fifth.status_code == 403 and "locked" in fifth.text
        right = await login(http, "wang", NEW_PASSWORD)
        assert right.status_code == 403 and "locked" in right.text
        cn.kit.clock.advance(16 * 60)  # locked for 15 minutes
        after = await login(http, "wang", NEW_PASSWORD)
        assert after.status_code == 303 and after.headers["location"] == "/console/"
    methods = _methods(await cn.audit())
    assert methods.count("LoginFailed") == 4
    assert methods.count("Lockout") == 1 and methods.count("LoginLocked") == 1


async def test_a_province_operator_sees_its_province_only_and_cannot_retry(cn):
    cn.enrol("chen", "p44")
    async with cn.client() as http:
        await first_login(cn, http, "chen")
        page = await http.get("/console/")
        assert page.status_code == 200
        assert "p44" in page.text and "p31" not in page.text
        assert "Retry" not in page.text and "Suspend" not in page.text
        # the button is not shown; the call made anyway is refused by the gate
        forced = await http.post(
            "/console/nation/retry", data={"csrf": csrf_of(page.text), "destination": "31"}
        )
        assert forced.status_code == 403 and "RetryParked is not allowed" in forced.text
        suspend = await http.post(
            "/console/channels/status",
            data={
                "csrf": csrf_of(page.text),
                "channel": "WECHAT",
                "status": "suspended",
                "reason": "not mine",
            },
        )
        assert suspend.status_code == 403 and "SetChannelStatus is not allowed" in suspend.text
    refused = [r for r in await cn.audit() if r.code == -4 and "chen" in r.who]
    assert {r.method.rsplit("/", 1)[-1] for r in refused} >= {"RetryParked", "SetChannelStatus"}


def _terminal_form(token: str, province: str) -> dict[str, str]:
    return {
        "csrf": token,
        "province": province,
        "orgId": "H44010600001",
        "orgName": "某医院",
        "name": "挂号机 3",
        "purpose": "registration",
        "version": "1.2",
        "developer": "某公司",
        "mac": "f8:34:41:bd:e1:88",
    }


async def test_a_province_operator_registers_and_revokes_its_province_terminals_only(cn):
    cn.enrol("chen", "p44")
    admin = cn.kit.cluster.stubs(cn.national).admin
    listed = await admin.ListTerminals(apb.ListTerminalsRequest(province="31"), timeout=10)
    other = listed.terminals[0].terminalId
    async with cn.client() as http:
        await first_login(cn, http, "chen")
        page = await http.get("/console/terminals")
        assert page.status_code == 200 and other not in page.text
        token = csrf_of(page.text)
        made = await http.post("/console/terminals/register", data=_terminal_form(token, "44"))
        assert made.status_code == 303, made.text
        shown = await http.get(made.headers["location"])
        number = shown.text.split("terminal ", 1)[1].split(" ", 1)[0]
        assert number.startswith("44") and number in shown.text
        # the province field is read-only on the page; forced, the servicer refuses it
        forced = await http.post("/console/terminals/register", data=_terminal_form(token, "31"))
        assert forced.status_code == 403 and "province 44 only" in forced.text
        foreign = await http.post(
            "/console/terminals/revoke", data={"csrf": token, "terminal": other, "reason": "x"}
        )
        assert foreign.status_code == 403 and "province 44 only" in foreign.text
        own = await http.post(
            "/console/terminals/revoke", data={"csrf": token, "terminal": number, "reason": "lost"}
        )
        assert (
            own.status_code == 303 and "revoked" in (await http.get(own.headers["location"])).text
        )
    after = await admin.ListTerminals(apb.ListTerminalsRequest(province="31"), timeout=10)
    assert not {t.terminalId: t for t in after.terminals}[other].revokedAt.seconds


async def test_the_grpc_door_narrows_a_province_operators_terminal_changes_too(cn):
    from voucherkit import fails

    from node.pki import Identity

    chen = cn.kit.cluster.stubs(cn.national, as_=Identity.operator("chen", duty="p44").uri)
    form = _terminal_form("", "31")
    del form["csrf"]
    await fails(chen.admin.RegisterTerminal(apb.RegisterTerminalRequest(**form), timeout=10), -4)
    listed = await cn.kit.cluster.stubs(cn.national).admin.ListTerminals(
        apb.ListTerminalsRequest(province="31"), timeout=10
    )
    other = listed.terminals[0].terminalId
    await fails(
        chen.admin.RevokeTerminal(apb.RevokeTerminalRequest(terminalId=other), timeout=10), -4
    )


async def test_the_administrator_retries_a_provinces_parked_events_from_the_nation_page(
    cluster, tmp_path
):
    from types import SimpleNamespace

    from consolekit import ConsoleNation
    from test_delivery import card, enqueue
    from test_outbox_parking import parked_count, poison, start_national

    national = await start_national(cluster, https="127.0.0.1:0")
    await cluster.start_province("44")
    last = await enqueue(national, [poison(card(3))])
    await parked_count(national, 1)
    cn = ConsoleNation(SimpleNamespace(national=national, cluster=cluster), tmp_path)
    cn.enrol("root", "admin")
    async with cn.client() as http:
        await first_login(cn, http, "root")
        page = await http.get("/console/")
        assert 'id="retry-44"' in page.text  # one parked event for p44, and its button
        answer = await http.post(
            "/console/nation/retry", data={"csrf": csrf_of(page.text), "destination": "44"}
        )
        assert answer.status_code == 303
        shown = await http.get(answer.headers["location"])
        assert "p44: 1 parked event(s) queued again" in shown.text
    [(seq, event_id, _, _)] = await parked_count(national, 1)  # refused again, parked again
    assert seq > last and event_id == "poison-1"
    retried = [r for r in await cn.audit() if r.method.endswith("/RetryParked")]
    assert [(r.who, r.code) for r in retried] == [("ecnet://operator/admin/root", 0)]


@pytest.mark.parametrize("value", ["ten", "0", "-5"])
def test_a_bad_console_setting_is_a_configuration_error(monkeypatch, value):
    from node.config import ConfigError
    from node.console.app import ConsoleSettings

    monkeypatch.setenv("ECNET_CONSOLE_SESSION_MINUTES", value)
    with pytest.raises(ConfigError, match="ECNET_CONSOLE_SESSION_MINUTES"):
        ConsoleSettings.from_env()
    monkeypatch.setenv("ECNET_CONSOLE_SESSION_MINUTES", "45")
    assert ConsoleSettings.from_env().session_minutes == 45


async def test_the_auditor_reads_and_searches_the_audit_log_newest_first(cn):
    cn.enrol("wang", "auditor")
    cn.enrol("li", "support")
    admin = cn.kit.cluster.stubs(cn.national).admin
    await admin.SetChannelStatus(
        apb.SetChannelStatusRequest(channelId="WECHAT", status="suspended", reason="audit me"),
        timeout=10,
    )
    async with cn.client() as http:
        await first_login(cn, http, "wang")
        page = await http.get("/console/audit")
        assert page.status_code == 200, page.text
        assert 'href="/console/audit"' in page.text  # the auditor's menu shows it
        assert "Chain intact" in page.text and "records checked" in page.text
        # newest first: the first row is the newest record (this page's own ListAudit is
        # written after it answers, so VerifyAudit's record is the newest shown)
        seqs = [int(s) for s in re.findall(r"<tr><td>(\d+)</td>", page.text)]
        assert seqs == sorted(seqs, reverse=True) and len(seqs) > 3
        # searching by subject finds the suspension, and only records that name it
        found = await http.get("/console/audit", params={"subject": "AUDIT ME"})
        rows = re.findall(r"<tr><td>\d+</td>.*?</tr>", found.text)
        assert len(rows) == 1 and "SetChannelStatus" in rows[0] and "WECHAT" in rows[0]
        by_who = await http.get("/console/audit", params={"who": "auditor/wang"})
        methods = re.findall(r"<td>(\w+)<br><small>", by_who.text)
        assert methods and set(methods) <= {"Login", "PasswordChange", "ListAudit", "VerifyAudit"}
        assert "Login" in methods
        refused = await http.get("/console/audit", params={"outcome": "-4"})
        assert "no record matches" in refused.text  # nothing refused yet
        nothing = await http.get("/console/audit", params={"method": "NoSuchMethod"})
        assert "no record matches" in nothing.text
    # a support operator is refused the page, clearly, and the refusal is audited
    async with cn.client() as http:
        await first_login(cn, http, "li")
        home = await http.get("/console/")
        assert 'href="/console/audit"' not in home.text
        page = await http.get("/console/audit")
        assert page.status_code == 403
        assert "Refused (-4)" in page.text and "VerifyAudit is not allowed" in page.text
    refused_calls = [r for r in await cn.audit() if r.code == -4 and "support/li" in r.who]
    assert [r.method.rsplit("/", 1)[-1] for r in refused_calls] == ["VerifyAudit"]


async def test_the_audit_page_pages_through_the_log(cn):
    cn.enrol("wang", "auditor")
    admin = cn.kit.cluster.stubs(cn.national).admin
    for _ in range(60):
        await admin.ListChannels(apb.ListChannelsRequest(), timeout=10)
    async with cn.client() as http:
        await first_login(cn, http, "wang")
        first = await http.get("/console/audit", params={"method": "ListChannels"})
        one = [int(s) for s in re.findall(r"<tr><td>(\d+)</td>", first.text)]
        assert len(one) == 50 and "Older" in first.text and "Newer" not in first.text
        second = await http.get("/console/audit", params={"method": "ListChannels", "page": "2"})
        two = [int(s) for s in re.findall(r"<tr><td>(\d+)</td>", second.text)]
        assert len(two) == 10 and max(two) < min(one) and "Newer" in second.text
        assert "60 match" in first.text


async def test_the_audit_page_names_the_first_record_changed(cn):
    from test_operators import tamper

    cn.enrol("wang", "auditor")
    async with cn.client() as http:
        await first_login(cn, http, "wang")
        tamper(cn.national.db_path, "UPDATE audit_log SET who = 'x' WHERE seq = 2")
        page = await http.get("/console/audit")
        assert page.status_code == 200
        assert "Chain BROKEN" in page.text and "at record 2" in page.text
        assert "Chain intact" not in page.text


@pytest.mark.backends  # and on PostgreSQL (tests/conftest.py)
async def test_a_totp_code_opens_one_login_only(cn):
    import time

    import pyotp

    cn.enrol("root", "admin")
    totp = pyotp.parse_uri(cn.operators["root"].totp_uri)
    async with cn.client() as http:
        await first_login(cn, http, "root")  # accepts the code of the current step
    # the next step's code (inside the window of one step either side) opens a login
    code = totp.at(time.time() + 30)
    async with cn.client() as http:
        first = await login(http, "root", NEW_PASSWORD, code)
        assert first.status_code == 303 and first.headers["location"] == "/console/"
    # the same code again, within its window, with the right password: refused
    async with cn.client() as http:
        again = await login(http, "root", NEW_PASSWORD, code)
        assert again.status_code == 401 and "this code was used already" in again.text
        assert SESSION_COOKIE not in http.cookies
        # an older code after a newer one is refused too
        older = await login(http, "root", NEW_PASSWORD, totp.at(time.time() - 30))
        assert older.status_code == 401
        assert (await http.get("/console/")).status_code == 303  # no session
    replays = [r for r in await cn.audit() if r.method.endswith("/LoginFailed")]
    assert replays and "TOTP code used already" in replays[0].subject
    assert replays[0].who == "ecnet://operator/admin/root" and replays[0].code == -4


async def test_the_last_totp_step_is_claimed_once_in_the_database(cn, tmp_path):
    import sqlite3

    from node.storage.console import q_totp_claim

    cn.enrol("root", "admin")
    # a copy of national's migrated database (the node keeps its own open)
    src, copy = sqlite3.connect(cn.national.db_path), sqlite3.connect(tmp_path / "copy.db")
    src.backup(copy)
    src.close()
    with copy:
        assert q_totp_claim(copy, "root", 5)
        assert not q_totp_claim(copy, "root", 5)  # the same step again
        assert not q_totp_claim(copy, "root", 4)  # an older step
        assert q_totp_claim(copy, "root", 6)
        assert not q_totp_claim(copy, "nobody", 7)
    copy.close()


async def test_a_support_operators_reveal_is_refused_shown_and_audited(cn):
    cn.enrol("li", "support")
    cn.enrol("wang", "auditor")
    admin = cn.kit.cluster.stubs(cn.national).admin
    unmasked = await admin.ListPersons(
        apb.ListPersonsRequest(pageSize=50, reveal=True, reason="test oracle"), timeout=10
    )
    ids = [p.idNo for p in unmasked.persons]
    assert len(ids) > 5
    async with cn.client() as http:
        await first_login(cn, http, "li")
        page = await http.get("/console/persons")
        assert page.status_code == 200
        assert 'id="reveal"' not in page.text  # no reveal form for support
        assert not any(i in page.text for i in ids)  # masked
        shown = re.findall(r"<tr><td>", page.text)
        assert len(shown) == len(ids)
        # the form made anyway, with the session's token: refused by ListPersons (support
        # may list, masked, but not reveal)
        forced = await http.post(
            "/console/persons/reveal",
            data={"csrf": csrf_of(page.text), "reason": "curious", "province": "", "after": ""},
        )
        assert forced.status_code == 403
        assert "Refused (-4)" in forced.text and "sees persons masked only" in forced.text
        assert not any(i in forced.text for i in ids)
    refused = [r for r in await cn.audit() if "support/li" in r.who and r.code == -4]
    assert [r.method.rsplit("/", 1)[-1] for r in refused] == ["ListPersons"]
    assert "reveal" in refused[0].subject
    # the auditor reveals with a reason (the view audited with it); without one: -2
    async with cn.client() as http:
        await first_login(cn, http, "wang")
        page = await http.get("/console/persons")
        assert 'id="reveal"' in page.text and not any(i in page.text for i in ids)
        token = csrf_of(page.text)
        bare = await http.post(
            "/console/persons/reveal", data={"csrf": token, "reason": " ", "after": ""}
        )
        assert bare.status_code == 400 and "Refused (-2)" in bare.text and "reason" in bare.text
        seen = await http.post(
            "/console/persons/reveal",
            data={"csrf": token, "reason": "complaint 2026-118", "after": ""},
        )
        assert seen.status_code == 200 and all(i in seen.text for i in ids)
    views = [
        r
        for r in await cn.audit()
        if "auditor/wang" in r.who and r.method.endswith("/ListPersons") and r.code == 0
    ]
    assert any("complaint 2026-118" in r.subject and "revealed" in r.subject for r in views)


async def test_a_province_operator_sees_its_provinces_persons_only(cn):
    cn.enrol("chen", "p44")
    admin = cn.kit.cluster.stubs(cn.national).admin
    other = await admin.ListPersons(
        apb.ListPersonsRequest(insuredProvince="31", pageSize=50), timeout=10
    )
    own = await admin.ListPersons(
        apb.ListPersonsRequest(insuredProvince="44", pageSize=50), timeout=10
    )
    assert other.persons and own.persons
    async with cn.client() as http:
        await first_login(cn, http, "chen")
        page = await http.get("/console/persons", params={"province": "31"})
        assert page.status_code == 200 and "province 44" in page.text
        assert len(re.findall(r"<tr><td>", page.text)) == len(own.persons)
