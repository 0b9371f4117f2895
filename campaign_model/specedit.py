"""The timeline editor's edits, as pure functions over a spec's data: a form's fields in, YAML text out.

The YAML text is the stored form of a draft; the editor's forms are another view of the same data, so
that the two always say the same thing. A form field is named by the spec path it writes (the paths of
`specfile.format_path`, as `campaign validate` prints them: `phases[0].steps[1].due`), with a `:part`
suffix where one spec field takes several inputs (a due date: `...due:mode`, `...due:count`, ...). A
problem found by validation is shown next to the input of its path (`place_problems`).

Only what the forms show is rewritten; everything else in the data (units, rows schemas, tallies,
look-backs, per-requirement reminders, messages) goes through unchanged. Comments are not kept: the
text is dumped again by PyYAML, keys in a readable order (key, title, ... phases last).
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from .calendar import WorkCalendar
from .errors import Problem
from .timeexpr import ExpressionError, parse_datetime_text, parse_duration, parse_relative

Form = Mapping[str, Sequence[str]]  # a posted form: each name with its values, in order

TOP_ORDER = ("version", "key", "title", "title_en", "timezone", "calendar", "holidays", "workdays", "organizer",
             "units", "units_file", "artifacts", "reminders", "messages", "phases")
PHASE_ORDER = ("key", "title", "title_en", "kind", "start", "end", "advance", "gate", "steps")
STEP_ORDER = ("key", "title", "title_en", "due", "lookback", "requires")
REQ_ORDER = ("artifact", "from", "signoff", "review", "reminders")
KIND_ORDER = ("title", "title_en", "description", "acknowledge", "rows", "tally")
REMINDER_FIELDS = ("before", "on_due", "overdue_every", "send_at", "send_until", "escalate_after", "escalate_to")
REMINDER_DEFAULTS: dict[str, Any] = {"before": ["3 days", "1 workday"], "on_due": True, "overdue_every": "1 workday",
                                     "send_at": "09:00", "send_until": "18:00", "escalate_after": None,
                                     "escalate_to": "parent"}
WEEKDAYS = (("星期一", "Monday"), ("星期二", "Tuesday"), ("星期三", "Wednesday"), ("星期四", "Thursday"),
            ("星期五", "Friday"), ("星期六", "Saturday"), ("星期日", "Sunday"))


MAX_COUNT = 3650  # days or working days from a phase's start or end: ten years is more than any campaign


class EditRefused(ValueError):
    """An operation that cannot apply to this data (a phase index that is not there, a kind key taken)."""

    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path = path


# --- text <-> data ---

class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _ordered(data: Any, order: Sequence[str]) -> Any:
    if not isinstance(data, dict):
        return data
    first = [k for k in order if k in data]
    return {k: data[k] for k in first + [k for k in data if k not in order]}


def dump(data: dict[str, Any]) -> str:
    """The spec's YAML: its keys in a readable order, phases last, dates as dates, Chinese as itself."""
    out = _ordered(copy.deepcopy(data), TOP_ORDER)
    if isinstance(out.get("artifacts"), dict):
        out["artifacts"] = {k: _ordered(v, KIND_ORDER) for k, v in out["artifacts"].items()}
    if isinstance(out.get("reminders"), dict):
        out["reminders"] = _ordered(out["reminders"], REMINDER_FIELDS)
    phases = out.get("phases")
    if isinstance(phases, list):
        for i, p in enumerate(phases):
            p = phases[i] = _ordered(p, PHASE_ORDER)
            if isinstance(p, dict) and isinstance(p.get("steps"), list):
                p["steps"] = [_ordered(s, STEP_ORDER) for s in p["steps"]]
                for s in p["steps"]:
                    if isinstance(s, dict) and isinstance(s.get("requires"), list):
                        s["requires"] = [_ordered(r, REQ_ORDER) for r in s["requires"]]
    text: str = yaml.dump(out, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=120,
                          default_flow_style=False)
    return text


# --- due dates: the form's parts and the spec's value ---

@dataclass(frozen=True)
class DueParts:
    mode: str = "relative"  # "absolute" | "relative"
    date: str = ""
    time: str = ""
    base: str = "start"
    sign: str = "+"
    count: str = "0"
    unit: str = "workdays"
    raw: str = ""  # a value neither form reads (shown as it is, with validation's problem)


def due_parts(due: Any) -> DueParts:
    """The editor's inputs for a step's `due` (a date, a date-time, a date text or `start + 10 workdays`)."""
    if isinstance(due, dt.datetime):
        return DueParts("absolute", due.date().isoformat(), due.strftime("%H:%M"))
    if isinstance(due, dt.date):
        return DueParts("absolute", due.isoformat())
    text = "" if due is None else str(due)
    value = parse_datetime_text(text) if text else None
    if isinstance(value, dt.datetime):
        return DueParts("absolute", value.date().isoformat(), value.strftime("%H:%M"))
    if isinstance(value, dt.date):
        return DueParts("absolute", value.isoformat())
    try:
        rel = parse_relative(text)
    except ExpressionError:
        return DueParts(raw=text)
    if rel.offset is None:
        return DueParts(base=rel.anchor)
    return DueParts(base=rel.anchor, sign="+" if rel.sign > 0 else "-", count=str(rel.offset.count),
                    unit=rel.offset.unit)


def due_value(parts: DueParts) -> Any:
    """The spec's `due` from the editor's inputs; what cannot be read is written as text for validation to name."""
    if parts.mode == "absolute":
        date, time = parts.date.strip(), parts.time.strip()
        try:
            day = dt.date.fromisoformat(date)
        except ValueError:
            return f"{date} {time}".strip()
        # a time validation cannot read stays in the text for it to name
        return f"{day.isoformat()} {time}" if time else day
    count = parts.count.strip() or "0"
    base = parts.base if parts.base in ("start", "end") else "start"
    if count == "0":
        return base
    unit = parts.unit if parts.unit in ("days", "workdays") else "workdays"
    sign = "-" if parts.sign == "-" else "+"
    if count.isdigit():
        return f"{base} {sign} {parse_duration(f'{int(count)} {unit}')}"
    return f"{base} {sign} {count} {unit}"


def due_text(due: Any) -> str:
    """A due value as the text the resolver reads."""
    if isinstance(due, dt.datetime):
        return due.strftime("%Y-%m-%d %H:%M")
    if isinstance(due, dt.date):
        return due.isoformat()
    return str(due)


# --- applying a posted form ---

def _one(form: Form, name: str) -> str | None:
    values = form.get(name)
    return values[-1] if values else None  # a checkbox after its hidden "" marker: the last one wins


def _many(form: Form, name: str) -> list[str] | None:
    values = form.get(name)
    return None if values is None else [v for v in values if v]


def _flag(form: Form, name: str) -> bool | None:
    value = _one(form, name)
    return None if value is None else value == "1"


def _text(target: dict[str, Any], key: str, value: str | None, *, optional: bool = False) -> None:
    if value is None:
        return
    value = value.strip()
    if optional and not value:
        target.pop(key, None)
    else:
        target[key] = value


def _date(value: str) -> Any:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        return value.strip()


def _share(value: str) -> Any:
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value) if "." in value else int(value)
    return value


def apply_form(data: dict[str, Any], form: Form) -> tuple[dict[str, Any], list[Problem]]:
    """The data with the editor's posted fields written into it, and the problems only the form can see
    (an empty title). Fields the form does not carry are left as they are."""
    data = copy.deepcopy(data)
    problems: list[Problem] = []
    for name in ("key", "title", "timezone", "calendar"):
        _text(data, name, _one(form, name))
    _text(data, "title_en", _one(form, "title_en"), optional=True)
    _text(data, "organizer", _one(form, "organizer"), optional=True)
    if isinstance(data.get("artifacts"), dict):
        for key, kind in data["artifacts"].items():
            if isinstance(kind, dict):
                a = f"artifacts.{key}"
                _text(kind, "title", _one(form, f"{a}.title"))
                _text(kind, "title_en", _one(form, f"{a}.title_en"), optional=True)
                _text(kind, "description", _one(form, f"{a}.description"), optional=True)
    if _one(form, "reminders.send_at") is not None:
        data["reminders"] = _reminders(dict(data.get("reminders") or {}), form)
        if not data["reminders"]:
            del data["reminders"]  # every default: the YAML need not say so
    for i, phase in enumerate(data.get("phases") or []):
        if isinstance(phase, dict):
            _phase(phase, f"phases[{i}]", form, problems)
    for path, value in _titles(data):
        if value is not None and not str(value).strip():
            problems.append(Problem("<form>", None, path, "不能为空 (must not be empty)"))
    return data, problems


def _titles(data: dict[str, Any]) -> Iterable[tuple[str, Any]]:
    yield "title", data.get("title")
    for key, kind in (data.get("artifacts") or {}).items():
        if isinstance(kind, dict):
            yield f"artifacts.{key}.title", kind.get("title")
    for i, phase in enumerate(data.get("phases") or []):
        if isinstance(phase, dict):
            yield f"phases[{i}].title", phase.get("title")
            for j, step in enumerate(phase.get("steps") or []):
                if isinstance(step, dict):
                    yield f"phases[{i}].steps[{j}].title", step.get("title")


def _reminders(policy: dict[str, Any], form: Form) -> dict[str, Any]:
    before = _one(form, "reminders.before")
    if before is not None:
        policy["before"] = [b.strip() for b in re.split(r"[,，、;；]", before) if b.strip()]
    flag = _flag(form, "reminders.on_due")
    if flag is not None:
        policy["on_due"] = flag
    for name in ("overdue_every", "escalate_after"):
        value = _one(form, f"reminders.{name}")
        if value is not None:
            policy[name] = value.strip() or None
    for name in ("send_at", "send_until", "escalate_to"):
        _text(policy, name, _one(form, f"reminders.{name}"))
    # what equals the default is left out, so that the YAML says only what this campaign chose
    return {k: v for k, v in policy.items() if k not in REMINDER_DEFAULTS or v != REMINDER_DEFAULTS[k]}


def _phase(phase: dict[str, Any], p: str, form: Form, problems: list[Problem]) -> None:
    for name in ("key", "title", "kind", "advance"):
        _text(phase, name, _one(form, f"{p}.{name}"))
    for name in ("start", "end"):
        value = _one(form, f"{p}.{name}")
        if value is not None:
            phase[name] = _date(value)
    if _one(form, f"{p}.gate:present") is not None:
        gate = _gate(dict(phase.get("gate") or {}), f"{p}.gate", form)
        if gate:
            phase["gate"] = gate
        else:
            phase.pop("gate", None)
    for j, step in enumerate(phase.get("steps") or []):
        if isinstance(step, dict):
            _step(step, f"{p}.steps[{j}]", form, problems)


def _gate(gate: dict[str, Any], g: str, form: Form) -> dict[str, Any]:
    kinds = _many(form, f"{g}.artifacts")
    if kinds:
        gate["artifacts"] = kinds
    else:
        gate.pop("artifacts", None)  # none ticked: every requirement of the phase counts
    ledger: dict[str, Any] = dict(gate.get("ledger") or {})
    closed = (_one(form, f"{g}.ledger.closed_at_least") or "").strip()
    if closed:
        ledger["closed_at_least"] = _share(closed)
    else:
        ledger.pop("closed_at_least", None)
    for name in ("rest_in_progress", "none_overdue"):
        if _flag(form, f"{g}.ledger.{name}"):
            ledger[name] = True
        else:
            ledger.pop(name, None)
    scope = _one(form, f"{g}.ledger.scope") or "campaign"
    if set(ledger) - {"scope"}:
        ledger["scope"] = scope
        gate["ledger"] = {k: v for k, v in ledger.items() if not (k == "scope" and v == "campaign")}
    else:
        gate.pop("ledger", None)
    artifact = (_one(form, f"{g}.evaluation.artifact") or "").strip()
    if artifact:
        evaluation: dict[str, Any] = {"artifact": artifact}
        for name in ("min_ratio", "min_response"):
            value = (_one(form, f"{g}.evaluation.{name}") or "").strip()
            if value:
                evaluation[name] = _share(value)
        voters = (_one(form, f"{g}.evaluation.min_voters") or "").strip()
        if voters:  # a whole number of voters; anything else is kept as typed, for validate to name the field
            evaluation["min_voters"] = int(voters) if voters.isdigit() else voters
        if (_one(form, f"{g}.evaluation.scope") or "campaign") == "unit":
            evaluation["scope"] = "unit"
        gate["evaluation"] = evaluation
    else:
        gate.pop("evaluation", None)
    return gate


def count_ok(count: str) -> bool:
    count = count.strip() or "0"
    return count.isdigit() and int(count) <= MAX_COUNT


def _step(step: dict[str, Any], s: str, form: Form, problems: list[Problem]) -> None:
    for name in ("key", "title"):
        _text(step, name, _one(form, f"{s}.{name}"))
    mode = _one(form, f"{s}.due:mode")
    if mode is not None:
        was = due_parts(step.get("due"))
        parts = DueParts(mode, *(_one(form, f"{s}.due:{n}") or "" for n in ("date", "time", "base", "sign", "count",
                                                                                 "unit")))
        if mode == "raw":
            step["due"] = (_one(form, f"{s}.due:raw") or was.raw).strip()
        elif mode == "relative" and not count_ok(parts.count):
            problems.append(Problem("<form>", None, f"{s}.due", f"天数应为 0 至 {MAX_COUNT} 的整数 "
                                                               f"(the number of days is a whole number from 0 to {MAX_COUNT})"))
        else:
            step["due"] = due_value(parts)
    for k, req in enumerate(step.get("requires") or []):
        if isinstance(req, dict):
            _requirement(req, f"{s}.requires[{k}]", form)


def _requirement(req: dict[str, Any], r: str, form: Form) -> None:
    _text(req, "artifact", _one(form, f"{r}.artifact"))
    mode = _one(form, f"{r}.from:mode")
    if mode in ("all", "organizer"):
        req["from"] = mode
    elif mode in ("tag", "children"):
        req["from"] = f"{mode}:{(_one(form, f'{r}.from:{mode}') or '').strip()}"
    elif mode == "units":
        req["from"] = _many(form, f"{r}.from:units") or []
    for name in ("signoff", "review"):
        flag = _flag(form, f"{r}.{name}")
        if flag:
            if not req.get(name):  # a ticked box keeps who reviews (review: supervisor / {by: …}) as written
                req[name] = True
        elif flag is not None:
            req.pop(name, None)


def from_parts(value: Any) -> dict[str, Any]:
    """The editor's inputs for a requirement's `from`."""
    if isinstance(value, list):
        return {"mode": "units", "units": [str(v) for v in value], "tag": "", "children": ""}
    text = str(value or "all")
    for mode in ("tag", "children"):
        if text.startswith(f"{mode}:"):
            return {"mode": mode, "units": [], "tag": "", "children": "", mode: text[len(mode) + 1:]}
    return {"mode": text if text in ("all", "organizer") else "all", "units": [], "tag": "", "children": ""}


# --- adding, removing, moving ---

def apply_op(data: dict[str, Any], op: str, form: Form | None = None, *, today: dt.date) -> dict[str, Any]:
    """One structural edit named by the button pressed: add_phase, remove_phase:I, up_phase:I, down_phase:I,
    add_step:I, remove_step:I:J, add_req:I:J, remove_req:I:J:K, add_artifact (key and title from the form's
    `new_artifact:key` / `new_artifact:title`), remove_artifact:KEY. `today` starts a first phase."""
    data = copy.deepcopy(data)
    name, _, rest = op.partition(":")
    args = rest.split(":") if rest else []
    phases = data.setdefault("phases", [])
    try:
        if name == "add_phase":
            phases.append(_new_phase(phases, today))
        elif name == "add_artifact":
            _add_kind(data, form or {})
        elif name == "remove_artifact":
            kinds = data.get("artifacts") or {}
            if rest not in kinds:
                raise EditRefused("artifacts", f"没有材料类型 '{rest}' (no artifact kind '{rest}')")
            del kinds[rest]
        else:
            idx = [int(a) for a in args]
            phase = phases[idx[0]]
            if name == "remove_phase":
                if len(phases) == 1:
                    raise EditRefused("phases", "至少保留一个阶段 (a campaign needs at least one phase)")
                del phases[idx[0]]
            elif name in ("up_phase", "down_phase"):
                other = idx[0] - 1 if name == "up_phase" else idx[0] + 1
                if not 0 <= other < len(phases):
                    raise EditRefused(f"phases[{idx[0]}]", "已经在最前或最后 (already first or last)")
                phases[idx[0]], phases[other] = phases[other], phases[idx[0]]
            elif name == "add_step":
                steps = phase.setdefault("steps", [])
                steps.append({"key": _free_key("step", {s.get("key") for s in steps if isinstance(s, dict)}),
                              "title": "新步骤", "due": "end", "requires": []})
            elif name == "remove_step":
                del phase["steps"][idx[1]]
            elif name == "add_req":
                kinds = list(data.get("artifacts") or {})
                if not kinds:
                    raise EditRefused("artifacts", "请先添加材料类型 (add an artifact kind first)")
                phase["steps"][idx[1]].setdefault("requires", []).append({"artifact": kinds[0], "from": "all"})
            elif name == "remove_req":
                del phase["steps"][idx[1]]["requires"][idx[2]]
            else:
                raise EditRefused("", f"未知操作 '{op}' (unknown operation)")
    except (IndexError, ValueError, KeyError, TypeError, AttributeError) as exc:
        if isinstance(exc, EditRefused):
            raise
        raise EditRefused("", f"无法执行操作 '{op}'：对象不存在 (cannot apply '{op}': no such item)") from None
    return data


def _free_key(prefix: str, taken: set[Any]) -> str:
    n = 1
    while f"{prefix}-{n}" in taken:
        n += 1
    return f"{prefix}-{n}"


def _new_phase(phases: list[Any], today: dt.date) -> dict[str, Any]:
    last = phases[-1] if phases and isinstance(phases[-1], dict) else {}
    end = last.get("end")
    start = (end + dt.timedelta(days=1)) if isinstance(end, dt.date) else today
    return {"key": _free_key("phase", {p.get("key") for p in phases if isinstance(p, dict)}), "title": "新阶段",
            "kind": "custom", "start": start, "end": start + dt.timedelta(days=13), "steps": []}


def _add_kind(data: dict[str, Any], form: Form) -> None:
    key = (_one(form, "new_artifact:key") or "").strip()
    title = (_one(form, "new_artifact:title") or "").strip()
    kinds = data.setdefault("artifacts", {})
    if not re.fullmatch(r"[A-Za-z0-9_\-.\u4e00-\u9fff]{1,64}", key):
        raise EditRefused("new_artifact:key", "代码只能包含字母、数字、汉字、-、_ 和 .，最多 64 个字符 "
                                              "(keys may hold letters, digits, Chinese characters, '-', '_' and '.')")
    if key in kinds:
        raise EditRefused("new_artifact:key", f"材料类型 '{key}' 已存在 (the artifact kind '{key}' exists)")
    if not title:
        raise EditRefused("new_artifact:title", "请写材料名称 (write the artifact's title)")
    kinds[key] = {"title": title}


# --- the calendar, resolved dates, problems placed next to their inputs ---

def calendar_of(data: Mapping[str, Any]) -> WorkCalendar:
    kind = data.get("calendar") if data.get("calendar") in ("cn", "weekdays", "all-days") else "cn"
    days = [_as_day(d) for d in data.get("holidays") or []], [_as_day(d) for d in data.get("workdays") or []]
    return WorkCalendar(str(kind), frozenset(d for d in days[0] if d), frozenset(d for d in days[1] if d))


def _as_day(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None


def zone_of(data: Mapping[str, Any]) -> ZoneInfo:
    try:
        return ZoneInfo(str(data.get("timezone") or "Asia/Shanghai"))
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return ZoneInfo("Asia/Shanghai")


def resolve_local(due: Any, start: Any, end: Any, calendar: WorkCalendar, tz: ZoneInfo) -> dt.datetime | None:
    """The local date and time a due value means in a phase from `start` to `end`; None if it cannot be read."""
    from .timeexpr import resolve_due

    start_day, end_day = _as_day(start), _as_day(end)
    if start_day is None or end_day is None or isinstance(start, dt.datetime) or isinstance(end, dt.datetime):
        return None
    try:
        return resolve_due(due if isinstance(due, (dt.date, dt.datetime)) else str(due), phase_start=start_day,
                           phase_end=end_day, calendar=calendar, tz=tz).astimezone(tz)
    except (ExpressionError, ValueError, OverflowError):
        return None


def resolved_dues(data: Mapping[str, Any]) -> dict[str, dt.datetime]:
    """Each step's due resolved by the spec's calendar: `phases[i].steps[j].due` -> local date-time."""
    cal, tz = calendar_of(data), zone_of(data)
    out = {}
    for i, phase in enumerate(data.get("phases") or []):
        if not isinstance(phase, dict):
            continue
        for j, step in enumerate(phase.get("steps") or []):
            if isinstance(step, dict):
                local = resolve_local(step.get("due"), phase.get("start"), phase.get("end"), cal, tz)
                if local is not None:
                    out[f"phases[{i}].steps[{j}].due"] = local
    return out


def weekday(day: dt.date, lang: str) -> str:
    zh, en = WEEKDAYS[day.weekday()]
    return en if lang == "en" else zh


def field_paths(data: Mapping[str, Any]) -> set[str]:
    """The spec paths the editor has an input (or a group of inputs) for."""
    out = {"key", "title", "title_en", "timezone", "calendar", "organizer", "reminders", "artifacts", "phases",
           "reason", "spec", "new_artifact:key", "new_artifact:title"}  # the last four: the page's own inputs
    out |= {f"reminders.{f}" for f in REMINDER_FIELDS}
    for key in data.get("artifacts") or {}:
        out |= {f"artifacts.{key}{f}" for f in ("", ".title", ".title_en", ".description")}
    for i, phase in enumerate(data.get("phases") or []):
        p = f"phases[{i}]"
        out |= {p, *(f"{p}.{f}" for f in ("key", "title", "kind", "start", "end", "advance", "gate",
                                          "gate.artifacts", "gate.ledger", "gate.evaluation"))}
        if not isinstance(phase, dict):
            continue
        for j, step in enumerate(phase.get("steps") or []):
            s = f"{p}.steps[{j}]"
            out |= {s, f"{s}.key", f"{s}.title", f"{s}.due"}
            for k, _req in enumerate(step.get("requires") or [] if isinstance(step, dict) else []):
                r = f"{s}.requires[{k}]"
                out |= {r, f"{r}.artifact", f"{r}.from", f"{r}.signoff", f"{r}.review"}
    return out


_INDEX = re.compile(r"\[\d+\]$|\.[^.\[\]]+$")


def place_problems(problems: Iterable[Problem], data: Mapping[str, Any]) -> dict[str, list[Problem]]:
    """Each problem under the nearest path the editor shows an input for ("" when none: the page's top)."""
    known = field_paths(data)
    out: dict[str, list[Problem]] = {}
    for problem in problems:
        path = problem.path
        if path.startswith("units") or path.startswith("holidays") or path.startswith("workdays"):
            path = ""  # no form for these: the problem is listed at the top with its YAML line
        while path and path not in known:
            shorter = _INDEX.sub("", path)
            path = shorter if shorter != path else ""
        out.setdefault(path, []).append(problem)
    return out


def field_id(path: str) -> str:
    """An element id for the input of a spec path: `phases[0].steps[1].due` -> `f-phases-0-steps-1-due`."""
    plain = path.replace("[", "-").replace("]", "").replace(".", "-").replace(":", "-")
    return "f-" + re.sub(r"[^A-Za-z0-9_\-]", lambda m: f"_{ord(m.group()):x}", plain).strip("-")
