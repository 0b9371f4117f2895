"""Who may do what: the roles' rights and a unit user's scope, as plain data and functions.

Roles:
    admin       the bureau's administrator: everything
    supervisor  督导组: reads everything, reviews filings, verifies ledger items (销号), records findings
    unit        a unit's user: files for its own unit and reads it, and, for a parent unit, its children
    viewer      reads everything, changes nothing

The HTTP layer checks `allowed(role, action)` for every endpoint and, for a unit user, that each unit
named by the request is in `visible_units(...)`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

ALL = frozenset({"admin", "supervisor", "unit", "viewer"})
READ_ALL = frozenset({"admin", "supervisor", "viewer"})

# action -> the roles allowed; a unit user is further limited to its scope
RIGHTS: dict[str, frozenset[str]] = {
    "campaign.read": ALL,             # the campaign list and each campaign's timeline (scoped for units)
    "campaign.status": READ_ALL,      # the whole campaign's status: every unit's standing
    "campaign.create": frozenset({"admin"}),
    "campaign.amend": frozenset({"admin"}),  # change a running campaign (a new spec version), extend deadlines (延期)
    "campaign.versions": READ_ALL,    # a campaign's spec versions: who changed what, when and why
    "units.read": ALL,
    "units.import": frozenset({"admin"}),
    "units.manage": frozenset({"admin"}),  # add, rename, move, merge, close a unit; edit its contacts
    "obligations.read": ALL,
    "filing.create": frozenset({"admin", "unit"}),
    "filing.read": ALL,
    "filing.review": frozenset({"admin", "supervisor"}),
    "obligation.waive": frozenset({"admin"}),
    "phase.advance": frozenset({"admin"}),
    "ledger.read": ALL,
    "ledger.update": frozenset({"admin", "unit"}),
    "ledger.verify": frozenset({"admin", "supervisor"}),
    "finding.create": frozenset({"admin", "supervisor"}),
    "reminders.read": frozenset({"admin", "supervisor"}),
    "people.read": frozenset({"admin", "supervisor"}),  # 人员与股室: the leading group, offices, leaders and contacts
    "reminders.send": frozenset({"admin", "supervisor"}),
    "channels.test": frozenset({"admin"}),   # a test message through a configured delivery channel
    "audit.read": frozenset({"admin", "supervisor"}),
    "reports.read": READ_ALL,
    "grades.read": READ_ALL,         # 考核排名: every unit's assessment, grade and rank (not to units)
    "users.manage": frozenset({"admin"}),  # accounts, one-time passwords, API tokens (/admin/users)
}

ROLE_TITLES = {"admin": ("管理员", "administrator"), "supervisor": ("督导组", "supervisor"),
               "unit": ("单位用户", "unit user"), "viewer": ("只读用户", "viewer")}


def allowed(role: str, action: str) -> bool:
    return role in RIGHTS[action]


def sees_everything(role: str) -> bool:
    return role in READ_ALL


def visible_units(own: str, parents: Mapping[str, str | None]) -> frozenset[str]:
    """A unit user's scope in one campaign: its unit and every unit below it (a 学区 sees its schools)."""
    if own not in parents:
        return frozenset()
    children: dict[str, list[str]] = {}
    for key, parent in parents.items():
        if parent is not None:
            children.setdefault(parent, []).append(key)
    seen, todo = {own}, [own]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in seen:  # a cycle cannot be stored, but never loop on one
                seen.add(child)
                todo.append(child)
    return frozenset(seen)


def outside(scope: frozenset[str], units: Iterable[str]) -> list[str]:
    """The units named that the scope does not cover (empty when all are covered)."""
    return sorted({u for u in units if u not in scope})
