"""API fuzzing: schemathesis against the served OpenAPI document, every operation, as each role.

The app runs in this process (schemathesis's ASGI transport) on a real SQLite file and a real file store,
with the server's clock fixed in the small campaign's self-check phase: in process, because a served
`campaign serve` would cost a process start and an HTTP round trip per case on a 2-core machine for
nothing the fuzzer looks at (the HTTP server itself is tried by the browser and serve tests), and because
the tokens and the campaign's filings and ledger items are made through the store beforehand.

Each operation gets schemathesis's coverage phase (the boundary and wrong-type values its schema implies)
and fuzzing phase (MAX_EXAMPLES generated cases, positive and negative), derandomized so that a run
repeats. Each generated case is sent as admin, supervisor, a school's user (s1) and a viewer; each
coverage case as admin and one of the others in turn. Every other case's path parameters, queries and
bodies get existing campaign keys, ids, units, artifacts and report kinds where they have such a
name, so that cases reach the use cases and not only the 404s. A case fails on any 5xx, a status the
document does not list for the operation, a content type or body that breaks the documented schema, a
documented header missing, or an operation that answers without credentials (`ignored_auth`).

FUZZ_EXAMPLES=N for a deeper run, FUZZ_ONLY=REGEX for the operations whose path matches, FUZZ_SHOW=1 (with
-s) to print each case and its answer; the last test prints the counts of the run (with -s).
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import create_engine

from campaign_app.settings import Settings
from campaign_app.usecases.services import Services
from campaign_app.web.app import create_app
from campaign_model.store.db import open_engine

from .conftest import local
from .test_api_access import World, build_world
from .web_support import HTTPX_WARNING, NOW, Clock, account, bearer

pytestmark = pytest.mark.filterwarnings(HTTPX_WARNING)

ROLES = {"admin": ("admin", None), "supervisor": ("supervisor", None), "unit": ("unit", "s1"), "viewer": ("viewer", None)}
# generated cases per operation in the fuzzing phase (the examples and coverage phases add theirs); FUZZ_EXAMPLES=200
# for a deeper run by hand
MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance, ignored_auth]
COUNTS: Counter[Any] = Counter()  # cases per operation, per phase, per role and per (operation, role)
ANSWERS: Counter[tuple[str, int]] = Counter()  # (operation, status) of every answer


@dataclass(frozen=True)
class Site:
    app: Any
    world: World
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Site:
    home = tmp_path_factory.mktemp("fuzz")
    scratch = home / "scratch"
    scratch.mkdir()
    settings_ = Settings(home, f"sqlite:///{home / 'campaign.db'}")
    engine = open_engine(settings_.db_url)
    world = build_world(engine, settings_.files_dir, scratch, "small-2023")
    tokens = {role: account(engine, f"fuzz-{role}", *ROLES[role]) for role in ROLES}
    app = create_app(Services(settings_, engine, clock=Clock(local(NOW))))
    return Site(app, world, tokens)


def _known(world: World) -> dict[str, list[Any]]:
    """Values that exist in the fuzzed database, by parameter or field name."""
    return {"key": [world.key], "filing_id": [world.filing], "n": [0], "item": [world.item, world.rectified],
            "kind": ["ledger", "phase-audit", "notice", "closure"], "unit": ["s1", "s2", "d1"],
            "artifact": ["plan", "issue_list"], "campaign": [world.key], "obligations": [[world.open_obligation]],
            "deadline": ["2023-04-30"]}


def with_existing(case: Any, n: int) -> None:
    """Set the case's path parameters, query and body fields that have a name in KNOWN to existing values (the n-th
    of each list, in turn). Done to every other case in the test rather than in a generation hook: schemathesis 4
    lays its own values (constants, dictionaries, values seen in answers) over a hook's."""
    for part in (case.path_parameters, case.query, case.body):
        if isinstance(part, dict):
            for name in [name for name in part if name in KNOWN]:
                part[name] = KNOWN[name][n % len(KNOWN[name])]


class Forward:
    """The ASGI app schemathesis calls: the fixture's app once `site` has built it. The document is loaded when
    this module is imported, before any fixture (schemathesis's lazy loader does not run on pytest 9), from the
    same app on an empty in-memory database: the document needs none."""

    def __init__(self) -> None:
        self.app: Any = create_app(Services(Settings(Path("/nonexistent/campaignflow"), "sqlite://"), create_engine("sqlite://")))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


FORWARD = Forward()
schema = schemathesis.openapi.from_asgi("/openapi.json", FORWARD)
if os.environ.get("FUZZ_ONLY"):  # FUZZ_ONLY=REGEX: only the operations whose path matches, when looking into one
    schema = schema.include(path_regex=os.environ["FUZZ_ONLY"])


KNOWN: dict[str, list[Any]] = {}  # filled by `fuzzed`


@pytest.fixture(scope="module")
def fuzzed(site: Site) -> Any:
    """The served app is the one on the fuzz database, and the values that exist in it are known."""
    FORWARD.app = site.app
    KNOWN.update(_known(site.world))
    return site


@schema.parametrize()
# the deadline finds a hang, not a slow case: on this 2-core machine other test runs share the cores
@settings(max_examples=MAX_EXAMPLES, deadline=dt.timedelta(seconds=30), derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(case: Any, fuzzed: Site) -> None:
    op = f"{case.method.upper()} {case.path}"
    COUNTS[op] += 1
    COUNTS[f"phase {case.meta.phase.name}"] += 1
    if COUNTS[op] % 2:
        with_existing(case, COUNTS[op] // 2)
    for role in roles_for(case, COUNTS[op]):  # the same case as each role: what one may do, another is refused
        COUNTS[role] += 1
        COUNTS[(op, role)] += 1
        response = case.call_and_validate(headers=bearer(fuzzed.tokens[role]), checks=CHECKS)
        ANSWERS[(op, response.status_code)] += 1
        if os.environ.get("FUZZ_SHOW"):  # FUZZ_SHOW=1 -s: each case and its answer
            print(case.meta.phase.name, role, case.path_parameters, case.query, repr(case.body)[:200], response.status_code,
                  response.text[:200])


def roles_for(case: Any, n: int) -> list[str]:
    """A generated case goes to every role. The coverage phase's many boundary values (most of the cases) are
    refused alike (403) to every role without the right, before they are looked at: they go to the admin and
    to one of the others in turn, which halves the run's time."""
    if case.meta.phase.name == "fuzzing":
        return list(ROLES)
    others = [r for r in ROLES if r != "admin"]
    return ["admin", others[n % len(others)]]


def test_the_fuzz_run_reached_every_operation_as_every_role() -> None:
    """After the fuzzing above (pytest runs a module's tests in order): each operation was called by each role."""
    operations = [f"{op.method.upper()} {op.path}" for op in (r.ok() for r in schema.get_all_operations())]
    phases = ", ".join(f"{k} {n}" for k, n in COUNTS.items() if isinstance(k, str) and k.startswith("phase"))
    others = sum(n for k, n in COUNTS.items() if isinstance(k, str) and k[:1].isupper() and k not in operations)
    print(f"\nfuzzed {len(operations)} operations, {COUNTS['admin']} cases ({phases}; {others} with a method the path "
          f"does not answer), "
          f"{sum(COUNTS[r] for r in ROLES)} requests: " + ", ".join(f"{r} {COUNTS[r]}" for r in ROLES))
    for op in operations:
        print(f"  {op}: " + ", ".join(f"{status} ×{n}" for (o, status), n in sorted(ANSWERS.items()) if o == op))
    assert len(operations) >= 28 or os.environ.get("FUZZ_ONLY")
    for op in operations:
        assert all(COUNTS[(op, role)] >= 1 for role in ROLES), f"{op} was not fuzzed as every role"
