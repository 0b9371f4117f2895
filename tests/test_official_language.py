"""Official documents and messages are in the campaign's language only: no English gloss inside a Chinese
reminder digest, 通报 or report, and no Chinese label inside an English campaign's.

One campaign (the small one, whose organizer owes a plan too, with a supervision finding on the ledger)
is ticked into overdue reminders; then every document it produces is rendered and read back as text: the
digests as the outbox file received them (subject, text, HTML, robot Markdown), the notice (Markdown, the
message, the Excel sheet) and each report kind in every table format (XLSX, CSV, JSON, HTML, and the SVG chart).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook

from campaign_app.usecases.reports import FORMATS, KINDS, build_report
from campaign_model.specfile import load_spec_text
from campaign_model.store.audit import Act
from campaign_model.store.campaigns import create_campaign
from campaign_model.store.ledger import record_finding
from campaign_model.store.notice_query import overdue_by_parent
from flows.tick import tick_direct
from notifications.notice import notice_message, render_markdown, write_xlsx
from notifications.reports import write_report

from .conftest import SMALL_SPEC, local

# a Latin-letter gloss in brackets, e.g. "整改台账 (rectification ledger)" or "无上级单位（no parent）"
GLOSS = re.compile(r"[(（]\s*[A-Za-z][A-Za-z ,/'-]+[)）]")
EN_LABELS = ["rectification ledger", "no parent", "reminder", "overdue", "due soon", "Notice", "not filed", "as of"]
ZH_LABELS = ["即将到期", "今日到期", "已逾期", "督办", "报送方式", "整改台账", "无上级单位", "逾期未报", "截至", "序号",
             "催办", "阶段", "通报", "台账", "审核", "未开始", "发件箱", "日期", "无）"]
AT = "2023-03-02T10:00"


def spec(lang: str) -> str:
    text = (SMALL_SPEC
            .replace("  - {key: s2, name: 第二小学, parent: d1, tags: [学校]}\n",
                     "  - {key: s2, name: 第二小学, parent: d1, tags: [学校]}\n"
                     "  - {key: x1, name: 直属学校, tags: [学校]}\n")  # a school without a parent unit
            .replace("plan: {title: 实施方案}", "plan: {title: 实施方案, title_en: Implementation plan}")
            # the organizer owes the plan too: it answers to no one (the notice's group without a parent unit)
            .replace("{artifact: plan, from: tag:学校, signoff: true}", "{artifact: plan, from: [bureau, s1, s2, x1]}")
            .replace("  issue_list:\n    title: 问题清单\n", "  issue_list:\n    title: 问题清单\n    title_en: Issue list\n")
            .replace("summary: {title: 总结报告}", "summary: {title: 总结报告, title_en: Summary report}"))
    assert "x1" in text and "Issue list" in text and "[bureau, s1, s2, x1]" in text
    if lang == "en":
        text = text.replace("title: 2023年作风整顿（测试）\n", "title: 2023年作风整顿（测试）\ntitle_en: Work style 2023 (test)\n")
        text += "messages: {language: en}\n"
    return text


def workbook_text(path: Path) -> str:
    wb = load_workbook(path)
    return "\n".join(str(v) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for v in row if v is not None)


def visible(page: str) -> str:
    """An HTML page's text as a reader sees it: without its style sheet and tags."""
    return re.sub(r"<[^>]+>", " ", re.sub(r"<style>.*?</style>", " ", page, flags=re.S))


def json_strings(value) -> list[str]:
    """The string values of a JSON document (its keys are for tools, in English by design)."""
    if isinstance(value, dict):
        return [s for v in value.values() for s in json_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in json_strings(v)]
    return [value] if isinstance(value, str) else []


def documents(engine, db_url: str, tmp_path: Path, lang: str, monkeypatch) -> dict[str, str]:
    """Every document of the campaign on AT, as text, by name."""
    empty = tmp_path / "no-channels.yaml"
    empty.write_text("channels: []\n", encoding="utf-8")
    monkeypatch.setenv("CAMPAIGN_CHANNELS", str(empty))
    monkeypatch.delenv("CAMPAIGN_PUBLIC_URL", raising=False)
    created = local("2023-02-01T09:00")
    with engine.begin() as conn:
        create_campaign(conn, load_spec_text(spec(lang), "small.yaml"), Act(created, "admin", created))
        record_finding(conn, "small-2023", "s1", "作风不实，会风不正", dt.date(2023, 2, 27),
                       Act(local("2023-02-20T10:00"), "督导组", local("2023-02-20T10:00")))
    outbox = tmp_path / "outbox.jsonl"
    tick_direct(db_url, "small-2023", Act(local(AT), "tick", local(AT)), str(outbox))
    docs: dict[str, str] = {}
    messages = [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines()]
    digests = [m for m in messages if m["recipient"] != "bureau"]
    assert {m["recipient"] for m in digests} == {"s1", "s2", "x1"}
    for m in messages:
        for part in ("subject", "text", "markdown", "html"):
            docs[f"message {m['recipient']} {part}"] = visible(m[part] or "") if part == "html" else m[part]
        if m in digests:
            docs[f"message {m['recipient']} items"] = " ".join(i["step"] + " " + i["artifact_title"] for i in m["items"])

    with engine.connect() as conn:
        data = overdue_by_parent(conn, "small-2023", local(AT))
        docs["notice md"] = render_markdown(data, lang)
        subject, text, markdown = notice_message(data, lang)
        docs.update({"notice subject": subject, "notice text": text, "notice markdown": markdown})
        write_xlsx(data, tmp_path / "notice.xlsx", lang)
        docs["notice xlsx"] = workbook_text(tmp_path / "notice.xlsx")
        for kind in KINDS:
            report = build_report(conn, "small-2023", kind, local(AT), None, None, True)
            for fmt in FORMATS[kind]:
                if fmt in ("pdf", "png"):
                    continue  # rendered by Chromium from the HTML page checked here
                out = tmp_path / f"{kind}.{fmt}"
                write_report(report, fmt, out)
                if fmt == "xlsx":
                    docs[f"{kind} xlsx"] = workbook_text(out)
                elif fmt == "json":
                    docs[f"{kind} json"] = "\n".join(json_strings(json.loads(out.read_text(encoding="utf-8"))))
                elif fmt == "html":
                    docs[f"{kind} html"] = visible(out.read_text(encoding="utf-8"))
                else:
                    docs[f"{kind} {fmt}"] = out.read_text(encoding="utf-8-sig")
    return docs


def test_chinese_documents_carry_no_english_gloss(engine, db_url, tmp_path, monkeypatch):
    docs = documents(engine, db_url, tmp_path, "zh", monkeypatch)
    for name, text in docs.items():
        assert not GLOSS.search(text), (name, GLOSS.search(text).group(0))
        if not name.endswith("json"):  # JSON values hold codes for tools ("overdue", "missing")
            found = [label for label in EN_LABELS if label in text]
            assert not found, (name, found)
    # what used to carry the glosses, now in Chinese only
    assert "整改台账：作风不实，会风不正" in docs["message s1 text"]
    assert "无上级单位" in docs["notice md"] and "无上级单位" in docs["notice xlsx"] and "无上级单位" in docs["notice html"]
    assert "无上级单位" in docs["notice text"] and "无上级单位" in docs["notice json"]


def test_english_documents_carry_no_chinese_label(engine, db_url, tmp_path, monkeypatch):
    docs = documents(engine, db_url, tmp_path, "en", monkeypatch)
    for name, text in docs.items():
        found = [label for label in ZH_LABELS if label in text]
        assert not found, (name, found)
    assert "[overdue] rectification ledger: 作风不实，会风不正" in docs["message s1 text"]
    assert "- [overdue] 制定实施方案: Implementation plan, due 2023-02-28 23:59" in docs["message s1 text"]  # a step's
    # title is the spec's own name for it (steps have no English title), the artifact's is its title_en
    assert "No parent unit" in docs["notice md"] and "No parent unit" in docs["notice xlsx"]
    assert "Work style 2023 (test)" in docs["notice subject"]
    assert "4 reminders and 0 escalations: none delivered by any channel, 4 written to the outbox file (not sent)" \
        in docs["phase-audit html"]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_digest_names_a_ledger_items_step_in_the_campaigns_language(engine, db_url, tmp_path, monkeypatch, lang):
    docs = documents(engine, db_url, tmp_path, lang, monkeypatch)
    assert docs["message s1 items"].startswith("整改台账 " if lang == "zh" else "rectification ledger ")
