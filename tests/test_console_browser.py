"""The management console in a real browser: Debian's headless Chromium driven by
Playwright, trusting the test CA through its own NSS database (no certificate error is
ignored). Screenshots of each page go to ``$CONSOLE_SCREENSHOTS`` or the test's tmp dir.

Skipped, saying how to install it, on a machine without ``chromium`` and ``certutil``:
``apt-get install -y chromium libnss3-tools`` (``.ci/run`` does)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from consolekit import NEW_PASSWORD, ConsoleNation, start_console_nation
from scankit import insured_in
from settlekit import A, B, item, start_settle_nation
from test_settlement_day import Desk

from ecnet.v1 import admin_service_pb2 as apb
from node.domain.sm import sm2_generate_keypair

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CERTUTIL = shutil.which("certutil")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CERTUTIL is None,
    reason="no headless browser: `apt-get install -y chromium libnss3-tools` "
    "(as .ci/run does) to run the console's browser tests",
)


def _trusting_home(home: Path, ca: Path) -> Path:
    """A HOME whose NSS database (what Chromium on Linux trusts) holds the test CA."""
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    subprocess.run([CERTUTIL, "-d", f"sql:{nssdb}", "-N", "--empty-password"], check=True)
    subprocess.run(
        [CERTUTIL, "-d", f"sql:{nssdb}", "-A", "-t", "C,,", "-n", "ecnet test CA", "-i", str(ca)],
        check=True,
    )
    return home


@pytest.fixture
async def browser(tmp_path, test_pki):
    from playwright.async_api import async_playwright

    home = _trusting_home(tmp_path / "home", test_pki.ca.cert_path)
    async with async_playwright() as pw:
        b = await pw.chromium.launch(
            executable_path=CHROMIUM, env={**os.environ, "HOME": str(home)}
        )
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
def shots(tmp_path, request) -> Path:
    root = os.environ.get("CONSOLE_SCREENSHOTS")
    folder = Path(root) / request.node.name if root else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def _first_login(page, cn, name: str, shots: Path) -> None:
    given = cn.operators[name]
    await page.goto(cn.url)  # no session: the login page
    assert page.url.endswith("/console/login")
    await page.screenshot(path=shots / "login.png", full_page=True)
    await page.fill("input[name=name]", name)
    await page.fill("input[name=password]", given.password)
    if given.totp_uri:
        await page.fill("input[name=totp]", cn.totp(name))
    await page.click("button[type=submit]")
    assert page.url.endswith("/console/password")
    await page.screenshot(path=shots / "password.png", full_page=True)
    await page.fill("input[name=current]", given.password)
    await page.fill("input[name=new]", NEW_PASSWORD)
    await page.fill("input[name=again]", NEW_PASSWORD)
    await page.click("main button[type=submit]")
    assert page.url.split("?")[0].endswith("/console/")


async def test_admin_logs_in_approves_an_application_and_suspends_a_channel(
    cluster, tmp_path, browser, shots
):
    cn = await start_console_nation(cluster, tmp_path)
    cn.enrol("root", "admin")
    bank = sm2_generate_keypair()
    applied = await cluster.stubs(cluster.nodes[1]).admin.ApplyChannel(
        apb.ApplyChannelRequest(
            name="某银行", publicKey=bank.public_key.hex(), scopes=["ecnet.v1.QrService/*"]
        ),
        timeout=10,
    )
    application = applied.application.applicationId
    context = await browser.new_context()  # the CA is trusted: no certificate error ignored
    page = await context.new_page()
    await _first_login(page, cn, "root", shots)
    nodes = await page.inner_text("#nodes")
    assert "p44" in nodes and "p31" in nodes and "up" in nodes
    await page.screenshot(path=shots / "nation.png", full_page=True)

    await page.click("nav >> text=Channels")
    waiting = page.locator("#waiting tr", has_text=application)
    await waiting.locator("input[name=appId]").fill("BANK")
    await page.screenshot(path=shots / "channels.png", full_page=True)
    await waiting.locator("text=Approve").click()
    assert len(await page.inner_text("#sm4")) == 32
    await page.screenshot(path=shots / "approved.png", full_page=True)

    await page.goto(cn.url + "channels")
    row = page.locator("#channels tr", has_text="BANK")
    await row.locator("input[name=reason]").fill("complaints 2026-12")
    await row.locator("text=Suspend").click()
    assert "channel BANK is suspended" in await page.inner_text(".notice")
    await page.screenshot(path=shots / "suspended.png", full_page=True)

    await page.click("nav >> text=Terminals")
    for name, value in {
        "province": "44",
        "orgId": "H44010600001",
        "orgName": "某医院",
        "name": "挂号机 3",
        "purpose": "registration",
        "version": "1.2",
        "developer": "某公司",
        "mac": "f8:34:41:bd:e1:88",
    }.items():
        await page.fill(f"form.grid input[name={name}]", value)
    await page.click("form.grid button[type=submit]")
    said = await page.inner_text(".notice")
    number = said.split("terminal ", 1)[1].split(" ", 1)[0]
    assert number.startswith("44") and number in await page.inner_text("#terminals")
    await page.screenshot(path=shots / "terminals.png", full_page=True)
    await context.close()

    channels = await cluster.stubs(cn.national).admin.ListChannels(
        apb.ListChannelsRequest(), timeout=10
    )
    bank_row = {c.channelId: c for c in channels.channels}["BANK"]
    assert (bank_row.status, bank_row.statusReason) == ("suspended", "complaints 2026-12")
    done = [r for r in await cn.audit() if "root" in r.who and r.code == 0]
    assert {"ApproveChannelApplication", "SetChannelStatus", "RegisterTerminal"} <= {
        r.method.rsplit("/", 1)[-1] for r in done
    }
    assert {p.name for p in shots.iterdir()} >= {
        "approved.png",
        "channels.png",
        "login.png",
        "nation.png",
        "password.png",
        "suspended.png",
        "terminals.png",
    }


async def test_a_province_operator_sees_its_province_only(cluster, tmp_path, browser, shots):
    cn = await start_console_nation(cluster, tmp_path)
    cn.enrol("chen", "p44")
    context = await browser.new_context()
    page = await context.new_page()
    await _first_login(page, cn, "chen", shots)
    nodes = await page.inner_text("#nodes")
    assert "p44" in nodes and "p31" not in nodes
    await page.screenshot(path=shots / "nation-p44.png", full_page=True)
    await context.close()


async def test_a_wrong_code_and_five_wrong_passwords_are_shown_clearly(
    cluster, tmp_path, browser, shots
):
    cn = await start_console_nation(cluster, tmp_path, provinces=())
    cn.enrol("root", "admin")
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(cn.url + "login")
    for _ in range(5):  # the right password, a wrong code (not the one of this minute)
        wrong = f"{(int(cn.totp('root')) + 500_000) % 1_000_000:06d}"
        await page.fill("input[name=name]", "root")
        await page.fill("input[name=password]", cn.operators["root"].password)
        await page.fill("input[name=totp]", wrong)
        await page.click("button[type=submit]")
    alert = await page.inner_text(".error")
    assert "locked" in alert
    await page.screenshot(path=shots / "locked.png", full_page=True)
    await context.close()


async def test_an_auditor_opens_the_audit_page_and_searches_it(cluster, tmp_path, browser, shots):
    cn = await start_console_nation(cluster, tmp_path, provinces=("44",))
    cn.enrol("wang", "auditor")
    await cluster.stubs(cn.national).admin.SetChannelStatus(
        apb.SetChannelStatusRequest(channelId="WECHAT", status="suspended", reason="audit me"),
        timeout=10,
    )
    context = await browser.new_context()
    page = await context.new_page()
    await _first_login(page, cn, "wang", shots)
    await page.click("nav >> text=Audit")
    verdict = await page.inner_text("#verdict")
    assert "Chain intact" in verdict and "records checked" in verdict
    assert "PasswordChange" in await page.inner_text("#audit")
    await page.screenshot(path=shots / "audit.png", full_page=True)
    await page.fill("#search input[name=subject]", "audit me")
    await page.click("#search button[type=submit]")
    rows = page.locator("#audit tbody tr")
    assert await rows.count() == 1
    assert "SetChannelStatus" in await rows.first.inner_text()
    await page.screenshot(path=shots / "audit-search.png", full_page=True)
    await context.close()
    assert {"audit.png", "audit-search.png"} <= {p.name for p in shots.iterdir()}


async def test_a_settlement_appears_on_the_flows_page_and_in_the_downloaded_report(
    cluster, tmp_path, browser, shots
):
    sk = await start_settle_nation(cluster, tmp_path, ("44", "31"), https=True)
    cn = ConsoleNation(sk.kit, tmp_path)
    cn.enrol("root", "admin")
    desk = Desk(sk, "44", sk.terminals["44"][0])
    auth = await sk.activated(insured_in(sk.kit, "44")[0], "44")
    far = await sk.activated(insured_in(sk.kit, "31")[0], "44")
    await desk.settle(auth, [item("A1", A, 30_000)])
    context = await browser.new_context(accept_downloads=True)
    page = await context.new_page()
    await _first_login(page, cn, "root", shots)
    await page.click("nav >> text=Flows")
    day = await page.input_value("#ask input[name=day]")
    before = int(await page.inner_text("#settlements-44"))
    assert before == 1

    # two more settlements, one of a person insured in 31: the page shows them
    await desk.settle(auth, [item("B1", B, 5_000, 2)])
    await desk.settle(far, [item("A2", A, 12_000)])
    await page.reload()
    assert await page.inner_text("#settlements-44") == "3"
    assert await page.inner_text("#total-settlements") == "3"
    assert await page.inner_text("#matrix-44-31") == "1"
    bars = page.locator("#chart-44 rect.bar.settlements title")  # one an hour
    assert await bars.count() == 24
    assert sum(int(t.rsplit(": ", 1)[1]) for t in await bars.all_text_contents()) == 3
    await page.screenshot(path=shots / "flows.png", full_page=True)

    await page.click("nav >> text=Reports")
    assert await page.inner_text(f"#line-{day}-44-settlements") == "3"
    async with page.expect_download() as info:
        await page.click("#csv-province")
    download = await info.value
    text = Path(await download.path()).read_text()
    assert download.suggested_filename == f"ecnet-province-{day}-{day}.csv"
    header, *lines = text.splitlines()
    assert header.startswith("date,province,activations,authorizations,qr_codes,scans,")
    mine = [x.split(",") for x in lines if x.startswith(f"{day},44,")]
    assert len(mine) == 1 and mine[0][6] == "3"  # settlements
    await page.screenshot(path=shots / "reports.png", full_page=True)

    await page.fill("#statement-form input[name=orgId]", desk.org)
    await page.click("#statement-form button[type=submit]")
    assert await page.inner_text("#stmt-total-settled-count") == "3"
    assert await page.inner_text("#stmt-remote-settled-count") == "1"
    await page.screenshot(path=shots / "statement.png", full_page=True)

    await page.goto(cn.url + "reports?from=2026-01-01&to=2026-12-31")
    assert "Refused (-2)" in await page.inner_text("#refused")
    await context.close()
    assert {"flows.png", "reports.png", "statement.png"} <= {p.name for p in shots.iterdir()}
