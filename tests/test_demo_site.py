"""`campaign serve --demo` as the README presents it: the real command on a loopback port, the demo
campaign played up to today, and each demo account the README names logging in over HTTP and seeing
what the README says it sees. The same served demo (about 50 units, every phase's requirements) is
looked at in Chromium at a phone's width: no page may be wider than the screen. The live demo is also
loaded in-process at fixed instants (December: every page has something true to show; April: it loads).

Screenshots go to test-artifacts/screenshots/ (CAMPAIGN_TEST_ARTIFACTS to change it).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHOTS = Path(os.environ.get("CAMPAIGN_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "screenshots"
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "campaignflow-demo"  # the README's demo password


class _Starts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append({"tag": tag, **{k: v or "" for k, v in attrs}})


def starts(html: str, **want: str) -> list[dict[str, str]]:
    parser = _Starts()
    parser.feed(html)
    return [e for e in parser.found if all(e.get(k) == v for k, v in want.items())]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    home = tmp_path_factory.mktemp("demo-home")
    env = {**os.environ, "CAMPAIGN_HOME": str(home), "CAMPAIGN_DB_URL": f"sqlite:///{home / 'campaign.db'}",
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", "from campaign_app.cli import main; main()", "serve", "--demo",
                             "--port", "0", "--workers", "1"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    address, campaign, lines = None, None, []
    deadline = time.monotonic() + 240
    assert proc.stdout is not None
    while address is None and time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if not line and proc.poll() is not None:
            break
        if m := re.search(r"demo loaded\): (zuofeng-\d{4})", line):
            campaign = m.group(1)
        if m := re.search(r"(http://127\.0\.0\.1:\d+)/", line):
            address = m.group(1)
    assert address and campaign, "".join(lines)
    yield {"url": address, "campaign": campaign}
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)


def log_in(demo: dict[str, Any], name: str) -> httpx.Client:
    client = httpx.Client(base_url=demo["url"], timeout=30)
    form = client.get("/login")
    csrf = starts(form.text, tag="input", name="csrf")[0]["value"]
    answer = client.post("/login", data={"name": name, "password": PASSWORD, "csrf": csrf})
    assert answer.status_code == 303, (name, answer.status_code, answer.text[:300])
    return client


def rows_of(html: str, table_tag: str = "tr") -> set[str]:
    return {e["data-unit"] for e in starts(html, tag=table_tag) if "data-unit" in e}


def test_every_demo_account_the_readme_names_sees_what_the_readme_says(demo):
    key = demo["campaign"]
    listed = lambda client: {e["data-campaign"] for e in starts(client.get("/").text, tag="li")  # noqa: E731
                             if "data-campaign" in e}

    # admin (管理员): the campaign, and may file for any unit
    admin = log_in(demo, "admin")
    assert listed(admin) == {key}
    assert len(rows_of(admin.get(f"/c/{key}/matrix").text)) > 40

    # duchazu (督导组): the ledger of every unit, with items a supervisor closes
    duchazu = log_in(demo, "duchazu")
    items = [e for e in starts(duchazu.get(f"/c/{key}/ledger").text, tag="tr") if "data-item" in e]
    assert len({i["data-unit"] for i in items}) > 20

    # u001 (a school): the campaign, its own row of the matrix, and a filing form for itself
    school = log_in(demo, "u001")
    assert listed(school) == {key}
    assert rows_of(school.get(f"/c/{key}/matrix").text) == {"u001"}
    filing = school.get(f"/c/{key}/file")
    assert filing.status_code == 200, filing.text[:300]
    assert [o["value"] for o in starts(filing.text, tag="option") if o.get("value", "").startswith("u")] == ["u001"]
    assert [e for e in starts(filing.text, tag="tr") if "data-artifact" in e], "u001 owes nothing"

    # district-1 (a 学区 that sees its schools): itself and the schools below it
    district = log_in(demo, "district-1")
    assert listed(district) == {key}
    seen = rows_of(district.get(f"/c/{key}/matrix").text)
    assert "district-1" in seen and "u001" in seen and len(seen) > 5
    assert "district-2" not in seen and "bureau" not in seen

    # viewer (只读): reads everything, changes nothing
    viewer = log_in(demo, "viewer")
    assert listed(viewer) == {key}
    assert len(rows_of(viewer.get(f"/c/{key}/matrix").text)) > 40
    assert viewer.get(f"/c/{key}/file").status_code == 403

    # the public board, without logging in
    assert httpx.get(f"{demo['url']}/public/{key}", timeout=30).status_code == 200


def test_serve_verifies_the_whole_audit_chain_on_its_schedule_and_the_page_shows_when(demo):
    """No verification is stored yet when `serve` starts: its scheduler runs the full check at once (and
    then daily); the audit page shows when, by whom, up to which event and the result."""
    admin = log_in(demo, "admin")
    deadline = time.monotonic() + 90
    while True:
        page = admin.get("/audit").text
        verdict = starts(page, id="audit-verdict")[0]
        if verdict.get("data-by") == "scheduler" or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert verdict["class"].split() == ["verdict", "ok"], page[:2000]
    assert verdict["data-by"] == "scheduler" and int(verdict["data-up-to"]) > 100
    now = dt.datetime.now(dt.timezone(dt.timedelta(hours=8)))  # the campaign's zone
    days = {(now - dt.timedelta(minutes=5)).date().isoformat(), now.date().isoformat()}
    checked = page[page.index('id="audit-checked"'):][:300]
    assert "最近一次完整校验" in checked and "定时任务" in checked and any(d in checked for d in days), checked


PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def _browser_log_in(page: Any, url: str, name: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{url}/login")
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#current-user")).to_be_visible()


@pytest.mark.parametrize("who", ["u001", "admin"])
def test_no_page_is_wider_than_a_phone_and_wide_tables_scroll_inside(demo, who):
    """At 390 px (a school clerk opening a reminder link) every page fits the screen: the filing page's
    table of the unit's obligations, the matrix and the ledger scroll inside their own box. Screenshots at
    the phone's and a desktop's width."""
    from playwright.sync_api import sync_playwright

    key = demo["campaign"]
    paths = {"overview": f"/c/{key}", "matrix": f"/c/{key}/matrix", "overdue": f"/c/{key}/overdue",
             "file": f"/c/{key}/file", "ledger": f"/c/{key}/ledger", "public": f"/public/{key}"}
    if who == "admin":
        paths["audit"] = f"/audit?campaign={key}"
        paths["grades"] = f"/c/{key}/grades"  # 考核排名: ~50 units as cards on a phone
        paths["reviews"] = f"/c/{key}/reviews"
    SHOTS.mkdir(parents=True, exist_ok=True)
    too_wide = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-background-networking", "--no-first-run"])
        try:
            for size_name, size in (("phone", PHONE), ("desktop", DESKTOP)):
                context = browser.new_context(locale="zh-CN", viewport=size,
                                              **({"is_mobile": True, "has_touch": True, "device_scale_factor": 2}
                                                 if size is PHONE else {}))
                page = context.new_page()
                _browser_log_in(page, demo["url"], who)
                for name, path in paths.items():
                    page.goto(f"{demo['url']}{path}")
                    width = page.evaluate("document.documentElement.scrollWidth")
                    if size is PHONE and width > PHONE["width"]:
                        too_wide[name] = width
                    page.screenshot(path=str(SHOTS / f"demo-{who}-{name}-{size_name}.png"), full_page=True)
                context.close()
        finally:
            browser.close()
    assert too_wide == {}, too_wide


# --- the living demo's data, loaded in-process at fixed instants (what `serve --demo` shows then) ---

DECEMBER = dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
APRIL = dt.datetime(2026, 4, 20, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
UNIT_KEY = re.compile(r"\b(u\d{3}|district-\d|bureau)\b|u0")


def _load_live(home: Path, now: dt.datetime) -> tuple[Any, Any, dict[str, Any]]:
    from campaign_app.demo import load_live_demo
    from campaign_app.settings import Settings
    from campaign_model.store import db

    settings = Settings(home, f"sqlite:///{home / 'campaign.db'}")
    started = time.perf_counter()
    loaded = load_live_demo(settings, now)
    assert loaded is not None
    loaded["seconds"] = time.perf_counter() - started
    return settings, db.open_engine(settings.db_url), loaded


@pytest.fixture(scope="module")
def december(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from campaign_model.store import queries
    from campaign_model.store.campaigns import load_ctx

    settings, engine, loaded = _load_live(tmp_path_factory.mktemp("demo-december"), DECEMBER)
    with engine.begin() as conn:
        key = loaded["campaign"]
        data = {"settings": settings, "engine": engine, "key": key, "ctx": load_ctx(conn, key),
                "items": queries.ledger(conn, key, at=DECEMBER),
                "obligations": queries.obligation_list(conn, key, DECEMBER)}
    print(f"load_live_demo at {DECEMBER.isoformat()}: {loaded['seconds']:.1f} s")
    yield data
    engine.dispose()


def test_the_december_ledger_is_in_motion(december):
    """Items closed (销号) with evidence a browser previews, in progress, rectified and waiting on the
    supervising group, overdue, reopened by the look-back (回头看), and supervision findings (督查发现)."""
    from campaign_model.store.blobs import BlobStore

    items = december["items"]
    states = {s: [i for i in items if i["state"] == s]
              for s in ("open", "in_progress", "rectified", "closed", "returned", "reopened")}
    closed = states["closed"]
    assert len(closed) > 30 and all(i["evidence"] for i in closed)
    assert all(any(h["action"] == "closed" and h["by"] == "督导组" and h["note"] for h in i["history"]) for i in closed)
    blobs = BlobStore(december["settings"].files_dir)
    pdf = blobs.get(closed[0]["evidence"][0]["sha256"])
    assert pdf.startswith(b"%PDF-1.") and b"/Type /Page " in pdf and b"xref" in pdf and pdf.rstrip().endswith(b"%%EOF")
    offset = int(pdf.rsplit(b"startxref", 1)[1].split()[0])
    assert pdf[offset:offset + 4] == b"xref"  # the cross-reference table is where the trailer says
    assert len([i for i in states["in_progress"] if not i["overdue"]]) >= 3
    assert len(states["rectified"]) >= 3  # waiting on the supervising group
    overdue = [i for i in items if i["overdue"]]
    assert len(overdue) >= 5 and len({i["unit"] for i in overdue}) >= 3
    looked_back = [i for i in items if any(h["action"] == "reopened" and "回头看" in (h["note"] or "") for h in i["history"])]
    assert looked_back and looked_back[0]["due"] > DECEMBER.isoformat()
    assert any(h["action"] == "rechecked" for i in closed for h in i["history"])  # re-checks passed too
    sent_back = [i for i in items if any(h["action"] == "reopened" and "回头看" not in (h["note"] or "") for h in i["history"])]
    assert len(sent_back) >= 2
    findings = [i for i in items if i["source"] == "supervision"]
    assert len(findings) >= 3 and {i["state"] for i in findings} >= {"open", "closed"}


def test_december_ledger_problems_read_like_real_ones(december):
    items = december["items"]
    assert len({i["problem"] for i in items}) >= 10
    for i in items:
        for text in (i["problem"], i["measure"], i["leader"], i["office"]):
            assert text and not UNIT_KEY.search(text), (i["id"], text)
    assert any(i["problem"].startswith("会议多、落实少") and "周例会督办" in i["measure"] for i in items)


def test_december_has_filings_awaiting_review_and_returns_with_comments(december):
    """Issue lists are 报备 (filed is done): never accepted, some returned (退回) by the bureau office with what to
    fix; look-back reports are reviewed (审核) by the supervising group: accepted, one returned and filed again,
    others waiting, so the review queue has work in it."""
    from campaign_model.store.filing_query import filing_list

    reports = {o["unit"]: o for o in december["obligations"] if o["artifact"] == "lookback_report"}
    awaiting = [u for u, o in reports.items() if o["state"] == "filed"]
    assert len(awaiting) >= 2 and any(o["state"] == "accepted" for o in reports.values())
    with december["engine"].begin() as conn:
        lists = filing_list(conn, december["ctx"], None, artifact="issue_list")
        looked_back = filing_list(conn, december["ctx"], None, artifact="lookback_report")
    assert not any(f["review"] and f["review"]["decision"] == "accepted" for f in lists)  # 报备: nothing to accept
    returned = [f for f in lists if f["review"] and f["review"]["decision"] == "rejected"]
    assert len({f["unit"] for f in returned}) >= 3 and all(f["review"]["comment"] for f in returned)
    assert any(f["unit"] == "u001" for f in returned)
    latest = {}
    for f in lists:  # newest first
        latest.setdefault(f["unit"], f)
    # a unit whose latest list was returned must file again: its comment is what it reads
    refile = [f for f in latest.values() if f["review"] and f["review"]["decision"] == "rejected"]
    assert refile and all(len(f["review"]["comment"]) > 10 for f in refile)
    # one of the look-back reports awaiting review was returned before (returned, refiled, waiting again)
    was_returned = {f["unit"] for f in looked_back if f["review"] and f["review"]["decision"] == "rejected"}
    newest = {}
    for f in looked_back:
        newest.setdefault(f["unit"], f)
    assert any(u in was_returned and newest[u]["version"] >= 2 for u in awaiting)


def test_the_december_review_queue_lists_the_look_back_reports_waiting(december):
    from campaign_app.usecases import filings as filing_cases
    from campaign_app.usecases.services import Services

    svc = Services(december["settings"], december["engine"], clock=lambda: DECEMBER)
    queue = filing_cases.review_queue(svc, december["key"])
    assert queue["total"] >= 2 and {f["artifact"] for f in queue["items"]} == {"lookback_report"}
    assert all(f["reviewer"] for f in queue["items"])  # 督导组, named by the template


def test_december_reminders_were_sent_failed_and_dead(december):
    from campaign_model.store import outbox

    with december["engine"].begin() as conn:
        counts = outbox.counts(conn, december["ctx"].id)
        rows = outbox.listing(conn, december["ctx"].id)
    assert counts.get("sent", 0) > 20 and counts.get("failed", 0) >= 1 and counts.get("dead", 0) >= 1, counts
    broken = [r for r in rows if r.state in ("failed", "dead")]
    assert all(r.channel == "xiying-group" and "连接失败" in r.last_error for r in broken)
    assert all(r.next_attempt_at is not None for r in broken if r.state == "failed")
    assert {r.attempts for r in broken if r.state == "dead"} == {3}
    lines = december["settings"].outbox_file(december["key"]).read_text(encoding="utf-8").splitlines()
    assert len(lines) > 10  # the others' reminders, written to the outbox file


def test_the_demo_school_has_work_to_do_in_december(december):
    """u001's 我的待办 is not empty: an overdue obligation, its rejection on record, an open ledger item
    (a finding), items in progress, an overdue one sent back, and one reopened by the look-back."""
    mine = [o for o in december["obligations"] if o["unit"] == "u001"]
    assert any(o["state"] == "overdue" for o in mine), mine
    assert any(o["state"] == "pending" for o in mine)  # due later this month
    items = [i for i in december["items"] if i["unit"] == "u001"]
    assert any(i["state"] == "open" and not i["overdue"] for i in items)
    assert len([i for i in items if i["state"] == "in_progress"]) >= 2
    assert any(i["overdue"] for i in items)
    assert any(h["action"] == "reopened" and "回头看" in (h["note"] or "") for i in items for h in i["history"])


def test_december_demo_keeps_its_audit_chain_intact(december):
    from campaign_model.store import audit

    with december["engine"].begin() as conn:
        verdict = audit.verify(conn)
    assert verdict.ok and verdict.count > 500


def test_the_demo_loads_in_april_with_the_ledger_just_begun(tmp_path):
    from campaign_model.store import outbox, queries
    from campaign_model.store.campaigns import load_ctx

    _, engine, loaded = _load_live(tmp_path, APRIL)
    with engine.begin() as conn:
        items = queries.ledger(conn, loaded["campaign"], at=APRIL)
        states = {p["key"]: p["state"] for p in queries.status(conn, loaded["campaign"], APRIL)["phases"]}
        counts = outbox.counts(conn, load_ctx(conn, loaded["campaign"]).id)
    engine.dispose()
    assert len(items) > 80 and {i["state"] for i in items} == {"open"}
    assert states["mobilization"] == "completed" and states["summary"] == "pending"
    assert counts.get("sent", 0) > 0 and not counts.get("dead")
