"""Units and their hierarchy: who a requirement's `from` names, and the checks on a unit list."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .spec import UnitSpec


def audience(from_: str | Sequence[str], units: Iterable[UnitSpec], organizer: str | None) -> list[str]:
    """The keys of the units a requirement applies to, in the order the units are listed."""
    units = list(units)
    if isinstance(from_, (list, tuple)):
        wanted = set(from_)
        return [u.key for u in units if u.key in wanted]
    if from_ == "organizer":
        return [organizer] if organizer and any(u.key == organizer for u in units) else []
    if from_ == "all":
        return [u.key for u in units if u.key != organizer]
    if not isinstance(from_, str):
        raise ValueError(f"unknown audience {from_!r}")
    kind, _, value = from_.partition(":")
    if kind == "tag":
        return [u.key for u in units if value in u.tags]
    if kind == "children":
        return [u.key for u in units if u.parent == value]
    raise ValueError(f"unknown audience {from_!r}")


def audience_refs(from_: str | Sequence[str]) -> list[str]:
    """The unit keys an audience names explicitly (a list, or the unit of `children:`)."""
    if not isinstance(from_, str):
        return list(from_)
    if from_.startswith("children:"):
        return [from_.partition(":")[2]]
    return []


def hierarchy_problems(units: Sequence[UnitSpec]) -> list[tuple[int, str, str]]:
    """(index, field, message) for duplicate keys, unknown parents and cycles."""
    problems: list[tuple[int, str, str]] = []
    seen: dict[str, int] = {}
    for i, u in enumerate(units):
        if u.key in seen:
            problems.append((i, "key", f"单位代码重复 '{u.key}'，与第 {seen[u.key] + 1} 个单位相同 "
                                       f"(duplicate unit key, also unit #{seen[u.key] + 1})"))
        else:
            seen[u.key] = i
    parents = {u.key: u.parent for u in units}
    for i, u in enumerate(units):
        if u.parent is None:
            continue
        if u.parent not in parents:
            problems.append((i, "parent", f"上级单位 '{u.parent}' 不存在 (unknown parent unit)"))
            continue
        node: str | None = u.parent
        hops = 0
        while node is not None and hops <= len(units):
            if node == u.key:
                problems.append((i, "parent", f"单位层级成环：'{u.key}' 是自己的上级 "
                                              f"(the hierarchy loops back to '{u.key}')"))
                break
            node, hops = parents.get(node), hops + 1
    return problems
