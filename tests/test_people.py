"""People and offices, not only units (issue 13 part 5): a leading group (领导小组), lead offices (牵头股室) and
responsible leaders (责任领导) with contacts, in the spec; ledger items' reminders and escalations reach them
through the channels (a real loopback SMTP server); a step led by an office; seed 002's 五个专项行动; the
read-only 人员与股室 page (real app, real Chromium for the screenshots).

The campaign: school s1 under the district d1 under the bureau. s1 owes a plan due 2023-04-20 (Thursday) in a
step led by 人事股; the supervising group records two findings due the same day: one naming 局人事股 (an alias of
人事股) and 张副局长, one naming an office and a leader the spec does not list (free text). With
`before: ["1 workday"]`, `overdue_every: "2 workdays"` and `escalate_after: "2 workdays"` the slots are: before
04-19, on-due 04-20, overdue 04-21, 04-24 (04-23 is a make-up working Sunday), ...; escalation on 04-23.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from campaign_app.settings import Settings
from campaign_app.usecases.services import Services
from campaign_app.web.app import create_app
from campaign_model.catalog import template_text
from campaign_model.errors import SpecInvalid
from campaign_model.people import Directory, people_doc
from campaign_model.specfile import load_spec_text
from campaign_model.store import outbox
from campaign_model.store.accounts import add_user
from campaign_model.store.audit import Act
from campaign_model.store.blobs import BlobStore
from campaign_model.store.campaigns import create_campaign, load_ctx
from campaign_model.store.changes import apply_amendment, plan_amendment
from campaign_model.store.db import open_engine
from campaign_model.store.filings import file_artifact
from campaign_model.store.ledger import record_finding
from campaign_model.store.people import directory
from campaign_model.store.tables import campaigns, ledger_items
from flows.tick import tick_direct

from .conftest import local
from .loopback import LoopbackSMTP, free_port, smtp_server  # noqa: F401 (fixture)
from .web_support import Clock

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
KEY = "people-2023"
TITLE = "2023年作风建设专项整治"
BASE = "https://cf.example.cn"
PASSWORD = "a long office passphrase"

SPEC = f"""\
version: 1
key: {KEY}
title: {TITLE}
calendar: cn
organizer: bureau
units:
  - {{key: bureau, name: 县教育局}}
  - {{key: d1, name: 城关学区, parent: bureau, contacts: [{{name: 王主任, email: d1@example.cn}}]}}
  - {{key: s1, name: 第一小学, parent: d1, tags: [学校], contacts: [{{name: 张校长, email: s1@example.cn}}]}}
artifacts:
  plan: {{title: 实施方案}}
  issue_list:
    title: 问题清单
    rows:
      problem: {{title: 问题, required: true}}
      leader: {{title: 责任领导}}
      office: {{title: 牵头股室}}
      deadline: {{title: 整改时限, type: date}}
phases:
  - key: self_check
    title: 自查自纠
    kind: self_check
    start: 2023-04-10
    end: 2023-06-30
    steps:
      - key: issues
        title: 问题清单
        due: 2023-04-14
        requires:
          - {{artifact: issue_list, from: "tag:学校"}}
      - key: plan
        title: 开展纪律整饬专项行动
        due: 2023-04-20
        lead: renshi
        requires:
          - {{artifact: plan, from: "tag:学校"}}
people:
  leading_group:
    name: 作风建设领导小组
    name_en: Leading group
    head: zhang
    office: bangong
    escalations: true
  offices:
    renshi:
      name: 人事股
      name_en: Personnel office
      aliases: [局人事股]
      contacts: [{{name: 李股长, role: 股长, email: renshi@example.cn, phone: "13800000011"}}]
    bangong: {{name: 办公室, contacts: [{{name: 赵主任, email: bangong@example.cn}}]}}
    houqin: {{name: 后勤股}}
  leaders:
    zhang: {{name: 张副局长, title: 副局长, contacts: [{{name: 张副局长, email: zhang@example.cn}}]}}
reminders:
  before: ["1 workday"]
  on_due: true
  overdue_every: "2 workdays"
  send_at: "09:00"
  send_until: "18:00"
  escalate_after: "2 workdays"
"""

NAMED = "明查暗访发现上班时间玩手机"  # names 张副局长 and 局人事股
FREE = "会议室长期被占用"  # names 王五 and 总务处: nobody the spec lists
OWN = "学校办公室值班制度执行不严"  # in the school's own issue list: its 办公室 and 副校长 are the school's, not the bureau's


def act(when: str, actor: str = "admin") -> Act:
    return Act(local(when), actor, local(when))


# --- the spec: validation with lines, resolution


def problems_of(text: str) -> list:
    with pytest.raises(SpecInvalid) as raised:
        load_spec_text(text, "people.yaml")
    return raised.value.problems


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if needle in line)


def test_unknown_offices_and_leaders_are_named_with_their_lines():
    text = (SPEC.replace("        lead: renshi", "        lead: [renshi, jijian]")
            .replace("    head: zhang", "    head: li").replace("    office: bangong", "    office: dangban"))
    found = {(p.line, p.path): p.message for p in problems_of(text) if p.severity == "error"}
    assert found.keys() == {(line_of(text, "lead: [renshi, jijian]"), "phases[0].steps[1].lead[1]"),
                            (line_of(text, "head: li"), "people.leading_group.head"),
                            (line_of(text, "office: dangban"), "people.leading_group.office")}
    messages = " ".join(found.values())
    assert "未知股室 'jijian'" in messages and "未知领导 'li'" in messages and "未知股室 'dangban'" in messages
    # a name two entries answer to: a warning (items naming it stay free text), the spec loads
    loaded = load_spec_text(SPEC.replace("{name: 后勤股}", "{name: 后勤股, aliases: [局人事股]}"), "people.yaml")
    [warning] = [p for p in loaded.warnings if p.path.startswith("people")]
    assert warning.path == "people.offices.houqin" and "局人事股" in warning.message
    # structure: an office without a name, an unknown field
    bad = {p.path for p in problems_of(SPEC.replace("{name: 后勤股}", "{title: 后勤股}"))}
    assert {"people.offices.houqin.name", "people.offices.houqin.title"} <= bad


def test_an_items_names_resolve_by_key_name_or_alias_else_stay_free_text():
    people = Directory(people_doc(load_spec_text(SPEC, "people.yaml").spec))
    assert people.resolve_office("局人事股").keys == ("renshi",)
    assert people.resolve_office("renshi").keys == ("renshi",)
    assert people.resolve_office("人事股、办公室").keys == ("renshi", "bangong")
    mixed = people.resolve_office("人事股，总务处")
    assert (mixed.keys, mixed.unresolved) == (("renshi",), ("总务处",))
    assert people.resolve_office("人事").keys == () and people.resolve_office("人事").unresolved == ("人事",)
    # in another unit's item an office is named by its key or an alias: a school's 办公室 is its own
    assert people.resolve_office("办公室", by_name=False).keys == () and people.resolve_office("办公室").keys == ("bangong",)
    assert people.resolve_office("局人事股", by_name=False).keys == ("renshi",)
    assert people.item_recipients("张副局长", "办公室", organizers=False) == ([], ["leader:zhang"])
    assert people.resolve_leader("张副局长").keys == ("zhang",) and people.resolve_leader("张局长").keys == ()
    assert people.resolve_office(None) == people.resolve_office("  ")
    assert people.item_recipients("张副局长", "局人事股") == (["office:renshi"], ["leader:zhang"])
    assert people.group_recipient() == "office:bangong" and people.escalations_to_group()
    assert people.recipient("office:renshi", "en") == ("Personnel office", [
        {"name": "李股长", "role": "股长", "email": "renshi@example.cn", "phone": "13800000011"}])
    assert people.recipient("leader:zhang") == ("张副局长", [{"name": "张副局长", "email": "zhang@example.cn"}])
    assert people.recipient("leader:nobody") is None and people.recipient("s1") is None
    assert people.step_lead("self_check", "plan") == ["renshi"]
    assert not Directory({}) and Directory({}).resolve_office("人事股").unresolved == ("人事股",)


# --- reminders and escalations through a real SMTP server


@pytest.fixture
def mail_env(tmp_path, monkeypatch, smtp_server: LoopbackSMTP) -> LoopbackSMTP:
    channels = tmp_path / "channels.yaml"
    channels.write_text(f'channels:\n  - {{name: mail, type: email, host: 127.0.0.1, port: {smtp_server.port}, '
                        f'security: none, sender: "县教育局 <robot@example.cn>"}}\n', encoding="utf-8")
    monkeypatch.setenv("CAMPAIGN_CHANNELS", str(channels))
    monkeypatch.setenv("CAMPAIGN_PUBLIC_URL", BASE)
    return smtp_server


def mails_since(server: LoopbackSMTP, seen: int) -> dict[str, list]:
    out: dict[str, list] = {}
    for mail in server.messages[seen:]:
        for address in mail["To"].addresses:
            out.setdefault(address.addr_spec, []).append(mail)
    return out


def ledger_ids(engine, problem: str) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(select(ledger_items.c.id).where(ledger_items.c.problem == problem)).scalars())


def plain(mail) -> str:
    return mail.get_body(("plain",)).get_content().replace("\r\n", "\n")


def test_lead_office_and_leader_receive_their_reminders_and_escalations(engine, db_url, tmp_path, mail_env):
    smtp = mail_env
    with engine.begin() as conn:
        create_campaign(conn, load_spec_text(SPEC, "people.yaml"), act("2023-04-01T09:00"))
        assert directory(conn, load_ctx(conn, KEY).id).offices["renshi"]["contacts"][0]["email"] == "renshi@example.cn"

    def tick(when: str) -> dict:
        return tick_direct(db_url, KEY, act(when, "tick"), str(tmp_path / "outbox.jsonl"))

    tick("2023-04-10T08:00")
    with engine.begin() as conn:
        named = record_finding(conn, KEY, "s1", NAMED, dt.date(2023, 4, 20), act("2023-04-12T15:00", "督导组"),
                               leader="张副局长", office="局人事股")
        free = record_finding(conn, KEY, "s1", FREE, dt.date(2023, 4, 20), act("2023-04-12T15:05", "督导组"),
                              leader="王五", office="总务处")
        rows = tmp_path / "issues.csv"
        rows.write_text(f"problem,leader,office,deadline\n{OWN},副校长,办公室,2023-04-20\n", encoding="utf-8")
        own = file_artifact(conn, BlobStore(tmp_path / "files"), KEY, "s1", "issue_list", act("2023-04-12T16:00", "s1"),
                            rows_file=rows)
    [own_item] = ledger_ids(engine, OWN)

    # 04-19, a working day before: the school gets its digest; the lead office 人事股 gets the item it leads,
    # named with its unit and a link; the leader, the group's office and the district get nothing yet
    seen = len(smtp.messages)
    r = tick("2023-04-19T09:30")
    assert own["ledger_items"] == 1 and r["reminders_sent"] == 5  # s1: the plan and three items; 人事股: the named item
    mails = mails_since(smtp, seen)
    assert sorted(mails) == ["renshi@example.cn", "s1@example.cn"]
    [office] = mails["renshi@example.cn"]
    assert office["Subject"] == f"【{TITLE}】人事股：1 项牵头或负责的事项待督促落实"
    text = plain(office)
    assert text.startswith("人事股：\n") and "以下事项由您牵头或负责，请督促落实" in text
    assert f"- [即将到期] 第一小学：{NAMED}（整改台账），截止 2023-04-20 23:59，还剩 1 天" in text
    assert f"台账地址：{BASE}/c/{KEY}/ledger?unit=s1#item-{named['id']}" in text
    assert FREE not in text and "实施方案" not in text  # only what it leads
    html_body = office.get_body(("html",)).get_content()
    assert "<td>第一小学</td>" in html_body and f"#item-{named['id']}" in html_body
    school = plain(mails["s1@example.cn"][0])
    assert NAMED in school and FREE in school and OWN in school and "实施方案" in school and "牵头" not in school

    # on the due day and the day after (overdue), the office hears again with the school
    for when in ("2023-04-20T09:30", "2023-04-21T09:30"):
        seen = len(smtp.messages)
        tick(when)
        assert sorted(mails_since(smtp, seen)) == ["renshi@example.cn", "s1@example.cn"]

    # 04-23, two working days overdue: 督办 to the district (its unit's parent) as before, and to the item's
    # responsible leader and the leading group's office; the step's lead office hears of the late plan
    seen = len(smtp.messages)
    tick("2023-04-23T09:30")
    mails = mails_since(smtp, seen)
    assert sorted(mails) == ["bangong@example.cn", "d1@example.cn", "renshi@example.cn", "zhang@example.cn"]
    leader = plain(mails["zhang@example.cn"][0])
    assert mails["zhang@example.cn"][0]["Subject"] == f"【{TITLE}】张副局长：1 项牵头或负责的事项待督促落实，其中 1 项已逾期"
    assert f"- [督办] 第一小学：{NAMED}（整改台账），截止 2023-04-20 23:59，已逾期 3 天" in leader
    assert f"查看地址：{BASE}/c/{KEY}/ledger?unit=s1#item-{named['id']}" in leader
    assert FREE not in leader and OWN not in leader
    group = plain(mails["bangong@example.cn"][0])
    assert group.startswith("办公室：") and NAMED in group and FREE not in group and OWN not in group
    step_lead = plain(mails["renshi@example.cn"][0])
    assert "- [督办] 第一小学：实施方案（开展纪律整饬专项行动）" in step_lead
    assert f"{BASE}/c/{KEY}/file?unit=s1&artifact=plan" in step_lead and NAMED not in step_lead
    district = plain(mails["d1@example.cn"][0])
    assert NAMED in district and FREE in district and "实施方案" in district

    # once each: the same tick again sends nothing; the outbox holds one row per item, kind, day and recipient
    seen = len(smtp.messages)
    assert tick("2023-04-23T10:30")["reminders_sent"] == 0 and len(smtp.messages) == seen
    with engine.connect() as conn:
        rows = outbox.listing(conn, load_ctx(conn, KEY).id)
    by_item = {(r.item_id, r.kind, r.recipient) for r in rows if r.item_id is not None}
    assert {(k, rc) for i, k, rc in by_item if i == named["id"]} == {
        ("before", "s1"), ("before", "office:renshi"), ("on_due", "s1"), ("on_due", "office:renshi"),
        ("overdue", "s1"), ("overdue", "office:renshi"),
        ("escalation", "d1"), ("escalation", "leader:zhang"), ("escalation", "office:bangong")}
    # the item naming nobody listed: today's behaviour, its unit and the unit's parent only
    assert {rc for i, _, rc in by_item if i == free["id"]} == {"s1", "d1"}
    assert {rc for i, _, rc in by_item if i == own_item} == {"s1", "d1"}  # the school's own 办公室: not the bureau's
    assert all(r.state == "sent" and r.channel == "mail" for r in rows)


# --- seed 002's five special actions


def test_zuofeng_special_actions_are_five_steps_each_led_by_its_office(engine):
    text = template_text("zuofeng-2023")
    loaded = load_spec_text(text, "zuofeng-2023.yaml")
    phase = loaded.spec.phase("rectification")
    actions = [(s.title, s.lead) for s in phase.steps if "专项行动" in s.title]
    assert actions == [
        ("开展纪律整饬专项行动", ["renshi"]),
        ("开展催促落实“一问责八清理”专项行动", ["fazhi"]),
        ("开展增比进位专项行动", ["bangong"]),
        ("开展能力提升专项行动", ["renshi", "bangong"]),
        ("开展效能提升专项行动", ["bangong"]),
    ]
    people = loaded.spec.people
    assert {k: o.name for k, o in people.offices.items()} == {"bangong": "办公室", "renshi": "人事股",
                                                               "fazhi": "法制安全股", "jiaoyu": "教育股"}
    assert "法制平安股" in people.offices["fazhi"].aliases  # as the seed writes it
    assert people.leading_group and people.leading_group.office == "bangong" and people.leading_group.escalations
    with engine.begin() as conn:
        create_campaign(conn, loaded, act("2023-02-01T09:00"))
        stored = directory(conn, load_ctx(conn, "zuofeng-2023").id)
    assert stored.step_lead("rectification", "action_capability") == ["renshi", "bangong"]
    assert stored.resolve_office("局办公室").keys == ("bangong",)


def test_an_amendment_carries_the_people(engine):
    with engine.begin() as conn:
        create_campaign(conn, load_spec_text(SPEC, "people.yaml"), act("2023-04-01T09:00"))
        ctx = load_ctx(conn, KEY)
        changed = SPEC.replace("    houqin: {name: 后勤股}",
                               "    houqin: {name: 后勤股, contacts: [{name: 钱股长, email: houqin@example.cn}]}")
        loaded = load_spec_text(changed, "people.yaml")
        plan = plan_amendment(conn, ctx, loaded, local("2023-04-05T10:00"))
        assert any("人员与股室" in c for c in plan.changes) and not plan.conflicts
        apply_amendment(conn, ctx, loaded, plan, act("2023-04-05T10:00"), "后勤股联系人")
        assert directory(conn, ctx.id).offices["houqin"]["contacts"] == [{"name": "钱股长", "email": "houqin@example.cn"}]
        # the same spec again: people unchanged, nothing to amend for them
        again = plan_amendment(conn, load_ctx(conn, KEY), loaded, local("2023-04-06T10:00"))
        assert not any("人员与股室" in c for c in again.changes)


# --- the 人员与股室 page


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[str]:
    """The real app on a SQLite file, with the campaign, two findings and three accounts, served on loopback."""
    root = tmp_path_factory.mktemp("people-site")
    engine = open_engine(f"sqlite:///{root / 'campaign.db'}")
    with engine.begin() as conn:
        create_campaign(conn, load_spec_text(SPEC, "people.yaml"), act("2023-04-01T09:00"))
        record_finding(conn, KEY, "s1", NAMED, dt.date(2023, 4, 20), act("2023-04-12T15:00", "督导组"),
                       leader="张副局长", office="局人事股")
        record_finding(conn, KEY, "s1", FREE, dt.date(2023, 4, 20), act("2023-04-12T15:05", "督导组"),
                       leader="王五", office="总务处")
        for name, role, unit in (("admin", "admin", None), ("sup", "supervisor", None), ("s1user", "unit", "s1")):
            add_user(conn, name, role, unit, PASSWORD, act("2023-04-01T09:00"))
    settings = Settings(root / "home", f"sqlite:///{root / 'campaign.db'}")
    app = create_app(Services(settings, engine, clock=Clock(local("2023-04-13T10:00"))))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


@contextmanager
def logged_in(address: str, name: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=address, follow_redirects=True, timeout=30) as client:
        form = client.get("/login")
        fields = {k: html.unescape(v) for k, v in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form.text)}
        answer = client.post("/login", data={**fields, "name": name, "password": PASSWORD})
        assert answer.status_code == 200, answer.text[:300]
        yield client


def test_the_people_page_lists_them_with_contacts_for_admins_and_supervisors(site):
    with logged_in(site, "admin") as admin:
        page = admin.get(f"/c/{KEY}/people")
        assert page.status_code == 200
        body = page.text
        assert 'id="nav-people" class="here"' in body
        for text in ("作风建设领导小组", "人事股", "局人事股", "李股长", "mailto:renshi@example.cn", "tel:13800000011",
                     "开展纪律整饬专项行动", "张副局长", "副局长", "后勤股", "未登记联系人"):
            assert text in body, text
        office = re.search(r'<tr data-office="renshi">(.*?)</tr>', body, re.S)
        assert office and re.search(r'class="items">1<', office.group(1))  # the finding naming 局人事股
        unresolved = re.search(r'<ul id="unresolved">(.*?)</ul>', body, re.S)
        assert unresolved and "“王五”" in unresolved.group(1) and "“总务处”" in unresolved.group(1)
        assert 'id="nav-people"' in admin.get(f"/c/{KEY}").text
        # the overview lists the steps led by an office (牵头)
        led = re.search(r'<ul class="led-steps" id="led-steps">(.*?)</ul>', admin.get(f"/c/{KEY}").text, re.S)
        assert led and "开展纪律整饬专项行动" in led.group(1) and "牵头：<span class=\"lead\">人事股</span>" in led.group(1)
        assert "2023-04-20" in led.group(1)
        assert "Personnel office" in admin.get(f"/c/{KEY}/people?lang=en").text
    with logged_in(site, "sup") as sup:
        assert sup.get(f"/c/{KEY}/people").status_code == 200
    with logged_in(site, "s1user") as unit:
        assert unit.get(f"/c/{KEY}/people").status_code == 403
        assert 'id="nav-people"' not in unit.get(f"/c/{KEY}").text
        # the school's to-do list names who leads the step its plan belongs to
        tasks = unit.get("/").text
        assert '<span class="task-lead">牵头：人事股</span>' in tasks
        assert "Led by: Personnel office" in unit.get("/?lang=en").text


def test_the_people_page_in_a_browser_at_phone_and_desktop_widths(site):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        try:
            for width in (390, 1280):
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.goto(f"{site}/login")
                page.fill("input[name=name]", "admin")
                page.fill("input[name=password]", PASSWORD)
                page.press("input[name=password]", "Enter")
                page.wait_for_load_state()
                page.goto(f"{site}/c/{KEY}/people")
                assert page.locator("#offices").is_visible() and page.locator("#leaders").is_visible()
                # nothing wider than the screen
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                page.screenshot(path=str(ARTIFACTS / f"people-{width}.png"), full_page=True)
                page.goto(f"{site}/c/{KEY}")  # the overview: the led steps under the phases
                assert page.locator("#led-steps").is_visible()
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                page.locator("#phases").screenshot(path=str(ARTIFACTS / f"people-overview-{width}.png"))
                page.locator("#led-steps").screenshot(path=str(ARTIFACTS / f"people-led-steps-{width}.png"))
                page.close()
        finally:
            browser.close()
    assert (ARTIFACTS / "people-390.png").stat().st_size > 0


def test_the_stored_people_of_a_campaign_naming_none_are_empty(engine):
    plain_spec = (SPEC.split("people:\n")[0].replace("        lead: renshi\n", "")
                  + "reminders:\n" + SPEC.split("reminders:\n", 1)[1])
    with engine.begin() as conn:
        create_campaign(conn, load_spec_text(plain_spec, "plain.yaml"), act("2023-04-01T09:00"))
        assert conn.execute(select(campaigns.c.people).where(campaigns.c.key == KEY)).scalar_one() == {}
        assert not directory(conn, load_ctx(conn, KEY).id)
