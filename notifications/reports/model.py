"""What every report format renders: titled tables of display cells, and a JSON document beside them.

The tables are for people (Chinese headers and labels, wall-clock times of the campaign's zone); the
JSON document is for tools (English keys, codes, ISO 8601 instants with the campaign's offset). Each
writer (xlsx, csv, html) walks the same tables, so the formats cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

LONG_TERM = "长期坚持"  # what bureaus write in the deadline column of an item that never closes
# a report is an official document: in the campaign's language only (spec `messages.language`)
LONG_TERM_LABEL = {"zh": LONG_TERM, "en": "long-term"}  # both read back by ledger-import
AS_OF = {"zh": "截至", "en": "as of"}


@dataclass(frozen=True)
class Col:
    key: str
    title: str
    kind: str = "text"  # text | int | datetime | date | deadline | percent
    wrap: bool = False  # long free text (问题, 整改措施, 进展): wrapped, not a 200-character column
    tones: dict[str, str] | None = None  # cell text -> CSS class, so a printed 逾期未报 stands out
    title_en: str | None = None  # the header in an English campaign's report


def columns(cols: list[Col], lang: str) -> list[Col]:
    """The columns with their headers in `lang` (the Chinese title is the default)."""
    return [replace(c, title=c.title_en or c.title) for c in cols] if lang == "en" else cols


@dataclass
class Table:
    name: str  # sheet name and anchor
    title: str
    columns: list[Col]
    rows: list[dict[str, Any]]

    @property
    def headers(self) -> list[str]:
        return [c.title for c in self.columns]

    def values(self, row: dict[str, Any]) -> list[Any]:
        return [row.get(c.key) for c in self.columns]


@dataclass
class Report:
    kind: str  # phase-audit | ledger | notice | closure
    campaign: str
    title: str
    at: dt.datetime  # local: "as of" for people, and the instant that judged missing vs pending
    tables: list[Table]
    document: dict[str, Any]  # the JSON form
    summary: list[str] = field(default_factory=list)  # sentences above the tables (HTML)
    chart_svg: str | None = None  # drawn into the HTML page when present
    lang: str = "zh"  # the campaign's language: every label, header and sentence is in it
    # the audit chain's head (seq, hash) when the report's data were read: printed on the report, an
    # anchor for `campaign audit verify --anchor SEQ:HASH`
    audit_head: tuple[int, str] | None = None

    @property
    def anchor_line(self) -> str | None:
        """The head as a line of text (for people), or None when the report carries none."""
        return anchor_line(self.audit_head, self.lang)

    @property
    def heading(self) -> str:
        return self.titled(self.title)

    def titled(self, title: str) -> str:
        """A title with the report's instant ("as of"), in the report's language."""
        if self.lang == "en":
            return f"{title} (as of {self.at:%Y-%m-%d %H:%M})"
        return f"{title}（截至 {self.at:%Y-%m-%d %H:%M}）"


ANCHOR_LABEL = {"zh": "审计链校验码", "en": "Audit chain anchor"}


def anchor_line(head: tuple[int, str] | None, lang: str = "zh") -> str | None:
    """`审计链校验码 SEQ:HASH`: what an operator types after `campaign audit verify --anchor`."""
    if head is None:
        return None
    return f"{ANCHOR_LABEL.get(lang, ANCHOR_LABEL['zh'])} {head[0]}:{head[1]}"


def display(value: Any, kind: str) -> str:
    """A cell as text, the way the Excel sheet shows it (for CSV and HTML)."""
    if value is None:
        return ""
    if kind == "percent" and isinstance(value, (int, float)):
        return f"{value * 100:.1f}%"
    if isinstance(value, dt.datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def jsonable(value: Any) -> Any:
    """json.dumps default: instants keep the campaign's offset (they were made local by the store)."""
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
