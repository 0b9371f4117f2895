"""新建活动 and the timeline editor through HTTP, as a browser posts them: the forms are read from the page
(every input with the value the page gave it), changed as a user would, and posted with their CSRF field.
A real SQLite database holds the small campaign (to copy) and the accounts; the server's clock is
2026-12-01, so the administrator plans the next year's campaign from the zuofeng-2023 template.
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from campaign_app.settings import Settings
from campaign_app.usecases.services import Services
from campaign_app.web.app import create_app
from campaign_model import specedit
from campaign_model.specfile import load_spec_text
from campaign_model.store.accounts import add_user
from campaign_model.store.campaigns import create_campaign
from campaign_model.store.db import open_engine
from campaign_model.store.tables import audit_events, campaigns, obligations, spec_drafts

from .conftest import SMALL_SPEC, local
from .test_pages import PASSWORD, USERS, Site, act, csrf_of, elements
from .web_support import HTTPX_WARNING

pytestmark = pytest.mark.filterwarnings(HTTPX_WARNING)

NOW = local("2026-12-01T10:00")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("drafts") / "campaign.db"
    engine = open_engine(f"sqlite:///{path}")
    created = local("2023-02-01T09:00")
    with engine.begin() as conn:
        create_campaign(conn, load_spec_text(SMALL_SPEC, "small.yaml"), act(created))
        for name, (role, unit) in USERS.items():
            if name in ("s2user", "stranger"):
                continue
            add_user(conn, name, role, unit, PASSWORD, act(created))
    engine.dispose()
    return path


@pytest.fixture
def site(prepared: Path, tmp_path: Path) -> Any:
    url = f"sqlite:///{tmp_path / 'campaign.db'}"
    with closing(sqlite3.connect(prepared)) as source, closing(sqlite3.connect(tmp_path / "campaign.db")) as copy:
        source.backup(copy)
    engine = open_engine(url)
    yield Site(create_app(Services(Settings(tmp_path, url), engine, clock=lambda: NOW)), engine, tmp_path)
    engine.dispose()


@pytest.fixture
def admin(site: Site) -> Any:
    return site.login("admin")


class _Form(HTMLParser):
    """The fields of one form as a browser would post them: inputs with their values, checked boxes and
    radios, selected options, textareas (submit buttons left out: the test says which one it presses)."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id, self.inside = form_id, False
        self.fields: list[tuple[str, str]] = []
        self.select: str | None = None
        self.options: list[tuple[str, bool]] = []
        self.textarea: str | None = None
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside:
            return
        if tag == "input" and a.get("name") and a.get("type") not in ("submit", "file"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self.select, self.options = a.get("name"), []
        elif tag == "option" and self.select:
            self.options.append((a.get("value", ""), "selected" in a))
        elif tag == "textarea":
            self.textarea, self.text = a.get("name"), ""

    def handle_data(self, data: str) -> None:
        if self.textarea:
            self.text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select" and self.select:
            chosen = [v for v, sel in self.options if sel] or [v for v, _ in self.options[:1]]
            self.fields += [(self.select, v) for v in chosen]
            self.select = None
        elif tag == "textarea" and self.textarea:
            self.fields.append((self.textarea, self.text))
            self.textarea = None


def form_of(html: str, form_id: str = "editor") -> list[tuple[str, str]]:
    parser = _Form(form_id)
    parser.feed(html)
    assert parser.fields, f"no form {form_id}"
    return parser.fields


def changed(fields: list[tuple[str, str]], **new: str) -> list[tuple[str, str]]:
    """The fields with some values replaced (names given with __ for '.', ___ for ':' is too clever: use a dict)."""
    return [(k, new.get(k, v)) for k, v in fields]


def post_form(client: Any, url: str, fields: list[tuple[str, str]], op: str | None = None) -> Any:
    body = fields + ([("op", op)] if op else [])
    return client.post(url, content=_encode(body), headers={"Content-Type": "application/x-www-form-urlencoded"},
                       follow_redirects=False)


def _encode(pairs: list[tuple[str, str]]) -> bytes:
    from urllib.parse import urlencode

    return urlencode(pairs).encode()


def new_draft(client: Any, year: str = "2027") -> str:
    page = client.get("/campaigns/new")
    answer = client.post("/campaigns/new/template", data={"template": "zuofeng-2023", "year": year,
                                                          "csrf": csrf_of(page.text)}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def spec_of(client: Any, draft: str) -> dict[str, Any]:
    answer = client.get(f"{draft}/spec.yaml")
    assert answer.status_code == 200
    data: dict[str, Any] = yaml.safe_load(answer.text)
    return data


def problem_text(html: str, path: str) -> str:
    ident = specedit.field_id(path)
    found = re.findall(rf'<p class="field-problem [a-z]+" id="{ident}-problem-\d+"[^>]*>(.*?)</p>', html, re.S)
    return unescape(" ".join(found))


def resolved(html: str, path: str) -> str:
    m = re.search(rf'id="{specedit.field_id(path)}-resolved"[^>]*>(.*?)</output>', html, re.S)
    assert m
    return re.sub(r"<[^>]+>", "", m.group(1)).strip()


# --- a draft from a template, its warnings, its resolved dates ---

def test_a_template_re_dated_to_2027_opens_in_the_editor_with_the_holiday_warning_beside_the_calendar(admin):
    draft = new_draft(admin)
    page = admin.get(draft)

    assert page.status_code == 200
    assert elements(page.text, id="spec-valid")
    assert "2027 年尚无官方节假日数据" in problem_text(page.text, "calendar")
    assert "no official holiday data for 2027" in problem_text(page.text, "calendar")
    assert elements(page.text, id="f-key")[0]["value"] == "zuofeng-2027"
    # start + 10 workdays from Monday 2027-02-15 (weekdays stand in for 2027's holidays)
    assert resolved(page.text, "phases[0].steps[1].due") == "＝2027-03-01 星期一 23:59"
    assert not elements(page.text, id="create-campaign")[0].get("disabled")


def test_saving_the_form_unchanged_keeps_the_spec_the_yaml_says(admin):
    draft = new_draft(admin)
    before = load_spec_text(admin.get(f"{draft}/spec.yaml").text).spec
    answer = post_form(admin, draft, form_of(admin.get(draft).text))

    assert answer.status_code == 303 and answer.headers["location"].startswith(f"{draft}?saved=1")
    after = load_spec_text(admin.get(f"{draft}/spec.yaml").text).spec
    assert after.model_dump() == before.model_dump()


def test_a_relative_due_date_edited_is_saved_in_the_yaml_and_resolved_on_the_page(admin):
    draft = new_draft(admin)
    fields = form_of(admin.get(draft).text)
    answer = post_form(admin, draft, changed(fields, **{"phases[0].steps[1].due:count": "12"}))

    assert answer.status_code == 303
    assert spec_of(admin, draft)["phases"][0]["steps"][1]["due"] == "start + 12 workdays"
    page = admin.get(answer.headers["location"]).text
    assert elements(page, id="saved")
    assert resolved(page, "phases[0].steps[1].due") == "＝2027-03-03 星期三 23:59"


def test_the_resolver_answers_with_the_drafts_calendar_and_names_a_bad_input(admin):
    draft = new_draft(admin)
    ok = admin.get(f"{draft}/resolve", params={"start": "2027-02-15", "end": "2027-03-05", "mode": "relative",
                                               "base": "end", "sign": "-", "count": "3", "unit": "days"})
    assert ok.json() == {"date": "2027-03-02", "time": "23:59", "weekday": "星期二", "workday": True,
                         "due": "end - 3 days"}
    bad = admin.get(f"{draft}/resolve", params={"start": "2027-02-30", "end": "2027-03-05"})
    assert bad.status_code == 422 and "2027-02-30" in bad.json()["error"]
    words = admin.get(f"{draft}/resolve", params={"start": "2027-02-15", "end": "2027-03-05", "count": "ten"})
    assert words.status_code == 422 and bad.json()["error"]
    huge = admin.get(f"{draft}/resolve", params={"start": "2027-02-15", "end": "2027-03-05", "count": "9" * 30})
    assert huge.status_code == 422


def test_an_edit_that_brings_an_error_is_refused_with_the_message_beside_its_field_and_nothing_stored(admin):
    draft = new_draft(admin)
    stored = admin.get(f"{draft}/spec.yaml").text
    fields = form_of(admin.get(draft).text)
    answer = post_form(admin, draft, changed(fields, **{"phases[0].end": "2027-02-01"}))

    assert answer.status_code == 422
    assert elements(answer.text, id="refused")
    assert "早于开始日期" in problem_text(answer.text, "phases[0].end")
    assert elements(answer.text, id="f-phases-0-end")[0]["value"] == "2027-02-01"  # what was typed stays
    assert elements(answer.text, id="f-phases-0-end")[0]["aria-invalid"] == "true"
    assert admin.get(f"{draft}/spec.yaml").text == stored


@pytest.mark.parametrize("field, value, words", [
    ("phases[1].title", " ", "不能为空"),
    ("phases[0].steps[0].due:count", "-2", "0 至 3650 的整数"),
    ("phases[0].steps[0].due:count", "9" * 30, "0 至 3650 的整数"),
    ("key", "作风 整顿", "代码只能包含"),
    ("reminders.send_at", "19:00", "应晚于开始"),
    ("reminders.escalate_after", "soon", "无法识别的时长"),
    ("phases[0].gate.ledger.closed_at_least", "two thirds", ""),
])
def test_bad_input_is_named_and_changes_nothing(admin, field, value, words):
    draft = new_draft(admin)
    stored = admin.get(f"{draft}/spec.yaml").text
    answer = post_form(admin, draft, changed(form_of(admin.get(draft).text), **{field: value}))

    assert answer.status_code == 422
    assert elements(answer.text, id="spec-invalid") or elements(answer.text, id="refused")
    shown = " ".join(problem_text(answer.text, p) for p in (field.split(":")[0], field.rsplit(".", 1)[0], "reminders",
                                                             "phases[0].gate.ledger"))
    assert shown and words in shown
    assert admin.get(f"{draft}/spec.yaml").text == stored


def test_phases_steps_requirements_and_kinds_are_added_and_removed_by_their_buttons(admin):
    draft = new_draft(admin)

    def press(op: str, **new: str) -> Any:
        answer = post_form(admin, draft, changed(form_of(admin.get(draft).text), **new), op)
        assert answer.status_code == 303, answer.text
        return spec_of(admin, draft)

    assert len(press("add_step:0")["phases"][0]["steps"]) == 4
    spec = press("add_req:0:3")
    assert spec["phases"][0]["steps"][3]["requires"] == [{"artifact": "kickoff_record", "from": "all"}]
    spec = press("add_artifact", **{"new_artifact:key": "pledge", "new_artifact:title": "承诺书"})
    assert spec["artifacts"]["pledge"] == {"title": "承诺书"}
    form = form_of(admin.get(draft).text)
    units = [(k, v) for k, v in form if k != "phases[0].steps[3].requires[0].from:units"]
    spec_fields = changed(units, **{"phases[0].steps[3].requires[0].artifact": "pledge",
                                    "phases[0].steps[3].requires[0].from:mode": "units"})
    spec_fields += [("phases[0].steps[3].requires[0].from:units", "school-1"),
                    ("phases[0].steps[3].requires[0].from:units", "school-2"),
                    ("phases[0].steps[3].requires[0].signoff", "1")]
    assert post_form(admin, draft, spec_fields).status_code == 303
    req = spec_of(admin, draft)["phases"][0]["steps"][3]["requires"][0]
    assert req == {"artifact": "pledge", "from": ["school-1", "school-2"], "signoff": True}
    spec = press("add_phase")
    assert spec["phases"][4]["key"] == "phase-1" and str(spec["phases"][4]["start"]) == "2028-01-01"
    # phases run in the order of their dates: moving one before an earlier window is refused, saying so
    moved = post_form(admin, draft, form_of(admin.get(draft).text), "up_phase:4")
    assert moved.status_code == 422 and "阶段顺序错误" in problem_text(moved.text, "phases[4].start")
    assert len(press("remove_phase:4")["phases"]) == 4
    assert press("remove_req:0:3:0")["phases"][0]["steps"][3]["requires"] == []
    assert len(press("remove_step:0:3")["phases"][0]["steps"]) == 3


def test_removing_a_kind_still_asked_for_is_refused_naming_the_requirements(admin):
    draft = new_draft(admin)
    answer = post_form(admin, draft, form_of(admin.get(draft).text), "remove_artifact:issue_list")

    assert answer.status_code == 422
    assert "未定义的材料类型 'issue_list'" in problem_text(answer.text, "phases[1].steps[0].requires[0].artifact")
    assert "issue_list" in spec_of(admin, draft)["artifacts"]


def test_a_form_posted_against_an_older_text_is_refused(admin):
    draft = new_draft(admin)
    old = form_of(admin.get(draft).text)
    assert post_form(admin, draft, changed(old, title="第一次修改")).status_code == 303
    answer = post_form(admin, draft, changed(old, title="第二次修改"))

    assert answer.status_code == 422 and "草稿已在别处修改" in answer.text
    assert spec_of(admin, draft)["title"] == "第一次修改"


# --- the YAML: download, upload, the same thing as the forms ---

def test_the_downloaded_yaml_uploaded_again_gives_the_same_editor(admin):
    draft = new_draft(admin)
    post_form(admin, draft, changed(form_of(admin.get(draft).text), **{"phases[0].steps[1].due:count": "12"}))
    page = admin.get(draft).text
    text = admin.get(f"{draft}/spec.yaml").text
    other = new_draft(admin, "2028")
    up = admin.post(f"{other}/upload", data={"csrf": csrf_of(page)}, files={"spec": ("z.yaml", text.encode())},
                    follow_redirects=False)

    assert up.status_code == 303
    assert admin.get(f"{other}/spec.yaml").text == text
    strip = {"csrf", "version"}
    assert [f for f in form_of(admin.get(other).text) if f[0] not in strip] == \
        [f for f in form_of(page) if f[0] not in strip]


def test_an_uploaded_spec_with_problems_shows_them_and_cannot_be_created(admin, site):
    text = SMALL_SPEC.replace("key: small-2023", "key: broken-2027").replace("artifact: plan,", "artifact: plam,")
    page = admin.get("/campaigns/new")
    answer = admin.post("/campaigns/new/upload", data={"csrf": csrf_of(page.text)},
                        files={"spec": ("broken.yaml", text.encode())}, follow_redirects=False)
    draft = answer.headers["location"]
    editor = admin.get(draft).text

    assert elements(editor, id="spec-invalid")
    assert "draft.yaml:34: phases[0].steps[0].requires[0].artifact: 未定义的材料类型 'plam' (unknown artifact kind)" \
        in unescape(editor)
    assert "未定义的材料类型 'plam'" in problem_text(editor, "phases[0].steps[0].requires[0].artifact")
    assert elements(editor, id="create-campaign")[0]["disabled"] == ""
    refused = admin.post(f"{draft}/create", data={"csrf": csrf_of(editor)}, follow_redirects=False)
    assert refused.status_code == 422 and "plam" in refused.text
    with site.engine.connect() as conn:
        assert conn.execute(select(campaigns.c.key).where(campaigns.c.key == "broken-2027")).first() is None


@pytest.mark.parametrize("content, words", [(b"key: [unclosed", "YAML 语法错误"), (b"\xff\xfe", "UTF-8"),
                                            (b"- a list", "规格文件应为映射"), (b"", "请选择")])
def test_a_file_that_is_no_yaml_spec_is_refused_and_changes_nothing(admin, site, content, words):
    draft = new_draft(admin)
    stored = admin.get(f"{draft}/spec.yaml").text
    page = admin.get(draft).text
    files = {"spec": ("x.yaml", content)} if content else {"spec": ("", b"")}
    answer = admin.post(f"{draft}/upload", data={"csrf": csrf_of(page)}, files=files, follow_redirects=False)

    assert answer.status_code in (413, 422) and words in answer.text
    assert admin.get(f"{draft}/spec.yaml").text == stored
    fresh = admin.post("/campaigns/new/upload", data={"csrf": csrf_of(page)}, files=files, follow_redirects=False)
    assert fresh.status_code in (413, 422) and words in fresh.text and elements(fresh.text, id="upload-error")
    assert site.count(spec_drafts) == 1


# --- creating the campaign ---

def test_a_valid_draft_creates_the_campaign_with_the_edited_due_date_and_the_draft_goes(admin, site):
    draft = new_draft(admin)
    post_form(admin, draft, changed(form_of(admin.get(draft).text), **{"phases[0].steps[1].due:count": "12"}))
    answer = admin.post(f"{draft}/create", data={"csrf": csrf_of(admin.get(draft).text)}, follow_redirects=False)

    assert answer.status_code == 303 and answer.headers["location"] == "/c/zuofeng-2027?created=1"
    with site.engine.connect() as conn:
        dues = {r.due_at for r in conn.execute(select(obligations.c.due_at).where(obligations.c.artifact ==
                                                                                  "implementation_plan"))}
        actions = [r.action for r in conn.execute(select(audit_events.c.action))]
    assert {d.astimezone(local("2027-03-03T00:00").tzinfo).date().isoformat() for d in dues} == {"2027-03-03"}
    assert "campaign.created" in actions and "draft.created" in actions and "draft.deleted" in actions
    assert site.count(spec_drafts) == 0
    assert admin.get(draft).status_code == 404


def test_a_second_campaign_under_a_taken_key_is_refused_beside_the_key(admin):
    first, second = new_draft(admin), new_draft(admin)
    assert admin.post(f"{first}/create", data={"csrf": csrf_of(admin.get(first).text)},
                      follow_redirects=False).status_code == 303
    answer = admin.post(f"{second}/create", data={"csrf": csrf_of(admin.get(second).text)}, follow_redirects=False)

    assert answer.status_code == 409
    assert "已存在" in problem_text(answer.text, "key")


def test_a_copy_of_a_campaign_takes_a_new_key_and_title_and_its_units(admin):
    page = admin.get("/campaigns/new").text
    answer = admin.post("/campaigns/new/copy", data={"campaign": "small-2023", "new_key": "small-2027",
                                                     "new_title": "2027年作风整顿", "year": "2027",
                                                     "csrf": csrf_of(page)}, follow_redirects=False)
    assert answer.status_code == 303
    spec = spec_of(admin, answer.headers["location"])
    assert (spec["key"], spec["title"]) == ("small-2027", "2027年作风整顿")
    assert str(spec["phases"][0]["start"]).startswith("2027-02")
    assert [u["key"] for u in spec["units"]] == ["bureau", "d1", "s1", "s2"]


@pytest.mark.parametrize("data, field, words", [
    ({"template": "zuofeng-2023", "year": "27"}, "template-year", "2000 至 2100"),
    ({"template": "../etc/passwd", "year": "2027"}, "template-zuofeng-2023", "没有名为"),
    ({"template": "zuofeng-2023", "year": ""}, "template-year", "请写年份"),
])
def test_a_bad_template_choice_is_named_on_the_new_page(admin, site, data, field, words):
    page = admin.get("/campaigns/new").text
    answer = admin.post("/campaigns/new/template", data={**data, "csrf": csrf_of(page)}, follow_redirects=False)

    assert answer.status_code in (404, 422)
    assert words in elements_text(answer.text, "template-error")
    assert site.count(spec_drafts) == 0


def elements_text(html: str, ident: str) -> str:
    m = re.search(rf'id="{ident}"[^>]*>(.*?)</div>', html, re.S)
    return unescape(m.group(1)) if m else ""


# --- who may, CSRF, labels, languages ---

ROUTES_GET = ["/campaigns/new", "/drafts/1", "/drafts/1/spec.yaml", "/drafts/1/resolve?start=2027-01-04&end=2027-02-01"]
ROUTES_POST = ["/campaigns/new/template", "/campaigns/new/copy", "/campaigns/new/upload", "/drafts/1", "/drafts/1/upload",
               "/drafts/1/create", "/drafts/1/amend", "/drafts/1/delete", "/c/small-2023/change"]


@pytest.mark.parametrize("user", ["sup", "viewer", "s1user", "d1user"])
def test_every_route_refuses_the_other_roles(site, admin, user):
    new_draft(admin)
    client = site.login(user)
    token = csrf_of(client.get("/").text)
    for path in ROUTES_GET:
        assert client.get(path).status_code == 403, path
    for path in ROUTES_POST:
        assert client.post(path, data={"csrf": token}, follow_redirects=False).status_code == 403, path
    assert site.count(spec_drafts) == 1


def test_a_form_without_the_csrf_token_changes_nothing(admin, site):
    draft = new_draft(admin)
    stored = admin.get(f"{draft}/spec.yaml").text
    fields = [(k, v) for k, v in form_of(admin.get(draft).text) if k != "csrf"]
    assert post_form(admin, draft, changed(fields, title="改了")).status_code == 403
    assert admin.post(f"{draft}/delete", follow_redirects=False).status_code == 403
    assert admin.post("/campaigns/new/template", data={"template": "zuofeng-2023", "year": "2027"},
                      follow_redirects=False).status_code == 403
    assert admin.get(f"{draft}/spec.yaml").text == stored and site.count(spec_drafts) == 1


@pytest.mark.parametrize("path", ["/campaigns/new", "DRAFT"])
def test_every_field_has_its_label_and_no_inline_style_or_script(admin, path):
    draft = new_draft(admin)
    page = admin.get(draft if path == "DRAFT" else path).text
    labelled = {e["for"] for e in elements(page, tag="label") if e.get("for")}
    fields = [e for tag in ("input", "select", "textarea") for e in elements(page, tag=tag)
              if e.get("type") not in ("hidden", "submit")]

    assert fields
    assert [e.get("name") for e in fields if e.get("id") not in labelled] == []
    assert " style=" not in page and "<style" not in page
    assert all(s.get("src") for s in elements(page, tag="script"))


def test_the_pages_speak_english_with_lang_en(admin):
    draft = new_draft(admin)
    new = admin.get("/campaigns/new", params={"lang": "en"}).text
    editor = admin.get(draft, params={"lang": "en"}).text

    assert "<h1>New campaign</h1>" in new and "Make a draft" in new
    assert "Timeline editor" in editor and "Phases and steps" in editor and "Create the campaign" in editor
    assert admin.get(f"{draft}/resolve", params={"start": "2027-02-15", "end": "2027-03-05",
                                                 "count": "1"}).json()["weekday"] == "Tuesday"


def test_an_unknown_draft_is_a_404_page(admin):
    answer = admin.get("/drafts/999")
    assert answer.status_code == 404 and "999" in answer.text
    assert admin.get("/drafts/99999999999999999999").status_code == 422


# --- changing a running campaign (修改时间表): the same editor, saved through usecases.changes.amend ---

def change_draft(client: Any) -> str:
    page = client.get("/c/small-2023")
    assert elements(page.text, id="change-timeline")
    answer = client.post("/c/small-2023/change", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert answer.status_code == 303
    return answer.headers["location"]


def test_a_running_campaign_is_changed_through_the_editor_with_a_reason(admin, site):
    draft = change_draft(admin)
    page = admin.get(draft).text
    assert elements(page, id="amend-nothing") and not elements(page, id="create-campaign")
    assert post_form(admin, draft, changed(form_of(page), title="2023年作风整顿（修订）")).status_code == 303
    page = admin.get(draft).text
    assert "活动名称" in elements_text(page, "amend-changes")

    no_reason = admin.post(f"{draft}/amend", data={"csrf": csrf_of(page), "reason": " "}, follow_redirects=False)
    assert no_reason.status_code == 422 and "原因" in problem_text(no_reason.text, "reason")
    done = admin.post(f"{draft}/amend", data={"csrf": csrf_of(page), "reason": "按局党组意见修改名称"},
                      follow_redirects=False)

    assert done.status_code == 303 and done.headers["location"].startswith("/c/small-2023?amended=")
    with site.engine.connect() as conn:
        assert conn.execute(select(campaigns.c.title).where(campaigns.c.key == "small-2023")).scalar_one() == \
            "2023年作风整顿（修订）"
    assert site.count(spec_drafts) == 0


def test_a_change_rewriting_a_past_date_is_shown_and_refused(admin, site):
    draft = change_draft(admin)
    assert post_form(admin, draft, changed(form_of(admin.get(draft).text),
                                           **{"phases[0].end": "2023-03-04"})).status_code == 303
    page = admin.get(draft).text
    assert "2023-03-04" in elements_text(page, "amend-conflicts")
    assert elements(page, id="amend-submit")[0]["disabled"] == ""
    refused = admin.post(f"{draft}/amend", data={"csrf": csrf_of(page), "reason": "提前结束"}, follow_redirects=False)

    assert refused.status_code == 409 and "2023-03-04" in refused.text
    with site.engine.connect() as conn:
        assert conn.execute(select(campaigns.c.spec_version).where(campaigns.c.key == "small-2023")).scalar_one() == 1
