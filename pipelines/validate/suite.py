"""Compile a feed's declarations — its column contract, its `checks:` and its `outliers:` — into the
checks of its suite, and each check into a Great Expectations expectation.

Nobody writes a suite by hand: change a feed file and its suite changes. Values only known per
batch (the unit codes, the department and period a file is named for) are $PARAMETERs.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.declarations.checks import (
    INDICATOR_CHECK,
    OUTLIER_CHECK,
    TYPE_CHECK,
    TYPED_EXPECTED,
    WELL_FORMED_CHECK,
    WELL_FORMED_EXPECTED,
    Check,
    ColumnPairInOrder,
    FormRule,
    KeyIsUnique,
    NoUnknownColumns,
    OutlierRule,
    RequiredColumnsPresent,
    UnitCodeIsActive,
    ValuesInSet,
    ValuesNotNull,
    indicator_expected,
    rule_column,
)
from pipelines.declarations.models import Feed

# Which frame each check's expectations run on: "rows" (the batch's conformed rows, staged in DuckDB and
# validated through GE's SQL path) or "columns" (the columns the source sent, a small pandas frame).
FRAMES = ("rows", "columns")


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
            implied.append(("contract", ValuesInSet(check="values_in_set", column=col.name, values=list(col.enum))))
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
        checks.append(
            SuiteCheck(
                check_id,
                check.check,
                origin,
                check.severity,
                check.scope,
                check.frame,
                tuple(check.columns()),
                check,
                getattr(check, "mostly", None),
            )
        )
    for i, rule in enumerate(feed.outliers):
        checks.append(
            SuiteCheck(
                f"{OUTLIER_CHECK}:{rule.column}:{rule.method}:{i}",
                OUTLIER_CHECK,
                f"outliers[{i}]",
                "warning",
                "row",
                "rows",
                (rule.column,),
                rule,
            )
        )
    return checks


def _check_id(check: Check) -> str:
    if isinstance(check, FormRule):  # e.g. ratio_matches:vs_plan_pct:ytd:plan_year
        return rule_column(check).removeprefix("_rule__").replace("__", ":")
    if isinstance(check, ColumnPairInOrder):
        return f"{check.check}:{check.greater}{'>=' if check.or_equal else '>'}{check.lesser}"
    columns = check.columns()
    return f"{check.check}:{','.join(columns)}" if columns else check.check


def expected_text(check: SuiteCheck, feed: Feed, lang: str = "en") -> str:
    """What a passing value looks like, in words (vi or en), for quarantine reasons and results; the checks the
    platform applies while reading (well-formed lines, values of their column's type) have no declaration."""
    if check.declaration is not None:
        return check.declaration.expected(feed, lang)
    if check.name == WELL_FORMED_CHECK:
        return WELL_FORMED_EXPECTED[lang]
    if check.name == INDICATOR_CHECK:
        form = feed.form
        assert form is not None  # the check of a form's rows
        return indicator_expected(form.catalogue, lang)
    return TYPED_EXPECTED[lang]


def expectations(check: SuiteCheck, feed: Feed) -> list:
    """The Great Expectations expectations of one check (each tagged with the check's id)."""
    meta = {"check_id": check.id, "check": check.name, "severity": check.severity, "origin": check.origin}
    if isinstance(check.declaration, OutlierRule):
        return check.declaration.expectations(feed, meta, _outlier_index(check))
    assert check.declaration is not None  # a check of the suite: declared (the conform stage's are not)
    return check.declaration.expectations(feed, meta)


def failing(check: SuiteCheck, feed: Feed, parameters: dict):
    """The rows of a chunk that break a row check, as a polars predicate (None for one that compares or
    counts rows). GE gives each check's result on the whole batch; this finds the rows to quarantine,
    without a Python object per failing row."""
    if isinstance(check.declaration, OutlierRule):
        return check.declaration.failing(feed, parameters, _outlier_index(check))
    assert check.declaration is not None  # a check of the suite: declared (the conform stage's are not)
    return check.declaration.failing(feed, parameters)


def _outlier_index(check: SuiteCheck) -> int:
    return int(check.origin.split("[")[1].rstrip("]"))


def suite_name(feed_id: str, frame: str) -> str:
    return f"{feed_id}.{frame}"


def build_suites(feed: Feed):
    """The feed's expectation suites: on its rows, and on the columns its source sent."""
    import great_expectations as gx  # lazy: Great Expectations costs seconds: suites are built in its worker

    checks = suite_checks(feed)
    suites = {}
    for frame in FRAMES:
        compiled = [e for check in checks if check.frame == frame for e in expectations(check, feed)]
        suites[frame] = gx.ExpectationSuite(
            name=suite_name(feed.id, frame),
            expectations=compiled,
            meta={"feed": feed.id, "generated_from": f"schemas/feeds/{feed.id}.yaml"},
        )
    return suites


def type_check() -> SuiteCheck:
    """The parsing check of the conform stage, recorded with the suite's results."""
    return SuiteCheck(TYPE_CHECK, TYPE_CHECK, "contract", "blocking", "row", "rows", (), None)
