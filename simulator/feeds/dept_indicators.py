"""Departments' monthly figures forms (feed `dept_indicators`): SYT, SCT, SXD and STC send their "biểu số liệu"
of the main socio-economic indicators (catalogue `kt_xh_thang`) each month, each in its own layout.

Figures are consistent over the months: a flow's year to date is the sum of the year's months, parts stay
below their whole, plans are constants of the year. Planted: one "Trong đó" part above its whole, one row
whose indicator the catalogue does not know, SXD's missing latest form, late and early submissions.
"""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path

import yaml

from simulator.clock import (
    add_months, at, iso, month_start, period_end, period_of, period_start, random_office_moment, report_deadline,
)
from simulator.feeds.dept_monthly_report import submission_moment
from simulator.forms import CSV, CSV_CP1258, XLSX, Figure, FormFile, FormRow, FormSpec, expected_figures, form_grid
from simulator.org_units import SCHEMAS_DIR, OrgUnits

CATALOGUE_PATH = SCHEMAS_DIR / "indicators" / "kt_xh_thang.yaml"
DEPARTMENTS = ("SYT", "SCT", "SXD", "STC")
NOT_SUBMITTED_LATEST = ("SXD",)
LATE_SUBMISSIONS = 2
CP1258_DEPARTMENT = "SCT"  # one past month of it arrives as a Windows-1258 CSV
UNKNOWN_DEPARTMENT, UNKNOWN_NAME, UNKNOWN_UNIT = "SYT", "Số ca mắc sởi", "ca"
UNKNOWN_AFTER = "YT_TCM_TUVONG"  # the unknown row follows this indicator's row
NOTE_SHARE = 0.12
NOTES = ("Số liệu ước tính", "Số liệu sơ bộ", "Ước thực hiện", "Số liệu chính thức")

# Flows: a typical monthly amount (low, high) and its decimals; month factors over the year (dengue peaks in
# autumn, Tết slows February, budgets spend in December).
FLOWS: dict[str, tuple[tuple[float, float], int]] = {
    "YT_KCB": ((650_000, 850_000), 0),
    "YT_SXH": ((60, 140), 0),
    "YT_TCM": ((40, 110), 0),
    "CT_BANLE": ((15_000, 18_000), 1),
    "CT_XK": ((2_800, 3_600), 1),
    "CT_NK": ((2_300, 3_000), 1),
    "XD_GPXD": ((280, 520), 0),
    "XD_NOXH": ((6_000, 30_000), 0),
    "TC_THU": ((8_000, 11_000), 1),
    "TC_CHI": ((3_000, 4_500), 1),
    "TC_GIAINGAN": ((1_200, 2_200), 1),
}
DEFAULT_SEASON = (0.97, 0.85, 1.0, 1.0, 1.0, 1.0, 1.0, 1.02, 1.02, 1.04, 1.05, 1.12)
SEASONS = {
    "YT_SXH": (0.3, 0.2, 0.2, 0.3, 0.5, 0.8, 1.2, 1.8, 2.2, 2.4, 1.8, 0.9),
    "YT_TCM": (0.6, 0.5, 0.7, 0.9, 1.1, 1.0, 0.9, 0.8, 1.3, 1.5, 1.3, 0.9),
    "TC_GIAINGAN": (0.3, 0.5, 0.7, 0.8, 0.9, 1.0, 1.0, 1.0, 1.1, 1.2, 1.4, 2.2),
}
# Parts: their share (low, high) of the whole, month by month.
PART_SHARES = {
    "YT_KCB_NOITRU": (0.07, 0.11),
    "YT_SXH_TUVONG": (0.0, 0.012),
    "YT_TCM_TUVONG": (0.0, 0.006),
    "CT_XK_FDI": (0.80, 0.88),
    "XD_GPXD_NHAO": (0.82, 0.93),
    "TC_THU_NOIDIA": (0.42, 0.52),
}
# A part that a slip of the keyboard can push above its whole: a big share of it (not deaths among cases).
SLIP_MIN_SHARE = 0.4
# Rates: a level (low, high) each month varies around by ± spread, at most a cap. Stocks: a January level
# rising each month by (low, high). Both: the plan of every year.
RATES = {"YT_TIEMCHUNG": ((94.0, 96.5), 1.5, 99.5), "CT_IIP": ((107.0, 113.0), 3.5, 200.0)}
STOCKS = {"YT_BHYT": ((92.5, 93.5), (0.05, 0.2)), "XD_DOTHIHOA": ((50.0, 52.0), (0.02, 0.1))}
PLANS = {"YT_TIEMCHUNG": 96.0, "CT_IIP": 110.0, "YT_BHYT": 95.0, "XD_DOTHIHOA": 54.0}
DISEASES = ("YT_SXH", "YT_SXH_TUVONG", "YT_TCM", "YT_TCM_TUVONG")


@dataclass(frozen=True)
class CatalogueIndicator:
    code: str
    name: str
    unit: str
    aggregation: str
    parent: str | None
    departments: tuple[str, ...]
    measures: tuple[str, ...]


@dataclass(frozen=True)
class Section:
    """A group of the form: its numbering and heading (None: no group row), and its rows as
    (STT, indicator code, label when not the catalogue's name)."""

    stt: str | None
    heading: str | None
    rows: tuple[tuple[str, str, str | None], ...]


@dataclass(frozen=True)
class DepartmentLayout:
    header_rows: int
    numbering_row: bool
    text_numbers: bool
    unit_label: str
    layout: str
    sheet_name: str
    top_group: str
    sections: tuple[Section, ...]
    signer: str
    preparer: str


DEPARTMENT_LAYOUTS = {
    "SYT": DepartmentLayout(2, True, False, "Đơn vị tính", XLSX, "Biểu số liệu", "year", (
        Section("I", "Khám, chữa bệnh", (("1", "YT_KCB", None), ("-", "YT_KCB_NOITRU", None))),
        Section("II", "Phòng, chống dịch bệnh", (
            ("1", "YT_SXH", None), ("", "YT_SXH_TUVONG", None), ("2", "YT_TCM", None), ("a", "YT_TCM_TUVONG", None),
        )),
        Section("III", "Tiêm chủng và bảo hiểm y tế", (("1", "YT_TIEMCHUNG", None), ("2", "YT_BHYT", None))),
    ), "Nguyễn Văn Hùng", "Trần Thị Thu Hương"),
    "SCT": DepartmentLayout(3, True, True, "ĐVT", XLSX, "Biểu số liệu", "year", (
        Section("I", "Sản xuất công nghiệp", (("1", "CT_IIP", None),)),
        Section("II", "Thương mại, dịch vụ", (("2", "CT_BANLE", None),)),
        Section("III", "Xuất khẩu, nhập khẩu", (
            ("3", "CT_XK", "Tổng kim ngạch xuất khẩu"), ("", "CT_XK_FDI", None), ("4", "CT_NK", None),
        )),
    ), "Phạm Đức Thắng", "Lê Thị Hồng Nhung"),
    "SXD": DepartmentLayout(1, False, False, "Đơn vị tính", XLSX, "Biểu 01", "year", (
        Section("1", "Cấp phép xây dựng", (("1.1", "XD_GPXD", None), ("-", "XD_GPXD_NHAO", None))),
        Section("2", "Phát triển nhà ở", (("2.1", "XD_NOXH", None),)),
        Section("3", "Phát triển đô thị", (("3.1", "XD_DOTHIHOA", None),)),
    ), "Vũ Minh Tuấn", "Đỗ Thị Thu Hà"),
    "STC": DepartmentLayout(3, True, True, "Đơn vị tính", CSV, "Biểu số liệu", "results", (
        Section("I", "Thu ngân sách nhà nước", (
            ("1", "TC_THU", "Tổng thu NSNN trên địa bàn"), ("", "TC_THU_NOIDIA", None),
        )),
        Section("II", "Chi ngân sách địa phương", (("1", "TC_CHI", "Tổng chi NSĐP"), ("2", "TC_GIAINGAN", None))),
    ), "Hoàng Văn Nam", "Bùi Thị Lan Anh"),
}


def load_catalogue(path: Path = CATALOGUE_PATH) -> dict[str, CatalogueIndicator]:
    """The indicator catalogue, code → indicator, in file order (a whole before its parts)."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    default_measures = tuple(document["measures"])
    return {
        entry["code"]: CatalogueIndicator(
            code=entry["code"], name=entry["vi"], unit=entry["unit"], aggregation=entry["aggregation"],
            parent=entry.get("parent"), departments=tuple(entry.get("departments", ())),
            measures=tuple(entry.get("measures", default_measures)),
        )
        for entry in document["indicators"]
    }


def _round(value: float, decimals: int) -> int | float:
    return int(round(value)) if decimals == 0 else round(value, decimals)


def _round_plan(value: float) -> int:
    """A plan as departments set them: three significant digits."""
    digits = len(str(int(value)))
    return int(round(value, -(digits - 3))) if digits > 3 else int(round(value))


class Series:
    """Every simulated indicator's value for each month of `years`, and each year's plan."""

    def __init__(self, rng: random.Random, catalogue: dict[str, CatalogueIndicator], years: list[int]):
        self.years = years
        self.values: dict[tuple[str, int, int], int | float] = {}
        self.plans: dict[tuple[str, int], int | float] = {}
        self.decimals: dict[str, int] = {}
        for indicator in catalogue.values():
            if indicator.code in FLOWS:
                self._flow(rng, indicator.code)
            elif indicator.code in PART_SHARES:
                self._part(rng, indicator.code, indicator.parent)
            elif indicator.code in RATES:
                self._rate(rng, indicator.code)
            elif indicator.code in STOCKS:
                self._stock(rng, indicator.code)

    def _months(self) -> list[tuple[int, int]]:
        return [(year, month) for year in self.years for month in range(1, 13)]

    def _flow(self, rng: random.Random, code: str) -> None:
        (low, high), decimals = FLOWS[code]
        level, season, step = rng.uniform(low, high), SEASONS.get(code, DEFAULT_SEASON), 10 ** -decimals
        self.decimals[code] = decimals
        for year in self.years:
            for month in range(1, 13):
                value = _round(level * season[month - 1] * rng.uniform(0.92, 1.08), decimals)
                self.values[code, year, month] = max(value, _round(10 * step, decimals))
            self.plans[code, year] = _round_plan(level * sum(season) * rng.uniform(1.0, 1.08))
            level *= rng.uniform(1.03, 1.10)

    def _part(self, rng: random.Random, code: str, parent: str | None) -> None:
        """Strictly below the whole every month, hence in the year to date; the plan too."""
        if parent is None:
            raise ValueError(f"part {code} has no parent in the catalogue")
        (low, high), decimals = PART_SHARES[code], self.decimals[parent]
        step = 10 ** -decimals
        self.decimals[code] = decimals
        for year, month in self._months():
            whole = self.values[parent, year, month]
            value = _round(whole * rng.uniform(low, high), decimals)
            self.values[code, year, month] = max(0, min(value, _round(whole - step, decimals)))
        for year in self.years:
            whole_plan = self.plans[parent, year]
            self.plans[code, year] = max(1, min(_round_plan(whole_plan * (low + high) / 2), whole_plan - 1))

    def _rate(self, rng: random.Random, code: str) -> None:
        (low, high), spread, cap = RATES[code]
        level = rng.uniform(low, high)
        self.decimals[code] = 1
        for year, month in self._months():
            self.values[code, year, month] = round(min(level + rng.uniform(-spread, spread), cap), 1)
        for year in self.years:
            self.plans[code, year] = PLANS[code]

    def _stock(self, rng: random.Random, code: str) -> None:
        (low, high), rise = STOCKS[code]
        level = rng.uniform(low, high)
        self.decimals[code] = 1
        for year, month in self._months():
            self.values[code, year, month] = round(level, 1)
            level += rng.uniform(*rise)
        for year in self.years:
            self.plans[code, year] = PLANS[code]

    def ytd(self, indicator: CatalogueIndicator, year: int, month: int) -> int | float:
        """Flows: the sum of the year's months; rates: their average; stocks: the latest level."""
        months = [self.values[indicator.code, year, m] for m in range(1, month + 1)]
        if indicator.aggregation == "flow":
            return _round(sum(months), self.decimals[indicator.code])
        if indicator.aggregation == "rate":
            return round(statistics.fmean(months), 1)
        return months[-1]

    def figures(self, rng: random.Random, indicator: CatalogueIndicator, year: int, month: int) -> dict[str, Figure]:
        """The measures the catalogue says the department reports for `indicator`, in the form of `year-month`."""
        value, ytd = self.values[indicator.code, year, month], self.ytd(indicator, year, month)
        plan = self.plans.get((indicator.code, year))
        achieved = ytd if indicator.aggregation == "flow" else value
        if indicator.code in DISEASES:
            vs_last_year = rng.uniform(60, 150)
        elif indicator.aggregation == "flow":
            vs_last_year = rng.uniform(95, 115)
        else:
            vs_last_year = rng.uniform(97, 104)
        every = {
            "plan_year": plan, "month": value, "ytd": ytd,
            "vs_plan_pct": round(100 * achieved / plan, 1) if plan else None,
            "vs_last_year_pct": round(vs_last_year, 1),
        }
        return {m: every[m] for m in indicator.measures if every[m] is not None}


@dataclass
class _Submission:
    department_code: str
    period: str
    submitted_at: datetime
    layout: str

    @property
    def name(self) -> str:
        return f"{self.department_code}_{self.period}.{'xlsx' if self.layout == XLSX else 'csv'}"


def build_form_files(
    rng: random.Random, units: OrgUnits, now: datetime, months: int
) -> tuple[list[FormFile], dict[str, list]]:
    """Every figures form SYT, SCT, SXD and STC have dropped by `now`, and what was planted among them."""
    catalogue = load_catalogue()
    current = month_start(now.date())
    periods = [period_of(add_months(current, -back)) for back in reversed(range(months))]
    passed = [p for p in periods if report_deadline(p) <= now]
    latest_passed = passed[-1] if passed else None
    series = Series(rng, catalogue, list(range(int(periods[0][:4]), int(periods[-1][:4]) + 1)))
    planted: dict[str, list] = {"missing": [], "early": []}
    submissions = _submissions(rng, units, now, periods, latest_passed, planted)
    cp1258 = _choose_cp1258(rng, submissions, latest_passed, now)
    planted["csv_cp1258_files"] = [cp1258.name] if cp1258 else []
    planted["late"] = _make_late(rng, submissions, now)
    part_above_whole = _plant_part_above_whole(rng, catalogue, series, submissions, latest_passed, now)
    files = [
        FormFile(_spec(rng, s, units.get(s.department_code).name_vi, catalogue, series), s.name, s.layout,
                 s.submitted_at)
        for s in submissions
    ]
    planted["part_above_whole"] = [_describe_part_above_whole(files, *part_above_whole)] if part_above_whole else []
    unknown = _plant_unknown_indicator(rng, files, now, avoid=part_above_whole[:2] if part_above_whole else None)
    planted["unknown_indicators"] = [unknown] if unknown else []
    return files, planted


def _departments_active(units: OrgUnits, first: date, last: date) -> list[str]:
    return [code for code in DEPARTMENTS if units.get(code).active_during(first, last)]


def _submissions(
    rng: random.Random, units: OrgUnits, now: datetime, periods: list[str], latest_passed: str | None,
    planted: dict[str, list],
) -> list[_Submission]:
    """Who submitted which period when: on time for passed deadlines (but SXD's latest), a few early ones."""
    submissions = []
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
            submissions.append(_Submission(code, period, submitted_at, DEPARTMENT_LAYOUTS[code].layout))
            if deadline > now:
                planted["early"].append({
                    "department_code": code, "period": period, "file": submissions[-1].name,
                    "submitted_at": iso(submitted_at),
                })
    return submissions


def _choose_cp1258(
    rng: random.Random, submissions: list[_Submission], latest_passed: str | None, now: datetime
) -> _Submission | None:
    """One past month of CP1258_DEPARTMENT's forms becomes a Windows-1258 CSV (Excel on an older machine)."""
    own = [s for s in submissions if s.department_code == CP1258_DEPARTMENT and report_deadline(s.period) <= now]
    past = [s for s in own if latest_passed and s.period < latest_passed] or own
    if not past:
        return None
    chosen = rng.choice(past)
    chosen.layout = CSV_CP1258
    return chosen


def _make_late(rng: random.Random, submissions: list[_Submission], now: datetime) -> list[dict]:
    """Move a few submissions 3–10 days past their deadline."""
    candidates = [s for s in submissions if report_deadline(s.period) + timedelta(days=11) <= now]
    late = []
    for submission in rng.sample(candidates, min(LATE_SUBMISSIONS, len(candidates))):
        deadline = report_deadline(submission.period)
        day = deadline.date() + timedelta(days=rng.randint(3, 10))
        submission.submitted_at = random_office_moment(rng, at(day, 8), at(day, 17))
        late.append({
            "department_code": submission.department_code, "period": submission.period, "file": submission.name,
            "submitted_at": iso(submission.submitted_at), "days_late": (day - deadline.date()).days,
        })
    return sorted(late, key=lambda entry: (entry["period"], entry["department_code"]))


def _plant_part_above_whole(
    rng: random.Random, catalogue: dict[str, CatalogueIndicator], series: Series, submissions: list[_Submission],
    latest_passed: str | None, now: datetime,
) -> tuple[str, str, str, str] | None:
    """In one past month's form, a flow's large "Trong đó" part exceeds its whole for the month (a typing slip the
    department carried into its year to date too, so that only the part-whole check fails):
    (department, period, part, whole)."""
    due = [s for s in submissions if report_deadline(s.period) <= now]
    past = [s for s in due if latest_passed and s.period < latest_passed]
    for forms in (past, [s for s in due if s not in past]):  # the latest only when no past month will do
        candidates = [
            (s.department_code, s.period, code)
            for s in forms
            for section in DEPARTMENT_LAYOUTS[s.department_code].sections
            for _, code, _ in section.rows
            if catalogue[code].aggregation == "flow" and PART_SHARES.get(code, (0, 0))[0] >= SLIP_MIN_SHARE
        ]
        rng.shuffle(candidates)
        for department, period, part in candidates:
            whole = catalogue[part].parent
            if _inflate_part(rng, series, part, whole, int(period[:4]), int(period[5:])):
                return department, period, part, whole
    return None


def _inflate_part(rng: random.Random, series: Series, part: str, whole: str, year: int, month: int) -> bool:
    """Set the part 3–15 % above its whole in `month`, if its year to date stays below the whole's all year."""
    decimals, old = series.decimals[whole], series.values[part, year, month]
    whole_value = series.values[whole, year, month]
    series.values[part, year, month] = _round(whole_value * rng.uniform(1.03, 1.15) + 10 ** -decimals, decimals)
    for last in range(month, 13):
        part_ytd = sum(series.values[part, year, m] for m in range(1, last + 1))
        whole_ytd = sum(series.values[whole, year, m] for m in range(1, last + 1))
        if round(part_ytd, decimals) >= round(whole_ytd, decimals):
            series.values[part, year, month] = old
            return False
    return True


def _describe_part_above_whole(files: list[FormFile], department: str, period: str, part: str, whole: str) -> dict:
    form = next(f for f in files if f.spec.department_code == department and f.spec.period == period)
    figures = expected_figures(form.spec)
    (value, cell), (whole_value, whole_cell) = figures[part, "month"], figures[whole, "month"]
    return {
        "department_code": department, "period": period, "file": form.name, "measure": "month",
        "indicator_code": part, "parent_code": whole, "value": value, "parent_value": whole_value,
        "cell": cell, "parent_cell": whole_cell,
    }


def _spec(
    rng: random.Random, submission: _Submission, department_name: str, catalogue: dict[str, CatalogueIndicator],
    series: Series,
) -> FormSpec:
    code, period = submission.department_code, submission.period
    layout = DEPARTMENT_LAYOUTS[code]
    year, month = int(period[:4]), int(period[5:])
    rows = []
    for section in layout.sections:
        if section.heading:
            rows.append(FormRow(section.stt, section.heading, None, {}, kind="group"))
        for stt, indicator_code, label in section.rows:
            indicator = catalogue[indicator_code]
            kind = "part" if indicator.parent else "indicator"
            text = f"Trong đó: {label or indicator.name}" if kind == "part" else label or indicator.name
            figures = series.figures(rng, indicator, year, month)
            note = rng.choice(NOTES) if rng.random() < NOTE_SHARE else None
            rows.append(FormRow(stt, text, indicator.unit, figures, note, kind, indicator_code))
    return FormSpec(
        department_code=code, department_name_vi=department_name, period=period,
        header_rows=layout.header_rows, numbering_row=layout.numbering_row, text_numbers=layout.text_numbers,
        unit_label=layout.unit_label, rows=tuple(rows), report_number=10 * month + rng.randrange(1, 60),
        sheet_name=layout.sheet_name, report_date=submission.submitted_at.date(), top_group=layout.top_group,
        signer=layout.signer, preparer=layout.preparer,
    )


def _plant_unknown_indicator(
    rng: random.Random, files: list[FormFile], now: datetime, avoid: tuple[str, str] | None
) -> dict | None:
    """One of UNKNOWN_DEPARTMENT's forms (not the (department, period) to `avoid` when another is due) gains a
    row the catalogue does not know (measles cases)."""
    due = [
        i for i, f in enumerate(files)
        if f.spec.department_code == UNKNOWN_DEPARTMENT and report_deadline(f.spec.period) <= now
    ]
    candidates = [i for i in due if (files[i].spec.department_code, files[i].spec.period) != avoid] or due
    if not candidates:
        return None
    index = rng.choice(candidates)
    form = files[index]
    rows = list(form.spec.rows)
    after = next(i for i, r in enumerate(rows) if r.indicator_code == UNKNOWN_AFTER)
    month = rng.randint(1, 12)
    figures: dict[str, Figure] = {
        "month": month, "ytd": month + rng.randint(5, 60), "vs_last_year_pct": round(rng.uniform(60, 150), 1),
    }
    rows.insert(after + 1, FormRow("3", UNKNOWN_NAME, UNKNOWN_UNIT, figures, None, "indicator", None))
    spec = replace(form.spec, rows=tuple(rows))
    files[index] = form._replace(spec=spec)
    return {
        "department_code": spec.department_code, "period": spec.period, "file": form.name,
        "row": form_grid(spec).row_numbers[after + 1], "stt": "3", "name": UNKNOWN_NAME, "unit": UNKNOWN_UNIT,
    }
