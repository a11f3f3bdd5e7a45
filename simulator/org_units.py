"""Organisation units of the demo province, read from `schemas/org_units.yaml`, with their validity."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

SCHEMAS_DIR = Path(__file__).resolve().parents[1] / "schemas"


@dataclass(frozen=True)
class OrgUnit:
    code: str
    kind: str
    name_vi: str
    valid_from: date
    valid_to: date | None

    def active_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def active_during(self, first: date, last: date) -> bool:
        return self.valid_from <= last and (self.valid_to is None or first <= self.valid_to)


@dataclass(frozen=True)
class OrgUnits:
    units: tuple[OrgUnit, ...]

    def get(self, code: str) -> OrgUnit:
        for unit in self.units:
            if unit.code == code:
                return unit
        raise KeyError(f"unknown org unit {code!r}; known: {', '.join(u.code for u in self.units)}")

    def active(self, day: date, kinds: tuple[str, ...]) -> list[OrgUnit]:
        """Units of the given kinds active on `day`, in file order."""
        return [u for u in self.units if u.kind in kinds and u.active_on(day)]

    def active_codes(self, day: date, codes: tuple[str, ...]) -> list[str]:
        """Those of `codes` whose unit is active on `day`, in the given order."""
        return [c for c in codes if self.get(c).active_on(day)]


def load_org_units(path: Path = SCHEMAS_DIR / "org_units.yaml") -> OrgUnits:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    return OrgUnits(
        tuple(
            OrgUnit(
                code=entry["code"],
                kind=entry["kind"],
                name_vi=entry["vi"],
                valid_from=entry["valid_from"],
                valid_to=entry.get("valid_to"),
            )
            for entry in document["units"]
        )
    )


def choose_active(rng: random.Random, units: OrgUnits, day: date, weights: dict[str, float]) -> str:
    """One of the weighted unit codes, among those active on `day`."""
    codes = units.active_codes(day, tuple(weights))
    if not codes:
        raise ValueError(f"none of {sorted(weights)} is active on {day}")
    return rng.choices(codes, weights=[weights[c] for c in codes])[0]
