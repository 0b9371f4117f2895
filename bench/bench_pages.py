#!/usr/bin/env python
"""Benchmark of the ledger's page (not a test): see bench/README.md.

A campaign of `--units` schools with `--items` ledger items (default 2,000: supervision findings, a
quarter overdue, some in progress, rectified with evidence, closed, each with its history) in a fresh
SQLite file. The real app (`create_app`, no scheduler) answers a logged-in admin through Starlette's
TestClient, in process; the same client times, in the same run and interleaved, `GET /c/{key}` (the
overview: the baseline) and `GET /c/{key}/ledger` (the list's first page), plus a filtered page, a later
page, a school's own list and an item's page. Figures: median and p90 of `--reps` requests each, and
each as a multiple of the overview's median (target: the ledger's first page under 3x).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
KEY = "bench-pages"
TARGET = 3.0
PASSWORD = "bench-pages-passw0rd"
TZ = ZoneInfo("Asia/Shanghai")
TODAY = dt.datetime.now(TZ).date()
PROBLEMS = ["会议多、落实少，议而不决", "公文运转慢，群众办事多次跑", "食堂采购价格未按规定公示", "值班脱岗，电话无人接听",
            "作业布置过量，家长反映负担重", "请假制度执行不严，考勤流于形式"]
CATEGORIES = "弱松庸慢散懒推奢"


def day(offset: int) -> str:
    return (TODAY + dt.timedelta(days=offset)).isoformat()


def spec_text(n_units: int, n_districts: int) -> str:
    lines = ["version: 1", f"key: {KEY}", "title: 作风整顿（页面基准）", "timezone: Asia/Shanghai", "calendar: all-days",
             "organizer: bureau", "units:", "  - {key: bureau, name: 县教育局}"]
    lines += [f"  - {{key: d{d:02d}, name: 学区{d:02d}, parent: bureau, tags: [学区]}}" for d in range(n_districts)]
    lines += [f"  - {{key: s{i:04d}, name: 学校{i:04d}, parent: d{i % n_districts:02d}, tags: [学校]}}"
              for i in range(n_units)]
    lines += ["artifacts:", "  plan: {title: 实施方案}", "phases:", "  - key: check", "    title: 自查自纠",
              "    kind: self_check", f"    start: {day(-30)}", f"    end: {day(60)}", "    steps:",
              "      - key: plan", "        title: 制定方案", f"        due: {day(14)}", "        requires:",
              "          - {artifact: plan, from: 'tag:学校'}"]
    return "\n".join(lines) + "\n"


def setup(home: Path, url: str, n_units: int, n_items: int) -> tuple[Any, int]:
    """The campaign, an admin and a school's account, and `n_items` items in every state with their histories."""
    from campaign_model.specfile import load_spec_text
    from campaign_model.store.accounts import add_user
    from campaign_model.store.audit import Act
    from campaign_model.store.blobs import BlobStore
    from campaign_model.store.campaigns import create_campaign
    from campaign_model.store.db import open_engine
    from campaign_model.store.ledger import record_finding, update_item, verify_item

    engine = open_engine(url)
    blobs = BlobStore(home / "files")
    start = dt.datetime.combine(TODAY - dt.timedelta(days=30), dt.time(9), TZ)
    at = lambda minutes: start + dt.timedelta(minutes=minutes)  # noqa: E731
    with engine.begin() as conn:
        create_campaign(conn, load_spec_text(spec_text(n_units, max(1, n_units // 10)), "<bench>"), Act(at(0), "bench", at(0)))
        add_user(conn, "admin", "admin", None, PASSWORD, Act(at(0), "bench", at(0)))
        add_user(conn, "school", "unit", "s0000", PASSWORD, Act(at(0), "bench", at(0)))
    pdf = b"%PDF-1.4\n" + b"evidence " * 300 + b"\n%%EOF\n"
    first = 0
    with engine.begin() as conn:
        for n in range(n_items):
            unit = f"s{n % n_units:04d}"
            # a quarter overdue (due before today), the rest due ahead; every 10th long-term
            deadline = TODAY - dt.timedelta(days=1 + n % 9) if n % 4 == 0 else TODAY + dt.timedelta(days=5 + n % 40)
            found = at(1 + n % 600)
            item = record_finding(conn, KEY, unit, f"{PROBLEMS[n % len(PROBLEMS)]}（第{n}项）",
                                  None if n % 10 == 9 else max(deadline, found.date() + dt.timedelta(days=1)),
                                  Act(found, "sup", found), category=CATEGORIES[n % len(CATEGORIES)],
                                  measure="建立台账，限时整改，定期通报", long_term=n % 10 == 9,
                                  source="supervision" if n % 3 else "mass_opinion")["id"]
            first = first or item
            later = found + dt.timedelta(days=2)
            if n % 5 in (1, 2, 3):
                update_item(conn, blobs, item, "in_progress", "已制定整改方案", [], Act(later, "school", later))
            if n % 5 in (2, 3):
                update_item(conn, blobs, item, "rectified", "整改完成", [(pdf, "整改报告.pdf")],
                            Act(later + dt.timedelta(days=1), "school", later + dt.timedelta(days=1)))
            if n % 5 == 3:
                verify_item(conn, item, True, "同意销号", Act(later + dt.timedelta(days=2), "sup", later + dt.timedelta(days=2)))
    return engine, first


def client_for(home: Path, url: str, engine: Any) -> Any:
    from campaign_app.settings import Settings
    from campaign_app.usecases.services import Services
    from campaign_app.web.app import create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

        return lambda: TestClient(create_app(Services(Settings(home, url), engine)))


def log_in(client: Any, name: str) -> Any:
    import re

    form = client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    answer = client.post("/login", data={"name": name, "password": PASSWORD, "csrf": csrf}, follow_redirects=False)
    assert answer.status_code == 303, answer.text[:300]
    return client


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    url = f"sqlite:///{home / 'campaign.db'}"
    try:
        t0 = time.perf_counter()
        engine, first = setup(home, url, args.units, args.items)
        print(f"setup: {args.units} schools, {args.items} ledger items in {time.perf_counter() - t0:.1f} s ({home})")
        make = client_for(home, url, engine)
        admin, school = log_in(make(), "admin"), log_in(make(), "school")
        cases: list[tuple[str, Any, str]] = [
            ("overview GET /c/{key} (baseline)", admin, f"/c/{KEY}"),
            ("ledger GET /c/{key}/ledger (page 1)", admin, f"/c/{KEY}/ledger"),
            ("ledger, overdue + category filter", admin, f"/c/{KEY}/ledger?overdue=yes&category=松"),
            ("ledger, page 20", admin, f"/c/{KEY}/ledger?page=20"),
            ("ledger, a school's own list", school, f"/c/{KEY}/ledger"),
            ("ledger item page", admin, f"/c/{KEY}/ledger/{first + 3}"),
        ]
        for _, client, path in cases:  # warm up: templates compiled, caches filled
            for _ in range(3):
                answer = client.get(path)
                assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
        times: dict[str, list[float]] = {name: [] for name, _, _ in cases}
        sizes: dict[str, int] = {}
        for _ in range(args.reps):  # interleaved: a load change on the machine touches every figure alike
            for name, client, path in cases:
                t = time.perf_counter()
                answer = client.get(path)
                times[name].append((time.perf_counter() - t) * 1000)
                sizes[name] = len(answer.content)
        base = statistics.median(times[cases[0][0]])
        rows: list[dict[str, Any]] = []
        print(f"\n{'what':44} {'median ms':>10} {'p90 ms':>8} {'x overview':>10} {'KB':>7}")
        for name, _, _ in cases:
            ms = sorted(times[name])
            med, p90 = statistics.median(ms), ms[min(len(ms) - 1, int(len(ms) * 0.9))]
            rows.append({"what": name, "median_ms": med, "p90_ms": p90, "ratio": med / base, "bytes": sizes[name]})
            print(f"{name:44} {med:10.1f} {p90:8.1f} {med / base:10.2f} {sizes[name] / 1024:7.1f}")
        ratio = float(rows[1]["ratio"])
        verdict = "PASS" if ratio < TARGET else "MISS"
        print(f"\nledger first page / overview = {ratio:.2f} (target < {TARGET:.0f}x): {verdict}")
        out = ROOT / "bench" / "out"
        out.mkdir(parents=True, exist_ok=True)
        (out / "bench_pages.json").write_text(json.dumps({"items": args.items, "units": args.units, "reps": args.reps,
                                                          "rows": rows, "ratio": ratio, "verdict": verdict},
                                                         ensure_ascii=False, indent=2), encoding="utf-8")
        engine.dispose()
    finally:
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
