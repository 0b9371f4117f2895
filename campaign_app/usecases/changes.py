"""Changing a running campaign: amend its spec (a new version), preview that, extend deadlines (延期), list versions.

The spec text is checked like a new campaign's (SpecInvalid with every problem), against the campaign's
current units (units change through their own commands and pages). What the change would rewrite that is
already past at `at` is refused (ConflictError listing each, in Chinese and English).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from campaign_model.errors import InvalidInput
from campaign_model.specfile import LoadedSpec, load_spec_text
from campaign_model.store import changes
from campaign_model.store.audit import Act
from campaign_model.store.campaigns import load_ctx

from .services import Services


def _load(conn: Any, campaign: str, text: str, source: str) -> tuple[Any, LoadedSpec]:
    ctx = load_ctx(conn, campaign)
    if not (text or "").strip():
        raise InvalidInput("规格内容为空 (the spec text is empty)", field="text")
    return ctx, load_spec_text(text, source, units=changes.current_units(conn, ctx))


def amend(svc: Services, act: Act, campaign: str, text: str, *, reason: str, at: dt.datetime,
          source: str = "<editor>") -> dict[str, Any]:
    """Apply a new spec version to a running campaign; returns {version, changes, recomputed, ...}."""
    if not (reason or "").strip():
        raise InvalidInput("修改正在进行的活动必须写明理由 (a change to a running campaign needs a reason)", field="reason")
    act = Act(at, act.actor, act.recorded_at)
    with svc.write() as conn:
        ctx, loaded = _load(conn, campaign, text, source)
        plan = changes.plan_amendment(conn, ctx, loaded, at)
        result = changes.apply_amendment(conn, ctx, loaded, plan, act, reason.strip())
    return {"campaign": campaign, **result, "warnings": [str(w) for w in loaded.warnings]}


def preview(svc: Services, campaign: str, text: str, at: dt.datetime, *, source: str = "<editor>") -> dict[str, Any]:
    """What `amend` would do at `at`, without doing it: {version, changes, recomputed, conflicts, warnings}."""
    with svc.read() as conn:
        ctx, loaded = _load(conn, campaign, text, source)
        plan = changes.plan_amendment(conn, ctx, loaded, at)
    return {"campaign": campaign, **plan.doc(), "warnings": [str(w) for w in loaded.warnings]}


def extend(svc: Services, act: Act, campaign: str, *, step: str, units: list[str] | None, due: dt.datetime,
           reason: str, at: dt.datetime) -> dict[str, Any]:
    """延期: a later due instant for one, several or all (None) units' open obligations of a step."""
    act = Act(at, act.actor, act.recorded_at)
    with svc.write() as conn:
        return changes.extend(conn, load_ctx(conn, campaign), step, units, due, reason, act)


def versions(svc: Services, campaign: str) -> list[dict[str, Any]]:
    """The campaign's spec versions, newest first: version, when, who, why, what changed."""
    with svc.read() as conn:
        return changes.versions(conn, load_ctx(conn, campaign))


def spec_text(svc: Services, campaign: str, version: int | None = None) -> str:
    """A stored spec version's text (the newest by default)."""
    with svc.read() as conn:
        return changes.spec_text(conn, load_ctx(conn, campaign), version)


def extension_form(svc: Services, campaign: str) -> dict[str, Any]:
    """What the 延期 form offers: the steps with requirements, the units (hierarchy order), the versions."""
    from campaign_model.store.unit_lookup import unit_listing

    with svc.read() as conn:
        ctx = load_ctx(conn, campaign)
        return {"title": ctx.title, "tz": str(ctx.tz), "steps": changes.steps(conn, ctx),
                "units": [u for u in unit_listing(conn, ctx) if u["active"]],
                "versions": changes.versions(conn, ctx)}


def due_instant(svc: Services, campaign: str, text: str) -> dt.datetime:
    """A due date typed by a person ('2023-03-10', '2023-03-10T17:00'), read in the campaign's time zone."""
    with svc.read() as conn:
        return changes.parse_due(text, load_ctx(conn, campaign).tz)
