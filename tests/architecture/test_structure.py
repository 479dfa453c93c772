"""The architecture as rules the code must keep (docs/architecture.md, "Packages and imports").

Read from the source with `ast`, so every import counts — module level, inside a function,
under `if TYPE_CHECKING:` — and no cycle can hide behind a late import.
"""

from __future__ import annotations

import pytest

from .import_graph import REPO, cycles, external_imports, import_graph, product_modules

# Which product packages each may import (beyond itself). Longest prefix wins.
ALLOWED = {
    "lifecycle": set(),  # signals, sd_notify, child processes: every package may use it
    "peripherals": set(),
    "flows": {"peripherals"},
    "kiosk": {"flows", "peripherals", "fleet.protocol"},
    "backoffice": {"flows.services"},  # the wire models it shares with the kiosk's HTTP client
    "fleet": set(),  # the bare package (its __init__)
    "fleet.protocol": set(),
    "fleet.bundle": set(),
    "fleet.updates": {"fleet.bundle"},
    "fleet.agent": {"fleet.protocol", "fleet.updates", "fleet.bundle", "peripherals.settings_files"},
    "fleet.broker": {"fleet.protocol", "fleet.agent.mqtt"},  # broker.testing probes with the agent's client
    "fleet.server": {"fleet.protocol", "fleet.bundle", "fleet.broker"},
}
EVERYONE = {"lifecycle"}
# Single modules allowed one more package than their own package is.
EXTRA = {
    "kiosk.virtual_fleet": {"fleet.broker"},  # the virtual kiosk starts a broker
    "backoffice.card_routes": {"peripherals.cardreader.purse"},  # the issuer's side of the card's load MACs
    "backoffice.document_routes": {"flows.catalogue"},  # the government-service matters the hall accepts
    # the reference identity service (CTID-style) compares with the same face engine, against the
    # portraits of the simulated cards
    "backoffice.identity": {"peripherals.face", "peripherals.idcard.sim"},
}
NO_KIVY = ("flows", "peripherals", "fleet", "backoffice", "lifecycle")
MAX_LINES = 600


def _package_of(module: str) -> str:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        prefix = ".".join(parts[:n])
        if prefix in ALLOWED:
            return prefix
    raise AssertionError(f"{module}: no rule in ALLOWED for its package")


def _within(target: str, prefixes: set[str]) -> bool:
    return any(target == p or target.startswith(p + ".") for p in prefixes)


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_the_reader_sees_every_kind_of_import(tmp_path):
    (tmp_path / "kiosk").mkdir()
    (tmp_path / "kiosk" / "__init__.py").write_text("")
    (tmp_path / "kiosk" / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from kiosk import b\n")
    (tmp_path / "kiosk" / "b.py").write_text("def f():\n    from .a import x\n")
    for top in ("flows", "peripherals", "fleet", "backoffice", "lifecycle"):
        (tmp_path / top).mkdir()
    found = cycles(import_graph(tmp_path))
    assert found == [["kiosk.a", "kiosk.b"]]


def test_no_import_cycles(graph):
    assert cycles(graph) == []


def test_imports_point_one_way(graph):
    wrong = []
    for module, targets in sorted(graph.items()):
        own = _package_of(module)
        for target in sorted(targets):
            if _package_of(target) == own or _within(target, ALLOWED[own] | EVERYONE | EXTRA.get(module, set())):
                continue
            wrong.append(f"{module} -> {target}")
    assert wrong == []


def test_nothing_outside_kiosk_imports_kiosk(graph):
    assert [f"{m} -> {t}" for m, ts in graph.items() if not m.startswith("kiosk") for t in ts
            if t.split(".")[0] == "kiosk"] == []


def test_only_the_app_imports_kivy():
    assert sorted(m for m, tops in external_imports().items() if "kivy" in tops and m.startswith(NO_KIVY)) == []


def test_no_product_module_over_600_lines():
    long = {str(p.relative_to(REPO)): n for p in product_modules().values()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}
