"""The service catalogue: every flow has an entry and every entry a flow, the pinyin initials
are right, groups follow the hall, search and most-used ordering, fleet typos refused."""

from __future__ import annotations

import json

import pytest
from pypinyin import Style, lazy_pinyin

from flows import registry
from flows.catalogue import MATTERS, SERVICES, Catalogue, ServiceGroup, UnknownService, UsageStore, catalogue_for


def initials(text: str) -> str:
    return "".join(lazy_pinyin(text, style=Style.FIRST_LETTER)).upper()


def test_every_flow_is_in_the_catalogue_and_every_service_has_a_flow():
    assert {s.name for s in SERVICES} == set(registry.FLOWS)
    for s in SERVICES:
        assert registry.flow_class(s.name).name == s.name


@pytest.mark.parametrize("entry", [*SERVICES, *MATTERS], ids=lambda e: getattr(e, "name", None) or e.key)
def test_pinyin_initials_are_those_of_the_chinese_title(entry):
    assert entry.initials == initials(entry.title_zh)


def test_groups_follow_the_hall_and_search_finds_by_initials():
    cat = Catalogue()
    assert [g for g, _ in cat.groups()] == [ServiceGroup.TRAFFIC, ServiceGroup.TAX, ServiceGroup.NATURAL_RESOURCES,
                                            ServiceGroup.GOVERNMENT]
    assert [s.name for s in cat.search("xsz")] == ["vehicle-licence"]
    assert [s.name for s in cat.search("JSZ")] == ["licence-renewal", "licence-reissue"]
    assert "traffic-fines" in [s.name for s in cat.search("FK")]  # 罚款, the everyday word
    assert cat.search("QQQ") == []


def test_most_used_first_within_groups_and_on_top():
    cat = Catalogue(usage={"card-topup": 9, "traffic-fines": 3})
    assert [s.name for s in cat.most_used(2)] == ["card-topup", "traffic-fines"]
    traffic = dict(cat.groups())[ServiceGroup.TRAFFIC]
    assert [s.name for s in traffic[:2]] == ["card-topup", "traffic-fines"]


def test_the_fleet_switches_services_and_a_typo_is_refused():
    cat = Catalogue().with_enabled(["tax-invoice", "card-topup"])
    assert cat.names() == ["card-topup", "tax-invoice"]
    with pytest.raises(UnknownService, match="no-such"):
        Catalogue().with_enabled(["no-such"])
    assert catalogue_for(["demo", "traffic-fines"]).service("demo").group is ServiceGroup.OTHER


def test_usage_counts_survive_a_restart_and_a_damaged_file(tmp_path):
    path = tmp_path / "service_usage.json"
    store = UsageStore(path)
    store.record("card-topup")
    store.record("card-topup")
    assert UsageStore(path).counts == {"card-topup": 2}
    assert not list(tmp_path.glob(".*.tmp"))  # written through a temp file and renamed
    path.write_text("{not json")
    assert UsageStore(path).counts == {}
    path.write_text(json.dumps({"x": -3, "y": "many", "z": 4}))
    assert UsageStore(path).counts == {"z": 4}
