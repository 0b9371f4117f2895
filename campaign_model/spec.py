"""The campaign spec, format version 1: pydantic models of what an administrator writes in YAML.

Structure (types, required fields, expressions) is checked by the models; the cross-references
(artifact kinds, units in `from`, phase order, due dates against their phase) by `check_spec`,
which returns every problem at once. Loading with file and line numbers is in `specfile`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .grades import Assessment
from .ledger import parse_share
from .timeexpr import parse_datetime_text, parse_duration, parse_relative

KEY_PATTERN = r"^[A-Za-z0-9_\-.\u4e00-\u9fff]+$"
Key = Annotated[str, Field(pattern=KEY_PATTERN, min_length=1, max_length=64)]
PHASE_KINDS = ("mobilization", "self_check", "rectification", "summary", "custom")
COLUMN_TYPES = ("text", "date", "number", "integer", "choice")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Contact(_Model):
    name: str
    role: str | None = None
    email: str | None = None
    phone: str | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        if v and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v):
            raise ValueError(f"邮箱格式不正确 '{v}' (not an email address)")
        return v or None

    @field_validator("phone", mode="before")
    @classmethod
    def _phone(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) else v


class UnitSpec(_Model):
    key: Key
    name: str = Field(min_length=1)
    parent: Key | None = None
    tags: list[str] = Field(default_factory=list)
    contacts: list[Contact] = Field(default_factory=list)

    @field_validator("key", "parent", mode="before")
    @classmethod
    def _key_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) else v


class Column(_Model):
    title: str
    title_en: str | None = None  # the header in an English campaign's report (a figure's name)
    type: Literal["text", "date", "number", "integer", "choice"] = "text"
    required: bool = False
    choices: list[str] | None = None


class Tally(_Model):
    """An evaluation (民主测评, 满意度测评, 三项评议) filed as rows: one row per aspect, one integer
    column per answer. `positive` names the answers the ratio counts (好 / 满意); `choices` all
    answers (default: every integer or number column but `eligible`); `eligible` the column giving
    how many were asked (应参评人数), from which the response rate (参评率) is computed.

        rows: {aspect: {title: 测评项目}, good: {title: 好, type: integer}, fair: {title: 一般, type: integer},
               poor: {title: 差, type: integer}, eligible: {title: 应参评人数, type: integer}}
        tally: {positive: [good], eligible: eligible}
    """

    positive: list[Key] = Field(min_length=1)
    choices: list[Key] | None = None
    eligible: Key | None = None


class Figures(_Model):
    """Counts a unit files as one row of integers (征求意见: forms sent and returned, problems and suggestions
    found, how many became ledger items; 制度成果: rules planned, issued, revised), added up per parent unit
    and for the campaign in the summary report (汇总数据). The figures are the kind's `rows` (integer
    columns); `at_most` names the figure each may not exceed (returned ≤ sent); `from_ledger` names a figure
    the ledger counts too, with the item sources that count, shown beside the filed figure:

        rows: {forms_sent: {title: 发出征求意见表, type: integer, required: true},
               forms_returned: {title: 收回征求意见表, type: integer}, became_items: {title: 列入整改台账, type: integer}}
        figures: {at_most: {forms_returned: forms_sent}, from_ledger: {became_items: [mass_opinion, 群众意见]}}
    """

    at_most: dict[Key, Key] = Field(default_factory=dict)
    from_ledger: dict[Key, list[str]] = Field(default_factory=dict)


class ArtifactKind(_Model):
    title: str
    title_en: str | None = None
    description: str | None = None
    rows: dict[Key, Column] | None = None
    tally: Tally | None = None  # an evaluation kind: its rows are vote counts (checked in specfile)
    figures: Figures | None = None  # a counts kind: its one row is the unit's figures (checked in specfile)
    # 签收: a notice or assignment the unit acknowledges receiving; filed with no files and no rows, the
    # signer being the one who acknowledged (checked in specfile: such a kind has no rows)
    acknowledge: bool = False

    def tally_choices(self) -> list[str]:
        """The answer columns of an evaluation kind."""
        if self.tally is None:
            return []
        if self.tally.choices is not None:
            return list(self.tally.choices)
        return [k for k, c in (self.rows or {}).items() if c.type in ("integer", "number") and k != self.tally.eligible]

    def is_ledger_source(self) -> bool:
        return self.rows is not None and "problem" in self.rows and "deadline" in self.rows


# who reviews, by keyword: the supervising group (督导组) or the campaign's office (活动办)
REVIEWERS = {"supervisor": ("督导组", "Supervising group"), "organizer": ("活动办", "Campaign office")}


class Requirement(_Model):
    """One artifact owed by an audience. `review` is false (filed is done: 报备), true (accepted by a
    reviewer: 审核), or names who reviews: `supervisor` (督导组), `organizer` (活动办), or
    `{by: 局办公室, by_en: Bureau office}`; the name is kept in `review_by` / `review_by_en`."""

    artifact: Key
    from_: str | list[Key] = Field(alias="from")
    signoff: bool = False
    review: bool = False
    review_by: str | None = None
    review_by_en: str | None = None
    reminders: dict[str, Any] | None = None  # fields of ReminderPolicy overriding the campaign's

    @field_validator("reminders")
    @classmethod
    def _reminders(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is None:
            return v
        try:
            ReminderPolicy.model_validate(v)
        except ValidationError as exc:
            raise ValueError("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None
        return v

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _reviewer(cls, data: Any) -> Any:
        if not isinstance(data, dict) or isinstance(data.get("review"), bool) or data.get("review") is None:
            return data
        data = dict(data)
        value = data.pop("review")
        by_en: str | None
        if isinstance(value, str) and value in REVIEWERS:
            by, by_en = REVIEWERS[value]
        elif isinstance(value, dict) and set(value) <= {"by", "by_en"} and isinstance(value.get("by"), str) \
                and value["by"].strip():
            by, by_en = value["by"].strip(), value.get("by_en")
        else:
            raise ValueError(f"review 应为 true、false、supervisor、organizer 或 {{by: 审核单位}}，而不是 {value!r} "
                             f"(review must be true, false, supervisor, organizer or {{by: <who reviews>}})")
        return {**data, "review": True, "review_by": by, "review_by_en": by_en}

    @field_validator("from_")
    @classmethod
    def _from(cls, v: str | list[str]) -> str | list[str]:
        if isinstance(v, list):
            if not v:
                raise ValueError("from 列表为空 (the list of units is empty)")
            return v
        if v in ("organizer", "all") or re.fullmatch(r"(tag|children):\S+", v):
            return v
        raise ValueError(
            f"无法识别的对象 '{v}'，应为 organizer、all、tag:<标签>、children:<单位> 或单位列表 "
            f"(unknown audience '{v}'; use organizer, all, tag:<tag>, children:<unit> or a list of units)"
        )


DueValue = dt.datetime | dt.date | str


class LookBack(_Model):
    """A look-back (回头看) step: at `sample` (default: when its phase starts) closed ledger items are
    sampled — all, or a share of each unit's — into re-checks due at the step's `due`; a failed
    re-check reopens the item.

        lookback: {share: "30%", sample: start + 5 workdays}
    """

    share: str | float = "all"
    sample: DueValue | None = None

    @field_validator("share", mode="before")
    @classmethod
    def _share(cls, v: Any) -> Any:
        if v != "all":
            from .ledger import parse_share

            parse_share(v)
        return v

    @field_validator("sample")
    @classmethod
    def _sample(cls, v: DueValue | None) -> DueValue | None:
        if isinstance(v, str) and parse_datetime_text(v) is None:
            parse_relative(v)
        return v


class Step(_Model):
    key: Key
    title: str
    title_en: str | None = None
    due: DueValue
    requires: list[Requirement] = Field(default_factory=list)
    lookback: LookBack | None = None
    # 牵头股室: the office (or offices) of `people.offices` leading the step; it hears of the step's late units
    lead: list[Key] | None = None

    @field_validator("lead", mode="before")
    @classmethod
    def _lead(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("due")
    @classmethod
    def _due(cls, v: DueValue) -> DueValue:
        if isinstance(v, str) and parse_datetime_text(v) is None:
            parse_relative(v)  # raises ExpressionError (a ValueError) with the bilingual message
        return v


Share = Annotated[str | float, Field(union_mode="left_to_right")]


def _share(v: Any) -> Any:
    if v is not None:
        parse_share(v)  # raises the bilingual ValueError
    return v


class LedgerGate(_Model):
    """Conditions over the campaign's current ledger items, all of them or each unit's (`scope: unit`):

        ledger: {closed_at_least: "2/3", rest_in_progress: true, none_overdue: true, scope: campaign}

    seed 000's "two-thirds closed (销号), the rest in progress". A unit (or campaign) with no items meets it.
    """

    closed_at_least: Share | None = None  # "2/3", "90%", 0.9
    rest_in_progress: bool = False  # every item not closed is in progress or rectified
    none_overdue: bool = False  # no open, in-progress or reopened item past its deadline
    scope: Literal["campaign", "unit"] = "campaign"

    @field_validator("closed_at_least", mode="before")
    @classmethod
    def _closed(cls, v: Any) -> Any:
        return _share(v)

    @model_validator(mode="after")
    def _some(self) -> LedgerGate:
        if self.closed_at_least is None and not self.rest_in_progress and not self.none_overdue:
            raise ValueError("ledger 条件为空：请写 closed_at_least、rest_in_progress 或 none_overdue "
                             "(no ledger condition: give closed_at_least, rest_in_progress or none_overdue)")
        return self


class EvaluationGate(_Model):
    """A condition over an evaluation kind's filed tallies (the latest filing of each unit, summed):

        evaluation: {artifact: satisfaction_vote, min_ratio: 90%, min_response: 60%, scope: campaign}
    """

    artifact: Key
    min_ratio: Share | None = None
    min_response: Share | None = None  # needs the kind's `tally.eligible`
    # how many voted (参评人数), at least: each ballot answers every aspect once, so a filing's voters are its
    # largest row (the aspect most answered); the campaign's are the units' summed
    min_voters: int | None = Field(default=None, ge=1)
    scope: Literal["campaign", "unit"] = "campaign"

    @field_validator("min_ratio", "min_response", mode="before")
    @classmethod
    def _shares(cls, v: Any) -> Any:
        return _share(v)


class Gate(_Model):
    """转段条件: required artifacts done, and optionally ledger and evaluation conditions."""

    artifacts: list[Key] | None = None
    ledger: LedgerGate | None = None
    evaluation: EvaluationGate | None = None


class Phase(_Model):
    key: Key
    title: str
    title_en: str | None = None
    kind: Literal["mobilization", "self_check", "rectification", "summary", "custom"]
    start: dt.date
    end: dt.date
    steps: list[Step] = Field(default_factory=list)
    gate: Gate | None = None
    advance: Literal["at_end", "when_ready"] = "at_end"
    # how the phase opens: after_previous (the default, as before): once the phase before it has completed
    # (its gate met: 转段); on_date: on its start date even while the one before is still completing (its
    # late obligations stay overdue and reminded; it still completes first, by its own gate)
    opens: Literal["after_previous", "on_date"] = "after_previous"

    @field_validator("start", "end", mode="before")
    @classmethod
    def _date_only(cls, v: Any) -> Any:
        if isinstance(v, dt.datetime):
            raise ValueError("阶段起止只写日期 (a phase starts and ends on dates, without a time)")
        return v


class ReminderPolicy(_Model):
    """When to remind. `send_at`..`send_until` is the local send window, on working days only."""

    before: list[str] = Field(default_factory=lambda: ["3 days", "1 workday"])
    on_due: bool = True
    overdue_every: str | None = "1 workday"
    send_at: str = "09:00"
    send_until: str = "18:00"
    escalate_after: str | None = None  # e.g. "3 workdays" overdue: the unit's parent (督办) is told
    escalate_to: str = "parent"  # parent | organizer | a unit key

    @field_validator("escalate_after")
    @classmethod
    def _escalate(cls, v: str | None) -> str | None:
        if v is not None:
            parse_duration(v)
        return v

    @field_validator("before")
    @classmethod
    def _before(cls, v: list[str]) -> list[str]:
        for item in v:
            parse_duration(item)
        return v

    @field_validator("overdue_every")
    @classmethod
    def _every(cls, v: str | None) -> str | None:
        if v is not None and parse_duration(v).count == 0:
            raise ValueError("overdue_every 必须大于 0 (must be more than 0)")
        return v

    @field_validator("send_at", "send_until", mode="before")
    @classmethod
    def _send_at(cls, v: Any) -> Any:
        if isinstance(v, int) and not isinstance(v, bool):  # YAML 1.1 reads 09:00 as 540
            v = f"{v // 60:02d}:{v % 60:02d}"
        if not isinstance(v, str) or not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", v):
            raise ValueError(f"发送时间应为 HH:MM (send_at must be HH:MM), got {v!r}")
        return v

    @model_validator(mode="after")
    def _window(self) -> ReminderPolicy:
        if self.send_until <= self.send_at:
            raise ValueError(f"发送时段结束 {self.send_until} 应晚于开始 {self.send_at} (send_until must be after send_at)")
        return self

    def send_time(self) -> dt.time:
        return dt.time.fromisoformat(self.send_at)

    def window(self) -> tuple[dt.time, dt.time]:
        return dt.time.fromisoformat(self.send_at), dt.time.fromisoformat(self.send_until)


class Messages(_Model):
    """Message language and, optionally, this campaign's own Jinja2 templates."""

    language: Literal["zh", "en"] = "zh"
    subject: str | None = None
    text: str | None = None
    html: str | None = None
    # who signs the 通报 (the leading group's office, 领导小组办公室) and its document number: a pattern with
    # {year} and {n}, e.g. "城教作风〔{year}〕{n}号"
    issuer: str | None = None
    issuer_en: str | None = None
    doc_number: str | None = None
    # the public board's heading (公示), e.g. 作风整改进行时; default: the campaign's title
    board_title: str | None = None
    board_title_en: str | None = None

    @field_validator("doc_number")
    @classmethod
    def _doc_number(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                v.format(year=2023, n=1)
            except (KeyError, IndexError, ValueError):
                raise ValueError(f"文号格式只能用 {{year}} 和 {{n}}，例如 城教作风〔{{year}}〕{{n}}号 "
                                 f"(doc_number may only use {{year}} and {{n}}), got {v!r}") from None
        return v

    @field_validator("subject", "text", "html")
    @classmethod
    def _template(cls, v: str | None) -> str | None:
        if v is not None:
            import jinja2

            try:
                jinja2.Environment().parse(v)
            except jinja2.TemplateSyntaxError as exc:
                raise ValueError(f"模板语法错误，第 {exc.lineno} 行: {exc.message} (template syntax error)") from None
        return v


class Office(_Model):
    """An office (股室) with its contacts: it may lead steps (牵头) and ledger items name it as 牵头股室."""

    name: str = Field(min_length=1)
    name_en: str | None = None
    aliases: list[str] = Field(default_factory=list)  # other names items use, e.g. 局人事股 for 人事股
    contacts: list[Contact] = Field(default_factory=list)


class Leader(_Model):
    """A responsible leader (责任领导) with contacts: ledger items name them; escalations reach them."""

    name: str = Field(min_length=1)
    name_en: str | None = None
    title: str | None = None  # 职务, e.g. 副局长
    aliases: list[str] = Field(default_factory=list)
    contacts: list[Contact] = Field(default_factory=list)


class LeadingGroup(_Model):
    """The leading group (领导小组): its head (a leader), its office (领导小组办公室, an office) and contacts.
    With `escalations: true` its office hears of every ledger item escalated (督办) that names a listed leader
    or office (an item naming nobody listed is escalated, as before, to its unit's parent only)."""

    name: str = Field(min_length=1)
    name_en: str | None = None
    head: Key | None = None
    office: Key | None = None
    contacts: list[Contact] = Field(default_factory=list)
    escalations: bool = False


class People(_Model):
    """The campaign's people and offices (人员与股室), beside its units:

        people:
          leading_group: {name: 作风整顿领导小组, head: zhang, office: bangong, escalations: true}
          offices: {renshi: {name: 人事股, contacts: [{name: 李四, email: renshi@example.cn}]}}
          leaders: {zhang: {name: 张三, title: 副局长, contacts: [...]}}
    """

    leading_group: LeadingGroup | None = None
    offices: dict[Key, Office] = Field(default_factory=dict)
    leaders: dict[Key, Leader] = Field(default_factory=dict)


class CampaignSpec(_Model):
    version: Literal[1] = 1
    key: Key
    title: str = Field(min_length=1)
    title_en: str | None = None
    timezone: str = "Asia/Shanghai"
    calendar: Literal["cn", "weekdays", "all-days"] = "cn"
    holidays: list[dt.date] = Field(default_factory=list)
    workdays: list[dt.date] = Field(default_factory=list)
    organizer: Key | None = None
    units: list[UnitSpec] | None = None
    units_file: str | None = None
    artifacts: dict[Key, ArtifactKind]
    phases: list[Phase] = Field(min_length=1)
    reminders: ReminderPolicy = Field(default_factory=ReminderPolicy)
    messages: Messages = Field(default_factory=Messages)
    assessment: Assessment | None = None  # 考核: grades and ranking (campaign_model.grades)
    people: People = Field(default_factory=People)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(f"未知时区 '{v}' (unknown time zone; use an IANA name such as Asia/Shanghai)") from None
        return v

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def phase(self, key: str) -> Phase:
        for p in self.phases:
            if p.key == key:
                return p
        raise KeyError(key)
