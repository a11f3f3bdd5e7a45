"""Monthly disbursement of public-investment projects (feed `public_investment`), as the finance ledger holds it."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime

from simulator.clock import add_months, at, period_of
from simulator.vocabulary import PROJECTS

LAGGING_PROJECTS = 2
MILLION = 1_000_000


@dataclass(frozen=True)
class Project:
    code: str
    name: str
    owner_code: str
    plan_vnd: int
    pace: float  # share of the plan disbursed by year end, before the S-curve

    def disbursed_by(self, year: int, moment: datetime) -> int:
        """Cumulative disbursement of `year` up to `moment`, on an S-curve, to the million VND."""
        year_start = at(date(year, 1, 1))
        elapsed = min((moment - year_start) / (at(date(year + 1, 1, 1)) - year_start), 1.0)
        return round(self.plan_vnd * min(1.0, self.pace * elapsed**1.3) / MILLION) * MILLION


class InvestmentLedger:
    """The finance department's projects; their monthly rows are derived from the current time."""

    def __init__(self, rng: random.Random, now: datetime):
        lagging = set(rng.sample(range(len(PROJECTS)), LAGGING_PROJECTS))
        self.projects = [
            Project(
                code=f"DA-{now.year}-{index + 1:02d}",
                name=name,
                owner_code=owner_code,
                plan_vnd=plan_vnd,
                pace=rng.uniform(0.12, 0.25) if index in lagging else rng.uniform(0.85, 1.2),
            )
            for index, (name, owner_code, plan_vnd) in enumerate(PROJECTS)
        ]
        self.planted = {"lagging": [self.projects[i].code for i in sorted(lagging)]}

    def rows(self, now: datetime) -> list[dict]:
        """One row per project and month of the current year up to `now`; the current month is stamped `now`."""
        rows = []
        for project in self.projects:
            month = date(now.year, 1, 1)
            while month <= now.date():
                next_month = at(add_months(month, 1))
                closed = next_month <= now
                rows.append({
                    "project_code": project.code,
                    "project_name": project.name,
                    "owner_code": project.owner_code,
                    "period": period_of(month),
                    "plan_vnd": project.plan_vnd,
                    "disbursed_cum_vnd": project.disbursed_by(now.year, next_month if closed else now),
                    "updated_at": min(next_month.replace(hour=8), now) if closed else now,
                })
                month = add_months(month, 1)
        return rows
