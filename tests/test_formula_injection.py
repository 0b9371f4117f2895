"""No spreadsheet runs a user's text as a formula (issue 15, finding 11; OWASP "CSV injection").

A campaign whose title, unit names, column titles and choices, filed rows, review comments and signers
start like formulas (= + - @) is taken through filings and reviews; then every report kind is written as
XLSX and CSV, the notice's own sheet and both blank workbooks too, and read back: no XLSX cell is a
formula (openpyxl's data_type "f"), each formula-like text cell carries Excel's quote prefix and reads
back unchanged, and each CSV cell that starts like a formula is quoted with a leading '.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from campaign_model.specfile import load_spec_text
from campaign_model.store.audit import Act
from campaign_model.store.blobs import BlobStore
from campaign_model.store.campaigns import create_campaign
from campaign_model.store.filings import file_artifact, review

from .conftest import local

KEY = "evil-2023"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
HYPERLINK = '=HYPERLINK("http://x","y")'
SUM = "=1+2"
AT_SUM = "@SUM(1)"
DDE = "=cmd|' /C calc'!A0"
PLUS = "+1+2"
MINUS = "-1+2"
TITLE = "=1+2作风整顿"
HOSTILE = {HYPERLINK, SUM, AT_SUM, DDE, PLUS, MINUS}

SPEC = f"""\
version: 1
key: {KEY}
title: "{TITLE}"
calendar: cn
organizer: bureau
units:
  - {{key: bureau, name: 教育局}}
  - {{key: d1, name: '{SUM}', parent: bureau}}
  - {{key: s1, name: '{HYPERLINK}', parent: d1, tags: [学校]}}
  - {{key: s2, name: '{PLUS}', parent: d1, tags: [学校]}}
artifacts:
  plan: {{title: '{AT_SUM}'}}
  issue_list:
    title: 问题清单
    rows:
      problem: {{title: 问题, required: true}}
      category: {{title: '{MINUS}', type: choice, choices: ['{SUM}', 松, '{AT_SUM}']}}
      measure: {{title: 整改措施}}
      leader: {{title: 责任领导}}
      deadline: {{title: 整改时限, type: date, required: true}}
phases:
  - key: mobilization
    title: '{MINUS}动员'
    kind: mobilization
    start: 2023-02-14
    end: 2023-03-05
    steps:
      - key: plan
        title: '{SUM}'
        due: start + 10 workdays
        requires:
          - {{artifact: plan, from: tag:学校, signoff: true}}
  - key: self_check
    title: 自查自纠
    kind: self_check
    start: 2023-03-06
    end: 2023-03-31
    steps:
      - key: issues
        title: 问题清单
        due: 2023-03-20
        requires:
          - {{artifact: issue_list, from: tag:学校, review: true}}
"""


def act(when: str, actor: str) -> Act:
    return Act(local(when), actor, local(when))


@pytest.fixture
def evil(engine, db_url, tmp_path: Path) -> Any:
    """The campaign through a tick, a signed plan, an issue list rejected with a comment and accepted."""
    from campaign_app.settings import Settings
    from campaign_app.usecases.services import Services
    from flows.tick import tick_direct

    with engine.begin() as conn:
        create_campaign(conn, load_spec_text(SPEC, "evil.yaml"), act("2023-02-01T09:00", "admin"))
    outbox = str(tmp_path / "outbox.jsonl")
    tick_direct(db_url, KEY, act("2023-02-14T09:00", "tick"), outbox)
    store = BlobStore(tmp_path / "files")
    scan = tmp_path / "plan.pdf"
    scan.write_bytes(b"%PDF-1.4 plan")
    rows = tmp_path / "issues.csv"
    with rows.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["问题", MINUS, "整改措施", "责任领导", "整改时限"])
        out.writerow([AT_SUM, SUM, DDE, HYPERLINK, "2023-04-30"])
        out.writerow([PLUS, "松", MINUS, "王", "2023-05-30"])
    with engine.begin() as conn:
        file_artifact(conn, store, KEY, "s1", "plan", act("2023-02-20T10:00", "s1-clerk"), files=[scan], signed_by=SUM)
    tick_direct(db_url, KEY, act("2023-03-06T09:00", "tick"), outbox)
    with engine.begin() as conn:
        file_artifact(conn, store, KEY, "s1", "issue_list", act("2023-03-10T10:00", "s1-clerk"), rows_file=rows)
    with engine.begin() as conn:
        review(conn, KEY, "s1", "issue_list", False, HYPERLINK, act("2023-03-11T10:00", "reviewer"))
    with engine.begin() as conn:
        file_artifact(conn, store, KEY, "s1", "issue_list", act("2023-03-13T10:00", "s1-clerk"), rows_file=rows)
    with engine.begin() as conn:
        review(conn, KEY, "s1", "issue_list", True, DDE, act("2023-03-14T10:00", "reviewer"))
    tick_direct(db_url, KEY, act("2023-03-27T09:00", "tick"), outbox)
    at = local("2023-03-27T10:00")
    return Services(Settings(tmp_path, db_url), engine, clock=lambda: at)


def xlsx_cells(path: Path) -> list[Any]:
    wb = load_workbook(path)
    return [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]


def assert_no_formula(cells: list[Any]) -> set[str]:
    """No cell is a formula, each formula-like text is a quote-prefixed string; returns the texts seen."""
    texts = set()
    for c in cells:
        assert c.data_type != "f", (c.coordinate, c.value)
        if isinstance(c.value, str):
            texts.add(c.value)
            if c.value.startswith(FORMULA_START):
                assert c.data_type == "s" and c.quotePrefix, (c.parent.title, c.coordinate, c.value)
    return texts


def hostile_in(texts: set[str]) -> set[str]:
    """Which hostile strings occur (whole or as the start of a cell) among `texts`."""
    return {h for h in HOSTILE if any(t.startswith(h) or h in t for t in texts)}


def csv_cells(text: str) -> list[str]:
    return [c for row in csv.reader(io.StringIO(text, newline="")) for c in row]


KINDS = ["phase-audit", "ledger", "notice", "closure"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_report_in_excel_has_no_formula_cell(evil, tmp_path, kind):
    from campaign_app.usecases.reports import write_report

    out = tmp_path / f"{kind}.xlsx"
    write_report(evil, KEY, kind, "xlsx", out)

    texts = assert_no_formula(xlsx_cells(out))
    seen = hostile_in(texts)
    # each report shows the user's texts it is about, as text
    expected = {"phase-audit": {HYPERLINK, PLUS, SUM}, "ledger": {AT_SUM, DDE, HYPERLINK, PLUS, MINUS},
                "notice": {PLUS, SUM}, "closure": {SUM}}[kind]
    assert expected <= seen, (kind, seen, texts)


@pytest.mark.parametrize("kind", KINDS)
def test_every_report_in_csv_quotes_formula_like_text(evil, tmp_path, kind):
    from campaign_app.usecases.reports import write_report

    out = tmp_path / f"{kind}.csv"
    write_report(evil, KEY, kind, "csv", out)
    cells = csv_cells(out.read_text(encoding="utf-8-sig"))

    risky = [c for c in cells if c.startswith(FORMULA_START)]
    assert not risky, risky
    quoted = {c[1:] for c in cells if c.startswith("'")}
    if kind != "closure":  # the closure's CSV is dates and counts only (its title is not in the file)
        assert hostile_in(quoted), cells
    if kind == "ledger":
        assert {AT_SUM, DDE, HYPERLINK, PLUS, MINUS} <= hostile_in(quoted)


def test_the_ledger_export_names_the_signer_and_comment_as_text(evil, tmp_path):
    """The phase audit lists who signed and the reviewer's comment: user texts, as text."""
    from campaign_app.usecases.reports import write_report

    out = tmp_path / "audit.xlsx"
    write_report(evil, KEY, "phase-audit", "xlsx", out)
    texts = assert_no_formula(xlsx_cells(out))
    assert SUM in texts  # the signer of s1's plan
    assert any(t.startswith(DDE) or DDE in t for t in texts)  # the accepting reviewer's comment


def test_the_notice_sheet_and_its_markdown(evil, tmp_path):
    from campaign_app.usecases.reports import write_report

    out = tmp_path / "通报.xlsx"
    write_report(evil, KEY, "notice", "xlsx", out)  # the notice's own sheet
    texts = assert_no_formula(xlsx_cells(out))
    assert {PLUS, SUM} <= hostile_in(texts)


@pytest.mark.parametrize("which", ["units", "issue_list"])
def test_the_blank_workbooks_have_no_formula_cell(tmp_path, which):
    from notifications.reports.workbook import blank_workbook

    _, data = blank_workbook(load_spec_text(SPEC, "evil.yaml").spec.artifacts, which)
    path = tmp_path / f"{which}.xlsx"
    path.write_bytes(data)

    texts = assert_no_formula(xlsx_cells(path))
    if which == "issue_list":
        assert {MINUS, SUM, AT_SUM} <= hostile_in(texts)  # a column title and the choices of its drop-down
