"""The kiosk list's search, filters, sort and paging in SQL (fleet.server.kiosk_query), on
SQLite and PostgreSQL, checked against the Python read model (`views.kiosk_list`, the
one the console showed before) over a seeded fleet: every filter must pick exactly the
kiosks the Python view says, every page must be a slice of one consistent order."""

from __future__ import annotations

import uuid

import pytest

from fleet.server import views
from fleet.server.db import Database
from fleet.server.kiosk_query import KioskQuery, facets, matching_ids, search
from fleet.server.models import KioskSite
from fleet.server.seed import seed

HEARTBEAT, MISSED = 30.0, 3


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fleet_db(request, tmp_path_factory):
    """One seeded fleet per backend for the module (the tests only read it)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('kiosk-query') / 'fleet.db'}"
    else:
        url = request.getfixturevalue("postgres").create_database(f"kiosk_query_{uuid.uuid4().hex[:8]}")
    db = Database(url)
    seed(db, 400, seed=7)  # online kiosks heard ≤25 s ago, silent ones ≥120 s: far from the 90 s line
    yield db
    db.close()


def _python_view(db: Database) -> dict[str, dict]:
    """Every kiosk as the Python read model sees it, plus its site."""
    from sqlalchemy import select

    with db.session() as session:
        sites = {s.kiosk_id: s for s in session.scalars(select(KioskSite))}
        summaries = views.kiosk_list(session, HEARTBEAT, MISSED)
    return {k.kiosk_id: {"summary": k, "site": sites.get(k.kiosk_id)} for k in summaries}


def _ids(db: Database, **params) -> set[str]:
    query = KioskQuery.model_validate(params)
    with db.session() as session:
        return set(matching_ids(session, query, HEARTBEAT, MISSED, 10_000))


def test_every_filter_picks_exactly_what_the_python_view_says(fleet_db):
    kiosks = _python_view(fleet_db)
    assert len(kiosks) == 400

    def expect(predicate) -> set[str]:
        return {kid for kid, k in kiosks.items() if predicate(k["summary"], k["site"])}

    for status in ("online", "silent", "offline"):
        assert _ids(fleet_db, status=status) == expect(lambda s, _: s.status == status), status
    assert expect(lambda s, _: s.status == "silent"), "the seed has silent kiosks"
    assert _ids(fleet_db, version="1.4.2") == expect(lambda s, _: s.app_version == "1.4.2")
    assert _ids(fleet_db, district="渝北区") == expect(lambda _, site: site.district == "渝北区")
    assert _ids(fleet_db, label="pilot") == expect(lambda s, _: "pilot" in s.tags)
    assert _ids(fleet_db, label="group:wanzhou") == expect(lambda s, _: s.group == "wanzhou")
    faulty = expect(lambda s, _: any(d.state in ("fault", "absent") for d in s.devices))
    assert faulty and _ids(fleet_db, device="any:fault") == faulty
    assert _ids(fleet_db, device="printer:fault") == expect(
        lambda s, _: any(d.kind == "printer" and d.state in ("fault", "absent") for d in s.devices))
    assert _ids(fleet_db, device="printer:paper_low") == expect(
        lambda s, _: any(d.consumables.get("paper") in ("near_end", "out") for d in s.devices))
    assert _ids(fleet_db, alerts="open") == expect(lambda s, _: s.open_alerts > 0)
    assert _ids(fleet_db, alerts="critical") == expect(lambda s, _: s.worst_alert == "critical")
    assert _ids(fleet_db, alerts="none") == expect(lambda s, _: s.open_alerts == 0)
    assert _ids(fleet_db, q="YUBEI-00") == expect(lambda s, _: "yubei-00" in s.kiosk_id)  # case-insensitive
    hall = next(iter(kiosks.values()))["site"].hall
    part = hall[3:8]  # a piece of a Chinese hall name
    assert _ids(fleet_db, q=part) == expect(lambda s, site: part in site.hall or part in site.name)
    assert _ids(fleet_db, q="100%_") == set()  # LIKE wildcards are matched literally
    both = _ids(fleet_db, status="online", label="medical-check", alerts="none")
    assert both == expect(lambda s, _: s.status == "online" and "medical-check" in s.tags and not s.open_alerts)


def test_pages_are_slices_of_one_order_and_the_counts_add_up(fleet_db):
    query = KioskQuery(sort="alerts", order="desc", per_page=25)
    seen: list[str] = []
    with fleet_db.session() as session:
        first = search(session, query, HEARTBEAT, MISSED)
        for number in range(1, first.pages + 1):
            page = search(session, query.model_copy(update={"page": number}), HEARTBEAT, MISSED)
            seen += [r.kiosk_id for r in page.rows]
            counts = [r.open_alerts for r in page.rows]
            assert counts == sorted(counts, reverse=True)
        beyond = search(session, query.model_copy(update={"page": first.pages + 5}), HEARTBEAT, MISSED)
    assert len(seen) == len(set(seen)) == first.total == 400
    assert first.pages == 16 and beyond.page == 16  # a page past the end shows the last one
    assert sum(g.total for g in first.groups) == 400 == sum(first.status_counts.values())
    assert {g.region for g in first.groups} <= {"主城都市区·中心城区", "主城都市区·主城新区", "渝东北三峡库区城镇群", "渝东南武陵山区城镇群"}


def test_grouping_ignores_the_district_filter_and_status_counts_the_status_filter(fleet_db):
    with fleet_db.session() as session:
        everything = search(session, KioskQuery(), HEARTBEAT, MISSED)
        one = search(session, KioskQuery(district="渝北区", status="offline"), HEARTBEAT, MISSED)
        offline = search(session, KioskQuery(status="offline"), HEARTBEAT, MISSED)
    yubei = next(g for g in one.groups if g.district == "渝北区")
    assert one.groups == offline.groups  # every district with offline kiosks stays listed to switch to
    assert yubei.total == one.total  # the grouping keeps the status filter
    assert sum(one.status_counts.values()) == next(g for g in everything.groups if g.district == "渝北区").total
    assert {r.district for r in one.rows} == {"渝北区"} and {r.status for r in one.rows} == {"offline"}


def test_status_sort_puts_offline_then_silent_first(fleet_db):
    with fleet_db.session() as session:
        page = search(session, KioskQuery(sort="status", per_page=100), HEARTBEAT, MISSED)
        names = search(session, KioskQuery(sort="hall", order="desc", per_page=50), HEARTBEAT, MISSED)
    rank = {"offline": 0, "silent": 1, "online": 2}
    assert [rank[r.status] for r in page.rows] == sorted(rank[r.status] for r in page.rows)
    assert page.rows[0].status == "offline"
    halls = [r.hall for r in names.rows]
    assert halls == sorted(halls, reverse=True)


def test_a_bad_filter_is_named_and_dropped_and_the_menus_list_what_is_in_use(fleet_db):
    query, problems = KioskQuery.from_params({"status": "sleeping", "device": "toaster:fault", "q": "cq", "page": "x"})
    assert query.q == "cq" and not query.status and not query.device and query.page == 1
    assert sorted(p.split(":")[0] for p in problems) == ["device", "page", "status"]
    with fleet_db.session() as session:
        menus = facets(session)
    assert "1.5.0" in menus.versions and "medical-check" in menus.tags and "yubei" in menus.groups
    assert ("any:fault", "any device faulty or absent") in menus.device_options
