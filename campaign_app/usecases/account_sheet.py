"""The handover sheet of one-time passwords (账号分发表): one XLSX, made in memory and answered once.

Columns 单位, 用户名, 一次性密码, 登录地址, 说明. The passwords exist only in this file (the database keeps
their hashes), so it is never written to the server's disk. Every text cell goes through
`cellsafe.text_cells`: a unit name typed as "=HYPERLINK(...)" stays text.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from notifications.reports.cellsafe import text_cells

HEADERS = ("单位", "用户名", "一次性密码", "登录地址", "说明")
NOTE = "首次登录须设置新密码；此密码仅此一次有效，请妥善转交"


def account_sheet(rows: Sequence[dict[str, Any]], login_url: str, title: str) -> bytes:
    """rows: {unit_name, name, password, contact?}; the workbook's bytes."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "账号"
    ws.append([title])
    ws["A1"].font = Font(bold=True, size=13)
    ws.append(list(HEADERS))
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for r in rows:
        note = NOTE + (f"；联系人 {r['contact']}" if r.get("contact") else "")
        ws.append([r["unit_name"], r["name"], r["password"], login_url, note])
    for column, width in zip("ABCDE", (28, 18, 22, 36, 48), strict=True):
        ws.column_dimensions[column].width = width
    ws.freeze_panes = "A3"
    text_cells(c for row in ws.iter_rows() for c in row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
