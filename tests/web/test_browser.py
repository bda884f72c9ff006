"""Real-browser tests: Debian's chromium driven by Playwright against uvicorn on 127.0.0.1.

Never ``playwright install``: the browser is the system package (``apt-get install
chromium``; listed in ``.ci/apt-packages.txt``). Screenshots of the main pages go to
``test-artifacts/``.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from abusedesk.cases.models import Case
from abusedesk.cases.workflow import transition
from abusedesk.config import Settings
from abusedesk.context import Context
from abusedesk.migrate import upgrade
from abusedesk.reports.flows import ingest_bytes
from abusedesk.users.links import portal_link
from abusedesk.users.service import create_user
from tests.helpers import load_inventory, own_report

pytestmark = pytest.mark.browser
playwright_sync = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "correct horse battery"
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'

if not Path(CHROMIUM).exists():  # pragma: no cover - CI installs it
    pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)", allow_module_level=True)


@dataclass
class Live:
    url: str
    ctx: Context
    acme_case: int
    hostile_case: int
    hostile_raw: int
    action_id: int


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _hostile_mail() -> bytes:
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = f'"{XSS}" <evil@attacker.example>'
    message["To"] = "abuse@abusedesk.test"
    message["Subject"] = f"{XSS} spam from 192.0.2.10"
    message.set_content(f"Spam from 192.0.2.10 {XSS}")
    message.add_alternative(f'<p onclick="window.__xss=3">hi</p><script>window.__xss=4</script><a href="javascript:window.__xss=5">x</a>{XSS}', subtype="html")
    message.add_attachment(b"<script>window.__xss=6</script>", maintype="text", subtype="html", filename=f"{XSS}.html")
    return bytes(message)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    import uvicorn

    from abusedesk.enforcement import service as enforcement
    from abusedesk.policy.models import ActionKind
    from abusedesk.web.app import create_app

    settings = Settings(data_dir=tmp_path_factory.mktemp("browser") / "var", run_worker=False)
    ctx = Context.create(settings)
    upgrade(ctx.engine)
    load_inventory(ctx)
    with ctx.transaction() as session:
        create_user(session, username="analyst", role="analyst", password=PASSWORD, actor="test")
    acme = ingest_bytes(ctx, own_report(category="email.spam", source="192.0.2.10"), channel="api").reports[0].case_id
    hostile_report = {
        "category": "content.phishing", "resources": [{"kind": "url", "value": "http://192.0.2.30/login?q=<script>window.__xss=7</script>"}],
        "summary": f"phish {XSS}", "evidence": XSS, "reporter": {"email": "x@r.example", "name": XSS},
    }
    hostile = ingest_bytes(ctx, json.dumps(hostile_report).encode(), channel="api").reports[0].case_id
    mail = ingest_bytes(ctx, _hostile_mail(), channel="smtp")
    assert acme and hostile
    with ctx.transaction() as session:
        action = enforcement.propose(ctx, session, enforcement.Proposal(ActionKind.BLOCK_IP, "acme", "ip", "192.0.2.10", "playbook: spam source", case_id=acme), actor="playbook")
        action_id = action.id
        case = session.get(Case, acme)
        assert case is not None
        transition(session, case, "actioned", actor="user:analyst", reason="browser test")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(ctx, background=False), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield Live(f"http://127.0.0.1:{port}", ctx, acme, hostile, mail.raw_id, action_id)
    server.should_exit = True
    thread.join(timeout=10)
    ctx.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright_sync.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=shutil.which("chromium") or CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh context (cookies, storage) per test; any JavaScript dialog fails the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    dialogs: list[str] = []
    tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    yield tab
    context.close()
    assert not dialogs, f"a script ran: {dialogs}"


def _login(page: Any, live: Live, username: str = "analyst") -> None:
    page.goto(f"{live.url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}/console")


def _no_xss(page: Any) -> None:
    assert page.evaluate("() => window.__xss") is None


def test_stranger_reports_abuse_and_gets_a_tracking_id(live: Live, page: Any) -> None:
    page.goto(f"{live.url}/report")
    page.screenshot(path=str(ARTIFACTS / "report-step1.png"), full_page=True)
    page.check("input[value='email.spam']")
    page.click("text=Continue")
    page.fill("textarea[name=sources]", "192.0.2.10")
    page.fill("textarea[name=headers]", "Received: from mx (192.0.2.10)\nSubject: cheap pills")
    page.fill("textarea[name=explanation]", "Unsolicited bulk mail")
    page.click("button[type=submit]")  # incomplete: the form explains what is missing
    assert page.locator(".field-error").count() >= 2
    page.fill("input[name=name]", "Rita Reporter")
    page.fill("input[name=email]", "rita@reporter.example")
    page.check("input[name=good_faith]")
    page.screenshot(path=str(ARTIFACTS / "report-form.png"), full_page=True)
    page.click("button[type=submit]")
    page.wait_for_selector("#tracking-id")
    tracking = page.inner_text("#tracking-id")
    assert len(tracking) == 32 and page.inner_text("#report-status") == "completed"
    page.screenshot(path=str(ARTIFACTS / "report-status.png"), full_page=True)


def test_analyst_filters_opens_a_case_and_approves_an_action(live: Live, page: Any) -> None:
    _login(page, live)
    page.screenshot(path=str(ARTIFACTS / "console-queue.png"), full_page=True)
    page.select_option("select[name=status]", "actioned")
    page.select_option("select[name=category]", "email.spam")  # htmx swaps the rows in place
    page.wait_for_function("() => document.querySelectorAll('#queue-rows tbody tr').length === 1")
    assert "category=email.spam" in page.url
    page.click("#queue-rows tbody tr a code")
    page.wait_for_selector(f"#action-{live.action_id}")
    page.screenshot(path=str(ARTIFACTS / "console-case.png"), full_page=True)
    page.click(f"#action-{live.action_id} button[value=approve]")
    page.wait_for_selector(".flash")
    assert page.inner_text(f"#action-{live.action_id} .state") == "approved"
    page.goto(f"{live.url}/console/dashboard")
    assert page.locator("svg.chart").count() == 6
    page.screenshot(path=str(ARTIFACTS / "console-dashboard.png"), full_page=True)
    page.goto(f"{live.url}/console/accounts/acme")
    page.screenshot(path=str(ARTIFACTS / "console-account.png"), full_page=True)


def test_customer_opens_the_link_replies_and_appeals(live: Live, page: Any) -> None:
    link = portal_link(live.ctx, "acme", live.acme_case).replace(live.ctx.settings.public_base_url, live.url)
    page.goto(link)
    page.wait_for_selector("text=How to fix it")
    assert "r@reporter.example" not in page.content()
    page.fill("form[action$='/reply'] textarea[name=body]", "We shut the mailer down.")
    page.click("form[action$='/reply'] button")
    page.wait_for_selector("text=We shut the mailer down.")
    page.fill("form[action$='/appeal'] textarea[name=grounds]", "The mails were opt-in newsletters.")
    page.click("form[action$='/appeal'] button")
    page.wait_for_selector(".appeal-status")
    assert page.inner_text(".appeal-status") == "open"
    page.screenshot(path=str(ARTIFACTS / "portal-case.png"), full_page=True)
    page.goto(f"{live.url}/portal/cases/{live.hostile_case + 1000}")
    assert "Not found" in page.content()


def test_hostile_content_stays_inert_in_a_real_browser(live: Live, page: Any) -> None:
    _login(page, live)
    for path in ("/console?status=", f"/console/cases/{live.hostile_case}", f"/console/raw/{live.hostile_raw}", "/console/audit?check=1"):
        page.goto(f"{live.url}{path}")
        page.wait_for_load_state("load")
        _no_xss(page)
    page.goto(f"{live.url}/console/cases/{live.hostile_case}")
    assert 'onerror="window.__xss=1"' in page.inner_text("main")  # shown as text, not markup
    page.goto(f"{live.url}/console/raw/{live.hostile_raw}")
    frame = page.frame_locator("iframe.mailhtml")
    assert frame.locator("script").count() == 0 and frame.locator("[onclick]").count() == 0
    page.screenshot(path=str(ARTIFACTS / "console-raw.png"), full_page=True)
    _no_xss(page)
    # the customer's view of the same hostile case
    link = portal_link(live.ctx, "acme", live.hostile_case).replace(live.ctx.settings.public_base_url, live.url)
    page.goto(link)
    page.wait_for_selector("text=How to fix it")
    _no_xss(page)
    assert "x@r.example" not in page.content()  # phishing reporters stay anonymous
