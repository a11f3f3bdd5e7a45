"""Tickets of the 1022 citizen hotline (feed `citizen_feedback`), as they are resolved over time."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

from simulator.clock import add_working_days, arrivals, random_moment, random_moment_after
from simulator.org_units import OrgUnits, choose_active
from simulator.vocabulary import TICKET_CATEGORY_LABELS

TICKETS_PER_SCALE = 1500
CATEGORY_WEIGHTS = {
    "infrastructure": 25, "environment": 20, "urban_order": 25, "health": 8,
    "education": 6, "administrative": 10, "other": 6,
}
# Which units a category of feedback is assigned to (units merged in 2025 only while they exist);
# communes, and before them the district, are added where local government handles it.
CATEGORY_ASSIGNEES = {
    "infrastructure": {"SXD": 3, "SGTVT": 3},
    "environment": {"SNNMT": 3, "STNMT": 3},
    "urban_order": {"CA": 2},
    "health": {"SYT": 1},
    "education": {"SGDDT": 1},
    "administrative": {"TTPVHCC": 3, "SNV": 1, "VPUBND": 1},
    "other": {"TTPVHCC": 1, "VPUBND": 2},
}
LOCAL_CATEGORIES = ("infrastructure", "environment", "urban_order", "other")
UNKNOWN_CATEGORY = "không rõ"


class HotlineSystem:
    """The 1022 hotline system: its tickets, and how they are resolved when time passes."""

    def __init__(self, rng: random.Random, units: OrgUnits, now: datetime, months: int, scale: float):
        local_units = {u.code: 1.0 for u in units.units if u.kind in ("commune", "district")}
        self.units = units
        self.assignees = {
            category: weights | (local_units if category in LOCAL_CATEGORIES else {})
            for category, weights in CATEGORY_ASSIGNEES.items()
        }
        self.per_hour = TICKETS_PER_SCALE * scale / (months * 30 * 24)
        self.records: list[dict] = []
        start = now - timedelta(days=30 * months)
        for received_at in sorted(random_moment(rng, start, now) for _ in range(round(TICKETS_PER_SCALE * scale))):
            self.records.append(self._with_history(rng, self._received(rng, received_at), now))
        bad = rng.choice(self.records)
        bad["category"] = UNKNOWN_CATEGORY
        self.planted = {"unknown_category": [bad["ticket_id"]]} | self.lateness(now)
        self.protected_ids = {bad["ticket_id"]}

    def _received(self, rng: random.Random, received_at: datetime) -> dict:
        category = rng.choices(tuple(CATEGORY_WEIGHTS), weights=tuple(CATEGORY_WEIGHTS.values()))[0]
        return {
            "ticket_id": f"PA-{len(self.records) + 1:06d}",
            "received_at": received_at,
            "category": TICKET_CATEGORY_LABELS[category] if rng.random() < 0.08 else category,
            "assignee_code": choose_active(rng, self.units, received_at.date(), self.assignees[category]),
            "due_at": add_working_days(received_at, rng.choice((3, 5, 7, 10))),
            "resolved_at": None,
            "satisfied": None,
            "updated_at": received_at,
        }

    def _with_history(self, rng: random.Random, record: dict, now: datetime) -> dict:
        received_at, due_at = record["received_at"], record["due_at"]
        if rng.random() < 0.12:
            resolved_at = due_at + timedelta(hours=rng.uniform(1, 7 * 24))
        else:
            resolved_at = received_at + (due_at - received_at) * rng.uniform(0.1, 0.95)
        resolved_at = resolved_at.replace(microsecond=0)
        if resolved_at <= now:
            satisfied = self._survey(rng, resolved_at > due_at)
            record.update(resolved_at=resolved_at, updated_at=resolved_at, satisfied=satisfied)
        return record

    @staticmethod
    def _survey(rng: random.Random, late: bool) -> bool | None:
        if rng.random() < 0.2:
            return None
        return rng.random() < (0.4 if late else 0.88)

    def lateness(self, now: datetime) -> dict[str, list[str]]:
        """Ids of tickets resolved after `due_at`, and of unresolved tickets past `due_at` at `now`."""
        return {
            "resolved_late": [
                r["ticket_id"] for r in self.records if r["resolved_at"] and r["resolved_at"] > r["due_at"]
            ],
            "open_past_due": [r["ticket_id"] for r in self.records if r["resolved_at"] is None and r["due_at"] < now],
        }

    def advance(self, rng: random.Random, old_now: datetime, new_now: datetime) -> None:
        """Some open tickets are resolved (stamped `new_now`); new tickets arrive."""
        chance = 1 - math.exp(-(new_now - old_now).total_seconds() / (48 * 3600))
        for record in self.records:
            if record["resolved_at"] is not None or record["ticket_id"] in self.protected_ids or rng.random() >= chance:
                continue
            resolved_at = random_moment_after(rng, old_now, new_now)
            record.update(
                resolved_at=resolved_at,
                satisfied=self._survey(rng, resolved_at > record["due_at"]),
                updated_at=new_now,
            )
        for received_at in arrivals(rng, self.per_hour, old_now, new_now):
            self.records.append(self._received(rng, received_at))
