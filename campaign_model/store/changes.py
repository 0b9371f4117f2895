"""Changing a running campaign: a new spec version compared with what is stored, and 延期 (extensions).

`plan_amendment` compares a checked spec with the stored phases and requirements (what the campaign runs
on, not the old text) and returns what would change, what is refused, and the writes; `apply_amendment`
runs them. Nothing already past at the instant of the change is rewritten: a started phase's start, a
completed phase's end, a due instant already passed (that is what an extension is for), a requirement
with filings. Open obligations (pending, rejected) follow a moved due date or a changed reminder policy;
filed, accepted and waived ones keep theirs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, select, update

from .. import rules
from ..errors import ConflictError, InvalidInput, NotFound
from ..people import people_doc
from ..specfile import LoadedSpec, campaign_calendar
from ..timeexpr import END_OF_DAY, local_end_of_day, local_start_of_day, resolve_due
from . import audit
from .audit import Act
from .campaigns import CampaignCtx, _as_unit, _waive_outside_audience, first_reminder, load_ctx, materialize
from .tables import (
    campaign_specs,
    campaigns,
    filings,
    obligations,
    outbox,
    phases,
    rechecks,
    requirements,
    units,
)
from .unit_lookup import resolve_unit

OPEN = rules.OPEN_STATES
Write = Callable[[Connection], object]


def when(value: dt.datetime | None, ctx: CampaignCtx) -> str:
    """A due instant as an administrator reads it: the local date, with the time unless it is the day's end."""
    if value is None:
        return "—"
    local = value.astimezone(ctx.tz)
    return f"{local:%Y-%m-%d}" if local.time().replace(microsecond=0) == END_OF_DAY else f"{local:%Y-%m-%d %H:%M}"


def current_units(conn: Connection, ctx: CampaignCtx) -> list[Any]:
    """The campaign's active units as specs: a new version is checked against them (units change apart)."""
    return [_as_unit(r) for r in conn.execute(select(units).where(units.c.campaign_id == ctx.id, units.c.active)
                                              .order_by(units.c.id)).all()]


def current_version(conn: Connection, ctx: CampaignCtx) -> tuple[int, str]:
    row = conn.execute(select(campaign_specs.c.version, campaign_specs.c.text)
                       .where(campaign_specs.c.campaign_id == ctx.id)
                       .order_by(campaign_specs.c.version.desc()).limit(1)).one()
    return int(row.version), str(row.text)


@dataclass
class Amendment:
    """What a new spec version would do to the running campaign."""

    version: int
    changes: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    touched: set[int] = field(default_factory=set)  # open obligations whose due or reminder plan is recomputed
    writes: list[Write] = field(default_factory=list)
    added_requirements: int = 0
    audience_changed: bool = False
    policy_changed: bool = False

    def doc(self) -> dict[str, Any]:
        return {"version": self.version, "changes": list(self.changes), "recomputed": len(self.touched),
                "conflicts": list(self.conflicts)}


def _filed_count(conn: Connection, requirement_ids: list[int]) -> int:
    if not requirement_ids:
        return 0
    return int(conn.execute(select(func.count()).select_from(filings).join(
        obligations, obligations.c.id == filings.c.obligation_id)
        .where(obligations.c.requirement_id.in_(requirement_ids))).scalar_one())


def _open_ids(conn: Connection, *where: Any) -> set[int]:
    return set(conn.execute(select(obligations.c.id).where(obligations.c.state.in_(OPEN), *where)).scalars().all())


def _delete_requirements(conn: Connection, requirement_ids: list[int]) -> None:
    """A requirement nobody filed for: its reminders, obligations and itself (the audit keeps the change)."""
    ob_ids = select(obligations.c.id).where(obligations.c.requirement_id.in_(requirement_ids))
    conn.execute(delete(outbox).where(outbox.c.obligation_id.in_(ob_ids)))
    conn.execute(delete(obligations).where(obligations.c.requirement_id.in_(requirement_ids)))
    conn.execute(delete(requirements).where(requirements.c.id.in_(requirement_ids)))


def _cancel_planned(conn: Connection, where: Any, why: str) -> None:
    """Reminders planned but not sent for a due instant that has since moved: they would tell the old date."""
    conn.execute(update(outbox).where(outbox.c.obligation_id.in_(select(obligations.c.id).where(where)),
                                      outbox.c.state.in_(("planned", "failed")))
                 .values(state="cancelled", next_attempt_at=None, last_error=why))


def plan_amendment(conn: Connection, ctx: CampaignCtx, loaded: LoadedSpec, at: dt.datetime) -> Amendment:
    """Compare a checked spec with the stored campaign at `at`: the changes, the refusals, the writes."""
    spec = loaded.spec
    row = conn.execute(select(campaigns).where(campaigns.c.id == ctx.id)).one()
    version, _ = current_version(conn, ctx)
    plan = Amendment(version + 1)
    changes, conflicts, writes = plan.changes, plan.conflicts, plan.writes
    if spec.key != ctx.key:
        conflicts.append(f"活动标识不能修改：'{ctx.key}' → '{spec.key}' (the campaign key cannot change)")
    if spec.timezone != row.timezone:
        conflicts.append(f"时区不能修改：{row.timezone} → {spec.timezone} (the time zone of a running campaign cannot change)")
    if spec.organizer != row.organizer:
        conflicts.append(f"组织单位不能在此修改：{row.organizer} → {spec.organizer} (the organizer cannot change here)")
    values: dict[str, Any] = {}
    cal_doc = {"kind": spec.calendar, "holidays": [d.isoformat() for d in spec.holidays],
               "workdays": [d.isoformat() for d in spec.workdays]}
    if cal_doc != row.calendar:
        values["calendar"] = cal_doc
        changes.append("工作日历（节假日、调休）已更改 (the working-day calendar changed)")
    if (spec.title, spec.title_en) != (row.title, row.title_en):
        values.update(title=spec.title, title_en=spec.title_en)
        changes.append(f"活动名称：「{row.title}」→「{spec.title}」 (title changed)")
    policy_changed = spec.reminders.model_dump() != row.reminders
    if policy_changed:
        values["reminders"] = spec.reminders.model_dump()
        changes.append("提醒规则已更改，未报送的事项按新规则重排提醒 (reminder policy changed; open obligations re-planned)")
    artifacts_doc = {k: v.model_dump(exclude_none=True) for k, v in spec.artifacts.items()}
    if artifacts_doc != row.artifacts:
        values["artifacts"] = artifacts_doc
        added = sorted(set(artifacts_doc) - set(row.artifacts))
        changed = sorted(k for k in set(artifacts_doc) & set(row.artifacts) if artifacts_doc[k] != row.artifacts[k])
        removed = sorted(set(row.artifacts) - set(artifacts_doc))
        parts = [f"新增 (added) {', '.join(added)}" if added else "", f"修改 (changed) {', '.join(changed)}" if changed else "",
                 f"删除 (removed) {', '.join(removed)}" if removed else ""]
        changes.append(f"材料种类：{'；'.join(p for p in parts if p)} (artifact kinds)")
    messages_doc = spec.messages.model_dump(exclude_none=True)
    if messages_doc != (row.messages or {}):
        values["messages"] = messages_doc
        changes.append("提醒消息模板或语言已更改 (message templates or language changed)")
    people = people_doc(spec)
    if people != (row.people or {}):
        values["people"] = people
        changes.append("人员与股室（领导小组、牵头股室、责任领导）或步骤的牵头股室已更改 "
                       "(people and offices, or the steps' lead offices, changed)")
    cal = campaign_calendar(spec)
    new_ctx = replace(ctx, calendar=cal, policy=spec.reminders)
    tz = ctx.tz
    today = at.astimezone(tz).date()
    title = {k: v.title for k, v in spec.artifacts.items()}

    stored = {r.key: r for r in conn.execute(select(phases).where(phases.c.campaign_id == ctx.id)
                                              .order_by(phases.c.idx)).all()}
    order = [p.key for p in spec.phases]
    started = [i for i, k in enumerate(order) if k in stored and stored[k].started_at is not None]
    not_started = [i for i, k in enumerate(order) if k not in stored or stored[k].started_at is None]
    if started and not_started and min(not_started) < max(started):
        p = spec.phases[min(not_started)]
        conflicts.append(f"阶段「{p.title}」不能排在已开始的阶段之前 (a phase cannot come before one that has started)")
    for key, gone in stored.items():
        if key in order:
            continue
        reqs = [int(r) for r in conn.execute(select(requirements.c.id).where(requirements.c.phase_id == gone.id)).scalars()]
        if gone.started_at is not None:
            conflicts.append(f"阶段「{gone.title}」已开始，不能删除 (phase '{key}' has started and cannot be removed)")
        elif _filed_count(conn, reqs):
            conflicts.append(f"阶段「{gone.title}」已有报送材料，不能删除 (phase '{key}' has filings and cannot be removed)")
        else:
            changes.append(f"删除阶段「{gone.title}」 (phase '{key}' removed)")
            writes.append(partial(_delete_phase, pid=gone.id, reqs=reqs))

    for idx, phase in enumerate(spec.phases):
        start_at = local_start_of_day(phase.start, tz).astimezone(dt.UTC)
        end_at = local_end_of_day(phase.end, tz).astimezone(dt.UTC)
        old: Any = stored.get(phase.key)
        pvalues: dict[str, Any] = {"idx": idx} if old is None or old.idx != idx else {}
        if old is None:
            if phase.start < today:
                conflicts.append(f"新增阶段「{phase.title}」的开始日期 {phase.start} 已过 (the new phase's start is already past)")
            changes.append(f"新增阶段「{phase.title}」：{phase.start} 至 {phase.end} (phase '{phase.key}' added)")
            writes.append(partial(_insert, table=phases, values=dict(
                campaign_id=ctx.id, idx=idx, key=phase.key, title=phase.title, title_en=phase.title_en, kind=phase.kind,
                start_at=start_at, end_at=end_at, advance=phase.advance, state="pending", **_phase_extra(phase))))
        else:
            if start_at != old.start_at:
                was = old.start_at.astimezone(tz).date()
                if old.started_at is not None:
                    conflicts.append(f"阶段「{phase.title}」已于 {old.started_at.astimezone(tz):%Y-%m-%d} 开始，开始日期 {was} "
                                     f"不能改为 {phase.start} (phase '{phase.key}' has started: its start cannot change)")
                elif phase.start < today:
                    conflicts.append(f"阶段「{phase.title}」的新开始日期 {phase.start} 已过 (the new start date is already past)")
                else:
                    pvalues["start_at"] = start_at
                    changes.append(f"阶段「{phase.title}」开始日期：{was} → {phase.start} (phase start moved)")
            if end_at != old.end_at:
                was = old.end_at.astimezone(tz).date()
                if old.state == "completed":
                    conflicts.append(f"阶段「{phase.title}」已结束，结束日期 {was} 不能改为 {phase.end} "
                                     f"(phase '{phase.key}' is completed: its end cannot change)")
                elif end_at <= at:
                    conflicts.append(f"阶段「{phase.title}」的新结束日期 {phase.end} 已过 (the new end date is already past)")
                else:
                    pvalues["end_at"] = end_at
                    changes.append(f"阶段「{phase.title}」结束日期：{was} → {phase.end} (phase end moved)")
            now = {n: getattr(phase, n) for n in ("title", "title_en", "kind", "advance")} | _phase_extra(phase)
            for name, value in now.items():
                if value != getattr(old, name):
                    pvalues[name] = value
                    changes.append(f"阶段「{old.title}」的 {name}：{getattr(old, name)} → {value} (phase {name} changed)")
            if pvalues:
                writes.append(partial(_update, table=phases, row_id=old.id, values=pvalues))
        _plan_requirements(conn, ctx, new_ctx, plan, phase, old, cal, at, title)
    if policy_changed:
        plan.policy_changed = True
        plan.touched |= _open_ids(conn, obligations.c.campaign_id == ctx.id,
                                  obligations.c.phase_id.in_([p.id for p in stored.values() if p.started_at]))
    if values:
        writes.insert(0, partial(_update, table=campaigns, row_id=ctx.id, values=values))
    return plan


def _plan_requirements(conn: Connection, ctx: CampaignCtx, new_ctx: CampaignCtx, plan: Amendment, phase: Any,
                       old_phase: Any, cal: Any, at: dt.datetime, title: dict[str, str]) -> None:
    """One phase's requirements, keyed by (step, artifact): added, changed, moved or removed."""
    tz = ctx.tz
    stored = {} if old_phase is None else {(r.step_key, r.artifact): r for r in conn.execute(
        select(requirements).where(requirements.c.phase_id == old_phase.id)).all()}
    started = old_phase is not None and old_phase.started_at is not None
    gate_kinds = set(phase.gate.artifacts) if phase.gate and phase.gate.artifacts else None
    seen: set[tuple[str, str]] = set()
    idx = 0
    for step in phase.steps:
        due = resolve_due(step.due, phase_start=phase.start, phase_end=phase.end, calendar=cal, tz=tz)
        for req in step.requires:
            ident = (step.key, req.artifact)
            seen.add(ident)
            gating = gate_kinds is None or req.artifact in gate_kinds
            what = f"步骤「{step.title}」的「{title.get(req.artifact, req.artifact)}」"
            old = stored.get(ident)
            if old is None:
                if due <= at:
                    plan.conflicts.append(f"新增要求 {what} 的截止时间 {when(due, ctx)} 已过 "
                                      f"(the new requirement's due date is already past)")
                plan.changes.append(f"新增报送要求 {what}，截止 {when(due, ctx)} (requirement added: {step.key}/{req.artifact})")
                plan.added_requirements += 1
                plan.writes.append(partial(_insert_requirement, ctx=ctx, phase_key=phase.key, values=dict(
                    campaign_id=ctx.id, idx=idx, step_key=step.key, step_title=step.title, artifact=req.artifact,
                    audience=req.from_, signoff=req.signoff, review=req.review, gating=gating, due_at=due,
                    policy=req.reminders, **_requirement_extra(req))))
                idx += 1
                continue
            rv: dict[str, Any] = {"idx": idx} if old.idx != idx else {}
            ov: dict[str, Any] = {}
            if due != old.due_at:
                if old.due_at <= at:
                    plan.conflicts.append(f"{what} 的截止时间 {when(old.due_at, ctx)} 已过，不能改为 {when(due, ctx)}；"
                                          f"如需宽限请用延期 (the due date {when(old.due_at, ctx)} is already past; "
                                          f"extend the deadline instead)")
                elif due <= at:
                    plan.conflicts.append(f"{what} 的新截止时间 {when(due, ctx)} 已过 (the new due date is already past)")
                else:
                    rv["due_at"] = due
                    plan.changes.append(f"{what} 截止时间：{when(old.due_at, ctx)} → {when(due, ctx)} "
                                        f"(due moved: {step.key}/{req.artifact})")
                    # later: every open obligation due before the new date (extensions included) follows; earlier:
                    # only those on the old date, an extension beyond it stands
                    moving = and_(obligations.c.requirement_id == old.id, obligations.c.state.in_(OPEN),
                                  obligations.c.due_at < due if due > old.due_at else obligations.c.due_at == old.due_at)
                    plan.touched |= _open_ids(conn, moving)
                    plan.writes.append(partial(_move_due, ctx=new_ctx, moving=moving, due=due, at=at, started=started,
                                               policy=req.reminders))
            if step.title != old.step_title:
                rv["step_title"] = step.title
                plan.changes.append(f"步骤名称：「{old.step_title}」→「{step.title}」 (step title changed)")
            if req.from_ != old.audience:
                rv["audience"] = req.from_
                plan.audience_changed = True
                plan.changes.append(f"{what} 的报送对象：{old.audience} → {req.from_} (audience changed)")
            if req.signoff != old.signoff:
                rv["signoff"] = req.signoff
                plan.changes.append(f"{what} 需签字盖章：{old.signoff} → {req.signoff} (sign-off changed)")
            if req.review != old.review:
                rv["review"] = ov["review"] = req.review
                plan.changes.append(f"{what} 需审核：{old.review} → {req.review} (review changed)")
            for name, value in _requirement_extra(req).items():
                if value != getattr(old, name):
                    rv[name] = value
                    plan.changes.append(f"{what} 的 {name}：{getattr(old, name)} → {value} ({name} changed)")
            if gating != old.gating:  # the gate's rule: every obligation of the requirement, filed or not
                rv["gating"] = gating
                plan.writes.append(partial(_update_all, requirement_id=old.id, values={"gating": gating}))
                plan.changes.append(f"{what} 是否计入转段条件：{old.gating} → {gating} (gate changed)")
            if req.reminders != old.policy:
                rv["policy"] = req.reminders
                plan.changes.append(f"{what} 的提醒规则已更改 (the requirement's reminder policy changed)")
                if started:
                    plan.touched |= _open_ids(conn, obligations.c.requirement_id == old.id)
                    plan.writes.append(partial(_replan, ctx=new_ctx, where=obligations.c.requirement_id == old.id,
                                               at=at, policy=req.reminders))
            if rv:
                plan.writes.insert(0, partial(_update, table=requirements, row_id=old.id, values=rv))
            if ov:
                plan.writes.append(partial(_update_open, requirement_id=old.id, values=ov))
            idx += 1
    for ident, old in stored.items():
        if ident in seen:
            continue
        what = f"步骤「{old.step_title}」的「{title.get(old.artifact, old.artifact)}」"
        filed = _filed_count(conn, [old.id])
        if filed:
            plan.conflicts.append(f"{what} 已有 {filed} 份报送材料，不能删除 (the requirement has {filed} filings and cannot be removed)")
        else:
            plan.changes.append(f"删除报送要求 {what} (requirement removed: {old.step_key}/{old.artifact})")
            plan.writes.append(partial(_delete_requirements, requirement_ids=[old.id]))


# the writes of an amendment, planned first and run by apply_amendment

def _insert(conn: Connection, table: Any, values: dict[str, Any]) -> None:
    conn.execute(insert(table).values(**values))


def _update(conn: Connection, table: Any, row_id: int, values: dict[str, Any]) -> None:
    conn.execute(update(table).where(table.c.id == row_id).values(**values))


def _update_all(conn: Connection, requirement_id: int, values: dict[str, Any]) -> None:
    conn.execute(update(obligations).where(obligations.c.requirement_id == requirement_id).values(**values))


def _requirement_extra(req: Any) -> dict[str, Any]:
    """Columns a newer schema stores for a requirement (who reviews), as create_campaign stores them."""
    from . import campaigns as created

    name = getattr(created, "reviewer_name", None)
    return {"reviewer": name(req)} if name is not None and "reviewer" in requirements.c else {}


def _phase_extra(phase: Any) -> dict[str, Any]:
    """Columns a newer schema stores for a phase (how it opens), as create_campaign stores them."""
    return {"opens": phase.opens} if hasattr(phase, "opens") and "opens" in phases.c else {}


def _update_open(conn: Connection, requirement_id: int, values: dict[str, Any]) -> None:
    conn.execute(update(obligations).where(obligations.c.requirement_id == requirement_id,
                                           obligations.c.state.in_(OPEN)).values(**values))


def _delete_phase(conn: Connection, pid: int, reqs: list[int]) -> None:
    _delete_requirements(conn, reqs)
    conn.execute(delete(rechecks).where(rechecks.c.phase_id == pid))
    conn.execute(delete(phases).where(phases.c.id == pid))


def _insert_requirement(conn: Connection, ctx: CampaignCtx, phase_key: str, values: dict[str, Any]) -> None:
    """A new requirement, in a phase that may itself be new (inserted by an earlier write)."""
    pid = conn.execute(select(phases.c.id).where(phases.c.campaign_id == ctx.id, phases.c.key == phase_key)).scalar_one()
    conn.execute(insert(requirements).values(phase_id=pid, **values))


def _move_due(conn: Connection, ctx: CampaignCtx, moving: Any, due: dt.datetime, at: dt.datetime, started: bool,
              policy: dict[str, Any] | None) -> None:
    _cancel_planned(conn, moving, "截止时间已变更 (the due date changed)")
    conn.execute(update(obligations).where(moving).values(
        due_at=due, overdue_at=None, extended_from=None, extension_reason=None,
        next_remind_at=first_reminder(ctx, due, at, policy) if started else None))


def _replan(conn: Connection, ctx: CampaignCtx, where: Any, at: dt.datetime, policy: dict[str, Any] | None) -> None:
    """Open obligations of a started phase: the next reminder under the (new) policy, per due instant."""
    open_where = and_(where, obligations.c.state.in_(OPEN))
    for due in conn.execute(select(obligations.c.due_at).where(open_where).distinct()).scalars().all():
        conn.execute(update(obligations).where(open_where, obligations.c.due_at == due)
                     .values(next_remind_at=first_reminder(ctx, due, at, policy)))


def apply_amendment(conn: Connection, ctx: CampaignCtx, loaded: LoadedSpec, plan: Amendment, act: Act,
                    reason: str) -> dict[str, Any]:
    """Run a planned amendment (no conflicts): new spec version, rows changed, obligations recomputed, audited."""
    if plan.conflicts:
        raise ConflictError("不能这样修改正在进行的活动 (this change to a running campaign is refused):\n"
                            + "\n".join(f"- {c}" for c in plan.conflicts), field="text")
    if not plan.changes:
        raise InvalidInput("新规格与当前版本相同，没有需要修改的内容 (the new spec changes nothing)", field="text")
    for write in plan.writes:
        write(conn)
    conn.execute(update(campaigns).where(campaigns.c.id == ctx.id).values(spec_version=plan.version))
    summary = {"changes": plan.changes, "recomputed": len(plan.touched)}
    conn.execute(insert(campaign_specs).values(campaign_id=ctx.id, version=plan.version, text=loaded.text,
                                               created_at=act.at, author=act.actor, reason=reason, summary=summary))
    new_ctx = load_ctx(conn, ctx.key)
    if plan.policy_changed:  # the campaign's policy: every open obligation of a started phase re-planned
        started = [p for p in conn.execute(select(phases.c.id).where(phases.c.campaign_id == ctx.id,
                                                                     phases.c.started_at.is_not(None))).scalars()]
        for rid, policy in conn.execute(select(requirements.c.id, requirements.c.policy).where(
                requirements.c.phase_id.in_(started))).tuples().all():
            _replan(conn, new_ctx, obligations.c.requirement_id == rid, act.at, policy)
    added = materialize(conn, new_ctx, act.at) if plan.added_requirements or plan.audience_changed else 0
    waived = _waive_outside_audience(conn, new_ctx, act) if plan.audience_changed else 0
    result = {**plan.doc(), "obligations_added": added, "obligations_waived": waived}
    del result["conflicts"]
    audit.append(conn, act, "campaign.amended", ctx.key, f"campaign:{ctx.key}", {"version": plan.version - 1},
                 {"version": plan.version, "reason": reason, "changes": plan.changes, "recomputed": len(plan.touched),
                  "obligations_added": added, "obligations_waived": waived,
                  "spec_sha256": hashlib.sha256(loaded.text.encode()).hexdigest()})
    return result


def versions(conn: Connection, ctx: CampaignCtx) -> list[dict[str, Any]]:
    """Every stored spec version, newest first: when, who, why, what changed."""
    rows = conn.execute(select(campaign_specs.c.version, campaign_specs.c.created_at, campaign_specs.c.author,
                               campaign_specs.c.reason, campaign_specs.c.summary)
                        .where(campaign_specs.c.campaign_id == ctx.id).order_by(campaign_specs.c.version.desc())).all()
    return [{"version": r.version, "at": r.created_at.astimezone(ctx.tz).isoformat(), "author": r.author,
             "reason": r.reason, "changes": (r.summary or {}).get("changes", []) if r.version > 1 else [],
             "recomputed": (r.summary or {}).get("recomputed", 0)} for r in rows]


def spec_text(conn: Connection, ctx: CampaignCtx, version: int | None = None) -> str:
    q = select(campaign_specs.c.text).where(campaign_specs.c.campaign_id == ctx.id)
    q = q.where(campaign_specs.c.version == version) if version else q.order_by(campaign_specs.c.version.desc()).limit(1)
    text = conn.execute(q).scalar()
    if text is None:
        raise NotFound(f"没有第 {version} 版 (no version {version})", field="version")
    return str(text)


# --- 延期: a later due instant for some units' open obligations of one step ---

def step_requirements(conn: Connection, ctx: CampaignCtx, step: str) -> list[Any]:
    """The requirements of a step given as `step` or `phase/step`; unknown or ambiguous is refused."""
    phase_key, _, step_key = step.rpartition("/")
    q = (select(requirements, phases.c.key.label("phase_key"), phases.c.started_at)
         .join(phases, phases.c.id == requirements.c.phase_id)
         .where(requirements.c.campaign_id == ctx.id, requirements.c.step_key == step_key.strip()))
    if phase_key:
        q = q.where(phases.c.key == phase_key.strip())
    rows = list(conn.execute(q.order_by(requirements.c.idx)).all())
    if not rows:
        raise NotFound(f"没有需要报送材料的步骤 '{step}' (no step '{step}' with requirements)", field="step")
    if len({r.phase_key for r in rows}) > 1:
        raise InvalidInput(f"多个阶段都有步骤 '{step}'，请写成 阶段/步骤 (several phases have step '{step}'; "
                           f"give phase/step)", field="step")
    return rows


def steps(conn: Connection, ctx: CampaignCtx) -> list[dict[str, Any]]:
    """The steps that have requirements, in phase order: what an extension can be for."""
    rows = conn.execute(select(phases.c.key.label("phase_key"), phases.c.title.label("phase_title"),
                               requirements.c.step_key, requirements.c.step_title, func.min(requirements.c.due_at))
                        .join(phases, phases.c.id == requirements.c.phase_id)
                        .where(requirements.c.campaign_id == ctx.id)
                        .group_by(phases.c.idx, phases.c.key, phases.c.title, requirements.c.step_key,
                                  requirements.c.step_title)
                        .order_by(phases.c.idx, func.min(requirements.c.idx))).all()
    keys = [r.step_key for r in rows]
    return [{"key": r.step_key if keys.count(r.step_key) == 1 else f"{r.phase_key}/{r.step_key}",
             "path": f"{r.phase_key}/{r.step_key}", "title": r.step_title, "phase": r.phase_title,
             "due": when(r[4], ctx)} for r in rows]


def extend(conn: Connection, ctx: CampaignCtx, step: str, unit_keys: list[str] | None, due: dt.datetime,
           reason: str, act: Act) -> dict[str, Any]:
    """延期: the open obligations of `step` for these units (None: all) get a later due instant, their overdue
    mark cleared and their next reminder re-planned; filed ones are untouched. One audit event per obligation."""
    if not (reason or "").strip():
        raise InvalidInput("延期必须写明理由 (an extension needs a reason)", field="reason")
    if due.tzinfo is None:
        raise InvalidInput("新截止时间缺少时区 (the new due instant has no time zone)", field="due")
    if due <= act.at:
        raise InvalidInput(f"新截止时间 {when(due, ctx)} 已过 (the new due date is already past)", field="due")
    reqs = step_requirements(conn, ctx, step)
    unit_ids: list[int] | None = None
    if unit_keys is not None:
        if not unit_keys:
            raise InvalidInput("请至少选择一个单位，或选择全部单位 (choose at least one unit, or all)", field="units")
        keys = [resolve_unit(conn, ctx, k) for k in unit_keys]
        unit_ids = list(conn.execute(select(units.c.id).where(units.c.campaign_id == ctx.id,
                                                              units.c.key.in_(keys))).scalars())
    q = (select(obligations, units.c.key.label("unit_key"), units.c.name.label("unit_name"))
         .join(units, units.c.id == obligations.c.unit_id)
         .where(obligations.c.requirement_id.in_([r.id for r in reqs]), obligations.c.state.in_(OPEN)))
    if unit_ids is not None:
        q = q.where(obligations.c.unit_id.in_(unit_ids))
    obs = list(conn.execute(q.order_by(units.c.id, obligations.c.id)).all())
    if not obs:
        raise InvalidInput(f"步骤 '{step}' 没有所选单位未报送的材料，无需延期 (no open obligation of this step for "
                           f"the chosen units)", field="units")
    if unit_ids is None:  # all units: one already given a later date keeps it
        obs = [o for o in obs if o.due_at < due] or obs
    earlier = [o for o in obs if o.due_at >= due]
    if earlier:
        o = earlier[0]
        raise InvalidInput(f"新截止时间 {when(due, ctx)} 应晚于 {o.unit_name} 原截止时间 {when(o.due_at, ctx)} "
                           f"(the new due date must be later than the current one)", field="due")
    by_req = {r.id: r for r in reqs}
    reason = reason.strip()
    done = []
    for o in obs:
        req = by_req[o.requirement_id]
        remind = first_reminder(ctx, due, act.at, req.policy) if req.started_at is not None else None
        where = obligations.c.id == o.id
        _cancel_planned(conn, where, "截止时间已延期 (the deadline was extended)")
        conn.execute(update(obligations).where(where).values(
            due_at=due, overdue_at=None, next_remind_at=remind, extension_reason=reason,
            extended_from=o.extended_from if o.extended_from is not None else o.due_at))
        subject = f"obligation:{o.unit_key}/{o.artifact}/{req.step_key}"
        audit.append(conn, act, "obligation.extended", ctx.key, subject,
                     {"due": o.due_at.astimezone(ctx.tz).isoformat(), "state": rules.display_state(o.state, o.overdue_at)},
                     {"due": due.astimezone(ctx.tz).isoformat(), "reason": reason,
                      "next_remind_at": remind.astimezone(ctx.tz).isoformat() if remind else None})
        done.append({"unit": o.unit_key, "name": o.unit_name, "artifact": o.artifact,
                     "title": (ctx.artifacts.get(o.artifact) or {}).get("title", o.artifact),
                     "old_due": when(o.due_at, ctx), "new_due": when(due, ctx),
                     "original_due": when(o.extended_from or o.due_at, ctx),
                     "next_remind_at": when(remind, ctx) if remind else None})
    return {"campaign": ctx.key, "step": step, "due": due.astimezone(ctx.tz).isoformat(), "reason": reason,
            "obligations": done}


def parse_due(text: str, tz: Any, field_name: str = "due") -> dt.datetime:
    """A new due date as typed: '2023-03-10' (the end of that local day), '2023-03-10T17:00' or '2023-03-10 17:00'."""
    from ..timeexpr import parse_datetime_text

    value = parse_datetime_text((text or "").strip().replace("T", " "))
    if value is None:
        raise InvalidInput(f"无法识别的日期 '{text}'，应写作 2023-03-10 或 2023-03-10T17:00 "
                           f"(cannot read the date; use 2023-03-10 or 2023-03-10T17:00)", field=field_name)
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=tz)).astimezone(dt.UTC)
    return local_end_of_day(value, tz).astimezone(dt.UTC)
