"""Every i18n key the flows can put in a view, found by reading flows/*.py.

- literal keys: the first argument (or `key=`) of every `msg(...)` / `Msg(...)` call, and
  every string constant that looks like a key under a prefix those calls use (tables such
  as REJECTION_NEXT hold keys that reach `msg()` through a variable);
- f-string keys (`msg(f"idcard.{e.code}")`) become patterns; each pattern must have an
  expansion below, built from the code's own data (enums, tables), or the test fails and
  names it — a new dynamic key cannot slip past the catalogs;
- `help.<flow>.<step>` for every step of every flow (the engine's default help key).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FLOW_FILES = sorted((ROOT / "flows").glob("*.py"))
KEYLIKE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")


def _key_arg(call: ast.Call) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == "key":
            return kw.value
    return call.args[0] if call.args else None


def _pattern(node: ast.JoinedStr) -> str:
    out = ""
    for part in node.values:
        if isinstance(part, ast.Constant):
            out += re.escape(str(part.value))
        else:
            out += "(?P<v%d>[^.]+)" % len(out)
    return out


def scan() -> tuple[set[str], set[str]]:
    """(literal keys, f-string patterns) used in msg()/Msg() calls and key-like constants."""
    literals: set[str] = set()
    patterns: set[str] = set()
    constants: set[str] = set()
    for path in FLOW_FILES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
                if name in ("msg", "Msg"):
                    arg = _key_arg(node)
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        literals.add(arg.value)
                    elif isinstance(arg, ast.JoinedStr):
                        patterns.add(_pattern(arg))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and KEYLIKE.match(node.value):
                constants.add(node.value)
    prefixes = {k.split(".")[0] for k in literals} | {p.split("\\.")[0] for p in patterns}
    prefixes -= {"flows", "peripherals"}
    literals |= {c for c in constants if c.split(".")[0] in prefixes}
    return literals, patterns


def backoffice_codes() -> set[str]:
    """Reason codes the reference back office can answer with (Rejection / RuleFailure arguments)."""
    codes = {"invalid_json", "missing_field", "invalid_field", "not_found", "method_not_allowed", "rejected",
             "order_paid", "order_expired", "order_cancelled"}
    for path in (ROOT / "backoffice").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("Rejection", "RuleFailure"):
                for arg in node.args[:2]:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and re.fullmatch(r"[a-z_]+", arg.value):
                        codes.add(arg.value)
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "_MODEL_CODES" for t in node.targets):
                codes |= {c.value for c in ast.walk(node.value) if isinstance(c, ast.Constant)}
    return codes


def expansions() -> dict[str, set[str]]:
    """Values for the f-string keys, from the code's own data."""
    from flows.common_steps import CARD_LEVEL_ERRORS, ELIGIBILITY_CODES, REJECTION_NEXT
    from flows.inspection_label import VEHICLE_TYPES
    from flows.vehicle_licence import REASONS as VEHICLE_LICENCE_REASONS
    from flows.catalogue import MATTERS
    from flows.document_delivery import PAGE_PROBLEMS
    from flows.engine import AbortReason
    from flows.medical_rules import BpAdviceLevel
    from peripherals.bp.models import BpPhase
    from peripherals.camera.models import FaceIssue
    from peripherals.face.liveness import Challenge

    rejection_codes = backoffice_codes() | set(ELIGIBILITY_CODES) | set(REJECTION_NEXT)
    return {
        "error.{reason}.what/next": {r.value for r in AbortReason},
        "idcard.{code}": set(CARD_LEVEL_ERRORS) | {"card_not_supported", "id_card_expired"},
        "face.issue.{issue}": {i.value for i in FaceIssue} | {"ok", "no_face"},
        "bp.phase.{phase}": {p.value for p in BpPhase},
        "error.rejected.{code}": rejection_codes,
        "payment.{status}": {"expired", "cancelled", "pending"},
        "face.{code}": {"face_mismatch", "face_check_failed", "face_not_live"},
        "face.{topic}.intro": {"renewal", "tax", "reissue"},
        "face.challenge.{challenge}": {c.value for c in Challenge},
        "inspection.type.{t}": set(VEHICLE_TYPES),
        "vehicle_licence.reason.{r}": set(VEHICLE_LICENCE_REASONS),
        "topup.{code}": {"no_transit_card", "not_transit_card", "different_card"},
        "documents.page.{problem}": set(PAGE_PROBLEMS),
        "matter.{key}": {m.key for m in MATTERS},
        "bp.{advisory}.reminder": {lv.value for lv in BpAdviceLevel if lv.value != "none"},
    }


def all_keys(flow_names: list[str]) -> tuple[set[str], list[str]]:
    """(every key the flows can show, the f-string patterns no expansion covers)."""
    from flows import registry
    from flows.demo import DemoFlow

    literals, patterns = scan()
    keys = set(literals)
    unexpanded: list[str] = []
    values = expansions()
    for pat in sorted(patterns):
        rx = re.compile("^" + pat + "$")
        matched = False
        prefix = pat.split("(?P")[0].replace("\\", "")
        suffix = pat.rsplit(")", 1)[-1].replace("\\", "")
        for label, vals in values.items():
            label_prefix = label.split("{")[0]
            label_suffix = label.rsplit("}", 1)[-1]
            if label_prefix == prefix and (label_suffix == suffix or "/" in label_suffix):
                for v in vals:
                    key = prefix + v + suffix
                    if rx.match(key):
                        keys.add(key)
                        matched = True
        if not matched:
            unexpanded.append(pat)
    for cls in [registry.flow_class(n) for n in flow_names] + [DemoFlow]:
        for step in cls.Step:
            keys.add(f"help.{cls.name}.{step.value}")
    return keys, unexpanded
