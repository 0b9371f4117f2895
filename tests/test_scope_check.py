"""`deps.check_unit` (the filing route's one-unit scope check, which walks up the hierarchy) answers exactly as
`check_units(scope_of(...), [unit])` (which reads every unit), removed units and unknown names included."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, update

from campaign_app.web.deps import Caller, check_unit, check_units, scope_of
from campaign_app.web.errors import ApiError
from campaign_model.store.accounts import Principal
from campaign_model.store.campaigns import load_ctx
from campaign_model.store.tables import units


def outcome(check: Any) -> tuple[Any, ...] | None:
    try:
        check()
    except ApiError as exc:
        return exc.status, exc.code, exc.message, tuple(f["field"] for f in exc.fields)
    return None


def test_check_unit_agrees_with_scope_of(engine, small):
    # bureau > d1 > s1, s2 (the small spec); added: bureau > d2 (removed) > s3 (active, orphaned by d2's removal),
    # d1 > s4 (removed) > s5 (active)
    with engine.begin() as conn:
        cid = load_ctx(conn, small).id
        for key, parent, active in (("d2", "bureau", False), ("s3", "d2", True), ("s4", "d1", False), ("s5", "s4", True)):
            conn.execute(insert(units).values(campaign_id=cid, key=key, name=key, parent_key=parent, tags=[], contacts=[],
                                              active=active))
        conn.execute(update(units).where(units.c.key == "s2").values(active=False))
    keys = ["bureau", "d1", "s1", "s2", "d2", "s3", "s4", "s5", "ghost"]
    with engine.connect() as conn:
        ctx = load_ctx(conn, small)
        for role in ("unit", "admin", "viewer"):
            for own in [*keys, None]:
                caller = Caller(Principal(1, "u", role, own, None), "token")
                for unit in keys:
                    expected = outcome(lambda c=caller, u=unit: check_units(scope_of(conn, ctx, c), [u]))
                    assert outcome(lambda c=caller, u=unit: check_unit(conn, ctx, c, u)) == expected, (role, own, unit)
    # the cases the walk must get right are all there: allowed below, refused beside, not in the campaign
    with engine.connect() as conn:
        ctx = load_ctx(conn, small)
        d1 = Caller(Principal(1, "u", "unit", "d1", None), "token")
        assert outcome(lambda: check_unit(conn, ctx, d1, "s1")) is None
        assert outcome(lambda: check_unit(conn, ctx, d1, "s5"))[1] == "forbidden"  # under a removed unit
        gone = Caller(Principal(1, "u", "unit", "s2", None), "token")
        assert "takes no part" in outcome(lambda: check_unit(conn, ctx, gone, "s2"))[2]
