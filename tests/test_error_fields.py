"""A domain error names the input at fault once (`CampaignError.field`): the command line prints it as the
option of the command that ran (--signed-by), the API as the request field ("signed_by"); nobody reads
the message to find it, and the message names no command-line option."""

from __future__ import annotations

import dataclasses

import pytest
import typer

from campaign_app.cli import app as cli_app
from campaign_app.cli_errors import error_line
from campaign_app.web.errors import from_domain
from campaign_model.errors import CampaignError
from campaign_model.store.campaigns import load_ctx
from campaign_model.store.filings import prepare_filing
from campaign_model.store.phases import check_tick_instant
from campaign_model.store.unit_lookup import resolve_unit

from .conftest import local
from .web_support import HTTPX_WARNING, PDF, account, bearer, serve

C = "/api/v1/campaigns/small-2023"


def raised(engine, campaign: str, case: str) -> CampaignError:
    """The error the domain raises for one input at fault."""
    with engine.connect() as conn, pytest.raises(CampaignError) as refused:
        ctx = load_ctx(conn, campaign)
        if case == "signed_by":  # the plan needs the unit head's sign-off
            prepare_filing(conn, campaign, "s1", "plan", has_files=True)
        elif case == "rows":  # the issue list is filed as rows
            prepare_filing(conn, campaign, "s1", "issue_list", has_files=False)
        elif case == "unit":
            resolve_unit(conn, ctx, "no-such-school")
        elif case == "at":  # a tick before the last one
            check_tick_instant(dataclasses.replace(ctx, last_tick_at=local("2023-03-01T09:00")), local("2023-02-01T09:00"))
    return refused.value


@pytest.mark.parametrize("field, argv", [
    ("signed_by", ["file", "small-2023", "--unit", "s1", "--artifact", "plan", "--file", "plan.pdf"]),
    ("rows", ["file", "small-2023", "--unit", "s1", "--artifact", "issue_list"]),
    ("unit", ["file", "small-2023", "--unit", "no-such-school", "--artifact", "plan"]),
    ("at", ["tick", "small-2023", "--at", "2023-02-01T09:00"]),
])
def test_the_field_at_fault_reaches_the_cli_as_its_option_and_the_api_as_its_field(engine, small, field, argv):
    exc = raised(engine, small, field)

    assert exc.field == field
    option = "--" + field.replace("_", "-")
    assert option not in str(exc)  # the domain speaks of inputs, not of one caller's options
    assert error_line(exc, typer.main.get_command(cli_app), argv).startswith(f"错误 (error): {option}: ")
    assert [f["field"] for f in from_domain(exc).fields][:1] == [field]


def test_the_cli_prints_no_option_the_command_does_not_have(engine, small):
    exc = raised(engine, small, "unit")
    # `tick` takes no --unit: the message goes out as it is
    assert error_line(exc, typer.main.get_command(cli_app), ["tick", "small-2023"]) == f"错误 (error): {exc}"


@pytest.mark.filterwarnings(HTTPX_WARNING)
@pytest.mark.parametrize("data, field", [({"artifact": "plan"}, "signed_by"), ({"artifact": "issue_list"}, "rows")])
def test_a_refused_filing_over_http_names_the_field_the_domain_gave(engine, small, tmp_path, data, field):
    admin = bearer(account(engine, "bureau.admin", "admin"))
    with serve(engine, tmp_path / "home") as client:
        response = client.post(f"{C}/filings", headers=admin, data={"unit": "s1", **data},
                               files=[("files", ("plan.pdf", PDF, "application/pdf"))])
    assert response.status_code == 422, response.text
    assert [f["field"] for f in response.json()["error"]["fields"]] == [field]
