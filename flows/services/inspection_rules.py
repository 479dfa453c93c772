"""When a private car gets its inspection label by post and when it must go to a station.

Two policies, by the date the label is applied for:

- 公安部 国家质检总局《关于加强和改进机动车检验工作的意见》(公交管〔2014〕138号), from
  2014-09-01: non-operating small and mini passenger cars (vans excluded) are exempt from
  on-site inspection for 6 years; every 2 years (years 2 and 4) the owner applies for the
  label with valid compulsory insurance (交强险) and settled violations; from year 6 the
  car is inspected on site.
- 公安部 市场监管总局《关于深化机动车检验制度改革优化车检服务工作的意见》(2022), in force
  2022-10-01 [S: secondary sources; text not re-checked]: the exemption is extended to 10
  years — such cars are inspected on site at years 6 and 10 only, and get the label
  without inspection in the other 2-yearly years up to 10 (years 2, 4 and 8); older than
  10 years: on site every year. (The 2022 reform also admits 7–9-seat cars; the kiosk's
  vehicle-type choice does not ask for seats.)

The back office enforces the same rules (backoffice/rules.py imports this module).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from flows.medical_rules import Citation

POLICY_2014 = Citation(
    source="公安部 国家质检总局《关于加强和改进机动车检验工作的意见》（公交管〔2014〕138号）",
    article="一、（一）",
    text_zh="试行非营运轿车等小微型客车（面包车除外）6年内免检……每2年定期检验时……可以直接向公安机关交通管理部门申请领取检验标志",
)
REFORM_2022 = Citation(
    source="公安部 市场监管总局《关于深化机动车检验制度改革优化车检服务工作的意见》（2022年10月1日起施行）",
    article="一、（一）",
    text_zh="将非营运小微型载客汽车（面包车除外）免检范围扩大至10年，第6年、第10年上线检验，其间每2年申领检验标志",
)
REFORM_2022_IN_FORCE = dt.date(2022, 10, 1)
EXEMPT_TYPES = ("small_passenger", "mini_passenger")


class Policy(BaseModel):
    model_config = ConfigDict(frozen=True)
    label_years: frozenset[int]  # cycle years whose label comes by post, without inspection
    last_exempt_year: int  # after this every cycle is on site
    source: Citation


POLICIES = (
    (REFORM_2022_IN_FORCE, Policy(label_years=frozenset({2, 4, 8}), last_exempt_year=10, source=REFORM_2022)),
    (dt.date(2014, 9, 1), Policy(label_years=frozenset({2, 4}), last_exempt_year=6, source=POLICY_2014)),
    (dt.date.min, Policy(label_years=frozenset(), last_exempt_year=0, source=POLICY_2014)),  # before it: on site
)


class Decision(StrEnum):
    LABEL = "label"  # apply at the kiosk: the label is mailed
    ON_SITE = "on_site"  # this cycle's inspection is at a station


def full_years(since: dt.date, today: dt.date) -> int:
    return today.year - since.year - ((today.month, today.day) < (since.month, since.day))


def cycle_year(registered: dt.date, today: dt.date) -> int:
    """The even year of the 2-yearly cycle now due (2, 4, 6, 8 ...): odd full years round up to it."""
    years = full_years(registered, today)
    return max(2, years + years % 2)


def policy_on(today: dt.date) -> Policy:
    return next(p for since, p in POLICIES if today >= since)


def decide(registered: dt.date, today: dt.date) -> tuple[Decision, int, Policy]:
    """(label or on-site inspection, the cycle year, the policy that decided it)."""
    policy = policy_on(today)
    year = cycle_year(registered, today)
    return (Decision.LABEL if year in policy.label_years else Decision.ON_SITE), year, policy
