"""Incidents of the cyber-security monitoring centre (feed `security_incidents`), contained and resolved over time."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

from simulator.clock import arrivals, random_moment, random_moment_after
from simulator.org_units import OrgUnits, choose_active

INCIDENTS_PER_SCALE = 150
SEVERITY_WEIGHTS = {"low": 50, "medium": 30, "high": 15, "critical": 5}
# Hours to contain and to resolve an incident, by severity (ranges drawn uniformly).
RESPONSE_HOURS = {
    "low": ((2, 48), (24, 240)),
    "medium": ((1, 24), (12, 168)),
    "high": ((0.5, 12), (8, 96)),
    "critical": ((0.2, 4), (4, 36)),
}
TARGET_WEIGHTS = {
    "VPUBND": 4, "TTPVHCC": 5, "TTCNTT": 4, "IOC": 3, "CA": 2, "STC": 3, "SYT": 3, "SGDDT": 3,
    "SXD": 2, "SNNMT": 2, "SCT": 2, "SNV": 2, "SKHCN": 2, "SVHTTDL": 1, "BQLDA": 1,
}
PLANTED_CRITICAL_OPEN = 2


class SocSystem:
    """The security monitoring centre's incident register, and how incidents close when time passes."""

    def __init__(self, rng: random.Random, units: OrgUnits, now: datetime, months: int, scale: float):
        self.units = units
        self.per_hour = INCIDENTS_PER_SCALE * scale / (months * 30 * 24)
        self.records: list[dict] = []
        self._last_number: dict[int, int] = {}
        start = now - timedelta(days=30 * months)
        count = max(round(INCIDENTS_PER_SCALE * scale), 3)
        detections = [(random_moment(rng, start, now), False) for _ in range(count)]
        detections += [(random_moment(rng, now - timedelta(days=3), now), True) for _ in range(PLANTED_CRITICAL_OPEN)]
        for detected_at, planted_open in sorted(detections):
            record = self._detected(rng, detected_at)
            if planted_open:
                record["severity"] = "critical"
            else:
                self._follow_response(rng, record, now)
            self.records.append(record)
        critical_open = [
            r["incident_id"] for r in self.records if r["severity"] == "critical" and r["status"] != "resolved"
        ]
        self.planted = {"critical_open": critical_open}
        self.protected_ids = set(critical_open)

    def _detected(self, rng: random.Random, detected_at: datetime) -> dict:
        year = detected_at.year
        self._last_number[year] = self._last_number.get(year, 0) + 1
        return {
            "incident_id": f"SC-{year}-{self._last_number[year]:04d}",
            "detected_at": detected_at,
            "severity": rng.choices(tuple(SEVERITY_WEIGHTS), weights=tuple(SEVERITY_WEIGHTS.values()))[0],
            "target_code": choose_active(rng, self.units, detected_at.date(), TARGET_WEIGHTS),
            "status": "open",
            "resolved_at": None,
            "updated_at": detected_at,
        }

    @staticmethod
    def _follow_response(rng: random.Random, record: dict, now: datetime) -> None:
        contain_hours, resolve_hours = RESPONSE_HOURS[record["severity"]]
        contained_at = record["detected_at"] + timedelta(hours=rng.uniform(*contain_hours))
        resolved_at = contained_at + timedelta(hours=rng.uniform(*resolve_hours))
        if resolved_at <= now:
            resolved_at = resolved_at.replace(microsecond=0)
            record.update(status="resolved", resolved_at=resolved_at, updated_at=resolved_at)
        elif contained_at <= now:
            record.update(status="contained", updated_at=contained_at.replace(microsecond=0))

    def advance(self, rng: random.Random, old_now: datetime, new_now: datetime) -> None:
        """Some open incidents are contained or resolved (stamped `new_now`); new incidents are detected."""
        chance = 1 - math.exp(-(new_now - old_now).total_seconds() / (24 * 3600))
        for record in self.records:
            if record["status"] == "resolved" or record["incident_id"] in self.protected_ids or rng.random() >= chance:
                continue
            if record["status"] == "open":
                record.update(status="contained", updated_at=new_now)
            else:
                resolved_at = random_moment_after(rng, old_now, new_now)
                record.update(status="resolved", resolved_at=resolved_at, updated_at=new_now)
        for detected_at in arrivals(rng, self.per_hour, old_now, new_now):
            self.records.append(self._detected(rng, detected_at))
