"""People and offices (人员与股室): whom a ledger item's 责任领导 / 牵头股室 text names, who leads a step,
and the names and contacts their reminders go to.

Pure: the document stored with the campaign (`people_doc`, the spec's `people` section and each step's
`lead`) in, keys, names and contacts out. An outbox recipient that is not a unit is written with a prefix
a unit key cannot hold (`office:renshi`, `leader:zhang`, `group:leading_group`), so the two never collide.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .spec import CampaignSpec

OFFICE, LEADER, GROUP = "office:", "leader:", "group:"
GROUP_KEY = GROUP + "leading_group"
# an item's text may name several: "人事股、办公室", "张三/李四"
_SEPARATORS = re.compile(r"[、，,;；/／]+")


def people_doc(spec: CampaignSpec) -> dict[str, Any]:
    """What is stored with the campaign (campaigns.people): the people section and the steps' lead offices
    as {phase key: {step key: [office keys]}}; {} for a campaign naming none."""
    doc: dict[str, Any] = spec.people.model_dump(exclude_none=True, exclude_defaults=True)
    for section in ("offices", "leaders"):
        for entry in doc.get(section, {}).values():
            entry.setdefault("contacts", [])
    steps = {p.key: {s.key: list(s.lead) for s in p.steps if s.lead} for p in spec.phases}
    if any(steps.values()):
        doc["steps"] = {k: v for k, v in steps.items() if v}
    return doc


def is_person(recipient: str) -> bool:
    """Whether an outbox recipient is a person, an office or the leading group rather than a unit."""
    return recipient.startswith((OFFICE, LEADER, GROUP))


@dataclass(frozen=True)
class Resolved:
    """What an item's text names: the keys found, and the parts that name nobody (kept as free text)."""

    keys: tuple[str, ...] = ()
    unresolved: tuple[str, ...] = ()


@dataclass(frozen=True)
class Directory:
    """A campaign's people and offices, read from its stored document."""

    doc: dict[str, Any] = field(default_factory=dict)

    @property
    def offices(self) -> dict[str, dict[str, Any]]:
        return dict(self.doc.get("offices") or {})

    @property
    def leaders(self) -> dict[str, dict[str, Any]]:
        return dict(self.doc.get("leaders") or {})

    @property
    def leading_group(self) -> dict[str, Any] | None:
        group = self.doc.get("leading_group")
        return dict(group) if group else None

    def __bool__(self) -> bool:
        return bool(self.offices or self.leaders or self.leading_group)

    def _names(self, section: dict[str, dict[str, Any]], by_name: bool = True) -> dict[str, str | None]:
        """Every key, name and alias -> the key it names (None when it names two: ambiguous); without
        `by_name`, keys and aliases only."""
        names: dict[str, str | None] = {}
        for key in section:
            names[key] = key
        for key, entry in section.items():
            for name in [entry.get("name") if by_name else None, *(entry.get("aliases") or [])]:
                if name and name not in section:
                    names[name] = key if names.get(name, key) == key else None
        return names

    def _resolve(self, section: dict[str, dict[str, Any]], text: str | None, by_name: bool = True) -> Resolved:
        text = (text or "").strip()
        if not text or not section:
            return Resolved((), (text,) if text else ())
        names = self._names(section, by_name)
        if names.get(text):
            return Resolved((names[text],), ())  # type: ignore[arg-type]
        keys: list[str] = []
        unresolved: list[str] = []
        for part in (p.strip() for p in _SEPARATORS.split(text)):
            found = names.get(part) if part else None
            if found:
                keys.append(found)
            elif part:
                unresolved.append(part)
        return Resolved(tuple(dict.fromkeys(keys)), tuple(unresolved))

    def resolve_office(self, text: str | None, by_name: bool = True) -> Resolved:
        """A 牵头股室 text: exactly an office's key, name or alias (or several, separated by 、 , ; /).
        Without `by_name` (an item of another unit than the organizer) its key or an alias only: a school's
        "办公室" is the school's own office, its "局办公室" the bureau's."""
        return self._resolve(self.offices, text, by_name)

    def resolve_leader(self, text: str | None) -> Resolved:
        """A 责任领导 text: exactly a leader's key, name or alias (or several)."""
        return self._resolve(self.leaders, text)

    def step_lead(self, phase: str, step: str) -> list[str]:
        """The offices leading a step (牵头), by key."""
        return list(((self.doc.get("steps") or {}).get(phase) or {}).get(step) or [])

    def group_recipient(self) -> str | None:
        """Where the leading group is told: its office when it names one, else the group itself."""
        group = self.leading_group
        if not group:
            return None
        return OFFICE + group["office"] if group.get("office") else GROUP_KEY

    def escalations_to_group(self) -> bool:
        group = self.leading_group
        return bool(group and group.get("escalations"))

    def recipient(self, recipient: str, lang: str = "zh") -> tuple[str, list[dict[str, Any]]] | None:
        """The name (in the campaign's language) and contacts of a person or office recipient, or None."""
        entry: dict[str, Any] | None = None
        if recipient.startswith(OFFICE):
            entry = self.offices.get(recipient[len(OFFICE):])
        elif recipient.startswith(LEADER):
            entry = self.leaders.get(recipient[len(LEADER):])
        elif recipient == GROUP_KEY:
            entry = self.leading_group
        if entry is None:
            return None
        return display_name(entry, lang), list(entry.get("contacts") or [])

    def item_recipients(self, leader_text: str | None, office_text: str | None,
                        organizers: bool = True) -> tuple[list[str], list[str]]:
        """An item's lead offices (reminded with its unit) and responsible leaders (told when it is escalated).
        An item of another unit than the organizer (`organizers` false) names an office by key or alias only."""
        return ([OFFICE + k for k in self.resolve_office(office_text, organizers).keys],
                [LEADER + k for k in self.resolve_leader(leader_text).keys])


def display_name(entry: dict[str, Any], lang: str = "zh") -> str:
    """An entry's name in a language: its English name where it has one, else its Chinese name."""
    return str((entry.get("name_en") if lang == "en" else None) or entry.get("name") or "")


def listing(directory: Directory, lang: str = "zh") -> dict[str, Any]:
    """The people page's content: the leading group, the offices with the steps they lead, the leaders."""
    leads: dict[str, list[tuple[str, str]]] = {}
    for phase, steps in (directory.doc.get("steps") or {}).items():
        for step, offices in steps.items():
            for office in offices:
                leads.setdefault(office, []).append((phase, step))
    group = directory.leading_group
    return {
        "leading_group": None if group is None else {
            **group, "display": display_name(group, lang),
            "head_name": display_name(directory.leaders.get(group.get("head") or "", {}), lang) or None,
            "office_name": display_name(directory.offices.get(group.get("office") or "", {}), lang) or None},
        "offices": [{"key": k, **v, "display": display_name(v, lang), "leads": leads.get(k, [])}
                    for k, v in directory.offices.items()],
        "leaders": [{"key": k, **v, "display": display_name(v, lang)} for k, v in directory.leaders.items()],
    }
