"""人员与股室: a campaign's leading group, offices and leaders with their contacts, the steps each office leads,
and how the ledger's 责任领导 / 牵头股室 texts resolve to them — read only (they are edited in the spec)."""

from __future__ import annotations

from typing import Any

from campaign_model.people import listing
from campaign_model.store import people as store
from campaign_model.store.campaigns import load_ctx

from .services import Services


def people_view(svc: Services, campaign: str, lang: str = "zh") -> dict[str, Any]:
    with svc.read() as conn:
        ctx = load_ctx(conn, campaign)
        directory = store.directory(conn, ctx.id)
        titles = store.step_titles(conn, ctx.id)
        names = store.item_names(conn, ctx.id, ctx.organizer)
    view = listing(directory, lang)
    for office in view["offices"]:
        office["leads"] = [{"phase": p, "step": s, "title": titles.get((p, s), s)} for p, s in office["leads"]]
    items: dict[str, int] = {}
    free: dict[tuple[str, str], int] = {}
    for leader, office_text, organizers, count in names:
        for kind, resolved in (("leader", directory.resolve_leader(leader)),
                               ("office", directory.resolve_office(office_text, organizers))):
            for key in resolved.keys:
                items[f"{kind}:{key}"] = items.get(f"{kind}:{key}", 0) + count
            for part in resolved.unresolved:
                free[(kind, part)] = free.get((kind, part), 0) + count
    for office in view["offices"]:
        office["items"] = items.get(f"office:{office['key']}", 0)
    for leader in view["leaders"]:
        leader["items"] = items.get(f"leader:{leader['key']}", 0)
    view["unresolved"] = [{"kind": kind, "text": text, "items": n} for (kind, text), n in sorted(free.items())]
    view["empty"] = not directory
    return {"campaign": ctx.key, "title": ctx.title, **view}
