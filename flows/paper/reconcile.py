"""The three-way check before every print: tax core (金三), invoice system (防伪税控), paper.

The number the tax core assigned to the invoice, the number the VAT invoice system says
it last wrote, and the number pre-printed on the form under the print head must be one and
the same (with the same invoice code); otherwise the invoice would carry a number the
paper does not, or the paper a number the tax records do not — an audit incident.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reconciliation:
    core: tuple[str, str]  # (invoice code, number) assigned by the tax core
    system: tuple[str, str | None]  # as the invoice system reports it
    paper: tuple[str, str]  # the next form on the roll

    @property
    def ok(self) -> bool:
        return self.core == self.paper and self.system == self.paper

    @property
    def disagreeing(self) -> list[str]:
        """Which sources differ from the paper (the paper is what staff can look at)."""
        return [name for name, value in (("core", self.core), ("system", self.system)) if value != self.paper]

    def describe(self) -> str:
        return (f"tax core {self.core[0]}:{self.core[1]}, invoice system {self.system[0]}:{self.system[1] or '-'}, "
                f"paper {self.paper[0]}:{self.paper[1]}")

    def as_detail(self) -> dict[str, str]:
        return {"core": ":".join(self.core), "system": f"{self.system[0]}:{self.system[1] or '-'}",
                "paper": ":".join(self.paper), "disagreeing": ",".join(self.disagreeing)}


def reconcile(core: tuple[str, str], system: tuple[str, str | None], paper: tuple[str, str]) -> Reconciliation:
    return Reconciliation(core=core, system=system, paper=paper)
