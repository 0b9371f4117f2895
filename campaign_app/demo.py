"""`campaign demo`: the seed-002 作风整顿 campaign with ~50 units, run over 2023 at chosen instants.

Filings come on time, late and not at all; one unit is excused (waiver), one phase is forced on
(特批). Ticks run as Prefect flow runs; everything lands in a fresh database that can be inspected after.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from campaign_model.catalog import shift_years, template_text
from campaign_model.spec import Contact, UnitSpec
from campaign_model.specfile import load_spec_text
from campaign_model.store import audit, db
from campaign_model.store.audit import Act
from campaign_model.store.blobs import BlobStore
from campaign_model.store.campaigns import create_campaign, import_units, load_ctx
from campaign_model.store.filings import file_artifact, review, waive
from campaign_model.store.phases import force_advance
from campaign_model.store.queries import status

from .settings import Settings

TZ = ZoneInfo("Asia/Shanghai")
KEY = "zuofeng-2023"
DISTRICTS = ["城关学区", "东关学区", "西营学区"]


def demo_units(schools: int) -> list[UnitSpec]:
    """A bureau, three school districts with their schools, directly managed schools, and culture units."""
    units = [UnitSpec(key="bureau", name="县教文广新体局", tags=["机关"],
                      contacts=[Contact(name="王主任", role="局办公室", email="office@edu.example.cn")])]
    for i, name in enumerate(DISTRICTS, start=1):
        units.append(UnitSpec(key=f"district-{i}", name=name, parent="bureau", tags=["学区"]))
    for n in range(1, schools + 1):
        if n <= schools - 4:
            parent = f"district-{(n - 1) % 3 + 1}"
            name, tags = f"{DISTRICTS[(n - 1) % 3][:2]}第{n}小学", ["学校"]
        else:
            parent, name, tags = "bureau", f"县文体下属单位{n}", ["文体下属单位"]
        units.append(UnitSpec(key=f"u{n:03d}", name=name, parent=parent, tags=tags,
                              contacts=[Contact(name=f"校长{n}", role="负责人", email=f"head{n}@school.example.cn")]))
    return units


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=TZ).astimezone(dt.UTC)


class Demo:
    """The scripted campaign. `year` moves every date of the script (and the template) to that year; events
    after `until` are left out, so the campaign can be replayed up to today for `serve --demo`."""

    def __init__(self, settings: Settings, db_path: Path | None, schools: int, *, url: str | None = None,
                 year: int = 2023, until: dt.datetime | None = None, prefect: bool = True, quiet: bool = False):
        self.url = url or f"sqlite:///{db_path}"
        self.engine = db.open_engine(self.url)
        self.shift = year - 2023
        self.key = f"zuofeng-{year}"
        self.until = until
        self.prefect = prefect
        self.quiet = quiet
        # its own directory for `campaign demo`; the service's data directory when `serve --demo` loads it
        self.blobs = BlobStore(db_path.parent / "files" if db_path else settings.files_dir)
        self.outbox = db_path.parent / "outbox.jsonl" if db_path else settings.outbox_file(self.key)
        self.work = (db_path.parent if db_path else settings.home / "demo") / "uploads"
        self.work.mkdir(parents=True, exist_ok=True)
        self.actor = settings.actor or "局办公室"  # the demo's own office, never the OS user (`root` names nobody)
        self.rng = random.Random(2023)
        self.schools = schools
        self.settings = settings

    def moved(self, when: str) -> str:
        """A script date (written for 2023) in the demo's year."""
        return f"{int(when[:4]) + self.shift:04d}{when[4:]}"

    def instant(self, when: str) -> dt.datetime:
        return at(self.moved(when))

    def reached(self, when: str) -> bool:
        return self.until is None or self.instant(when) <= self.until

    def act(self, when: str, who: str | None = None) -> Act:
        return Act(self.instant(when), who or self.actor, dt.datetime.now(dt.UTC))

    def say(self, when: str, text: str) -> None:
        if not self.quiet:
            print(f"{self.moved(when)[:16].replace('T', ' ')}  {text}", flush=True)

    def create(self) -> list[str]:
        # the script's instants keep their month and day, so the template's dates must keep theirs too
        text = template_text(KEY) if self.shift == 0 else shift_years(template_text(KEY), 2023 + self.shift)
        loaded = load_spec_text(text, f"template:{KEY}", units=demo_units(self.schools))
        with self.engine.begin() as conn:
            summary = create_campaign(conn, loaded, self.act("2023-02-10T09:00", "局办公室"))
        self.say("2023-02-10T09:00", f"创建活动 {self.key}：{summary['units']} 个单位，{summary['obligations']} 项应报材料 "
                                      f"(campaign created: {summary['units']} units, {summary['obligations']} obligations)")
        return [u.key for u in loaded.units if u.key != "bureau"]

    def scan(self, unit: str, artifact: str) -> Path:
        path = self.work / f"{unit}-{artifact}.pdf"
        path.write_bytes(f"%PDF-1.4 demo scan {unit} {artifact}".encode())
        return path

    def issue_rows(self, unit: str) -> Path:
        path = self.work / f"{unit}-issues.csv"
        cats = "弱松庸慢散懒推奢"
        lines = ["problem,category,measure,leader,office,deadline"]
        for i in range(1, self.rng.randint(2, 4)):
            lines.append(f"{unit} 问题{i}：会议多、落实少,{cats[self.rng.randrange(8)]},建立周例会督办制度,"
                         f"副校长{i},办公室,{2023 + self.shift}-0{self.rng.randint(6, 9)}-30")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def file_many(self, units: list[str], artifact: str, when: str, signed: bool = False, rows: bool = False) -> None:
        if not self.reached(when):
            return
        late = 0
        for unit in units:
            with self.engine.begin() as conn:
                r = file_artifact(conn, self.blobs, self.key, unit, artifact, self.act(when, unit),
                                  files=[self.scan(unit, artifact)] if signed or not rows else [],
                                  rows_file=self.issue_rows(unit) if rows else None,
                                  signed_by="校长" if signed else None)
            late += r["late"]
        self.say(when, f"报送 (filed) {artifact}: {len(units)} 个单位 (units)" + (f"，其中 {late} 个逾期 (late)" if late else ""))

    def tick(self, when: str) -> dict[str, Any] | None:
        if not self.reached(when):
            return None
        from flows.tick import tick, tick_direct

        result = (tick if self.prefect else tick_direct)(self.url, self.key, self.act(when, "tick"), str(self.outbox))
        bits = []
        if result["advanced"]:
            bits.append(f"转段 (completed): {', '.join(result['advanced'])}")
        if result["overdue_marked"]:
            bits.append(f"新增逾期 (newly overdue) {result['overdue_marked']}")
        if result["reminders_sent"] or result["reminders_written"]:
            from .cli_common import reminder_words

            bits.append(f"催办 (reminders): {reminder_words(result)}")
        running = [k for k, v in result["phases"].items() if v in ("active", "overdue")]
        bits.append("当前 (running): " + (", ".join(f"{k}={result['phases'][k]}" for k in running) or "—"))
        self.say(when, "⏱ 检查 (tick)  " + "；".join(bits))
        return result


def run_demo(settings: Settings, db_path: Path | None, schools: int) -> None:
    started = time.perf_counter()
    db_path = (db_path or settings.home / "demo" / "demo.db").resolve()
    for stale in (db_path, db_path.with_name(db_path.name + "-wal"), db_path.with_name(db_path.name + "-shm"),
                  db_path.parent / "outbox.jsonl"):
        stale.unlink(missing_ok=True)
    print(f"演示：2023 年干部作风整顿（种子 002 模板），数据库 {db_path}\n"
          f"(demo: the 2023 work-style rectification of seed 002; database {db_path})\n", flush=True)
    d = Demo(settings, db_path, schools)
    play(d)

    with d.engine.begin() as conn:
        doc = status(conn, KEY, at("2024-01-02T10:00"))
        verdict = audit.verify(conn)
    counts = Counter({k: v for k, v in doc["obligations"].items() if k != "total"})
    print("\n结果 (result):")
    for p in doc["phases"]:
        print(f"  {p['key']:<14} {p['state']:<10} 完成于 (completed) {p['completed_at'] or '—'}"
              + ("  特批 (forced)" if p["forced"] else ""))
    print("  应报材料 (obligations): " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
          + f"; total {doc['obligations']['total']}")
    print(f"  审计链 (audit chain): {'完整 (intact)' if verdict.ok else '被破坏 (broken)'}, {verdict.count} 个事件 (events)")
    print(f"  催办消息 (reminder messages): {d.outbox}")
    print(f"\n查看 (inspect): CAMPAIGN_DB_URL=sqlite:///{db_path} campaign status {KEY}")
    print(f"用时 (took) {time.perf_counter() - started:.1f} s")


def play(d: Demo) -> None:
    """The year of the campaign as scripted: filings on time, late and never, a rejection, a merged school,
    a waiver and a forced advance, with ticks in between. Events after `d.until` are skipped."""
    units = d.create()
    schools = [u for u in units if u.startswith("u")]
    rng = d.rng
    late_plan = set(rng.sample(schools, 4))
    never_study = set(rng.sample(sorted(set(schools) - late_plan), 2))
    # the school merged away is never the demo's school account (README: `u001`, a school)
    merged = sorted(set(schools) - late_plan - never_study - {DEMO_SCHOOL})[0]

    d.tick("2023-02-14T09:00")
    d.file_many(["bureau"], "kickoff_record", "2023-02-16T15:00")
    d.file_many(units, "leading_group", "2023-02-20T11:00")
    d.tick("2023-02-21T09:30")
    d.file_many([u for u in units if u not in late_plan], "implementation_plan", "2023-02-27T16:00", signed=True)
    d.tick("2023-02-28T09:30")
    d.file_many(sorted(late_plan), "implementation_plan", "2023-03-02T10:00", signed=True)
    d.file_many([u for u in units if u not in never_study], "study_record", "2023-03-03T17:00")
    d.tick("2023-03-06T09:30")
    d.tick("2023-03-08T09:30")
    if not d.reached("2023-03-09T10:00"):
        return
    with d.engine.begin() as conn:
        r = force_advance(conn, load_ctx(conn, d.key), f"{len(never_study)} 所学校学习记录已由督导组线下核实 "
                          "(study records checked on site by the supervising group)", d.act("2023-03-09T10:00", "局办公室"), True)
    d.say("2023-03-09T10:00", f"特批转段 (forced advance): {r['completed']}，理由见审计日志 (reason in the audit log)")
    d.tick("2023-03-09T10:05")
    if not d.reached("2023-03-20T10:00"):
        return
    with d.engine.begin() as conn:
        r = import_units(conn, d.key, [u for u in demo_units(d.schools) if u.key != merged], d.act("2023-03-20T10:00", "局办公室"),
                         "学校已撤并至邻校 (school merged into a neighbour)")
    d.say("2023-03-20T10:00", f"单位名单更新 (units imported): 撤销 (removed) {merged}，免报其 {r['obligations_waived']} 项未交材料 "
                              f"(its {r['obligations_waived']} open obligations waived)")
    on_time = [u for u in units if u != merged]
    slow = set(rng.sample(on_time, 3))
    d.file_many([u for u in on_time if u not in slow], "issue_list", "2023-04-03T16:00", signed=True, rows=True)
    d.tick("2023-04-04T09:30")
    d.tick("2023-04-06T09:30")
    d.file_many(sorted(slow), "issue_list", "2023-04-10T11:00", signed=True, rows=True)
    rejected = sorted(slow)[0]
    if not d.reached("2023-04-11T15:00"):
        return
    with d.engine.begin() as conn:
        for u in on_time:
            review(conn, d.key, u, "issue_list", u != rejected, None if u != rejected else "整改措施不具体，请细化 (measures too vague)",
                   d.act("2023-04-11T15:00", "督导组"))
    d.say("2023-04-11T15:00", f"审核 (reviewed) issue_list: {len(on_time) - 1} 通过 (accepted), 1 退回 (rejected: {rejected})")
    d.tick("2023-04-12T09:30")
    d.file_many([rejected], "issue_list", "2023-04-13T10:00", signed=True, rows=True)
    if not d.reached("2023-04-13T16:00"):
        return
    with d.engine.begin() as conn:
        review(conn, d.key, rejected, "issue_list", True, None, d.act("2023-04-13T16:00", "督导组"))
    d.say("2023-04-13T16:00", f"审核 (reviewed) {rejected} issue_list 第 2 版通过 (version 2 accepted)")
    d.tick("2023-04-14T09:30")
    d.file_many(["bureau"], "special_action_report", "2023-09-28T10:00")
    d.tick("2023-10-09T09:30")
    d.file_many(["bureau"], "evaluation_report", "2023-10-30T10:00")
    d.tick("2023-11-01T09:30")
    units = [u for u in units if u != merged]
    newcomer = units[-1]
    if not d.reached("2023-11-20T10:00"):
        return
    with d.engine.begin() as conn:
        waive(conn, d.key, newcomer, "lookback_report", "本年新设单位，无可回头看的整改 (set up this year: nothing to look back on)",
              d.act("2023-11-20T10:00", "局办公室"))
    d.say("2023-11-20T10:00", f"免报 (waived) {newcomer} lookback_report：本年新设单位 (set up this year)")
    d.file_many(units[:-3], "lookback_report", "2023-12-12T10:00")
    d.tick("2023-12-18T09:30")
    d.file_many(units[-3:-1], "lookback_report", "2023-12-20T10:00")
    d.file_many(units, "summary_report", "2023-12-28T10:00")
    d.file_many(["bureau"], "institutional_outcomes", "2023-12-29T10:00")
    d.tick("2024-01-02T09:30")


DEMO_PASSWORD = "campaignflow-demo"  # printed by `serve --demo`; a demo database only
DEMO_SCHOOL = "u001"  # the demo's school account and its unit, which the script keeps in every phase
DEMO_USERS = (("admin", "admin", None, "局办公室（管理员）"), ("duchazu", "supervisor", None, "督导组"),
              (DEMO_SCHOOL, "unit", DEMO_SCHOOL, "城关第1小学"), ("district-1", "unit", "district-1", "城关学区"),
              ("viewer", "viewer", None, "只读用户"))


def load_live_demo(settings: Settings, now: dt.datetime, schools: int = 48) -> dict[str, Any] | None:
    """`serve --demo`: the scripted campaign moved to this year and played up to `now`, with demo accounts.
    Nothing happens when the database already holds a campaign."""
    from campaign_model.store.accounts import add_user
    from campaign_model.store.queries import campaign_list

    engine = db.open_engine(settings.db_url)
    with engine.begin() as conn:
        if campaign_list(conn):
            return None
    local = now.astimezone(TZ)
    # the campaign runs 02-14 .. 12-31: before its start, show last year's (finished) campaign
    year = local.year if local.date() >= dt.date(local.year, 2, 14) else local.year - 1
    d = Demo(settings, None, schools, url=settings.db_url, year=year, until=now, prefect=False, quiet=True)
    play(d)
    act = Act(now, "demo", now)
    with engine.begin() as conn:
        for name, role, unit, display in DEMO_USERS:
            add_user(conn, name, role, unit, DEMO_PASSWORD, act, display_name=display)
    engine.dispose()
    return {"campaign": d.key, "users": [u[0] for u in DEMO_USERS], "password": DEMO_PASSWORD}
