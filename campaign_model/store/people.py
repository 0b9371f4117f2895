"""The campaign's people and offices (campaigns.people) in SQL: read as a `Directory`, and which outbox
recipients hear of what (a led step's lead offices, by requirement)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from ..people import OFFICE, Directory
from .tables import campaigns, ledger_items, phases, requirements, units


def organizers_item(organizer: str | None) -> Any:
    """Whether a ledger item is the organizer's own (the bureau's 股室 are its 股室): there an office is named by its
    key, name or alias; in another unit's item (a school's list, a finding about a school) by its key or an alias
    only, a bare "办公室" being the unit's own office. (Joined with units.)"""
    return units.c.key == organizer


def directory(conn: Connection, campaign_id: int) -> Directory:
    """The stored people and offices of a campaign (an empty directory for one that names none)."""
    doc = conn.execute(select(campaigns.c.people).where(campaigns.c.id == campaign_id)).scalar_one_or_none()
    return Directory(doc or {})


def requirement_leads(conn: Connection, people: Directory, requirement_ids: Any) -> dict[int, list[str]]:
    """The lead offices (as outbox recipients) of each requirement's step, for the requirements of led steps."""
    if not people.doc.get("steps") or not requirement_ids:
        return {}
    rows = conn.execute(select(requirements.c.id, requirements.c.step_key, phases.c.key)
                        .join(phases, phases.c.id == requirements.c.phase_id)
                        .where(requirements.c.id.in_(list(requirement_ids)))).all()
    leads = {r.id: [OFFICE + o for o in people.step_lead(r.key, r.step_key)] for r in rows}
    return {k: v for k, v in leads.items() if v}


def step_leads(conn: Connection, campaign_id: int) -> dict[tuple[str, str], list[dict[str, str]]]:
    """Each led step's offices, (phase key, step key) -> [{key, name, name_en}], for the pages (牵头: 人事股)."""
    people = directory(conn, campaign_id)
    out: dict[tuple[str, str], list[dict[str, str]]] = {}
    for phase, steps in (people.doc.get("steps") or {}).items():
        for step, offices in steps.items():
            out[(phase, step)] = [{"key": o, "name": people.offices.get(o, {}).get("name", o),
                                   "name_en": people.offices.get(o, {}).get("name_en") or people.offices.get(o, {}).get("name", o)}
                                  for o in offices]
    return out


def step_titles(conn: Connection, campaign_id: int) -> dict[tuple[str, str], str]:
    """Each step's title, (phase key, step key) -> title, as its requirements carry it."""
    rows = conn.execute(select(phases.c.key, requirements.c.step_key, requirements.c.step_title)
                        .join(phases, phases.c.id == requirements.c.phase_id)
                        .where(requirements.c.campaign_id == campaign_id).distinct()).all()
    return {(r[0], r[1]): r[2] for r in rows}


def item_names(conn: Connection, campaign_id: int,
               organizer: str | None) -> list[tuple[str | None, str | None, bool, int]]:
    """The 责任领导 / 牵头股室 texts of the campaign's current ledger items, whether they are the organizer's own
    items (see `organizers_item`), and how many items give each."""
    i = ledger_items.c
    own = organizers_item(organizer)
    return [(r[0], r[1], bool(r[2]), int(r[3])) for r in conn.execute(
        select(i.leader, i.office, own, func.count()).join(units, units.c.id == i.unit_id)
        .where(i.campaign_id == campaign_id, i.current.is_(True))
        .group_by(i.leader, i.office, own)).all()]
