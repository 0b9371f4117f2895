"""`campaign demo`: the seed-002 作风整顿 campaign with ~50 units, run over 2023 at chosen instants.

Filings come on time, late and not at all; one unit is excused (waiver), one phase is forced on
(特批). The rectification ledger moves through the year: problems reported, rectified with evidence and
closed (销号) by the supervising group, some sent back, some overdue, supervision findings (督查发现),
a look-back (回头看) whose re-check reopens an item; issue lists are 报备 (filed is done) and some are
returned (退回) by the bureau office; look-back reports are reviewed (审核) by the supervising group: accepted,
one returned and filed again, others awaiting review in early December.
Reminders go to the outbox file, and one 学区's to a webhook nobody listens on (failed, then dead).
Ticks run in process, the same steps as a Prefect flow run (a CLI command never starts a temporary Prefect
server; see the README on which entry points are flow runs); everything lands in a fresh database that can be inspected after.
"""

from __future__ import annotations

import bisect
import datetime as dt
import random
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from campaign_model.catalog import shift_years, template_text
from campaign_model.errors import ConflictError
from campaign_model.spec import Contact, UnitSpec
from campaign_model.specfile import load_spec_text
from campaign_model.store import audit, db, lookback, outbox, queries
from campaign_model.store import ledger as ledger_store
from campaign_model.store.audit import Act
from campaign_model.store.blobs import BlobStore
from campaign_model.store.campaigns import create_campaign, import_units, load_ctx
from campaign_model.store.filings import file_artifact, review, waive
from campaign_model.store.phases import force_advance
from campaign_model.store.queries import status
from notifications.settings import DeliveryConfig

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


def pdf_document(title: str, lines: list[str]) -> bytes:
    """A one-page PDF a browser previews: the title and lines in the PDF's own Chinese font (STSong-Light,
    nothing embedded), a red line where the stamp would be. Stands in for a scan."""
    def text(s: str) -> str:
        return "<" + s.encode("utf-16-be").hex().upper() + ">"

    ops = [f"BT /F1 18 Tf 64 770 Td {text(title)} Tj ET"]
    ops += [f"BT /F1 11 Tf 64 {736 - 20 * n} Td {text(line)} Tj ET" for n, line in enumerate(lines)]
    ops.append("0.75 0 0 RG 2 w 400 96 m 530 96 l S")
    stream = "\n".join(ops).encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H /DescendantFonts [6 0 R] >>",
        b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light /DW 1000 /W [1 95 500]"
        b" /CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 2 >> /FontDescriptor 7 0 R >>",
        b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [-25 -254 1000 880] /ItalicAngle 0"
        b" /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


# Problems a unit finds in its self-check (seed 002's 弱松庸慢散懒推奢), each with a real measure, the leader who
# answers for it (a school's; other units' are mapped by LEADER_ELSEWHERE) and the lead office.
PROBLEMS: tuple[tuple[str, str, str, str, str], ...] = (
    ("松", "会议多、落实少，部署的工作缺少跟踪督办",
     "建立周例会督办制度，会议事项逐条明确责任人和完成时限，每周通报落实情况", "副校长", "办公室"),
    ("弱", "学习不深入，集中学习以读文件为主，不求甚解",
     "制定全年学习计划，每月一次专题研讨，班子成员轮流领学并交流心得", "党支部书记", "党支部"),
    ("慢", "服务意识不强、办事拖拉，学生证明和教师材料办理时间长",
     "公开办事流程和办结时限，实行首问负责和限时办结", "副校长", "办公室"),
    ("松", "文山会海，以会议落实会议、以文件落实文件",
     "合并同类会议，精简文件，每月全体会议不超过两次", "校长", "办公室"),
    ("散", "工作纪律松弛，个别教师无故迟到早退、擅自离岗",
     "严格考勤签到，每周抽查、每月公示，结果与绩效考核挂钩", "副校长", "办公室"),
    ("松", "制度执行不严，有章不循，请假、值班制度落实不到位",
     "修订学校管理制度汇编，明确执行责任人，每学期开展一次制度执行检查", "校长", "办公室"),
    ("懒", "教研活动例行公事，听评课记录应付检查",
     "修订教研组考核办法，推行推门听课，每学期评选优秀教研组", "教导主任", "教导处"),
    ("庸", "提高教学质量的办法不多，对薄弱学科缺少针对性措施",
     "制定薄弱学科提升方案，开展同课异构和结对帮扶，每月进行质量分析", "教导主任", "教导处"),
    ("推", "对家长、教师反映的问题绕着走、拖着办",
     "建立来信来访登记台账，实行首问负责制，三个工作日内答复", "副校长", "政教处"),
    ("奢", "公务接待和办公经费管理不规范，存在超标准开支隐患",
     "严格执行公务接待审批单制度，经费支出每季度公示", "总务主任", "总务处"),
    ("散", "“124”住校制度执行不严，值班教师夜间不在岗",
     "严格执行“124”住校制度，建立值班巡查和交接班记录", "副校长", "政教处"),
    ("推", "对上级安排的工作讨价还价、层层打折扣",
     "建立重点工作清单，实行销号管理，完成情况纳入年度考核", "校长", "办公室"),
)
# each problem's long-term mechanism (长效机制, the fourth of 四个明确), filed in the issue list's own column
MECHANISMS = dict(zip([p[1] for p in PROBLEMS] + ["食堂收费和伙食费公示不及时，家长有意见"], (
    "《周例会督办制度》：会议事项台账管理，每月通报落实情况", "中心组学习制度：每月专题研讨，每季度学习交流",
    "首问负责和限时办结制度，办事流程上墙公开", "会议计划审批和发文审核制度", "考勤管理办法：每周抽查、每月公示，与绩效挂钩",
    "制度执行检查制度：每学期一次，结果通报", "教研组考核办法和推门听课制度", "教学质量月分析制度和学科结对帮扶机制",
    "来信来访登记台账和首问负责制", "公务接待审批单制度和经费季度公示制度", "“124”住校值班巡查和交接班制度",
    "重点工作清单销号管理，纳入年度考核", "伙食费收支每月公示和家长监督制度"), strict=True))
# the demo school's three problems (the first, second and third of PROBLEMS): what README's u001 works on all year
DEMO_SCHOOL_PROBLEMS = (0, 1, 2)
LEADER_ELSEWHERE = {"校长": "主要负责人", "副校长": "分管负责人", "党支部书记": "党支部书记", "教导主任": "业务负责人",
                    "总务主任": "财务负责人"}
OFFICE_ELSEWHERE = {"教导处": "业务股", "总务处": "财务室", "政教处": "办公室"}
DEADLINES = ("06-30", "07-31", "08-31", "09-30", "10-31", "12-31")
PROGRESS_NOTES = ("已召开班子会专题部署，制定整改方案，正在逐项推进",
                  "整改方案已印发，责任分解到人，正在按时间节点推进",
                  "已完成问题排查和制度起草，正在征求教职工意见")
RECTIFIED_NOTE = "整改已完成，附整改情况说明和制度执行记录"
CLOSE_COMMENTS = ("经核查，整改措施已落实，佐证材料齐全，同意销号",
                  "现场查看制度执行记录完整，群众反映良好，同意销号",
                  "已抽查执行台账，整改到位，同意销号")
LATE_CLOSE_COMMENT = "逾期完成整改，已约谈单位负责人；经核查整改到位，同意销号"
SENT_BACK = "佐证材料只有制度文本，缺少执行记录（签到表、会议纪要），请补充后再报"
RECHECK_PASSED = ("回访核实：制度执行记录连续完整，整改成效保持", "回头看抽查：整改成果巩固，未发现反弹")
RECHECK_FAILED = "周例会督办记录9月以后中断，会议部署的事项无人跟踪，问题反弹"
FINDINGS = (
    ("明察暗访发现：上班时间个别教师在办公室玩手机游戏、网上购物", "散",
     "开展工作纪律专项整顿，当事人作书面检查并全校通报，每周抽查在岗情况", "校长", "办公室"),
    ("暗访发现：学校食堂账目未按月公示，家长反映伙食费收支不透明", "奢",
     "食堂账目每月公示，成立家长参与的膳食委员会监督收支", "总务主任", "总务处"),
    ("督导组暗访发现：放学时段校门口接送秩序混乱，值班教师未按时到岗", "散",
     "调整值班安排，落实校门口护导岗，每周检查值班到岗情况", "副校长", "政教处"),
)
REJECT_POSTPONED = "整改时限一律顺延到年底，未说明延期原因，也没有阶段性措施；请逐条写明已做的工作和下一步措施后重新报送"
REJECT_INCOMPLETE = "问题清单漏报了群众反映的食堂收费问题，与自查报告不一致；请补充后重新报送"
REJECT_LOOKBACK = "回头看报告只罗列了已销号的问题，没有写复查的方法、抽查的记录和发现的反弹问题；请补充后重新报送"
HOOKED_DISTRICT = "district-3"  # its reminders go to a webhook that nobody listens on: failed, retried, dead


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
        self.names = {u.key: u.name for u in demo_units(schools)}
        self.artifact_titles: dict[str, str] = {}  # filled when the campaign is created
        # the demo's own delivery settings, never the environment's (which may name real channels): no channel, so
        # every reminder is written to the outbox file, until a 学区's webhook is set up (`webhook`)
        self.channels_file = self.work.parent / "channels.yaml"
        self.channels_file.unlink(missing_ok=True)
        self.delivery = DeliveryConfig(None, max_attempts=3, backoff_seconds=300, public_url=settings.delivery.public_url)

    def webhook(self, when: str) -> None:
        """The bureau office sets up one 学区's work-group webhook in the demo's own channels file: here an
        address on this machine where nothing listens (refused at once: failed, retried, dead after 3
        attempts). Everyone else's reminders still go to the outbox file. The service's settings are not touched."""
        import socket

        if not self.reached(when):
            return
        with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.channels_file.write_text(
            "# campaignflow demo: the 西营学区 work group's webhook (nobody listens on this port)\n"
            f"channels:\n  - {{name: xiying-group, type: webhook, url: 'http://127.0.0.1:{port}/hook', "
            f"secret: demo-signing-key, units: [{HOOKED_DISTRICT}], timeout: 2}}\n", encoding="utf-8")
        self.delivery = DeliveryConfig(str(self.channels_file), max_attempts=3, backoff_seconds=300,
                                       public_url=self.delivery.public_url)
        self.say(when, f"{self.names[HOOKED_DISTRICT]}的催办改由工作群接口推送 (the reminders of {HOOKED_DISTRICT} now go to its "
                       f"work group's webhook, {self.channels_file})")

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
        self.artifact_titles = {k: a.title for k, a in loaded.spec.artifacts.items()}
        return [u.key for u in loaded.units if u.key != "bureau"]

    def scan(self, unit: str, artifact: str, when: str) -> tuple[bytes, str]:
        """The signed, stamped paper as a one-page PDF, named by the artifact's title."""
        title = self.artifact_titles.get(artifact, artifact)
        return pdf_document(f"{self.names.get(unit, unit)}", [
            f"报送材料：{title}", f"日期：{self.moved(when)[:10]}", "（演示扫描件：代替签字盖章的纸质材料）"]), f"{title}.pdf"

    def problems(self, unit: str) -> list[tuple[str, str, str, str, str, str]]:
        """The unit's self-check problems with their deadlines (the same at every filing of its list)."""
        pick = random.Random(f"problems:{unit}")
        chosen = DEMO_SCHOOL_PROBLEMS if unit == DEMO_SCHOOL else pick.sample(range(len(PROBLEMS)), pick.choice((1, 2, 2, 3)))
        school = self.names.get(unit, "").endswith("小学")
        out = []
        for n, k in enumerate(chosen):
            cat, problem, measure, leader, office = PROBLEMS[k]
            if not school:
                leader, office = LEADER_ELSEWHERE.get(leader, leader), OFFICE_ELSEWHERE.get(office, office)
            deadline = ("06-30", "12-31", "09-30")[n] if unit == DEMO_SCHOOL else pick.choice(DEADLINES)
            out.append((problem, cat, measure, leader, office, deadline))
        return out

    def issue_rows(self, unit: str, postpone: bool = False, extra: bool = False) -> Path:
        """The unit's issue list as CSV; `postpone` moves every deadline to the year's end, `extra` adds a problem."""
        path = self.work / f"{unit}-issues.csv"
        rows = self.problems(unit)
        if extra:
            rows.append(("食堂收费和伙食费公示不及时，家长有意见", "奢", "食堂账目每月公示，伙食费收支接受家长监督",
                         "总务主任", "总务处", "12-31"))
        lines = ["problem,category,measure,leader,office,deadline,mechanism"]
        for problem, cat, measure, leader, office, deadline in rows:
            lines.append(f"{problem},{cat},{measure},{leader},{office},{2023 + self.shift}-{'12-31' if postpone else deadline},"
                         f"{MECHANISMS.get(problem, '')}")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def evidence(self, item: dict[str, Any], when: str) -> tuple[bytes, str]:
        """A unit's evidence of a fix: a one-page PDF naming the problem, the measure and who answers for it."""
        return pdf_document("整改佐证材料", [
            f"单位：{self.names.get(item['unit'], item['unit'])}", f"日期：{self.moved(when)[:10]}",
            f"问题：{item['problem']}", f"措施：{item['measure'] or '—'}",
            f"责任领导：{item['leader'] or '—'}    牵头股室：{item['office'] or '—'}",
            "附：会议纪要、签到表、制度执行记录（演示文件）"]), f"整改佐证-{item['id']}.pdf"

    def file_many(self, units: list[str], artifact: str, when: str, signed: bool = False, rows: bool = False) -> None:
        if not self.reached(when):
            return
        late = 0
        for unit in units:
            with self.engine.begin() as conn:
                r = file_artifact(conn, self.blobs, self.key, unit, artifact, self.act(when, unit),
                                  files=[self.scan(unit, artifact, when)] if signed or not rows else [],
                                  rows_file=self.issue_rows(unit) if rows else None,
                                  signed_by="校长" if signed else None)
            late += r["late"]
        self.say(when, f"报送 (filed) {artifact}: {len(units)} 个单位 (units)" + (f"，其中 {late} 个逾期 (late)" if late else ""))

    def tick(self, when: str) -> dict[str, Any] | None:
        if not self.reached(when):
            return None
        from flows.tick import tick, tick_direct

        result = (tick if self.prefect else tick_direct)(self.url, self.key, self.act(when, "tick"), str(self.outbox),
                                                         self.delivery)
        bits = []
        if result["advanced"]:
            bits.append(f"转段 (completed): {', '.join(result['advanced'])}")
        if result["overdue_marked"]:
            bits.append(f"新增逾期 (newly overdue) {result['overdue_marked']}")
        if result["reminders_sent"] or result["reminders_written"]:
            from .cli_common import reminder_words

            bits.append(f"催办 (reminders): {reminder_words(result)}")
        if not self.quiet and self.delivery.channels_file:  # what the webhook did (the tick's result counts deliveries)
            with self.engine.begin() as conn:
                states = outbox.counts(conn, load_ctx(conn, self.key).id)
            bits.append(f"工作群推送失败 (webhook failed): 待重试 (to retry) {states.get('failed', 0)}，"
                        f"已放弃 (dead) {states.get('dead', 0)}")
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
    d = Demo(settings, db_path, schools, prefect=False)
    play(d)

    with d.engine.begin() as conn:
        doc = status(conn, KEY, at("2024-01-02T10:00"))
        verdict = audit.verify(conn)
        messages = outbox.counts(conn, load_ctx(conn, KEY).id)
        items = Counter(i["state"] for i in queries.ledger(conn, KEY))
    counts = Counter({k: v for k, v in doc["obligations"].items() if k != "total"})
    print("\n结果 (result):")
    for p in doc["phases"]:
        print(f"  {p['key']:<14} {p['state']:<10} 完成于 (completed) {p['completed_at'] or '—'}"
              + ("  特批 (forced)" if p["forced"] else ""))
    print("  应报材料 (obligations): " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
          + f"; total {doc['obligations']['total']}")
    print(f"  审计链 (audit chain): {'完整 (intact)' if verdict.ok else '被破坏 (broken)'}, {verdict.count} 个事件 (events)")
    print("  整改台账 (ledger items): " + ", ".join(f"{k} {v}" for k, v in sorted(items.items())))
    print(f"  催办消息 (reminder messages): 已发出或写入发件箱 (sent or written) {messages.get('sent', 0)}，"
          f"发送失败待重试 (failed) {messages.get('failed', 0)}，已放弃 (dead) {messages.get('dead', 0)}；{d.outbox}")
    print(f"\n查看 (inspect): CAMPAIGN_DB_URL=sqlite:///{db_path} campaign status {KEY}")
    print(f"用时 (took) {time.perf_counter() - started:.1f} s")


def play(d: Demo) -> None:
    """The year of the campaign as scripted: filings on time, late and never, rejections, a merged school,
    a waiver and a forced advance, the ledger's year (`ledger_year`), with ticks in between. Events after
    `d.until` are skipped."""
    units = d.create()
    schools = [u for u in units if u.startswith("u")]
    rng = d.rng
    late_plan = set(rng.sample(schools, 4))
    # the demo school is one of the two that never file their study records: README's u001 owes an overdue task
    never_study = {DEMO_SCHOOL} | set(rng.sample(sorted(set(schools) - late_plan - {DEMO_SCHOOL}), 1))
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
        r = force_advance(conn, load_ctx(conn, d.key), f"{len(never_study)} 所学校学习记录未按期报送，督导组已督促补报，"
                          "不影响进入自查自纠 (study records of some schools still owed; the campaign moves on)",
                          d.act("2023-03-09T10:00", "局办公室"), True)
    d.say("2023-03-09T10:00", f"特批转段 (forced advance): {r['completed']}，理由见操作日志 (reason in the audit log)")
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
    if not d.reached("2023-04-04T10:00"):
        return
    extend_deadline(d, sorted(slow)[0])
    d.tick("2023-04-06T09:30")
    d.file_many(sorted(slow), "issue_list", "2023-04-10T11:00", signed=True, rows=True)
    rejected = {sorted(slow - {DEMO_SCHOOL})[0]: "整改措施不具体，请细化到时间节点和责任人 (measures too vague)",
                DEMO_SCHOOL: "问题查摆不够具体：请写明哪些会议、哪些事项没有落实，补充责任领导后重新报送 "
                             "(problems too general: say which meetings and which tasks)"}
    if not d.reached("2023-04-11T15:00"):
        return
    # the issue lists are 报备 (filed with the bureau office, no approval): the office reads them and returns
    # (退回) the two that are too vague; they are owed again until filed anew
    with d.engine.begin() as conn:
        for u in sorted(rejected):
            review(conn, d.key, u, "issue_list", False, rejected[u], d.act("2023-04-11T15:00", "局办公室"))
    d.say("2023-04-11T15:00", f"退回 (returned) issue_list 报备: {', '.join(sorted(rejected))}")
    d.tick("2023-04-12T09:30")
    d.file_many(sorted(rejected), "issue_list", "2023-04-13T10:00", signed=True, rows=True)
    d.tick("2023-04-14T09:30")
    units = [u for u in units if u != merged]
    newcomer = units[-1]
    early = [u for u in units[:-3] if u.startswith("u") and u != DEMO_SCHOOL][::3]

    def waive_newcomer() -> None:
        with d.engine.begin() as conn:
            waive(conn, d.key, newcomer, "lookback_report", "本年新设单位，无可回头看的整改 (set up this year: nothing to look back on)",
                  d.act("2023-11-20T10:00", "局办公室"))
        d.say("2023-11-20T10:00", f"免报 (waived) {newcomer} lookback_report：本年新设单位 (set up this year)")

    def file_special_actions() -> None:
        for _ in range(5):  # each filing answers the next step's obligation
            d.file_many(["bureau"], "special_action_report", "2023-09-28T10:00")

    agenda: list[tuple[str, Callable[[], Any]]] = [
        ("2023-06-01T10:00", partial(amend_spec, d)),
        # the five 专项行动 (one step each, led by its office): one report each, the next one owed each time
        ("2023-09-28T10:00", file_special_actions),
        ("2023-10-09T09:30", lambda: d.tick("2023-10-09T09:30")),
        ("2023-10-30T10:00", lambda: d.file_many(["bureau"], "evaluation_report", "2023-10-30T10:00")),
        ("2023-11-01T09:30", lambda: d.tick("2023-11-01T09:30")),
        ("2023-11-20T10:00", waive_newcomer),
        # a third of the schools report their look-back early; the rest on 12-12, two late
        ("2023-11-30T16:00", lambda: d.file_many(early, "lookback_report", "2023-11-30T16:00")),
        # the supervising group reviews the look-back reports (审核): half of the early ones accepted the next day,
        # one returned (filed again the morning after, waiting again), the rest accepted as they come in
        ("2023-12-01T15:00", lambda: _review(d, "2023-12-01T15:00", "lookback_report",
                                             {**{u: None for u in early[1::2]}, early[0]: REJECT_LOOKBACK})),
        ("2023-12-02T09:00", lambda: d.file_many(early[:1], "lookback_report", "2023-12-02T09:00")),
        ("2023-12-15T15:00", lambda: _accept_waiting(d, "2023-12-15T15:00", "lookback_report")),
        ("2023-12-22T15:00", lambda: _accept_waiting(d, "2023-12-22T15:00", "lookback_report")),
        ("2023-12-12T10:00", lambda: d.file_many([u for u in units[:-3] if u not in early], "lookback_report",
                                                 "2023-12-12T10:00")),
        ("2023-12-18T09:30", lambda: d.tick("2023-12-18T09:30")),
        ("2023-12-20T10:00", lambda: d.file_many(units[-3:-1], "lookback_report", "2023-12-20T10:00")),
        ("2023-12-28T10:00", lambda: d.file_many(units, "summary_report", "2023-12-28T10:00")),
        # 制度成果 as figures (汇总数据): the bureau's count in late November, the year's on 12-29
        ("2023-11-24T10:00", lambda: _outcomes(d, "2023-11-24T10:00", 6, 3, 2)),
        ("2023-12-29T10:00", lambda: _outcomes(d, "2023-12-29T10:00", 6, 5, 3)),
        ("2024-01-02T09:30", lambda: d.tick("2024-01-02T09:30")),
    ]
    # ticks between (monthly while items fall due, three in one morning when a failing webhook goes dead)
    agenda.append(("2023-11-10T10:00", partial(d.webhook, "2023-11-10T10:00")))
    for when in ("2023-07-03T09:30", "2023-09-01T09:30",
                 "2023-11-16T09:30", "2023-11-16T10:30", "2023-11-16T11:30", "2023-12-01T09:30"):
        agenda.append((when, partial(d.tick, when)))
    agenda += ledger_year(d, units, [when for when, _ in agenda])
    for when, step in sorted(agenda, key=lambda a: a[0]):  # stable: same instant, scripted order
        if not d.reached(when):
            return
        step()


def _outcomes(d: Demo, when: str, planned: int, issued: int, revised: int) -> None:
    """The bureau's 制度成果 filed as figures (rules planned, issued, revised) with the rules' scan attached."""
    path = d.work / f"outcomes-{when[:10]}.csv"
    path.write_text(f"planned,issued,revised\n{planned},{issued},{revised}\n", encoding="utf-8")
    with d.engine.begin() as conn:
        file_artifact(conn, d.blobs, d.key, "bureau", "institutional_outcomes", d.act(when, "bureau"),
                      files=[d.scan("bureau", "institutional_outcomes", when)], rows_file=path)
    d.say(when, f"报送 (filed) institutional_outcomes: 计划 {planned}、出台 {issued}、修订 {revised} 项 (rules)")


def extend_deadline(d: Demo, school: str) -> None:
    """延期: one school, hosting the county's teaching event, gets its issue list's deadline moved (a reason, audited)."""
    from campaign_model.store import changes

    with d.engine.begin() as conn:
        ctx = load_ctx(conn, d.key)
        r = changes.extend(conn, ctx, "issue_list", [school], changes.parse_due(d.moved("2023-04-10T17:00"), ctx.tz),
                           "学校承办全县教研活动，经局办公室同意延期 (hosting the county's teaching event: extension agreed)",
                           d.act("2023-04-04T10:00", "局办公室"))
    d.say("2023-04-04T10:00", f"延期 (extended) {school} issue_list → {r['obligations'][0]['new_due']}")


def amend_spec(d: Demo) -> None:
    """A change to the running campaign: the special actions' report moved after the National Day holidays."""
    from campaign_model.store import changes

    with d.engine.begin() as conn:
        ctx = load_ctx(conn, d.key)
        text = changes.spec_text(conn, ctx).replace(f"due: {d.moved('2023-09-30')[:10]}", f"due: {d.moved('2023-10-13')[:10]}")
        loaded = load_spec_text(text, "demo-amend", units=changes.current_units(conn, ctx))
        act = d.act("2023-06-01T10:00", "局办公室")
        r = changes.apply_amendment(conn, ctx, loaded, changes.plan_amendment(conn, ctx, loaded, act.at), act,
                                    "国庆、中秋假期，专项行动报告顺延至节后 (moved after the National Day holidays)")
    d.say("2023-06-01T10:00", f"修改活动 (amended), 第 {r['version']} 版: " + "；".join(r["changes"]))


def ledger_year(d: Demo, units: list[str], others_at: list[str]) -> list[tuple[str, Callable[[], Any]]]:
    """The rectification ledger's year after the issue lists are filed, as dated steps.

    Most units report progress in May, rectify with evidence before each deadline and the supervising
    group (督导组) closes the item (销号) with a comment; slow units rectify late or not at all (overdue);
    a few do nothing, then file revised lists (报备) in November: two returned (退回) and filed again.
    Supervision findings (督查发现) add items. The look-back (回头看) samples closed items on 11-01; the
    supervising group passes re-checks in November and fails one (the demo school's), which reopens it.
    The demo school: one item closed then reopened by the look-back and in progress again, one in
    progress, one sent back and overdue, and a finding open in December.
    """
    with d.engine.begin() as conn:
        items = queries.ledger(conn, d.key)
    pick = random.Random("ledger-year")
    by_unit: dict[str, list[dict[str, Any]]] = {}
    for it in items:
        by_unit.setdefault(it["unit"], []).append(it)
    others = sorted(u for u in by_unit if u not in (DEMO_SCHOOL, "bureau", HOOKED_DISTRICT))
    # units that do nothing all year (overdue): four schools, and the 学区 whose reminders go nowhere
    laggards = pick.sample([u for u in others if u.startswith("u")], 4)
    slow = set(pick.sample([u for u in others if u not in laggards], 10))
    plan: dict[str, list[tuple[str, dict[str, Any], Any]]] = {}  # when -> [(action, item, argument)]

    def add(when: str, action: str, item: dict[str, Any], arg: Any = None) -> None:
        plan.setdefault(when, []).append((action, item, arg))

    def day(month_day: str, shift: int, hour: str = "10:00") -> str:
        return (dt.date.fromisoformat(f"2023-{month_day}") + dt.timedelta(days=shift)).isoformat() + f"T{hour}"

    sent_back = 0
    for unit in sorted(by_unit):
        if unit in (DEMO_SCHOOL, HOOKED_DISTRICT) or unit in laggards or unit not in units:
            continue
        for it in by_unit[unit]:
            due = it["deadline"][5:]
            if unit in slow or due >= "08-31":  # an early fix is reported once, when done
                add(day("05-08", pick.randint(0, 20) + (25 if unit in slow else 0)), "progress", it, pick.choice(PROGRESS_NOTES))
            if unit in slow:
                if due <= "09-30" and pick.random() < 0.6:  # late, closed before the look-back
                    add(day("10-10", pick.randint(0, 8)), "rectified", it)
                    add(day("10-22", pick.randint(0, 6), "15:00"), "closed", it, LATE_CLOSE_COMMENT)
                elif due == "10-31":  # late, waiting on the supervising group in December
                    add(day("11-20", pick.randint(0, 8)), "rectified", it)
                    add(day("12-04", pick.randint(0, 8), "15:00"), "closed", it, LATE_CLOSE_COMMENT)
                continue  # the others stay in progress: overdue once their deadline passes
            if due == "12-31":
                if pick.random() < 0.5:  # done early, waiting on the supervising group in December
                    add(day("11-18", pick.randint(0, 10)), "rectified", it)
                    add(day("12-07", pick.randint(0, 7), "15:00"), "closed", it, pick.choice(CLOSE_COMMENTS))
                continue
            done = day(due, -pick.randint(6, 16))
            add(done, "rectified", it)
            if sent_back < 2 and due in ("07-31", "08-31"):  # the evidence was not enough: sent back, redone
                sent_back += 1
                add(day(done[5:10], 5, "15:00"), "reopened", it, SENT_BACK)
                add(day(done[5:10], 14), "rectified", it)
                add(day(done[5:10], 20, "15:00"), "closed", it, pick.choice(CLOSE_COMMENTS))
            else:
                add(day(done[5:10], pick.randint(4, 12), "15:00"), "closed", it, pick.choice(CLOSE_COMMENTS))
    meetings, study, service = by_unit[DEMO_SCHOOL][:3]
    add("2023-05-12T10:00", "progress", meetings, "已建立周例会督办台账，每周一例会部署、周五通报")
    add("2023-05-12T10:00", "progress", study, "已制定全年学习计划，5月起每月一次专题研讨")
    add("2023-05-12T10:00", "progress", service, "已公开办事流程，限时办结正在试行")
    add("2023-06-26T10:00", "rectified", meetings)
    add("2023-07-05T15:00", "closed", meetings, CLOSE_COMMENTS[0])
    add("2023-09-25T10:00", "rectified", service)
    add("2023-10-12T15:00", "reopened", service, (SENT_BACK, dt.date(2023, 11, 30)))
    add("2023-11-18T15:00", "recheck_failed", meetings, (RECHECK_FAILED, dt.date(2023, 12, 25)))
    add("2023-11-27T10:00", "progress", meetings, "已恢复周例会督办，补齐9至11月督办记录，由副校长每周检查")

    steps: list[tuple[str, Callable[[], Any]]] = []
    # supervision findings (督查发现): one fixed in time, one overdue, one for the demo school open in December
    found = [u for u in sorted(by_unit) if u not in laggards and u != DEMO_SCHOOL and u.startswith("u")]
    fixed: dict[str, Any] = {}
    for when, unit, (problem, cat, measure, leader, office), deadline, box in (
            ("2023-06-12T16:00", found[0], FINDINGS[0], "07-15", fixed),
            ("2023-09-18T16:00", sorted(u for u in slow if u.startswith("u") and u != found[0])[0], FINDINGS[1], "10-20", {}),
            ("2023-11-24T16:00", DEMO_SCHOOL, FINDINGS[2], "12-20", {})):
        steps.append((when, partial(_finding, d, when, unit, problem, cat, measure, leader, office, deadline, box)))
    steps.append(("2023-07-02T10:00", partial(_finding_fixed, d, fixed, False)))
    steps.append(("2023-07-08T15:00", partial(_finding_fixed, d, fixed, True)))
    # the look-back's re-checks: half of the sampled ones passed on 11-16, more on 11-25, the rest in December
    closed_items = [it for evs in plan.values() for (action, it, _) in evs if action == "closed" and it["unit"] != DEMO_SCHOOL]
    steps.append(("2023-11-16T15:00", lambda: _rechecks(d, "2023-11-16T15:00", closed_items[::2])))
    steps.append(("2023-11-25T15:00", lambda: _rechecks(d, "2023-11-25T15:00", closed_items[1::4])))
    # (the finding closed in July may be sampled too: `fixed` is filled when that step has run)
    steps.append(("2023-12-10T15:00", lambda: _rechecks(d, "2023-12-10T15:00", closed_items + ([fixed] if fixed else []))))
    # revised issue lists (报备) of units that did nothing: the office returns (退回) the two that postpone every
    # deadline or leave a problem out; both file again
    postponed, incomplete, revised = laggards[:3]
    steps += [
        ("2023-11-23T11:00", lambda: _refile(d, "2023-11-23T11:00", [postponed, incomplete], postpone=True)),
        ("2023-11-26T15:00", lambda: _return(d, "2023-11-26T15:00", "issue_list", {postponed: REJECT_POSTPONED,
                                                                                  incomplete: REJECT_INCOMPLETE})),
        ("2023-11-27T11:00", lambda: _refile(d, "2023-11-27T11:00", [revised])),
        ("2023-11-30T11:00", lambda: _refile(d, "2023-11-30T11:00", [incomplete], extra=True)),
        ("2023-12-04T11:00", lambda: _refile(d, "2023-12-04T11:00", [postponed])),
    ]
    # the day-to-day work in batches, one transaction each: everything between two other steps (ticks, filings,
    # findings, reviews) at once, each change at its own instant
    barriers = sorted({when for when, _ in steps} | set(others_at))
    batches: dict[int, list[tuple[str, str, dict[str, Any], Any]]] = {}
    for when in sorted(plan):
        batches.setdefault(bisect.bisect_left(barriers, when), []).extend((when, *e) for e in plan[when])
    steps += [(batch[0][0], partial(_ledger_days, d, batch)) for batch in batches.values()]
    return steps


def _ledger_day(d: Demo, when: str, events: list[tuple[str, dict[str, Any], Any]]) -> None:
    _ledger_days(d, [(when, *e) for e in events])


def _ledger_days(d: Demo, events: list[tuple[str, str, dict[str, Any], Any]]) -> None:
    """Ledger work in one transaction, each change at its instant: progress reports, fixes with evidence, 销号
    and send-backs. Changes after `d.until` are left out."""
    done: Counter[str] = Counter()
    events = [e for e in events if d.reached(e[0])]
    if not events:
        return
    with d.engine.begin() as conn:
        for when, action, it, arg in events:
            if action == "progress":
                ledger_store.update_item(conn, d.blobs, it["id"], "in_progress", arg, [], d.act(when, it["unit"]))
            elif action == "rectified":
                ledger_store.update_item(conn, d.blobs, it["id"], "rectified", RECTIFIED_NOTE, [d.evidence(it, when)],
                                         d.act(when, it["unit"]))
            elif action == "closed":
                ledger_store.verify_item(conn, it["id"], True, arg, d.act(when, "督导组"))
            elif action == "reopened":
                comment, deadline = arg if isinstance(arg, tuple) else (arg, None)
                ledger_store.verify_item(conn, it["id"], False, comment, d.act(when, "督导组"),
                                         deadline=deadline and deadline.replace(year=deadline.year + d.shift))
            elif action == "recheck_failed":
                comment, deadline = arg
                lookback.decide(conn, it["id"], False, comment, d.act(when, "督导组"),
                                deadline=deadline.replace(year=deadline.year + d.shift))
            done[action] += 1
    words = {"progress": "报告进展 (progress)", "rectified": "整改完成并附佐证 (rectified with evidence)",
             "closed": "销号 (closed)", "reopened": "退回整改或反弹 (sent back)", "recheck_failed": "回头看复查未通过，重新整改 "
             "(look-back failed: reopened)"}
    last = f" … {d.moved(events[-1][0])[5:10]}" if events[-1][0][:10] != events[0][0][:10] else ""
    d.say(events[0][0], f"台账{last} (ledger): " + "，".join(f"{words[k]} {n}" for k, n in done.items()))


def _finding(d: Demo, when: str, unit: str, problem: str, category: str, measure: str, leader: str, office: str,
             deadline: str, found: dict[str, Any]) -> None:
    due = dt.date.fromisoformat(f"{2023 + d.shift}-{deadline}")
    with d.engine.begin() as conn:
        item = ledger_store.record_finding(conn, d.key, unit, problem, due, d.act(when, "督导组"), category=category,
                                           measure=measure, leader=leader, office=office)
    d.say(when, f"督查发现 (supervision finding) → {unit} 台账 #{item['id']}，整改时限 (deadline) {due}")
    found.update(item)


def _finding_fixed(d: Demo, found: dict[str, Any], close: bool) -> None:
    """The first finding is fixed within three weeks and closed by the supervising group."""
    if found and close:
        _ledger_day(d, "2023-07-08T15:00", [("closed", found, CLOSE_COMMENTS[1])])
    elif found:
        _ledger_day(d, "2023-07-02T10:00", [("progress", found, "已召开全体教职工会议通报，当事人已作书面检查"),
                                            ("rectified", found, None)])


def _rechecks(d: Demo, when: str, items: list[dict[str, Any]]) -> None:
    """The supervising group's look-back re-checks of sampled items: passed, with a comment."""
    passed = 0
    with d.engine.begin() as conn:
        for n, it in enumerate(items):
            try:
                lookback.decide(conn, it["id"], True, RECHECK_PASSED[n % 2], d.act(when, "督导组"))
            except ConflictError:  # not sampled, or already re-checked: decide() refuses before writing anything
                continue
            passed += 1
    if passed:
        d.say(when, f"回头看复查 (look-back re-checks): {passed} 项通过 (passed)")


def _refile(d: Demo, when: str, units: list[str], postpone: bool = False, extra: bool = False) -> None:
    with d.engine.begin() as conn:
        for unit in units:
            file_artifact(conn, d.blobs, d.key, unit, "issue_list", d.act(when, unit), files=[d.scan(unit, "issue_list", when)],
                          rows_file=d.issue_rows(unit, postpone=postpone, extra=extra), signed_by="校长")
    d.say(when, f"重新报送 (refiled) issue_list: {', '.join(units)}" + ("（整改时限顺延 / deadlines postponed）" if postpone else ""))


def _accept_waiting(d: Demo, when: str, artifact: str) -> None:
    """The supervising group accepts every filing of `artifact` waiting for its review."""
    from campaign_model.store import reviews as review_store

    with d.engine.begin() as conn:
        ctx = load_ctx(conn, d.key)
        waiting = review_store.waiting(conn, ctx, None, artifact=artifact)["items"]
        for f in waiting:
            review_store.decide(conn, ctx, f["id"], True, None, d.act(when, "督导组"))
    if waiting:
        d.say(when, f"审核通过 (accepted) {artifact}: {len(waiting)} 份 (filings)")


def _return(d: Demo, when: str, artifact: str, comments: dict[str, str]) -> None:
    """The bureau office returns (退回) filings of record (报备) that are wrong, each with what to fix."""
    with d.engine.begin() as conn:
        for unit, comment in comments.items():
            review(conn, d.key, unit, artifact, False, comment, d.act(when, "局办公室"))
    d.say(when, f"退回 (returned) {artifact}: {', '.join(comments)}")


def _review(d: Demo, when: str, artifact: str, decisions: dict[str, str | None]) -> None:
    """The supervising group decides filings it reviews (审核): None accepts, a comment returns."""
    with d.engine.begin() as conn:
        for unit, comment in decisions.items():
            review(conn, d.key, unit, artifact, comment is None, comment, d.act(when, "督导组"))
    d.say(when, f"审核 (reviewed) {artifact}: " + "，".join(
        f"{u} {'通过 (accepted)' if c is None else '退回 (rejected)'}" for u, c in decisions.items()))


DEMO_PASSWORD = "campaignflow-demo"  # printed by `serve --demo`; a demo database only
DEMO_SCHOOL = "u001"  # the demo's school account and its unit, which the script keeps in every phase
DEMO_USERS = (("admin", "admin", None, "局办公室（管理员）"), ("duchazu", "supervisor", None, "督导组"),
              (DEMO_SCHOOL, "unit", DEMO_SCHOOL, "城关第1小学"), ("district-1", "unit", "district-1", "城关学区"),
              ("viewer", "viewer", None, "只读用户"))


def load_live_demo(settings: Settings, now: dt.datetime, schools: int = 48) -> dict[str, Any] | None:
    """`serve --demo`: the scripted campaign moved to this year and played up to `now`, with demo accounts.
    Nothing happens when the database already holds a campaign."""
    from campaign_model.store.accounts import add_user, create_token
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
        # next year's campaign as a draft, so that 新建活动 (/campaigns/new) lists one to open in the timeline editor
        from campaign_model import catalog
        from campaign_model.store.drafts import add_draft

        draft = catalog.redate(catalog.template_text("zuofeng-2023"), year + 1, name="zuofeng-2023")
        add_draft(conn, Act(now, "admin", now), title=f"{year + 1}年教文广新体系统干部作风整顿（草稿）", text=draft,
                  source=f"template:zuofeng-2023:{year + 1}")
        # a program's token, so that the accounts page (/admin/users) lists one; its value is shown to nobody
        create_token(conn, "admin", act, 90, "报表系统（演示）")
    engine.dispose()
    return {"campaign": d.key, "users": [u[0] for u in DEMO_USERS], "password": DEMO_PASSWORD}
