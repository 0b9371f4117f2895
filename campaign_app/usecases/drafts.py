"""Draft specs in the browser: start one (a template re-dated to a year, a copy of a campaign, an uploaded
file, a running campaign to change), read it with its problems, edit it through the editor's forms or
replace its text, and create the campaign from it once it is valid (or amend the running campaign).

The YAML text is what a draft stores; `campaign_model.specedit` turns the editor's forms into new text,
`specfile.load_spec_text` checks it with the same words as `campaign validate`. An edit that adds an
error is refused (nothing stored) and comes back with the problem next to its field; an edit of a draft
that already had errors (an uploaded file) is kept as long as it adds none.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from campaign_model import catalog, specedit
from campaign_model.errors import CampaignError, InvalidInput, Problem, SpecInvalid
from campaign_model.specfile import LoadedSpec, load_spec_text, parse_yaml
from campaign_model.store import drafts as store
from campaign_model.store.audit import Act
from campaign_model.store.campaigns import create_campaign

from .services import Services

FILE = "draft.yaml"  # the name problems carry: `draft.yaml:12: phases[0].end: ...`


def _no_units_file(path: Path) -> Any:
    raise SpecInvalid([Problem(FILE, None, "units_file", "网页中请把单位写在 units 下，而不是 units_file "
                                                         "(in the browser, list the units under units, not units_file)")])


def check(text: str) -> tuple[LoadedSpec | None, list[Problem]]:
    """The spec loaded (None when it has errors) and every problem, errors first, then warnings."""
    try:
        loaded = load_spec_text(text, FILE, unit_loader=_no_units_file)
    except SpecInvalid as exc:
        return None, exc.problems + exc.warnings
    return loaded, list(loaded.warnings)


def version_of(text: str) -> str:
    """A short fingerprint of a draft's text: a form posted against another text is refused, not merged."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def templates() -> list[catalog.TemplateInfo]:
    return catalog.list_templates()


def _title_of(text: str, fallback: str) -> str:
    try:
        data, _ = parse_yaml(text, FILE)
    except SpecInvalid:
        return fallback
    title = data.get("title") if isinstance(data, dict) else None
    return str(title).strip()[:200] if title else fallback


def from_template(svc: Services, act: Act, name: str, year: int | None) -> int:
    """A draft of a shipped template, re-dated to `year` (None: the template's own dates)."""
    text = catalog.template_text(name)
    if year is not None:
        text = catalog.redate(text, year, name=name)
    with svc.write() as conn:
        return store.add_draft(conn, act, title=_title_of(text, name), text=text, source=f"template:{name}:{year or ''}")


def from_campaign(svc: Services, act: Act, campaign: str, *, key: str, title: str, year: int | None) -> int:
    """A draft copying a campaign's latest spec (and its units) under a new key and title, re-dated if a year is given."""
    if not key.strip():
        raise InvalidInput("请写新活动的代码 (write the new campaign's key)", field="new_key")
    with svc.read() as conn:
        text, units = store.campaign_source(conn, campaign)
    if year is not None:
        text = catalog.redate(text, year)
    data, _ = parse_yaml(text, FILE)
    data["key"] = key.strip()
    if title.strip():
        data["title"] = title.strip()
    if "units" not in data and units:
        data.pop("units_file", None)
        data["units"] = units
    text = specedit.dump(data)
    with svc.write() as conn:
        return store.add_draft(conn, act, title=_title_of(text, key), text=text, source=f"campaign:{campaign}")


def from_text(svc: Services, act: Act, text: str, filename: str) -> int:
    """A draft of an uploaded spec; refused unless it reads as YAML (its other problems are the editor's to show)."""
    _mapping(text)
    with svc.write() as conn:
        return store.add_draft(conn, act, title=_title_of(text, filename), text=text, source=f"file:{filename}")


def for_change(svc: Services, act: Act, campaign: str) -> int:
    """A draft of a running campaign's latest spec, to change it (saved through `amend`)."""
    with svc.read() as conn:
        text, units = store.campaign_source(conn, campaign)
    data = _mapping(text)
    if "units" not in data and units:  # units imported from a list: the editor offers them all the same
        data.pop("units_file", None)
        data["units"] = units
        text = specedit.dump(data)
    with svc.write() as conn:
        return store.add_draft(conn, act, title=_title_of(text, campaign), text=text, base_campaign=campaign,
                               source=f"change:{campaign}")


def _mapping(text: str) -> dict[str, Any]:
    data, lm = parse_yaml(text, FILE)  # SpecInvalid: the YAML itself cannot be read
    if not isinstance(data, dict):
        raise SpecInvalid([Problem(FILE, lm.line(()), "", "规格文件应为映射 (a spec is a mapping of fields)")])
    return data


def listing(svc: Services) -> dict[str, Any]:
    """The drafts and the campaigns a new one may copy."""
    with svc.read() as conn:
        return {"drafts": store.list_drafts(conn), "campaigns": store.campaign_keys(conn)}


def view(svc: Services, draft_id: int, at: dt.datetime | None = None) -> dict[str, Any]:
    """A draft: its row, its data for the forms (None when the YAML cannot be read), its problems; for a draft
    changing a running campaign, with `at`, also what saving it would change and what it may not rewrite."""
    with svc.read() as conn:
        doc = store.get_draft(conn, draft_id)
    out = {**doc, **state(doc["text"])}
    if doc["base_campaign"] and at is not None and out["valid"]:
        out["preview"] = preview(svc, doc["base_campaign"], doc["text"], at)
    return out


def preview(svc: Services, campaign: str, text: str, at: dt.datetime) -> dict[str, Any]:
    """`changes.preview` of a draft's text against its running campaign; a refusal as {"error": message}."""
    from . import changes

    try:
        return changes.preview(svc, campaign, text, at, source=FILE)
    except CampaignError as exc:
        return {"error": str(exc), "changes": [], "conflicts": []}


def state(text: str) -> dict[str, Any]:
    """What the editor shows for a text: the data, the problems (each placed by its path) and the resolved dues."""
    try:
        data: dict[str, Any] | None = _mapping(text)
    except SpecInvalid as exc:
        return {"data": None, "problems": exc.problems, "valid": False, "version": version_of(text), "text": text}
    loaded, problems = check(text)
    return {"data": data, "problems": problems, "valid": loaded is not None, "version": version_of(text),
            "text": text}


def _errors(problems: Sequence[Problem]) -> set[tuple[str, str]]:
    return {(p.path, p.message) for p in problems if p.severity == "error"}


def edit(svc: Services, act: Act, draft_id: int, form: specedit.Form, *, op: str = "",
         version: str = "") -> dict[str, Any]:
    """Apply the editor's form (and the button's operation) to a draft. Saved unless it adds an error:
    `saved` says which; the state returned is the edited one either way, so the page shows what was typed."""
    with svc.read() as conn:
        doc = store.get_draft(conn, draft_id)
    if version and version != version_of(doc["text"]):
        raise InvalidInput("草稿已在别处修改，请重新打开后再编辑 (the draft was changed elsewhere: reopen it, then edit)",
                           field="version")
    before = state(doc["text"])
    if before["data"] is None:
        raise InvalidInput("草稿的 YAML 无法读取，请上传改正后的文件 (the draft's YAML cannot be read: upload a corrected file)",
                           field="spec")
    data, form_problems = specedit.apply_form(before["data"], form)
    try:
        if op:
            data = specedit.apply_op(data, op, form, today=act.at.astimezone(specedit.zone_of(data)).date())
    except specedit.EditRefused as exc:
        form_problems.append(Problem("<form>", None, exc.path, str(exc)))
    text = specedit.dump(data)
    after = state(text)
    after["problems"] = form_problems + after["problems"]
    added = _errors(after["problems"]) - _errors(before["problems"])
    saved = not added
    if saved:
        with svc.write() as conn:
            store.save_text(conn, draft_id, text, _title_of(text, doc["title"]), act)
        after["version"] = version_of(text)
    else:
        after["version"] = before["version"]  # nothing stored: the next post is still against the stored text
        after["data"] = data
    return {**doc, **after, "text": text if saved else doc["text"], "saved": saved,
            "refused": sorted(added)}


def replace_text(svc: Services, act: Act, draft_id: int, text: str) -> None:
    """Replace a draft's text by an uploaded file's (refused unless it reads as YAML; nothing changed then)."""
    _mapping(text)
    with svc.write() as conn:
        doc = store.get_draft(conn, draft_id)
        store.save_text(conn, draft_id, text, _title_of(text, doc["title"]), act)


def create(svc: Services, act: Act, draft_id: int) -> dict[str, Any]:
    """Create the campaign a valid draft describes (SpecInvalid with every problem otherwise); the draft goes."""
    with svc.read() as conn:
        doc = store.get_draft(conn, draft_id)
    if doc["base_campaign"]:
        raise InvalidInput("此草稿修改的是已运行的活动，请用“保存修改” (this draft changes a running campaign: use Save changes)",
                           field="draft")
    loaded = load_spec_text(doc["text"], FILE, unit_loader=_no_units_file)
    with svc.write() as conn:
        summary = create_campaign(conn, loaded, act)
        store.delete_draft(conn, draft_id, act)
    return {**summary, "warnings": [str(w) for w in loaded.warnings]}


def amend(svc: Services, act: Act, draft_id: int, reason: str) -> dict[str, Any]:
    """Change the running campaign a draft was made from (`usecases.changes.amend`); the draft goes."""
    if not reason.strip():
        raise InvalidInput("请写明修改原因 (write why the campaign is changed)", field="reason")
    with svc.read() as conn:
        doc = store.get_draft(conn, draft_id)
    if not doc["base_campaign"]:
        raise InvalidInput("此草稿不是对已有活动的修改 (this draft changes no running campaign)", field="draft")
    from . import changes

    result = changes.amend(svc, act, doc["base_campaign"], doc["text"], reason=reason.strip(), at=act.at, source=FILE)
    with svc.write() as conn:
        store.delete_draft(conn, draft_id, act)
    return result


def delete(svc: Services, act: Act, draft_id: int) -> None:
    with svc.write() as conn:
        store.delete_draft(conn, draft_id, act)


def resolve(svc: Services, draft_id: int, parts: specedit.DueParts, start: str, end: str, lang: str) -> dict[str, Any]:
    """A step's due, as the editor's inputs give it, resolved in a phase from `start` to `end` by the draft's
    calendar and time zone (what the page shows before anything is saved)."""
    with svc.read() as conn:
        text = store.get_draft(conn, draft_id)["text"]
    try:
        data = _mapping(text)
    except SpecInvalid:
        data = {}
    for name, value in (("start", start), ("end", end)):
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            raise InvalidInput(f"日期应写作 2027-03-01 (a date is written 2027-03-01), got '{value[:40]}'",
                               field=name) from None
    if parts.mode == "relative" and not specedit.count_ok(parts.count):
        raise InvalidInput(f"天数应为 0 至 {specedit.MAX_COUNT} 的整数 (the number of days is a whole number from 0 to "
                           f"{specedit.MAX_COUNT}), got '{parts.count[:20]}'", field="count")
    due = specedit.due_value(parts)
    local = specedit.resolve_local(due, start, end, specedit.calendar_of(data), specedit.zone_of(data))
    if local is None:
        raise InvalidInput(f"无法识别的期限 '{str(due)[:80]}' (cannot read the due date)", field="due")
    return {"date": local.date().isoformat(), "time": local.strftime("%H:%M"),
            "weekday": specedit.weekday(local.date(), lang),
            "workday": specedit.calendar_of(data).is_workday(local.date()), "due": specedit.due_text(due)}

