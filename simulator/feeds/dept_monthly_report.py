"""Departments' monthly report submissions (feed `dept_monthly_report`): who sent what, when, in which layout."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from simulator.clock import (
    add_months, at, iso, month_start, period_end, period_of, period_start, random_office_moment, report_deadline,
)
from simulator.org_units import OrgUnits
from simulator.vocabulary import COMMON_INDICATORS, EXTRA_INDICATORS, INDICATORS, REPORT_NOTES

LAYOUTS = ("xlsx", "csv", "csv_vi", "csv_cp1258")
GARBAGE = "garbage"
NOT_SUBMITTED_LATEST = ("SXD", "SCT")
LATE_SUBMISSIONS = 4
EARLY_SHARE = 0.25
CORRECTED_INDICATORS = ("VB_DEN", "KINH_PHI")
NON_NUMERIC_VALUE = "không có"
INDICATORS_BY_CODE = {i.code: i for i in INDICATORS}


@dataclass(frozen=True)
class ReportRow:
    department_code: str
    period: str
    indicator_code: str
    indicator_name: str
    value: int | float | str
    unit: str
    note: str | None


@dataclass(frozen=True)
class ReportFile:
    """One file a department dropped: `layout` is one of LAYOUTS, or `garbage` for unreadable bytes."""

    name: str
    department_code: str
    period: str
    submitted_at: datetime
    layout: str
    rows: tuple[ReportRow, ...]
    replaces: str | None = None


def file_name(department_code: str, period: str, layout: str, version: int = 1) -> str:
    suffix = "" if version == 1 else f"_v{version}"
    extension = "csv" if layout.startswith("csv") else "xlsx"
    return f"{department_code}_{period}{suffix}.{extension}"


def build_report_files(
    rng: random.Random, units: OrgUnits, now: datetime, months: int
) -> tuple[list[ReportFile], dict[str, list]]:
    """Every report file the departments have dropped by `now`, and what was planted among them."""
    current = month_start(now.date())
    periods = [period_of(add_months(current, -back)) for back in reversed(range(months))]
    passed = [p for p in periods if report_deadline(p) <= now]
    latest_passed = passed[-1] if passed else None
    departments = sorted(_departments_active(units, period_start(periods[0]), period_end(periods[-1])))
    layout_of = dict(zip(rng.sample(departments, len(departments)), LAYOUTS * len(departments)))
    levels = {(code, i.code): rng.uniform(*i.typical) for code in departments for i in INDICATORS}
    files: list[ReportFile] = []
    planted: dict[str, list] = {"missing": [], "early": []}
    for period in periods:
        deadline = report_deadline(period)
        first, last = period_start(period), period_end(period)
        for code in _departments_active(units, first, last):
            if period == latest_passed and code in NOT_SUBMITTED_LATEST:
                planted["missing"].append({"department_code": code, "period": period})
                continue
            submitted_at = submission_moment(rng, period, now)
            if submitted_at is None:
                continue
            layout = layout_of[code]
            rows = _rows(rng, code, period, levels)
            files.append(ReportFile(file_name(code, period, layout), code, period, submitted_at, layout, rows))
            if deadline > now:
                early = {"department_code": code, "period": period, "file": files[-1].name}
                planted["early"].append(early | {"submitted_at": iso(submitted_at)})
    planted["late"] = _make_late(rng, files, now)
    on_time = [i for i, f in enumerate(files) if f.submitted_at <= report_deadline(f.period) <= now]
    non_numeric = rng.choice([i for i in on_time if files[i].layout in ("csv", "csv_vi")])
    garbage, unknown_unit, corrected = rng.sample([i for i in on_time if i != non_numeric], 3)
    planted["garbage_files"] = [_make_garbage(files, garbage)]
    planted["unknown_department_files"] = [_plant_unknown_unit(files, unknown_unit)]
    planted["non_numeric_value_files"] = [_plant_non_numeric_value(rng, files, non_numeric)]
    planted["resubmissions"] = [_resubmit_corrected(rng, files, corrected, now)]
    return files, planted


def submission_moment(rng: random.Random, period: str, now: datetime) -> datetime | None:
    """When a department sent its report of `period`, as of `now`: by the deadline once it has passed; before it,
    a share of departments early (a day into the period at least); None for one that has not sent it yet."""
    deadline, first = report_deadline(period), period_start(period)
    if deadline <= now:
        return random_office_moment(rng, at(first.replace(day=10), 8), deadline)
    if rng.random() < EARLY_SHARE and now - at(first) > timedelta(days=1):
        return random_office_moment(rng, at(first), now)
    return None


def _departments_active(units: OrgUnits, first: date, last: date) -> list[str]:
    return [u.code for u in units.units if u.kind == "department" and u.active_during(first, last)]


def _rows(rng: random.Random, code: str, period: str, levels: dict) -> tuple[ReportRow, ...]:
    rows = []
    for indicator_code in EXTRA_INDICATORS.get(code, ()) + COMMON_INDICATORS:
        indicator = INDICATORS_BY_CODE[indicator_code]
        value = levels[code, indicator_code] * rng.uniform(0.7, 1.3)
        value = round(value, 1) if indicator.decimals else round(value)
        note = rng.choice(REPORT_NOTES) if rng.random() < 0.15 else None
        rows.append(ReportRow(code, period, indicator.code, indicator.name, value, indicator.unit, note))
    return tuple(rows)


def _make_late(rng: random.Random, files: list[ReportFile], now: datetime) -> list[dict]:
    """Move a few submissions 3–10 days past their deadline."""
    candidates = [i for i, f in enumerate(files) if report_deadline(f.period) + timedelta(days=11) <= now]
    late = []
    for index in sorted(rng.sample(candidates, min(LATE_SUBMISSIONS, len(candidates)))):
        report = files[index]
        day = report_deadline(report.period).date() + timedelta(days=rng.randint(3, 10))
        files[index] = replace(report, submitted_at=random_office_moment(rng, at(day, 8), at(day, 17)))
        late.append({
            "department_code": report.department_code,
            "period": report.period,
            "file": report.name,
            "submitted_at": iso(files[index].submitted_at),
            "days_late": (day - report_deadline(report.period).date()).days,
        })
    return late


def _make_garbage(files: list[ReportFile], index: int) -> str:
    """The file arrives as unreadable bytes named `.xlsx`."""
    report = files[index]
    name = file_name(report.department_code, report.period, "xlsx")
    files[index] = replace(report, name=name, layout=GARBAGE, rows=())
    return files[index].name


def _plant_unknown_unit(files: list[ReportFile], index: int) -> dict:
    """The rows carry a mistyped department code (the file's code without its last letter)."""
    report = files[index]
    typo = report.department_code[:-1]
    files[index] = replace(report, rows=tuple(replace(r, department_code=typo) for r in report.rows))
    return {"file": report.name, "department_code": typo, "expected": report.department_code}


def _plant_non_numeric_value(rng: random.Random, files: list[ReportFile], index: int) -> dict:
    report = files[index]
    rows = list(report.rows)
    row_index = rng.randrange(len(rows))
    rows[row_index] = replace(rows[row_index], value=NON_NUMERIC_VALUE)
    files[index] = replace(report, rows=tuple(rows))
    return {"file": report.name, "indicator_code": rows[row_index].indicator_code, "value": NON_NUMERIC_VALUE}


def _resubmit_corrected(rng: random.Random, files: list[ReportFile], index: int, now: datetime) -> dict:
    """A later `_v2.xlsx` of an on-time file, correcting two of its values."""
    original = files[index]
    corrections = []
    rows = list(original.rows)
    for row_index, row in enumerate(rows):
        if row.indicator_code in CORRECTED_INDICATORS:
            new_value = row.value + rng.randint(15, 80) if isinstance(row.value, int) else round(row.value * 1.1, 1)
            corrections.append({"indicator_code": row.indicator_code, "old_value": row.value, "new_value": new_value})
            rows[row_index] = replace(row, value=new_value)
    delay = min(timedelta(days=rng.uniform(2, 6)), (now - original.submitted_at) * 0.9)
    resubmission = replace(
        original,
        name=file_name(original.department_code, original.period, "xlsx", version=2),
        layout="xlsx",
        submitted_at=(original.submitted_at + delay).replace(microsecond=0),
        rows=tuple(rows),
        replaces=original.name,
    )
    files.append(resubmission)
    return {
        "file": resubmission.name,
        "replaces": original.name,
        "department_code": original.department_code,
        "period": original.period,
        "submitted_at": iso(resubmission.submitted_at),
        "corrections": corrections,
    }
