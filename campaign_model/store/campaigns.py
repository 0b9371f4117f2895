"""Creating a campaign, materializing its obligations, and importing units into a running campaign."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Row, and_, bindparam, insert, literal, select, update

from ..calendar import WorkCalendar
from ..errors import ConflictError, NotFound, SpecInvalid
from ..people import people_doc
from ..reminders import next_slot
from ..spec import ArtifactKind, ReminderPolicy, UnitSpec
from ..specfile import LoadedSpec, campaign_calendar
from ..timeexpr import local_end_of_day, local_start_of_day, resolve_due
from ..units import audience, hierarchy_problems
from . import audit
from .audit import Act
from .tables import campaign_specs, campaigns, inserted_id, obligations, phases, requirements, units

# re-exported: callers look units up through this module as before
from .unit_lookup import resolve_unit as resolve_unit
from .unit_lookup import unit_id as unit_id
from .unit_lookup import unit_listing as unit_listing
from .unit_lookup import unit_rows as unit_rows


@dataclass(frozen=True)
class CampaignCtx:
    """What the rules need of a stored campaign, read once per command."""

    id: int
    key: str
    title: str
    tz: ZoneInfo
    calendar: WorkCalendar
    policy: ReminderPolicy
    organizer: str | None
    last_tick_at: dt.datetime | None
    artifacts: dict[str, Any]
    messages: dict[str, Any]

    def policy_for(self, override: dict[str, Any] | None) -> ReminderPolicy:
        """A requirement's reminder policy: the campaign's, with the requirement's own fields over it."""
        if not override:
            return self.policy
        return ReminderPolicy.model_validate({**self.policy.model_dump(), **override})

    def artifact(self, key: str) -> ArtifactKind | None:
        return ArtifactKind.model_validate(self.artifacts[key]) if key in self.artifacts else None


# load_ctx's parsed campaigns, per database: the calendar, the reminder policy and the artifact kinds are
# decoded once per spec version, not on every request (a campaign's row changes only with its spec, which
# bumps spec_version, and with each tick's last_tick_at, which is read fresh every time)
_CTX_CACHE: dict[tuple[str, str], tuple[tuple[Any, ...], CampaignCtx]] = {}


def load_ctx(conn: Connection, key: str) -> CampaignCtx:
    head = conn.execute(select(campaigns.c.id, campaigns.c.spec_version, campaigns.c.created_at,
                               campaigns.c.last_tick_at).where(campaigns.c.key == key)).first()
    if head is None:
        known = conn.execute(select(campaigns.c.key).order_by(campaigns.c.key)).scalars().all()
        hint = f"；已有: {', '.join(known)} (known: {', '.join(known)})" if known else "；尚未创建任何活动 (no campaign created yet)"
        raise NotFound(f"活动 '{key}' 不存在{hint} (no campaign '{key}')")
    where = (conn.engine.url.render_as_string(hide_password=True), key)
    stamp = (head.id, head.spec_version, head.created_at)
    cached = _CTX_CACHE.get(where)
    if cached is not None and cached[0] == stamp:
        return replace(cached[1], last_tick_at=head.last_tick_at)
    row = conn.execute(select(campaigns).where(campaigns.c.id == head.id)).one()
    cal = row.calendar
    ctx = CampaignCtx(
        row.id, row.key, row.title, ZoneInfo(row.timezone),
        WorkCalendar(cal["kind"], frozenset(map(dt.date.fromisoformat, cal["holidays"])),
                     frozenset(map(dt.date.fromisoformat, cal["workdays"]))),
        ReminderPolicy.model_validate(row.reminders), row.organizer, row.last_tick_at, row.artifacts,
        row.messages or {})
    if len(_CTX_CACHE) > 256:  # many test databases in one process; a server has a handful
        _CTX_CACHE.clear()
    _CTX_CACHE[where] = (stamp, ctx)
    return ctx


def _unit_values(campaign_id: int, u: UnitSpec) -> dict[str, Any]:
    return {"campaign_id": campaign_id, "key": u.key, "name": u.name, "parent_key": u.parent, "tags": list(u.tags),
            "contacts": [c.model_dump(exclude_none=True) for c in u.contacts], "active": True}


def _as_unit(row: Row[Any]) -> UnitSpec:
    return UnitSpec(key=row.key, name=row.name, parent=row.parent_key, tags=row.tags, contacts=row.contacts)


def first_reminder(ctx: CampaignCtx, due_at: dt.datetime, after: dt.datetime,
                   policy: dict[str, Any] | None = None) -> dt.datetime | None:
    """The first reminder instant after `after` under the requirement's policy (stored once per obligation)."""
    slot = next_slot(due_at, ctx.policy_for(policy), ctx.calendar, ctx.tz, after)
    return slot.at if slot else None


def _audience_unit(row: Any) -> UnitSpec:
    """A stored unit as `audience` reads it (key, parent, tags), built without validating it again: the rows
    were checked when stored, and validating 50,000 of them took seconds."""
    return UnitSpec.model_construct(key=row.key, name=row.name, parent=row.parent_key, tags=row.tags, contacts=[])


def materialize(conn: Connection, ctx: CampaignCtx, at: dt.datetime, created: Sequence[UnitSpec] | None = None) -> int:
    """Insert the obligation of every (active unit x requirement) pair that has none; returns the count.

    The rows go in by chunks of units (in id order), each chunk one INSERT ... SELECT per requirement: the
    database builds the rows, not Python, and every index of obligations grows where the chunk's rows go
    (by requirement, and by unit), so that a million obligations insert at the speed of a hundred thousand
    (requirement by requirement over every unit, each pass rewrote the whole (unit, artifact) index).
    `created`: the units just stored by `create_campaign`, all active (not read back and rebuilt)."""
    if created is None:
        active = conn.execute(select(units.c.id, units.c.key, units.c.name, units.c.parent_key, units.c.tags)
                              .where(units.c.campaign_id == ctx.id, units.c.active).order_by(units.c.id)).all()
        unit_specs: Sequence[UnitSpec] = [_audience_unit(r) for r in active]
        unit_ids = {r.key: r.id for r in active}
    else:
        unit_specs = created
        unit_ids = dict(conn.execute(select(units.c.key, units.c.id).where(units.c.campaign_id == ctx.id)).tuples().all())
    req_rows = conn.execute(
        select(requirements, phases.c.started_at, phases.c.state.label("phase_state"))
        .join(phases, phases.c.id == requirements.c.phase_id)
        .where(requirements.c.campaign_id == ctx.id).order_by(requirements.c.id)).all()
    existing: dict[int, set[int]] = {}
    # by requirement (the unique (requirement_id, unit_id) index): no index starts with campaign_id, so asking by
    # campaign read the obligations of every campaign
    for req_id, unit in conn.execute(select(obligations.c.requirement_id, obligations.c.unit_id).where(
            obligations.c.requirement_id.in_([r.id for r in req_rows]))).tuples():
        existing.setdefault(req_id, set()).add(unit)
    plans = []
    for req in req_rows:
        # a phase already under way reminds a newly added unit from now on
        remind = first_reminder(ctx, req.due_at, max(at, req.started_at), req.policy) if req.started_at else None
        members = {unit_ids[k] for k in audience(req.audience, unit_specs, ctx.organizer)} - existing.get(req.id, set())
        if members:
            plans.append(({"cid": ctx.id, "pid": req.phase_id, "rid": req.id, "artifact": req.artifact,
                           "review": req.review, "gating": req.gating, "due": req.due_at, "remind": remind}, members))
    ids = sorted(unit_ids.values())
    step = max(_MIN_CHUNK_UNITS, _CHUNK_ROWS // max(1, len(plans)))
    count = 0
    for start in range(0, len(ids), step):
        chunk = ids[start:start + step]
        contiguous = chunk[-1] - chunk[0] + 1 == len(chunk)  # no other unit (another campaign's) in its id range
        for values, members in plans:
            inside = [u for u in chunk if u in members]
            if not inside:
                continue
            if contiguous and 2 * len(inside) >= len(chunk):  # most of the chunk: its ids' range, less a few
                # the primary key's range alone: with campaign_id in the clause, SQLite chose the (campaign_id,
                # key) index and read every unit of the campaign for each chunk
                conn.execute(_insert_obligations(True), {**values, "lo": chunk[0], "hi": chunk[-1],
                                                         "out": [u for u in chunk if u not in members]})
            else:
                conn.execute(_insert_obligations(False), {**values, "ids": inside})
            count += len(inside)
    return count


@cache
def _insert_obligations(by_range: bool) -> Any:
    """materialize's INSERT ... SELECT, built once per shape (building it anew for each of a thousand chunks took
    longer than SQLite's work): one requirement's obligations for the units of a range of ids less those left
    `out`, or for the units listed in `ids`."""
    o = obligations.c
    where = (and_(units.c.id.between(bindparam("lo", type_=units.c.id.type), bindparam("hi", type_=units.c.id.type)),
                  units.c.id.not_in(bindparam("out", expanding=True, type_=units.c.id.type)))
             if by_range else units.c.id.in_(bindparam("ids", expanding=True, type_=units.c.id.type)))
    rows = select(
        bindparam("cid", type_=o.campaign_id.type), bindparam("pid", type_=o.phase_id.type),
        bindparam("rid", type_=o.requirement_id.type), units.c.id, bindparam("artifact", type_=o.artifact.type),
        literal("pending", o.state.type), bindparam("review", type_=o.review.type),
        bindparam("gating", type_=o.gating.type), literal(False, o.done.type),
        bindparam("due", type_=o.due_at.type), bindparam("remind", type_=o.next_remind_at.type),
    ).where(where)
    return insert(obligations).from_select(["campaign_id", "phase_id", "requirement_id", "unit_id", "artifact", "state",
                                            "review", "gating", "done", "due_at", "next_remind_at"], rows)


# rows per chunk of units (all its requirements together): the part of each index a chunk touches stays
# within SQLite's page cache (2 MB by default)
_CHUNK_ROWS = 40_000
_MIN_CHUNK_UNITS = 100


def reviewer_name(req: Any) -> dict[str, str | None] | None:
    """Who reviews a requirement's filings, when the spec names them (stored in requirements.reviewer)."""
    return {"zh": req.review_by, "en": req.review_by_en} if req.review and req.review_by else None


def create_campaign(conn: Connection, loaded: LoadedSpec, act: Act) -> dict[str, Any]:
    """Store the spec (version 1), its units, phases and requirements, and one obligation per pair."""
    spec = loaded.spec
    if conn.execute(select(campaigns.c.id).where(campaigns.c.key == spec.key)).first():
        raise ConflictError(f"活动 '{spec.key}' 已存在；请换一个 key (campaign '{spec.key}' already exists; choose another key)")
    cal = campaign_calendar(spec)
    tz = spec.tz
    cid = inserted_id(conn.execute(insert(campaigns).values(
        key=spec.key, title=spec.title, title_en=spec.title_en, timezone=spec.timezone,
        calendar={"kind": spec.calendar, "holidays": [d.isoformat() for d in spec.holidays],
                  "workdays": [d.isoformat() for d in spec.workdays]},
        reminders=spec.reminders.model_dump(), organizer=spec.organizer,
        artifacts={k: v.model_dump(exclude_none=True) for k, v in spec.artifacts.items()},
        messages=spec.messages.model_dump(exclude_none=True), spec_version=1, created_at=act.at,
        people=people_doc(spec),
    )))
    conn.execute(insert(campaign_specs).values(campaign_id=cid, version=1, text=loaded.text, created_at=act.at))
    conn.execute(insert(units), [_unit_values(cid, u) for u in loaded.units])
    for i, phase in enumerate(spec.phases):
        pid = inserted_id(conn.execute(insert(phases).values(
            campaign_id=cid, idx=i, key=phase.key, title=phase.title, title_en=phase.title_en, kind=phase.kind,
            start_at=local_start_of_day(phase.start, tz), end_at=local_end_of_day(phase.end, tz),
            advance=phase.advance, opens=phase.opens, state="pending")))
        gate_kinds = set(phase.gate.artifacts) if phase.gate and phase.gate.artifacts else None
        idx = 0
        for step in phase.steps:
            due = resolve_due(step.due, phase_start=phase.start, phase_end=phase.end, calendar=cal, tz=tz)
            for req in step.requires:
                conn.execute(insert(requirements).values(
                    campaign_id=cid, phase_id=pid, idx=idx, step_key=step.key, step_title=step.title,
                    artifact=req.artifact, audience=req.from_, signoff=req.signoff, review=req.review,
                    reviewer=reviewer_name(req), gating=gate_kinds is None or req.artifact in gate_kinds, due_at=due, policy=req.reminders))
                idx += 1
    ctx = load_ctx(conn, spec.key)
    count = materialize(conn, ctx, act.at, loaded.units)
    summary = {"campaign": spec.key, "units": len(loaded.units), "obligations": count,
               "units_from": loaded.unit_sources or {"spec": len(loaded.units), "file": 0, "both": 0}}
    audit.append(conn, act, "campaign.created", spec.key, f"campaign:{spec.key}", None,
                 {**summary, "spec_sha256": hashlib.sha256(loaded.text.encode()).hexdigest()})
    return summary


def import_units(conn: Connection, key: str, new_units: Sequence[UnitSpec], act: Act, reason: str | None,
                 file: str = "<units>") -> dict[str, Any]:
    """Bring a running campaign's units in line with a unit list.

    New units get their obligations; a unit missing from the list (merged, closed) is deactivated
    and its open obligations are waived with the reason, never deleted.
    """
    from ..errors import Problem

    problems = [Problem(file, None, f"units[{i}].{fld}", msg) for i, fld, msg in hierarchy_problems(new_units)]
    ctx = load_ctx(conn, key)
    if ctx.organizer and ctx.organizer not in {u.key for u in new_units}:
        problems.append(Problem(file, None, "", f"组织单位 '{ctx.organizer}' 不在新的单位列表中 (the organizer is missing from the list)"))
    if problems:
        raise SpecInvalid(problems)
    current = {r.key: r for r in conn.execute(select(units).where(units.c.campaign_id == ctx.id)).all()}
    added, updated, removed = [], [], []
    for u in new_units:
        values = _unit_values(ctx.id, u)
        row = current.get(u.key)
        if row is None:
            conn.execute(insert(units).values(**values))
            added.append(u.key)
        elif (row.name, row.parent_key, row.tags, row.contacts, row.active) != (
                values["name"], values["parent_key"], values["tags"], values["contacts"], True):
            conn.execute(update(units).where(units.c.id == row.id).values(**values, removed_at=None, removed_reason=None))
            updated.append(u.key)
    listed = {u.key for u in new_units}
    why = reason or "单位已撤销或合并，不在新的单位名单中 (unit merged or closed: not in the new unit list)"
    for k, row in current.items():
        if k not in listed and row.active:
            conn.execute(update(units).where(units.c.id == row.id).values(active=False, removed_at=act.at, removed_reason=why))
            removed.append(k)
    waived = waive_open(conn, ctx, [current[k].id for k in removed], why, act)
    waived += _waive_outside_audience(conn, ctx, act)
    added_obligations = materialize(conn, ctx, act.at)
    summary = {"campaign": key, "added": added, "updated": updated, "removed": removed,
               "obligations_added": added_obligations, "obligations_waived": waived}
    audit.append(conn, act, "units.imported", key, f"campaign:{key}", None, {**summary, "reason": why if removed else None})
    return summary


def waive_open(conn: Connection, ctx: CampaignCtx, unit_ids: list[int], reason: str, act: Act) -> int:
    if not unit_ids:
        return 0
    result = conn.execute(update(obligations).where(
        obligations.c.unit_id.in_(unit_ids), obligations.c.state.in_(("pending", "rejected")))
        .values(state="waived", done=True, done_at=act.at, waived_reason=reason, next_remind_at=None))
    from .outbox import cancel_for_closed

    cancel_for_closed(conn, ctx.id)
    return result.rowcount


def _waive_outside_audience(conn: Connection, ctx: CampaignCtx, act: Act) -> int:
    """Open obligations of units that a tag or parent change moved out of a requirement's audience."""
    active = conn.execute(select(units).where(units.c.campaign_id == ctx.id, units.c.active)).all()
    specs = [_audience_unit(r) for r in active]
    ids = {r.key: r.id for r in active}
    count = 0
    for req in conn.execute(select(requirements).where(requirements.c.campaign_id == ctx.id)).all():
        members = [ids[k] for k in audience(req.audience, specs, ctx.organizer)]
        result = conn.execute(update(obligations).where(and_(
            obligations.c.requirement_id == req.id, obligations.c.unit_id.in_(list(ids.values())),
            obligations.c.unit_id.not_in(members), obligations.c.state.in_(("pending", "rejected"))))
            .values(state="waived", done=True, done_at=act.at, next_remind_at=None,
                    waived_reason="单位不再属于该要求的报送对象 (unit no longer in this requirement's audience)"))
        count += result.rowcount
    return count
