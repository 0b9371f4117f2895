"""The API of changing a running campaign: PUT the spec (YAML or JSON, dry_run), POST an extension, GET versions."""

from __future__ import annotations

import pytest

from campaign_model.store.db import open_engine

from .conftest import SMALL_SPEC
from .web_support import HTTPX_WARNING, account, bearer, new_campaign, serve

pytestmark = pytest.mark.filterwarnings(HTTPX_WARNING)
LONGER = SMALL_SPEC.replace("end: 2023-04-30", "end: 2023-05-10")  # the summary phase (and its report) ends later
PAST = SMALL_SPEC.replace("due: start + 10 workdays", "due: 2023-03-20")  # the plan step, due 02-28, already past


def test_amend_extend_and_versions_over_http(tmp_path):
    engine = open_engine(f"sqlite:///{tmp_path / 'campaign.db'}")
    key = new_campaign(engine)
    auth = bearer(account(engine, "admin", "admin"))
    with serve(engine, tmp_path / "home") as client:  # the server's now: 2023-03-10 10:00
        url = f"/api/v1/campaigns/{key}"
        preview = client.put(f"{url}/spec?dry_run=true", content=LONGER.encode(), headers={**auth, "content-type": "application/yaml"})
        assert preview.status_code == 200 and preview.json()["conflicts"] == [] and preview.json()["version"] == 2
        no_reason = client.put(f"{url}/spec", content=LONGER.encode(), headers={**auth, "content-type": "application/yaml"})
        assert no_reason.status_code == 422 and no_reason.json()["error"]["fields"][0]["field"] == "reason"
        refused = client.put(f"{url}/spec", json={"text": PAST, "reason": "改期"}, headers=auth)
        assert refused.status_code == 409 and "2023-02-28" in refused.json()["error"]["message"]
        invalid = client.put(f"{url}/spec", json={"text": "key: [", "reason": "x"}, headers=auth)
        assert invalid.status_code == 422
        done = client.put(f"{url}/spec?reason=总结阶段延长", content=LONGER.encode(),
                          headers={**auth, "content-type": "text/plain"})
        assert done.status_code == 200, done.text
        assert done.json()["version"] == 2 and any("2023-04-30 → 2023-05-10" in c for c in done.json()["changes"])

        ext = client.post(f"{url}/extensions", headers=auth,
                          json={"step": "plan", "units": ["s2"], "due": "2023-03-20T17:00", "reason": "系统故障"})
        assert ext.status_code == 200, ext.text
        [o] = ext.json()["obligations"]
        assert (o["unit"], o["old_due"], o["new_due"]) == ("s2", "2023-02-28", "2023-03-20 17:00")
        bad = client.post(f"{url}/extensions", headers=auth,
                          json={"step": "plan", "units": ["s2"], "due": "someday", "reason": "x"})
        assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "due"

        versions = client.get(f"{url}/versions", headers=auth).json()
        assert [(v["version"], v["author"], v["reason"]) for v in versions] == [(2, "admin", "总结阶段延长"), (1, None, None)]
    engine.dispose()
