"""Draft specs (migration 0008): stored as YAML text, one row each, read and rewritten by the editor.

A draft is the administrator's work before a campaign exists (or before a running campaign is changed,
`base_campaign`); creating the campaign from it is audited by `create_campaign`. A draft's creation and
deletion are audited here; its edits are not (the campaign created from it records the text).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from ..errors import NotFound
from .audit import Act, append
from .campaigns import _as_unit
from .tables import campaign_specs, campaigns, inserted_id, spec_drafts, units

FIELDS = ("id", "author", "title", "base_campaign", "created_at", "updated_at")


def add_draft(conn: Connection, act: Act, *, title: str, text: str, base_campaign: str | None = None,
              source: str = "") -> int:
    """A new draft holding `text`; `source` (a template, a campaign, a file name) goes to the audit log."""
    did = inserted_id(conn.execute(insert(spec_drafts).values(
        author=act.actor, title=title, base_campaign=base_campaign, text=text, created_at=act.at, updated_at=act.at)))
    append(conn, act, "draft.created", base_campaign, f"draft:{did}", None,
           {"title": title, "source": source, "base_campaign": base_campaign})
    return did


def get_draft(conn: Connection, draft_id: int) -> dict[str, Any]:
    row = conn.execute(select(spec_drafts).where(spec_drafts.c.id == draft_id)).first()
    if row is None:
        raise NotFound(f"草稿 {draft_id} 不存在 (no draft {draft_id})", field="draft")
    return dict(row._mapping)


def list_drafts(conn: Connection, limit: int = 200) -> list[dict[str, Any]]:
    """The drafts, the most recently changed first (without their text)."""
    cols = [spec_drafts.c[f] for f in FIELDS]
    rows = conn.execute(select(*cols).order_by(spec_drafts.c.updated_at.desc(), spec_drafts.c.id.desc()).limit(limit))
    return [dict(r._mapping) for r in rows]


def save_text(conn: Connection, draft_id: int, text: str, title: str, act: Act) -> None:
    done = conn.execute(update(spec_drafts).where(spec_drafts.c.id == draft_id)
                        .values(text=text, title=title, updated_at=act.at))
    if done.rowcount == 0:
        raise NotFound(f"草稿 {draft_id} 不存在 (no draft {draft_id})", field="draft")


def delete_draft(conn: Connection, draft_id: int, act: Act) -> None:
    doc = get_draft(conn, draft_id)
    conn.execute(delete(spec_drafts).where(spec_drafts.c.id == draft_id))
    append(conn, act, "draft.deleted", doc["base_campaign"], f"draft:{draft_id}", {"title": doc["title"]}, None)


def campaign_source(conn: Connection, key: str) -> tuple[str, list[dict[str, Any]]]:
    """A campaign's latest spec text and its active units (a spec whose units came from a list holds none)."""
    cid = conn.execute(select(campaigns.c.id).where(campaigns.c.key == key)).scalar()
    if cid is None:
        raise NotFound(f"活动 '{key}' 不存在 (no campaign '{key}')", field="campaign")
    text = conn.execute(select(campaign_specs.c.text).where(campaign_specs.c.campaign_id == cid)
                        .order_by(campaign_specs.c.version.desc()).limit(1)).scalar_one()
    rows = conn.execute(select(units).where(units.c.campaign_id == cid, units.c.active).order_by(units.c.id)).all()
    return text, [_as_unit(r).model_dump(exclude_none=True, exclude_defaults=True) for r in rows]


def campaign_keys(conn: Connection) -> list[dict[str, str]]:
    return [{"key": r.key, "title": r.title}
            for r in conn.execute(select(campaigns.c.key, campaigns.c.title).order_by(campaigns.c.id.desc()))]
