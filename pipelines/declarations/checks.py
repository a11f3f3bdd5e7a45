"""The registry of named data-quality checks a feed may declare, and outlier rules.

Each check is a declaration model: its `check` name selects it, its own keys are its parameters, so
an unknown name or a wrong parameter is rejected when the feed file is read, naming file and key.
Every check has a severity — `blocking` (a failure keeps the batch from being published) or
`warning` (rows are published, the failure is recorded) — and row checks accept `mostly`: the share
of rows that must pass before a blocking check blocks the whole batch (without it, failing rows are
quarantined and the rest published). Checks are named for the condition that passes.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from pipelines.declarations.base import Regex, Strict

Severity = Literal["blocking", "warning"]


class Check(Strict):
    """What every check declares."""

    severity: Severity = "blocking"
    description: str | None = None

    scope: ClassVar[str] = "row"  # "row": failing rows are known; "batch": the batch as a whole passes or fails

    def columns(self) -> list[str]:
        """The contract columns the check reads (validated against the feed's columns)."""
        return []

    @property
    def name(self) -> str:
        return self.check


class RowCheck(Check):
    mostly: Annotated[float, Field(gt=0, le=1)] | None = None


class ValuesNotNull(RowCheck):
    """Every row has a value in `column`."""

    check: Literal["values_not_null"]
    column: str

    def columns(self) -> list[str]:
        return [self.column]


class ValuesInSet(RowCheck):
    """Values of `column` are among `values`."""

    check: Literal["values_in_set"]
    column: str
    values: list[str | int | float | bool]

    def columns(self) -> list[str]:
        return [self.column]


class ValuesBetween(RowCheck):
    """Values of `column` are within [min, max] (either bound may be left out)."""

    check: Literal["values_between"]
    column: str
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _a_bound(self) -> ValuesBetween:
        if self.min is None and self.max is None:
            raise ValueError("declare min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self

    def columns(self) -> list[str]:
        return [self.column]


class ValuesMatchRegex(RowCheck):
    """Text values of `column` match `regex` (a format such as a procedure code)."""

    check: Literal["values_match_regex"]
    column: str
    regex: Regex

    def columns(self) -> list[str]:
        return [self.column]


class UnitCodeIsActive(RowCheck):
    """`column` holds the code of an organisation unit that exists — and, with `as_of`, that is active
    on the date (or month) in column `as_of` (a unit merged away is not a valid assignee after it closed)."""

    check: Literal["unit_code_is_active"]
    column: str
    as_of: str | None = None

    def columns(self) -> list[str]:
        return [self.column] + ([self.as_of] if self.as_of else [])


class ColumnPairInOrder(RowCheck):
    """`greater` is not below `lesser` (e.g. due_at ≥ received_at); rows missing either are skipped."""

    check: Literal["column_pair_in_order"]
    greater: str
    lesser: str
    or_equal: bool = True

    def columns(self) -> list[str]:
        return [self.greater, self.lesser]


class KeyIsUnique(RowCheck):
    """No two rows of a batch share these columns' values."""

    check: Literal["key_is_unique"]
    key: list[str]

    def columns(self) -> list[str]:
        return list(self.key)


class RowsMatchFileName(Check):
    """Every row carries the department and period its file is named for (e.g. SKHCN_2026-10.xlsx):
    the fields of the source's `file_name_pattern`."""

    check: Literal["rows_match_file_name"]
    scope: ClassVar[str] = "batch"


class RowCountBetween(Check):
    """The batch holds between min and max rows."""

    check: Literal["row_count_between"]
    min: Annotated[int, Field(ge=0)] = 0
    max: Annotated[int, Field(ge=0)] | None = None
    scope: ClassVar[str] = "batch"


class RequiredColumnsPresent(Check):
    """Every required (not nullable) contract column is in the source."""

    check: Literal["required_columns_present"]
    scope: ClassVar[str] = "batch"


class NoUnknownColumns(Check):
    """The source sends no column the contract does not know (schema drift)."""

    check: Literal["no_unknown_columns"]
    severity: Severity = "warning"
    scope: ClassVar[str] = "batch"


DeclaredCheck = Annotated[
    ValuesNotNull | ValuesInSet | ValuesBetween | ValuesMatchRegex | UnitCodeIsActive | ColumnPairInOrder
    | KeyIsUnique | RowsMatchFileName | RowCountBetween | RequiredColumnsPresent | NoUnknownColumns,
    Field(discriminator="check"),
]

CHECK_NAMES = sorted(
    cls.model_fields["check"].annotation.__args__[0]
    for cls in (ValuesNotNull, ValuesInSet, ValuesBetween, ValuesMatchRegex, UnitCodeIsActive, ColumnPairInOrder,
                KeyIsUnique, RowsMatchFileName, RowCountBetween, RequiredColumnsPresent, NoUnknownColumns)
)

# The check the conform stage applies while parsing: a value that is not of its column's type.
TYPE_CHECK = "value_has_contract_type"


class OutlierRule(Strict):
    """Flag reported values far from their own series' history (DHIS2's outlier detection).

    z_score: |x − mean| / sd; modified_z_score: 0.6745 · |x − median| / MAD (robust to earlier
    outliers); min_max: outside the bounds declared per series value (e.g. per indicator). Flags are
    warnings with the expected range: values are never changed.
    """

    column: str
    series: list[str]
    order_by: str
    method: Literal["z_score", "modified_z_score", "min_max"] = "modified_z_score"
    threshold: Annotated[float, Field(gt=0)] = 3.0
    baseline_periods: Annotated[int, Field(ge=3, le=120)] = 12
    min_baseline: Annotated[int, Field(ge=2)] = 3
    bounds: dict[str, tuple[float, float]] = {}
    bounds_by: str | None = None

    @model_validator(mode="after")
    def _bounds_for_min_max(self) -> OutlierRule:
        if self.method == "min_max" and not (self.bounds and self.bounds_by):
            raise ValueError("method min_max needs 'bounds' (per value of 'bounds_by', e.g. per indicator_code)")
        for name, (low, high) in self.bounds.items():
            if low > high:
                raise ValueError(f"bounds of {name!r}: {low} is above {high}")
        return self

    def columns(self) -> list[str]:
        return [self.column, *self.series, self.order_by] + ([self.bounds_by] if self.bounds_by else [])

# What each check means, for people (the wall's data-quality panel); a test keeps it complete.
CHECK_LABELS = {
    "values_not_null": {"vi": "Thiếu giá trị bắt buộc", "en": "Required value missing"},
    "values_in_set": {"vi": "Giá trị ngoài danh mục", "en": "Value not in the allowed list"},
    "values_between": {"vi": "Giá trị ngoài khoảng cho phép", "en": "Value out of range"},
    "values_match_regex": {"vi": "Sai định dạng", "en": "Wrong format"},
    "unit_code_is_active": {"vi": "Mã đơn vị không tồn tại hoặc không còn hoạt động",
                            "en": "Unknown or inactive unit code"},
    "column_pair_in_order": {"vi": "Thứ tự ngày/giá trị không hợp lệ", "en": "Columns out of order"},
    "key_is_unique": {"vi": "Trùng khóa bản ghi", "en": "Duplicate record key"},
    "rows_match_file_name": {"vi": "Nội dung không khớp tên tệp (đơn vị/kỳ)",
                             "en": "Rows do not match the file name (unit/period)"},
    "row_count_between": {"vi": "Số dòng bất thường", "en": "Unexpected row count"},
    "required_columns_present": {"vi": "Thiếu cột bắt buộc", "en": "Required column missing"},
    "no_unknown_columns": {"vi": "Có cột không khai báo", "en": "Undeclared column"},
    TYPE_CHECK: {"vi": "Sai kiểu dữ liệu", "en": "Wrong data type"},
    "value_is_not_outlier": {"vi": "Giá trị bất thường so với lịch sử", "en": "Outlier against history"},
    "batch_is_publishable": {"vi": "Lô dữ liệu bị chặn công bố", "en": "Batch blocked from publication"},
}
