"""Province → city → district data for the address picker (kiosk/data/regions.json, see docs/ui.md)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel

DATA = Path(__file__).parent / "data" / "regions.json"


class Place(BaseModel):
    name: str  # Chinese, as the post office writes it
    en: str  # pinyin, shown beside it in the English UI


class City(Place):
    districts: list[Place]


class Province(Place):
    cities: list[City]


class Regions(BaseModel):
    provinces: list[Province]

    def province(self, name: str) -> Province:
        return next(p for p in self.provinces if p.name == name)

    def city(self, province: str, name: str) -> City:
        return next(c for c in self.province(province).cities if c.name == name)


@lru_cache(maxsize=1)
def load_regions(path: Path = DATA) -> Regions:
    raw = json.loads(path.read_text(encoding="utf-8"))
    for p in raw["provinces"]:
        for c in p["cities"]:
            c["districts"] = [{"name": n, "en": e} for n, e in c["districts"]]
    return Regions.model_validate({"provinces": raw["provinces"]})
