"""Counts units file: figures (征求意见, 制度成果) and an evaluation's voters. Plain rules over plain rows.

A figures kind (`ArtifactKind.figures`) is filed as one row of integers, its `rows` columns; `check_figures`
refuses a filing whose row breaks the kind (several rows, a negative count, returned above sent) with every
problem at once, `sum_figures` adds rows up. An evaluation's voters (参评人数) are counted from its tally
rows by `voters`: each ballot answers every aspect once, so the aspect most answered is the number of ballots.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .errors import Problem
from .spec import ArtifactKind

PathT = tuple[str | int, ...]


def figures_problems(kind: ArtifactKind, where: PathT, problem: Callable[[PathT, str], Problem]) -> list[Problem]:
    """A figures kind's rows must all be integer counts, and its checks must name them."""
    if kind.figures is None:
        return []
    f = where + ("figures",)
    rows = kind.rows or {}
    if not rows:
        return [problem(f, "数字填报材料须定义 rows，每个数字一列 integer "
                           "(a figures kind needs rows: one integer column per figure)")]
    out = [problem(where + ("rows", k), "数字填报材料的列应为 integer 类型 (a figure must be an integer column)")
           for k, c in rows.items() if c.type != "integer"]
    if kind.tally is not None:
        out.append(problem(f, "figures 与 tally 不能同时写 (a kind is either figures or an evaluation tally)"))
    for key, limit in kind.figures.at_most.items():
        for name, col in (("at_most", key), ("at_most", limit)):
            if col not in rows:
                out.append(problem(f + (name, key), f"'{col}' 不是该材料的列 (not a column of this kind's rows)"))
        if key == limit:
            out.append(problem(f + ("at_most", key), "一个数字不能以自身为上限 (a figure cannot be its own limit)"))
    for key, sources in kind.figures.from_ledger.items():
        if key not in rows:
            out.append(problem(f + ("from_ledger", key), f"'{key}' 不是该材料的列 (not a column of this kind's rows)"))
        if not sources:
            out.append(problem(f + ("from_ledger", key), "请列出计入的台账来源，如 [mass_opinion, 群众意见] "
                                                         "(list the ledger sources that count, e.g. [mass_opinion])"))
    return out


def figure_row_problems(rows: list[dict[str, Any]], kind: ArtifactKind) -> list[dict[str, Any]]:
    """What is wrong with a figures filing's rows (already typed by rows.validate_rows), as row problems."""
    if kind.figures is None:
        return []
    if len(rows) != 1:
        return [{"row": None, "column": None,
                 "message": f"数字填报只填一行，现有 {len(rows)} 行 (figures are filed as one row, not {len(rows)})"}]
    row, columns = rows[0], kind.rows or {}
    out = [{"row": None, "column": k, "message": f"不能为负数 '{v}' (cannot be negative)"}
           for k, v in row.items() if isinstance(v, int) and v < 0]
    for key, limit in kind.figures.at_most.items():
        v, cap = row.get(key), row.get(limit)
        if isinstance(v, int) and isinstance(cap, int) and v > cap >= 0:  # a negative limit is refused above
            title = columns[limit].title if limit in columns else limit
            out.append({"row": None, "column": key, "message": f"{v} 超过{title} {cap} (more than {limit}, {cap})"})
    return out


def sum_figures(rows: Iterable[Mapping[str, Any]], keys: Iterable[str]) -> dict[str, int | None]:
    """Each figure summed over the rows; None where no row gave it (unknown, not zero)."""
    total: dict[str, int | None] = dict.fromkeys(keys)
    for row in rows:
        for k in total:
            v = row.get(k)
            if isinstance(v, int):
                total[k] = (total[k] or 0) + v
    return total


def voters(rows: Iterable[Mapping[str, Any]], choices: list[str]) -> int:
    """A tally filing's ballots: the largest number of answers any one aspect (row) got."""
    return max((sum(int(row.get(k) or 0) for k in choices) for row in rows), default=0)
