"""Public-service dossiers of the one-stop-shop system (feed `tthc_dossiers`), as they change over time."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

from simulator.clock import add_working_days, arrivals, random_moment, random_moment_after, random_office_moment
from simulator.org_units import OrgUnits, choose_active
from simulator.vocabulary import CHANNEL_LABELS, DOSSIER_STATUS_LABELS

DOSSIERS_PER_SCALE = 6000
OPEN_STATUSES = ("received", "processing", "supplement_requested")
STATUS_CODES = {label: code for code, label in DOSSIER_STATUS_LABELS.items()}
# Agencies receiving dossiers (units merged in 2025 receive them only while they exist).
AGENCY_WEIGHTS = {
    "TTPVHCC": 30, "CA": 10, "SXD": 8, "SNNMT": 8, "STC": 6, "SYT": 6, "SCT": 5, "SGDDT": 4, "SVHTTDL": 3,
    "SKHCN": 3, "SNV": 3, "STTTT": 3, "SKHDT": 4, "SGTVT": 5, "STNMT": 5, "SNNPTNT": 3, "TPHD": 8,
}
FEES_VND = (0, 0, 0, 0, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000)
UNKNOWN_AGENCY = "SXXX"
NON_INTEGER_FEE = "miễn phí"


def status_code(record: dict) -> str:
    """The status code of a dossier whose status may be written as a Vietnamese label."""
    return STATUS_CODES.get(record["status"], record["status"])


class DossierSystem:
    """The one-stop-shop system: its dossiers, and how they progress when time passes."""

    def __init__(self, rng: random.Random, units: OrgUnits, now: datetime, months: int, scale: float):
        self.units = units
        self.procedures = [
            (f"{rng.choice((1, 2, 3))}.{rng.randrange(1000, 13000):06d}", rng.choice(FEES_VND)) for _ in range(40)
        ]
        self.agency_weights = AGENCY_WEIGHTS | {u.code: 1.5 for u in units.units if u.kind == "commune"}
        self.per_hour = DOSSIERS_PER_SCALE * scale / (months * 30 * 24)
        self.records: list[dict] = []
        self._last_number: dict[int, int] = {}
        start = now - timedelta(days=30 * months)
        count = round(DOSSIERS_PER_SCALE * scale)
        for received_at in sorted(random_office_moment(rng, start, now) for _ in range(count)):
            self.records.append(self._with_history(rng, self._received(rng, received_at), now))
        self.planted = self._plant_bad_values(rng) | self.lateness(now)
        self.protected_ids = set(self.planted["unknown_agency"]) | set(self.planted["non_integer_fee"])

    def _received(self, rng: random.Random, received_at: datetime) -> dict:
        year = received_at.year
        self._last_number[year] = self._last_number.get(year, 0) + 1
        procedure_code, fee = rng.choice(self.procedures)
        channel = rng.choices(("online", "direct", "postal"), weights=(55, 40, 5))[0]
        if fee == 0:
            paid_online = None
        else:
            paid_online = rng.random() < (0.8 if channel == "online" else 0.15)
        return {
            "dossier_id": f"HS-{year}-{self._last_number[year]:06d}",
            "agency_code": choose_active(rng, self.units, received_at.date(), self.agency_weights),
            "procedure_code": procedure_code,
            "channel": channel,
            "received_at": received_at,
            "due_at": add_working_days(received_at, rng.randint(3, 20)),
            "completed_at": None,
            "status": "received",
            "paid_online": None if rng.random() < 0.04 else paid_online,
            "fee_vnd": None if rng.random() < 0.03 else fee,
            "updated_at": received_at,
        }

    def _with_history(self, rng: random.Random, record: dict, now: datetime) -> dict:
        """The dossier as it stands at `now`, following an outcome drawn for it."""
        received_at, due_at = record["received_at"], record["due_at"]
        draw = rng.random()
        if draw < 0.02:
            outcome, ended_at = "cancelled", received_at + timedelta(days=rng.uniform(0.1, 5))
        elif draw < 0.05:
            outcome, ended_at = "returned", received_at + timedelta(days=rng.uniform(1, 10))
        elif draw < 0.06:
            outcome, ended_at = "processing", None  # stuck: never finishes
        elif draw < 0.21:
            outcome, ended_at = "completed", due_at + timedelta(hours=rng.uniform(1, 12 * 24))
        else:
            outcome, ended_at = "completed", received_at + (due_at - received_at) * rng.uniform(0.15, 0.98)
        if ended_at is not None and ended_at <= now:
            ended_at = ended_at.replace(microsecond=0)
            completed_at = ended_at if outcome == "completed" else None
            record.update(status=outcome, updated_at=ended_at, completed_at=completed_at)
        elif now - received_at > timedelta(days=1):
            status = rng.choices(("processing", "supplement_requested"), weights=(85, 15))[0]
            record.update(status=status, updated_at=random_moment(rng, received_at, now))
        if rng.random() < 0.10:
            record["channel"] = CHANNEL_LABELS[record["channel"]]
        if rng.random() < 0.03:
            record["status"] = DOSSIER_STATUS_LABELS[record["status"]]
        return record

    def _plant_bad_values(self, rng: random.Random) -> dict[str, list[str]]:
        first, second, third = rng.sample(self.records, 3)
        first["agency_code"] = second["agency_code"] = UNKNOWN_AGENCY
        third["fee_vnd"] = NON_INTEGER_FEE
        return {"unknown_agency": [first["dossier_id"], second["dossier_id"]], "non_integer_fee": [third["dossier_id"]]}

    def lateness(self, now: datetime) -> dict[str, list[str]]:
        """Ids of dossiers completed after `due_at`, and of open dossiers past `due_at` at `now`."""
        return {
            "completed_late": [
                r["dossier_id"] for r in self.records if r["completed_at"] and r["completed_at"] > r["due_at"]
            ],
            "open_past_due": [
                r["dossier_id"] for r in self.records if status_code(r) in OPEN_STATUSES and r["due_at"] < now
            ],
        }

    def advance(self, rng: random.Random, old_now: datetime, new_now: datetime) -> None:
        """Some open dossiers move one step on (stamped `new_now`); new dossiers arrive."""
        chance = 1 - math.exp(-(new_now - old_now).total_seconds() / (72 * 3600))
        for record in self.records:
            status = status_code(record)
            if status not in OPEN_STATUSES or record["dossier_id"] in self.protected_ids or rng.random() >= chance:
                continue
            if status == "processing":
                status = rng.choices(("completed", "supplement_requested"), weights=(85, 15))[0]
            else:
                status = "processing"
            if status == "completed":
                record["completed_at"] = random_moment_after(rng, old_now, new_now)
            record.update(status=status, updated_at=new_now)
        for received_at in arrivals(rng, self.per_hour, old_now, new_now):
            self.records.append(self._received(rng, received_at))
