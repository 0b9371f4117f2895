"""The rectification ledger through its whole lifecycle, every action at an explicit instant:
open → in progress → rectified (evidence) → closed (销号) → reopened by a look-back (回头看) → closed
again; long-term items (长期坚持); supervision findings (督查); the history in `campaign ledger --json`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from sqlalchemy import select

from campaign_model import ledger as rules
from campaign_model.errors import ConflictError, InvalidInput, NotFound
from campaign_model.store import audit
from campaign_model.store.audit import Act
from campaign_model.store.blobs import BlobStore
from campaign_model.store.filings import file_artifact
from campaign_model.store.ledger import item_history, record_finding, update_item, verify_item
from campaign_model.store.queries import ledger
from campaign_model.store.tables import audit_events, ledger_items

from .conftest import SMALL_SPEC, local

ROOT = Path(__file__).resolve().parent.parent
CAMPAIGN = "small-2023"


def act(when: str, actor: str = "clerk") -> Act:
    return Act(local(when), actor, local(when))


# --- the pure rules ---

@pytest.mark.parametrize("state, action, after", [
    ("open", "progress", "in_progress"), ("in_progress", "progress", "in_progress"),
    ("in_progress", "rectified", "rectified"), ("open", "rectified", "rectified"),  # 立行立改
    ("rectified", "rectified", "rectified"), ("reopened", "progress", "in_progress"),
    ("returned", "progress", "in_progress"), ("returned", "rectified", "rectified"),
    ("rectified", "reopened", "returned"), ("closed", "reopened", "reopened"), ("rectified", "closed", "closed"),
])
def test_allowed_transitions(state, action, after):
    assert rules.transition(state, action, note="进展", comment="意见", evidence_since_reopen=1) == after


@pytest.mark.parametrize("state, action, error", [
    ("closed", "progress", ConflictError), ("closed", "rectified", ConflictError),
    ("rectified", "progress", ConflictError), ("open", "closed", ConflictError), ("in_progress", "closed", ConflictError),
    ("closed", "closed", ConflictError), ("open", "reopened", ConflictError), ("in_progress", "reopened", ConflictError),
])
def test_refused_transitions_say_why_in_both_languages(state, action, error):
    with pytest.raises(error) as exc:
        rules.transition(state, action, note="进展", comment="意见", evidence_since_reopen=1)
    assert "(" in str(exc.value) and str(exc.value)[0] > "\u4e00"  # Chinese first, English in parentheses


def test_closing_needs_evidence_and_a_comment_and_an_update_needs_something_said():
    with pytest.raises(InvalidInput, match="佐证"):
        rules.transition("rectified", "closed", comment="核验通过", evidence_since_reopen=0)
    with pytest.raises(InvalidInput, match="comment") as refused:
        rules.transition("rectified", "closed", comment="  ", evidence_since_reopen=2)
    assert refused.value.field == "comment"  # the CLI prints it as --comment, the API names the field
    with pytest.raises(InvalidInput, match="note") as refused:
        rules.transition("open", "progress")
    assert refused.value.field == "note"
    assert rules.transition("open", "rectified", new_evidence=1) == "rectified"


def test_long_term_items_take_progress_anywhere_open_close_only_when_verified_and_are_never_overdue():
    assert rules.transition("rectified", "progress", long_term=True, note="季度进展") == "in_progress"
    assert rules.transition("in_progress", "closed", long_term=True, comment="长效机制已建立", evidence_since_reopen=1) == "closed"
    due = local("2023-04-30T23:59:59")
    assert not rules.is_overdue("open", due, local("2023-06-01T00:00"), long_term=True)
    assert rules.is_overdue("open", due, local("2023-05-01T00:00"))
    assert rules.is_overdue("reopened", due, local("2023-05-01T00:00"))
    assert rules.is_overdue("returned", due, local("2023-05-01T00:00"))
    assert not rules.is_overdue("rectified", due, local("2023-05-01T00:00"))  # waits on the supervisor
    assert not rules.is_overdue("in_progress", due, due)


@pytest.mark.parametrize("text, share", [("2/3", Fraction(2, 3)), ("90%", Fraction(9, 10)), (0.9, Fraction(9, 10)),
                                         (1, Fraction(1)), ("95.5%", Fraction(191, 200))])
def test_shares_are_exact(text, share):
    assert rules.parse_share(text) == share


@pytest.mark.parametrize("bad", ["3/2", 0, "-1/3", "abc", True, "1/0", None])
def test_bad_shares_are_refused(bad):
    with pytest.raises(ValueError, match="2/3"):
        rules.parse_share(bad)


def test_ledger_condition_at_the_two_thirds_boundary():
    at_least = Fraction(2, 3)
    assert rules.ledger_condition(rules.LedgerCounts({"closed": 2, "in_progress": 1}), at_least, True) == []
    short = rules.ledger_condition(rules.LedgerCounts({"closed": 3, "in_progress": 2}), at_least, True)
    assert short and "3/5" in short[0] and "60.0%" in short[0]
    idle = rules.ledger_condition(rules.LedgerCounts({"closed": 4, "open": 1, "rectified": 1}), at_least, True)
    assert idle == ["1 项尚未开始整改 (1 item(s) not in progress)"]
    assert rules.ledger_condition(rules.LedgerCounts({}), at_least, True, True) == []
    assert rules.ledger_condition(rules.LedgerCounts({"in_progress": 1}, overdue=1), none_overdue=True)


def test_tally_shows_the_response_rate_beside_the_ratio():
    rows = [{"aspect": "认识深不深", "satisfied": 43, "fair": 2, "unsatisfied": 0, "eligible": 60},
            {"aspect": "措施可行不可行", "satisfied": 44, "fair": None, "unsatisfied": 1, "eligible": 60}]
    t = rules.tally_rows(rows, ["satisfied", "fair", "unsatisfied"], ["satisfied"], "eligible")
    assert t == rules.Tally(87, 90, 120)
    d = t.describe()
    assert (d["ratio"], d["response_rate"]) == (0.9667, 0.75)
    assert "96.7%" in d["text"] and "75.0%" in d["text"]
    assert rules.evaluation_condition(t, Fraction(9, 10), Fraction(6, 10)) == []
    assert rules.evaluation_condition(t, Fraction(9, 10), Fraction(8, 10)) == [
        "参评率 75.0% 低于 80.0% (response rate below 80.0%)"]
    unknown = rules.tally_rows([{"satisfied": 5, "fair": 0, "eligible": None}], ["satisfied", "fair"], ["satisfied"], "eligible")
    assert unknown.response_rate() is None and rules.evaluation_condition(unknown, None, Fraction(1, 2))


# --- the store, on SQLite and PostgreSQL ---

class Ledger:
    def __init__(self, engine, tmp_path: Path):
        self.engine, self.tmp = engine, tmp_path
        self.blobs = BlobStore(tmp_path / "files")

    def file_issues(self, unit: str, when: str, *rows: str) -> None:
        path = self.tmp / f"{unit}-issues.csv"
        path.write_text("problem,category,leader,office,measure,deadline\n" + "\n".join(rows) + "\n", encoding="utf-8")
        with self.engine.begin() as conn:
            file_artifact(conn, self.blobs, CAMPAIGN, unit, "issue_list", act(when, unit), rows_file=path)

    def evidence(self, name: str, content: str) -> Path:
        path = self.tmp / name
        path.write_bytes(content.encode())
        return path

    def update(self, item: int, state: str, when: str, note: str | None = None, evidence: tuple[Path, ...] = ()) -> dict:
        with self.engine.begin() as conn:
            return update_item(conn, self.blobs, item, state, note, list(evidence), act(when, "s1-clerk"))

    def verify(self, item: int, close: bool, when: str, comment: str | None = "核验", **kw) -> dict:
        with self.engine.begin() as conn:
            return verify_item(conn, item, close, comment, act(when, "督导组"), **kw)

    def items(self, **kw) -> list[dict]:
        with self.engine.connect() as conn:
            return ledger(conn, CAMPAIGN, **kw)

    def item(self, item_id: int, at: str | None = None) -> dict:
        return next(i for i in self.items(at=local(at) if at else None) if i["id"] == item_id)


@pytest.fixture
def book(engine, small, tmp_path) -> Ledger:
    b = Ledger(engine, tmp_path)
    b.file_issues("s1", "2023-03-20T10:00", "会议多落实少,慢,李副局长,办公室,压缩会议,2023-06-30",
                  "办事拖拉推诿,推,王副局长,人事股,首问负责,2023-05-31")
    return b


def test_issue_list_items_get_their_deadline_instant_and_a_created_event(engine, book):
    items = book.items()
    assert [(i["id"], i["state"], i["due"], i["source"]) for i in items] == [
        (1, "open", "2023-06-30T23:59:59+08:00", "self_check"), (2, "open", "2023-05-31T23:59:59+08:00", "self_check")]
    assert items[0]["history"] == [{"at": "2023-03-20T10:00:00+08:00", "by": "s1", "action": "created",
                                    "state_before": None, "state_after": "open",
                                    "note": "由报送的问题清单生成 (from the filed issue list)", "evidence": []}]
    # the four namings (四个明确): leader, office, measures, deadline
    assert (items[0]["leader"], items[0]["office"], items[0]["measure"], items[0]["deadline"]) == (
        "李副局长", "办公室", "压缩会议", "2023-06-30")
    with engine.connect() as conn:
        row = conn.execute(select(ledger_items).where(ledger_items.c.id == 1)).one()
    assert row.updated_at == local("2023-03-20T10:00") and row.long_term is False


def test_the_whole_lifecycle_with_a_look_back_reopen(engine, book):
    photo = book.evidence("会议记录.pdf", "fewer meetings, minutes attached")
    assert book.update(1, "in_progress", "2023-04-10T09:00", note="已制定会议精简办法")["state"] == "in_progress"
    assert book.update(1, "in_progress", "2023-04-20T09:00", note="4月会议减少三成")["state"] == "in_progress"
    book.update(1, "rectified", "2023-05-10T09:00", note="整改完成")
    with pytest.raises(InvalidInput, match="佐证"):  # closing without evidence is refused
        book.verify(1, True, "2023-05-11T09:00", comment="核验通过")
    done = book.update(1, "rectified", "2023-05-12T09:00", evidence=(photo,))
    assert done["state_before"] == "rectified" and done["evidence"][0]["name"] == "会议记录.pdf"
    closed = book.verify(1, True, "2023-05-15T10:00", comment="经核验，整改到位，予以销号")
    assert (closed["state_before"], closed["state"], closed["by"]) == ("rectified", "closed", "督导组")
    with pytest.raises(ConflictError, match="已销号"):
        book.update(1, "in_progress", "2023-05-20T09:00", note="补充")

    # the look-back (回头看) finds the problem again (反弹): reopened with a new deadline
    reopened = book.verify(1, False, "2023-09-01T10:00", comment="回头看发现会议又有增多，问题反弹", deadline=dt.date(2023, 10, 31))
    assert reopened["state"] == "reopened"
    item = book.item(1, at="2023-09-02T10:00")
    assert (item["state"], item["due"], item["closed_at"], item["overdue"]) == ("reopened", "2023-10-31T23:59:59+08:00", None, False)
    assert book.item(1, at="2023-11-01T10:00")["overdue"] is True
    book.update(1, "in_progress", "2023-09-10T09:00", note="重新整改")
    book.update(1, "rectified", "2023-10-10T09:00", note="再次整改完成")
    with pytest.raises(InvalidInput, match="佐证"):  # the evidence of the fix that did not hold does not count again
        book.verify(1, True, "2023-10-12T09:00", comment="核验通过")
    book.update(1, "rectified", "2023-10-13T09:00", evidence=(book.evidence("复查.jpg", "re-check photo"),))
    book.verify(1, True, "2023-10-15T09:00", comment="复查到位，销号")

    item = book.item(1)
    assert item["state"] == "closed" and item["closed_at"] == "2023-10-15T09:00:00+08:00"
    assert [(h["action"], h["state_before"], h["state_after"]) for h in item["history"]] == [
        ("created", None, "open"), ("progress", "open", "in_progress"), ("progress", "in_progress", "in_progress"),
        ("rectified", "in_progress", "rectified"), ("rectified", "rectified", "rectified"), ("closed", "rectified", "closed"),
        ("reopened", "closed", "reopened"), ("progress", "reopened", "in_progress"),
        ("rectified", "in_progress", "rectified"), ("rectified", "rectified", "rectified"), ("closed", "rectified", "closed")]
    assert [(e["name"], e["at"]) for e in item["evidence"]] == [
        ("会议记录.pdf", "2023-05-12T09:00:00+08:00"), ("复查.jpg", "2023-10-13T09:00:00+08:00")]
    assert (book.tmp / "files" / item["evidence"][0]["sha256"][:2] / item["evidence"][0]["sha256"]).read_bytes() == \
        b"fewer meetings, minutes attached"
    assert item["history"][6]["note"] == "回头看发现会议又有增多，问题反弹" and item["history"][6]["by"] == "督导组"
    with engine.connect() as conn:
        assert item_history(conn, 1) == item["history"]
        actions = conn.execute(select(audit_events.c.action, audit_events.c.subject, audit_events.c.before,
                                      audit_events.c.after).where(audit_events.c.action.like("ledger.%"))
                               .order_by(audit_events.c.seq)).all()
        assert len(actions) == 10 and actions[5][:3] == ("ledger.reopened", "ledger:s1#1", {"state": "closed"})
        assert actions[5][3]["deadline"] == "2023-10-31"
        assert audit.verify(conn).ok


def test_sending_back_a_rectified_item_and_refusals(engine, book):
    book.update(2, "rectified", "2023-04-01T09:00", note="立行立改", evidence=(book.evidence("a.pdf", "a"),))
    with pytest.raises(InvalidInput, match="comment") as refused:
        book.verify(2, False, "2023-04-02T09:00", comment=None)
    assert refused.value.field == "comment"
    # sent back before closure: returned for more work (退回), not 反弹 (reopened after closure)
    assert book.verify(2, False, "2023-04-02T09:00", comment="整改不彻底")["state"] == "returned"
    with pytest.raises(ConflictError, match="before the item's last change"):
        book.update(2, "in_progress", "2023-04-01T10:00", note="早于上次变更")
    with pytest.raises(InvalidInput, match="in_progress 或 rectified"):
        book.update(2, "closed", "2023-04-03T09:00", note="x")
    with pytest.raises(NotFound, match="#99"):
        book.update(99, "in_progress", "2023-04-03T09:00", note="x")
    with pytest.raises(ConflictError, match="只能退回"):
        book.verify(1, False, "2023-04-03T09:00", comment="x")


def test_refiled_issue_list_replaces_items_which_then_refuse_changes(engine, book):
    book.file_issues("s1", "2023-03-25T10:00", "会议多落实少,慢,李副局长,办公室,压缩会议,2023-06-30")
    assert [i["id"] for i in book.items()] == [3]
    with pytest.raises(InvalidInput, match="取代"):
        book.update(1, "in_progress", "2023-04-01T09:00", note="x")


def test_a_supervision_finding_and_a_long_term_item(engine, book):
    with engine.begin() as conn:
        found = record_finding(conn, CAMPAIGN, "s2", "明查暗访发现上班时间玩手机", dt.date(2023, 5, 15),
                               act("2023-04-20T15:00", "督导组"), leader="赵副局长", office="督查室", measure="通报批评，限期整改")
        lasting = record_finding(conn, CAMPAIGN, "s2", "师德师风建设", None, act("2023-04-20T15:05", "督导组"), long_term=True)
        with pytest.raises(InvalidInput, match="deadline") as refused:
            record_finding(conn, CAMPAIGN, "s2", "无时限", None, act("2023-04-20T15:06"))
        assert refused.value.field == "deadline"
        with pytest.raises(InvalidInput, match="早于"):
            record_finding(conn, CAMPAIGN, "s2", "时限已过", dt.date(2023, 4, 1), act("2023-04-20T15:06"))
        with pytest.raises(NotFound):
            record_finding(conn, CAMPAIGN, "s9", "无此单位", dt.date(2023, 5, 1), act("2023-04-20T15:06"))
    assert (found["id"], found["state"], found["source"]) == (3, "open", "supervision")
    items = {i["id"]: i for i in book.items(unit="s2", at=local("2023-05-16T00:00"))}
    assert items[3]["due"] == "2023-05-15T23:59:59+08:00" and items[3]["overdue"] is True
    assert items[3]["history"][0]["note"] == "督查发现 (finding, supervision)"
    assert items[4]["long_term"] is True and items[4]["deadline"] is None and items[4]["overdue"] is False
    for n, when in enumerate(("2023-06-30T10:00", "2023-09-30T10:00", "2023-12-31T10:00")):
        assert book.update(lasting["id"], "in_progress", when, note=f"第{n + 1}季度进展")["state"] == "in_progress"
    with pytest.raises(InvalidInput, match="佐证"):
        book.verify(lasting["id"], True, "2024-01-05T10:00", comment="长效机制建立")
    book.update(lasting["id"], "in_progress", "2024-01-06T10:00", evidence=(book.evidence("制度.pdf", "rules"),))
    assert book.verify(lasting["id"], True, "2024-01-10T10:00", comment="长效机制已建立，销号")["state"] == "closed"
    assert [i["state"] for i in book.items(state="closed")] == ["closed"]


# --- the command line, as an administrator runs it ---

@pytest.fixture
def cli(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CAMPAIGN_HOME": str(tmp_path / "home"),
           "CAMPAIGN_DB_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    # registers the ledger commands whether or not cli.py does already (register is idempotent)
    code = ("import sys; sys.argv[0] = 'campaign'; from campaign_app.cli import app, main; "
            "from campaign_app.cli_ledger import register; register(app); main()")

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                                cwd=tmp_path, timeout=300)
        assert "Traceback" not in result.stderr, result.stderr
        if ok:
            assert result.returncode == 0, result.stderr
        return result

    return run


def test_the_ledger_from_the_command_line(cli, tmp_path):
    (tmp_path / "small.yaml").write_text(SMALL_SPEC, encoding="utf-8")
    (tmp_path / "issues.csv").write_text("问题,类别,责任领导,牵头股室,整改措施,整改时限\n"
                                         "会议多落实少,慢,李副局长,办公室,压缩会议,2023-06-30\n", encoding="utf-8")
    (tmp_path / "minutes.pdf").write_bytes(b"%PDF minutes")
    cli("create", "small.yaml", "--at", "2023-02-01T09:00")
    cli("file", CAMPAIGN, "--unit", "s1", "--artifact", "issue_list", "--rows", "issues.csv", "--by", "s1",
        "--at", "2023-03-20T10:00")
    cli("ledger", "update", "1", "--state", "rectified", "--note", "已压缩会议", "--by", "李明", "--at", "2023-05-10T09:00")
    refused = cli("ledger", "verify", "1", "--close", "--comment", "核验通过", "--by", "督导组", "--at", "2023-05-11T09:00", ok=False)
    assert refused.returncode == 2 and "佐证" in refused.stderr and "evidence" in refused.stderr
    assert cli("ledger", "verify", "1", "--close", "--reopen", "--comment", "x", ok=False).returncode == 2
    cli("ledger", "update", "#1", "--state", "rectified", "--evidence", "minutes.pdf", "--at", "2023-05-12T09:00")
    closed = json.loads(cli("ledger", "verify", "1", "--close", "--comment", "整改到位", "--by", "督导组",
                            "--at", "2023-05-15T10:00", "--json").stdout)
    assert (closed["state"], closed["by"], closed["at"]) == ("closed", "督导组", "2023-05-15T10:00:00+08:00")
    found = json.loads(cli("finding", CAMPAIGN, "--unit", "s2", "--problem", "食堂卫生差", "--deadline", "2023-06-30",
                           "--leader", "王副局长", "--by", "督导组", "--at", "2023-05-20T15:00", "--json").stdout)
    assert (found["id"], found["source"], found["deadline"]) == (2, "supervision", "2023-06-30")
    assert cli("finding", CAMPAIGN, "--unit", "s2", "--problem", "x", "--deadline", "六月底", ok=False).returncode == 2

    docs = json.loads(cli("ledger", CAMPAIGN, "--at", "2023-07-01T09:00", "--json").stdout)
    assert [(d["id"], d["unit"], d["state"], d["overdue"]) for d in docs] == [(1, "s1", "closed", False), (2, "s2", "open", True)]
    keys = {"id", "unit", "problem", "category", "measure", "leader", "office", "deadline", "state", "source", "evidence", "history"}
    assert keys <= set(docs[0])
    assert [h["action"] for h in docs[0]["history"]] == ["created", "rectified", "rectified", "closed"]
    assert docs[0]["history"][-1] == {"at": "2023-05-15T10:00:00+08:00", "by": "督导组", "action": "closed",
                                      "state_before": "rectified", "state_after": "closed", "note": "整改到位", "evidence": []}
    assert [e["name"] for e in docs[0]["evidence"]] == ["minutes.pdf"]
    only = json.loads(cli("ledger", "--unit", "s2", "--state", "open", CAMPAIGN, "--json").stdout)
    assert [d["id"] for d in only] == [2]
    assert "食堂卫生差" in cli("ledger", "list", CAMPAIGN).stdout
    assert cli("ledger", CAMPAIGN, "--state", "done", ok=False).returncode == 2
    assert cli("ledger", "update", "abc", "--state", "rectified", ok=False).returncode == 2
    assert "intact" in cli("audit", "verify").stdout
    log = json.loads(cli("audit", "log", CAMPAIGN, "--json").stdout)
    assert [e["action"] for e in log if e["action"].startswith("ledger.")] == [
        "ledger.rectified", "ledger.rectified", "ledger.closed", "ledger.created"]
