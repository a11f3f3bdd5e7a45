"""Compile a feed's declarations — its column contract, its `checks:` and its `outliers:` — into the
checks of its suite, and each check into a Great Expectations expectation.

Nobody writes a suite by hand: change a feed file and its suite changes. Values only known per
batch (the unit codes, the department and period a file is named for) are $PARAMETERs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipelines.declarations.checks import (
    TYPE_CHECK,
    Check,
    ColumnPairInOrder,
    KeyIsUnique,
    NoUnknownColumns,
    OutlierRule,
    RequiredColumnsPresent,
    RowCountBetween,
    RowsMatchFileName,
    UnitCodeIsActive,
    ValuesBetween,
    ValuesInSet,
    ValuesMatchRegex,
    ValuesNotNull,
)
from pipelines.declarations.models import Feed

OUTLIER_CHECK = "value_is_not_outlier"
COLUMNS_FRAME_COLUMN = "column"  # the columns frame has one row per column the source sent
# Which frame each check's expectations run on: "rows" (the batch's conformed rows, staged in DuckDB and
# validated through GE's SQL path) or "columns" (the columns the source sent, a small pandas frame).
FRAMES = ("rows", "columns")
COLUMNS_FRAME_CHECKS = ("required_columns_present", "no_unknown_columns")
BATCH_CHECKS = ("key_is_unique", "row_count_between")  # checks that compare or count rows: no row-local predicate


@dataclass(frozen=True)
class SuiteCheck:
    """One check of a feed's suite: where it was declared, and what it checks."""

    id: str  # unique in the feed, e.g. values_between:fee_vnd
    name: str  # the registry name, e.g. values_between
    origin: str  # "contract", "checks[2]", "outliers[0]"
    severity: str
    scope: str  # row | batch
    frame: str  # rows | columns: which frame the expectation runs on
    columns: tuple[str, ...]
    declaration: Check | OutlierRule | None  # None for the conform stage's type check
    mostly: float | None = None

    @property
    def column(self) -> str | None:
        return self.columns[0] if self.columns else None


def active_column(check: UnitCodeIsActive) -> str:
    return f"_active__{check.column}__{check.as_of}"


def outlier_column(index: int) -> str:
    return f"_not_outlier__{index}"


def file_parameter(column: str) -> str:
    return f"file_{column}"


def file_name_fields(feed: Feed) -> list[str]:
    pattern = getattr(feed.source, "file_name_pattern", None)
    return list(re.compile(pattern).groupindex) if pattern else []


def suite_checks(feed: Feed) -> list[SuiteCheck]:
    """Every check of the feed: implied by the contract first, then declared, then outliers."""
    implied: list[tuple[str, Check]] = [
        ("contract", RequiredColumnsPresent(check="required_columns_present")),
        ("contract", NoUnknownColumns(check="no_unknown_columns")),
    ]
    declared_units = {c.column for c in feed.checks if isinstance(c, UnitCodeIsActive)}
    for col in feed.columns:
        if not col.nullable:
            implied.append(("contract", ValuesNotNull(check="values_not_null", column=col.name)))
        if col.enum:
            implied.append(("contract", ValuesInSet(check="values_in_set", column=col.name, values=col.enum)))
        if col.references == "org_unit" and col.name not in declared_units:
            implied.append(("contract", UnitCodeIsActive(check="unit_code_is_active", column=col.name)))
    key = list(feed.load.key) + ([feed.load.version] if feed.load.version else [])
    implied.append(("contract", KeyIsUnique(check="key_is_unique", key=key)))
    declared = [(f"checks[{i}]", c) for i, c in enumerate(feed.checks)]
    checks, seen = [], set()
    for origin, check in implied + declared:
        check_id = _check_id(check)
        while check_id in seen:
            check_id += "'"
        seen.add(check_id)
        frame = "columns" if check.check in COLUMNS_FRAME_CHECKS else "rows"
        checks.append(SuiteCheck(check_id, check.check, origin, check.severity, check.scope, frame,
                                 tuple(check.columns()), check, getattr(check, "mostly", None)))
    for i, rule in enumerate(feed.outliers):
        checks.append(SuiteCheck(f"{OUTLIER_CHECK}:{rule.column}:{rule.method}:{i}", OUTLIER_CHECK,
                                 f"outliers[{i}]", "warning", "row", "rows", (rule.column,), rule))
    return checks


def _check_id(check: Check) -> str:
    if isinstance(check, ColumnPairInOrder):
        return f"{check.check}:{check.greater}{'>=' if check.or_equal else '>'}{check.lesser}"
    columns = check.columns()
    return f"{check.check}:{','.join(columns)}" if columns else check.check


def expected_text(check: SuiteCheck, feed: Feed) -> str:
    """What a passing value looks like, in words, for quarantine reasons and results."""
    d = check.declaration
    if isinstance(d, ValuesNotNull):
        return "a value (the column is required)"
    if isinstance(d, ValuesInSet):
        column = feed.column(d.column)
        labels = f"; or a label: {', '.join(column.values)}" if column is not None and column.values else ""
        return f"one of {', '.join(map(str, d.values))}{labels}"
    if isinstance(d, ValuesBetween):
        if d.min is not None and d.max is not None:
            return f"a value between {d.min:g} and {d.max:g}"
        return f"a value ≥ {d.min:g}" if d.min is not None else f"a value ≤ {d.max:g}"
    if isinstance(d, ValuesMatchRegex):
        return f"text matching {d.regex}"
    if isinstance(d, UnitCodeIsActive):
        return (f"the code of a unit active on its {d.as_of} (schemas/org_units.yaml)" if d.as_of
                else "a code of schemas/org_units.yaml")
    if isinstance(d, ColumnPairInOrder):
        return f"{d.greater} {'≥' if d.or_equal else '>'} {d.lesser}"
    if isinstance(d, KeyIsUnique):
        return f"each ({', '.join(d.key)}) once per batch"
    if isinstance(d, RowsMatchFileName):
        return f"the {' and '.join(file_name_fields(feed))} the file is named for"
    if isinstance(d, RowCountBetween):
        return f"between {d.min} and {d.max if d.max is not None else 'any number of'} rows"
    if isinstance(d, RequiredColumnsPresent):
        return "every required column: " + ", ".join(c.name for c in feed.columns if not c.nullable)
    if isinstance(d, NoUnknownColumns):
        return "only the contract's columns: " + ", ".join(feed.column_names)
    if isinstance(d, OutlierRule):
        return f"a value in the usual range of its series ({d.method.replace('_', ' ')}, threshold {d.threshold:g})"
    raise ValueError(f"no wording for check {check.name}")


def expectations(check: SuiteCheck, feed: Feed) -> list:
    """The Great Expectations expectations of one check (each tagged with the check's id)."""
    import great_expectations as gx

    E = gx.expectations
    d = check.declaration
    meta = {"check_id": check.id, "check": check.name, "severity": check.severity, "origin": check.origin}
    mostly = {"mostly": check.mostly} if check.mostly else {}
    if isinstance(d, ValuesNotNull):
        return [E.ExpectColumnValuesToNotBeNull(column=d.column, meta=meta, **mostly)]
    if isinstance(d, ValuesInSet):
        return [E.ExpectColumnValuesToBeInSet(column=d.column, value_set=d.values, meta=meta, **mostly)]
    if isinstance(d, ValuesBetween):
        return [E.ExpectColumnValuesToBeBetween(column=d.column, min_value=d.min, max_value=d.max, meta=meta, **mostly)]
    if isinstance(d, ValuesMatchRegex):
        return [E.ExpectColumnValuesToMatchRegex(column=d.column, regex=d.regex, meta=meta, **mostly)]
    if isinstance(d, UnitCodeIsActive):
        if d.as_of:
            return [E.ExpectColumnValuesToBeInSet(column=active_column(d), value_set=[True], meta=meta, **mostly)]
        return [E.ExpectColumnValuesToBeInSet(column=d.column, value_set={"$PARAMETER": "unit_codes"},
                                              meta=meta, **mostly)]
    if isinstance(d, ColumnPairInOrder):
        return [E.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=d.greater, column_B=d.lesser, or_equal=d.or_equal, ignore_row_if="either_value_is_missing",
            meta=meta, **mostly)]
    if isinstance(d, KeyIsUnique):
        if len(d.key) == 1:
            return [E.ExpectColumnValuesToBeUnique(column=d.key[0], meta=meta, **mostly)]
        return [E.ExpectCompoundColumnsToBeUnique(column_list=d.key, meta=meta, **mostly)]
    if isinstance(d, RowsMatchFileName):
        return [E.ExpectColumnValuesToBeInSet(column=c, value_set={"$PARAMETER": file_parameter(c)}, meta=meta)
                for c in file_name_fields(feed)]
    if isinstance(d, RowCountBetween):
        return [E.ExpectTableRowCountToBeBetween(min_value=d.min, max_value=d.max, meta=meta)]
    if isinstance(d, RequiredColumnsPresent):
        required = [c.name for c in feed.columns if not c.nullable]
        return [E.ExpectColumnDistinctValuesToContainSet(column=COLUMNS_FRAME_COLUMN, value_set=required, meta=meta)]
    if isinstance(d, NoUnknownColumns):
        return [E.ExpectColumnValuesToBeInSet(column=COLUMNS_FRAME_COLUMN, value_set=feed.column_names, meta=meta)]
    if isinstance(d, OutlierRule):
        index = int(check.origin.split("[")[1].rstrip("]"))
        return [E.ExpectColumnValuesToBeInSet(column=outlier_column(index), value_set=[True], meta=meta)]
    raise ValueError(f"no expectation for check {check.name}")


def suite_name(feed_id: str, frame: str) -> str:
    return f"{feed_id}.{frame}"


def failing(check: SuiteCheck, feed: Feed, parameters: dict):
    """The rows of a chunk that break a row-local check, as a polars predicate — the same condition as the
    check's expectation (missing values pass every check but values_not_null, as in Great Expectations).
    GE gives each check's result on the whole batch; this finds the rows to quarantine, without a Python
    object per failing row."""
    import polars as pl

    d = check.declaration
    if isinstance(d, ValuesNotNull):
        return pl.col(d.column).is_null()
    if isinstance(d, ValuesInSet):
        return pl.col(d.column).is_not_null() & ~pl.col(d.column).is_in(d.values)
    if isinstance(d, ValuesBetween):
        column = pl.col(d.column)
        outside = pl.lit(False)
        if d.min is not None:
            outside = outside | (column < d.min)
        if d.max is not None:
            outside = outside | (column > d.max)
        return column.is_not_null() & outside
    if isinstance(d, ValuesMatchRegex):
        return pl.col(d.column).is_not_null() & ~pl.col(d.column).cast(pl.String).str.contains(d.regex)
    if isinstance(d, UnitCodeIsActive):
        if d.as_of:
            return pl.col(active_column(d)).is_not_null() & ~pl.col(active_column(d))
        return pl.col(d.column).is_not_null() & ~pl.col(d.column).is_in(parameters["unit_codes"])
    if isinstance(d, ColumnPairInOrder):
        greater, lesser = pl.col(d.greater), pl.col(d.lesser)
        out_of_order = greater < lesser if d.or_equal else greater <= lesser
        return greater.is_not_null() & lesser.is_not_null() & out_of_order
    if isinstance(d, RowsMatchFileName):
        wrong = [pl.col(c).is_not_null() & ~pl.col(c).cast(pl.String).is_in(parameters[file_parameter(c)])
                 for c in file_name_fields(feed)]
        return pl.any_horizontal(wrong) if wrong else pl.lit(False)
    if isinstance(d, OutlierRule):
        column = outlier_column(int(check.origin.split("[")[1].rstrip("]")))
        return pl.col(column).is_not_null() & ~pl.col(column)
    raise ValueError(f"check {check.name} is not row-local")


def build_suites(feed: Feed):
    """The feed's expectation suites: on its rows, and on the columns its source sent."""
    import great_expectations as gx

    checks = suite_checks(feed)
    suites = {}
    for frame in FRAMES:
        compiled = [e for check in checks if check.frame == frame for e in expectations(check, feed)]
        suites[frame] = gx.ExpectationSuite(
            name=suite_name(feed.id, frame), expectations=compiled,
            meta={"feed": feed.id, "generated_from": f"schemas/feeds/{feed.id}.yaml"})
    return suites


def type_check() -> SuiteCheck:
    """The parsing check of the conform stage, recorded with the suite's results."""
    return SuiteCheck(TYPE_CHECK, TYPE_CHECK, "contract", "blocking", "row", "rows", (), None)
