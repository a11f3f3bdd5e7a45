"""The registry of named data-quality checks a feed may declare, and outlier rules.

Each check is one class, and the class is the whole check: its `check` name selects it, its own keys
are its parameters (an unknown name or a wrong parameter is rejected when the feed file is read,
naming file and key), and it says what passing looks like (`expected`), how to fix a failure (`fix`),
what it is called for people in vi and en (`labels`), which Great Expectations expectation(s) it
compiles to (`expectations`) and which rows break it (`failing`, a polars predicate, for row checks).
Every check has a severity — `blocking` (a failure keeps the batch from being published) or
`warning` (rows are published, the failure is recorded) — and row checks accept `mostly`: the share
of rows that must pass before a blocking check blocks the whole batch (without it, failing rows are
quarantined and the rest published). Checks are named for the condition that passes.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal, get_args

from pydantic import Field, model_validator

from pipelines.declarations.base import Regex, Strict

if TYPE_CHECKING:
    from pipelines.declarations.models import Feed

Severity = Literal["blocking", "warning"]
COLUMNS_FRAME_COLUMN = "column"  # the columns frame has one row per column the source sent


def active_column(check: UnitCodeIsActive) -> str:
    """The derived column saying whether a row's unit was active on its as_of date."""
    return f"_active__{check.column}__{check.as_of}"


def outlier_column(index: int) -> str:
    """The derived column saying whether a row's value is not an outlier under outlier rule `index`."""
    return f"_not_outlier__{index}"


def file_parameter(column: str) -> str:
    """The suite parameter holding the value a file's name gives for `column`."""
    return f"file_{column}"


def file_name_fields(feed: Feed) -> list[str]:
    """The contract columns a feed's file names carry (the named groups of source.file_name_pattern)."""
    pattern = getattr(feed.source, "file_name_pattern", None)
    return list(re.compile(pattern).groupindex) if pattern else []


def _gx():
    import great_expectations as gx  # lazy: Great Expectations costs seconds: only a suite's build asks for it

    return gx.expectations


def _pl():
    import polars as pl  # lazy: the declarations load without polars (0.3 s and more): ioc feeds check, DAG parsing

    return pl


class Check(Strict):
    """What every check declares, and what every check says of itself."""

    severity: Severity = "blocking"
    description: str | None = None

    scope: ClassVar[str] = "row"  # "row": failing rows are known; "batch": the batch as a whole passes or fails
    frame: ClassVar[str] = "rows"  # "rows": runs on the batch's rows; "columns": on the columns the source sent
    labels: ClassVar[dict[str, str]] = {}  # what the check means, for people, in vi and en
    fix: ClassVar[dict[str, str] | None] = None  # how a department fixes a failure (vi, en), quoted in reasons
    if TYPE_CHECKING:  # each check's own field, a Literal of its name (a field here would be one pydantic reads)
        check: str

    def columns(self) -> list[str]:
        """The contract columns the check reads (validated against the feed's columns)."""
        return []

    @property
    def name(self) -> str:
        return self.check

    def expected(self, feed: Feed, lang: str = "en") -> str:
        """What passing looks like, in words (vi or en), for quarantine reasons and results."""
        raise NotImplementedError

    def expectations(self, feed: Feed, meta: dict) -> list:
        """The Great Expectations expectations of the check, each tagged with `meta`."""
        raise NotImplementedError

    def failing(self, feed: Feed, parameters: dict):
        """The rows that break the check, as a polars predicate over a chunk (missing values pass every check
        but values_not_null, as in Great Expectations); None for a check that compares or counts rows."""
        return None

    def _mostly(self) -> dict:
        mostly = getattr(self, "mostly", None)
        return {"mostly": mostly} if mostly else {}


class RowCheck(Check):
    mostly: Annotated[float, Field(gt=0, le=1)] | None = None


class ValuesNotNull(RowCheck):
    """Every row has a value in `column`."""

    check: Literal["values_not_null"]
    column: str
    labels: ClassVar = {"vi": "Thiếu giá trị bắt buộc", "en": "Required value missing"}
    fix: ClassVar = {
        "vi": "điền giá trị vào nguồn rồi gửi lại dữ liệu",
        "en": "fill in the value in the source and send the data again",
    }

    def columns(self) -> list[str]:
        return [self.column]

    def expected(self, feed: Feed, lang: str = "en") -> str:
        return "một giá trị (cột bắt buộc)" if lang == "vi" else "a value (the column is required)"

    def expectations(self, feed: Feed, meta: dict) -> list:
        return [_gx().ExpectColumnValuesToNotBeNull(column=self.column, meta=meta, **self._mostly())]

    def failing(self, feed: Feed, parameters: dict):
        return _pl().col(self.column).is_null()


class ValuesInSet(RowCheck):
    """Values of `column` are among `values`."""

    check: Literal["values_in_set"]
    column: str
    values: list[str | int | float | bool]
    labels: ClassVar = {"vi": "Giá trị ngoài danh mục", "en": "Value not in the allowed list"}
    fix: ClassVar = {
        "vi": "dùng một trong các mã, hoặc thêm nhãn của nguồn vào mục values: trong tệp khai báo nguồn",
        "en": "use one of the codes, or add the source's label under values: in the feed file",
    }

    def columns(self) -> list[str]:
        return [self.column]

    def expected(self, feed: Feed, lang: str = "en") -> str:
        column = feed.column(self.column)
        words = {"vi": ("một trong", "; hoặc nhãn"), "en": ("one of", "; or a label")}[lang]
        labels = f"{words[1]}: {', '.join(column.values)}" if column is not None and column.values else ""
        return f"{words[0]} {', '.join(map(str, self.values))}{labels}"

    def expectations(self, feed: Feed, meta: dict) -> list:
        return [
            _gx().ExpectColumnValuesToBeInSet(column=self.column, value_set=self.values, meta=meta, **self._mostly())
        ]

    def failing(self, feed: Feed, parameters: dict):
        column = _pl().col(self.column)
        return column.is_not_null() & ~column.is_in(self.values)


class ValuesBetween(RowCheck):
    """Values of `column` are within [min, max] (either bound may be left out)."""

    check: Literal["values_between"]
    column: str
    min: float | None = None
    max: float | None = None
    labels: ClassVar = {"vi": "Giá trị ngoài khoảng cho phép", "en": "Value out of range"}
    fix: ClassVar = {
        "vi": "sửa giá trị trong nguồn rồi gửi lại dữ liệu",
        "en": "correct the value in the source and send the data again",
    }

    @model_validator(mode="after")
    def _a_bound(self) -> ValuesBetween:
        if self.min is None and self.max is None:
            raise ValueError("declare min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self

    def columns(self) -> list[str]:
        return [self.column]

    def expected(self, feed: Feed, lang: str = "en") -> str:
        value = "giá trị" if lang == "vi" else "a value"
        if self.min is not None and self.max is not None:
            return (
                f"giá trị từ {self.min:g} đến {self.max:g}"
                if lang == "vi"
                else f"a value between {self.min:g} and {self.max:g}"
            )
        return f"{value} ≥ {self.min:g}" if self.min is not None else f"{value} ≤ {self.max:g}"

    def expectations(self, feed: Feed, meta: dict) -> list:
        return [
            _gx().ExpectColumnValuesToBeBetween(
                column=self.column, min_value=self.min, max_value=self.max, meta=meta, **self._mostly()
            )
        ]

    def failing(self, feed: Feed, parameters: dict):
        pl = _pl()
        column, outside = pl.col(self.column), pl.lit(False)
        if self.min is not None:
            outside = outside | (column < self.min)
        if self.max is not None:
            outside = outside | (column > self.max)
        return column.is_not_null() & outside


class ValuesMatchRegex(RowCheck):
    """Text values of `column` match `regex` (a format such as a procedure code)."""

    check: Literal["values_match_regex"]
    column: str
    regex: Regex
    labels: ClassVar = {"vi": "Sai định dạng", "en": "Wrong format"}
    fix: ClassVar = {
        "vi": "sửa định dạng giá trị trong nguồn rồi gửi lại dữ liệu",
        "en": "correct the value's format in the source and send the data again",
    }

    def columns(self) -> list[str]:
        return [self.column]

    def expected(self, feed: Feed, lang: str = "en") -> str:
        return f"chuỗi khớp mẫu {self.regex}" if lang == "vi" else f"text matching {self.regex}"

    def expectations(self, feed: Feed, meta: dict) -> list:
        return [_gx().ExpectColumnValuesToMatchRegex(column=self.column, regex=self.regex, meta=meta, **self._mostly())]

    def failing(self, feed: Feed, parameters: dict):
        pl = _pl()
        column = pl.col(self.column)
        return column.is_not_null() & ~column.cast(pl.String).str.contains(self.regex)


class UnitCodeIsActive(RowCheck):
    """`column` holds the code of an organisation unit that exists — and, with `as_of`, that is active
    on the date (or month) in column `as_of` (a unit merged away is not a valid assignee after it closed)."""

    check: Literal["unit_code_is_active"]
    column: str
    as_of: str | None = None
    labels: ClassVar = {"vi": "Mã đơn vị không tồn tại hoặc không còn hoạt động", "en": "Unknown or inactive unit code"}
    fix: ClassVar = {
        "vi": "dùng mã của đơn vị đang hoạt động vào thời điểm đó (schemas/org_units.yaml), hoặc khai báo đơn vị ở đó",
        "en": "use the code of a unit active at that time (schemas/org_units.yaml), or declare the unit there",
    }

    def columns(self) -> list[str]:
        return [self.column] + ([self.as_of] if self.as_of else [])

    def expected(self, feed: Feed, lang: str = "en") -> str:
        if lang == "vi":
            return (
                f"mã của đơn vị đang hoạt động tại {self.as_of} của dòng (schemas/org_units.yaml)"
                if self.as_of
                else "một mã trong schemas/org_units.yaml"
            )
        return (
            f"the code of a unit active on its {self.as_of} (schemas/org_units.yaml)"
            if self.as_of
            else "a code of schemas/org_units.yaml"
        )

    def expectations(self, feed: Feed, meta: dict) -> list:
        E = _gx()
        if self.as_of:
            return [
                E.ExpectColumnValuesToBeInSet(column=active_column(self), value_set=[True], meta=meta, **self._mostly())
            ]
        return [
            E.ExpectColumnValuesToBeInSet(
                column=self.column, value_set={"$PARAMETER": "unit_codes"}, meta=meta, **self._mostly()
            )
        ]

    def failing(self, feed: Feed, parameters: dict):
        pl = _pl()
        if self.as_of:
            active = pl.col(active_column(self))
            return active.is_not_null() & ~active
        return pl.col(self.column).is_not_null() & ~pl.col(self.column).is_in(parameters["unit_codes"])


class ColumnPairInOrder(RowCheck):
    """`greater` is not below `lesser` (e.g. due_at ≥ received_at); rows missing either are skipped."""

    check: Literal["column_pair_in_order"]
    greater: str
    lesser: str
    or_equal: bool = True
    labels: ClassVar = {"vi": "Thứ tự ngày/giá trị không hợp lệ", "en": "Columns out of order"}
    fix: ClassVar = {
        "vi": "sửa ngày hoặc số tiền trong nguồn cho đúng thứ tự",
        "en": "correct the dates or amounts in the source so that they are in order",
    }

    def columns(self) -> list[str]:
        return [self.greater, self.lesser]

    def expected(self, feed: Feed, lang: str = "en") -> str:
        return f"{self.greater} {'≥' if self.or_equal else '>'} {self.lesser}"

    def expectations(self, feed: Feed, meta: dict) -> list:
        return [
            _gx().ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=self.greater,
                column_B=self.lesser,
                or_equal=self.or_equal,
                ignore_row_if="either_value_is_missing",
                meta=meta,
                **self._mostly(),
            )
        ]

    def failing(self, feed: Feed, parameters: dict):
        pl = _pl()
        greater, lesser = pl.col(self.greater), pl.col(self.lesser)
        out_of_order = greater < lesser if self.or_equal else greater <= lesser
        return greater.is_not_null() & lesser.is_not_null() & out_of_order


class KeyIsUnique(RowCheck):
    """No two rows of a batch share these columns' values (the rows that do are found in SQL)."""

    check: Literal["key_is_unique"]
    key: list[str]
    labels: ClassVar = {"vi": "Trùng khóa bản ghi", "en": "Duplicate record key"}
    fix: ClassVar = {
        "vi": "mỗi khóa chỉ xuất hiện một lần trong một tệp hoặc một lần trả lời: xóa hoặc gộp các dòng trùng",
        "en": "each key must appear once per file or answer: remove or merge the duplicate rows",
    }

    def columns(self) -> list[str]:
        return list(self.key)

    def expected(self, feed: Feed, lang: str = "en") -> str:
        return (
            f"mỗi ({', '.join(self.key)}) một lần trong một lô"
            if lang == "vi"
            else f"each ({', '.join(self.key)}) once per batch"
        )

    def expectations(self, feed: Feed, meta: dict) -> list:
        E = _gx()
        if len(self.key) == 1:
            return [E.ExpectColumnValuesToBeUnique(column=self.key[0], meta=meta, **self._mostly())]
        return [E.ExpectCompoundColumnsToBeUnique(column_list=self.key, meta=meta, **self._mostly())]


class RowsMatchFileName(Check):
    """Every row carries the department and period its file is named for (e.g. SKHCN_2026-10.xlsx):
    the fields of the source's `file_name_pattern`."""

    check: Literal["rows_match_file_name"]
    scope: ClassVar[str] = "batch"
    labels: ClassVar = {
        "vi": "Nội dung không khớp tên tệp (đơn vị/kỳ)",
        "en": "Rows do not match the file name (unit/period)",
    }
    fix: ClassVar = {
        "vi": "đặt các dòng của mỗi đơn vị, mỗi kỳ vào tệp mang tên đơn vị và kỳ đó",
        "en": "put each department's and period's rows in a file named for them",
    }

    def expected(self, feed: Feed, lang: str = "en") -> str:
        if lang == "vi":
            return f"{' và '.join(file_name_fields(feed))} đúng như tên tệp"
        return f"the {' and '.join(file_name_fields(feed))} the file is named for"

    def expectations(self, feed: Feed, meta: dict) -> list:
        return [
            _gx().ExpectColumnValuesToBeInSet(column=c, value_set={"$PARAMETER": file_parameter(c)}, meta=meta)
            for c in file_name_fields(feed)
        ]

    def failing(self, feed: Feed, parameters: dict):
        pl = _pl()
        wrong = [
            pl.col(c).is_not_null() & ~pl.col(c).cast(pl.String).is_in(parameters[file_parameter(c)])
            for c in file_name_fields(feed)
        ]
        return pl.any_horizontal(wrong) if wrong else pl.lit(False)


class RowCountBetween(Check):
    """The batch holds between min and max rows."""

    check: Literal["row_count_between"]
    min: Annotated[int, Field(ge=0)] = 0
    max: Annotated[int, Field(ge=0)] | None = None
    scope: ClassVar[str] = "batch"
    labels: ClassVar = {"vi": "Số dòng bất thường", "en": "Unexpected row count"}
    fix: ClassVar = {
        "vi": "kiểm tra nguồn đã gửi đủ báo cáo, rồi gửi lại",
        "en": "check that the source sent the whole report, then send it again",
    }

    def expected(self, feed: Feed, lang: str = "en") -> str:
        if lang == "vi":
            return f"từ {self.min} đến {self.max if self.max is not None else 'bao nhiêu cũng được'} dòng"
        return f"between {self.min} and {self.max if self.max is not None else 'any number of'} rows"

    def expectations(self, feed: Feed, meta: dict) -> list:
        return [_gx().ExpectTableRowCountToBeBetween(min_value=self.min, max_value=self.max, meta=meta)]


class RequiredColumnsPresent(Check):
    """Every required (not nullable) contract column is in the source."""

    check: Literal["required_columns_present"]
    scope: ClassVar[str] = "batch"
    frame: ClassVar[str] = "columns"
    labels: ClassVar = {"vi": "Thiếu cột bắt buộc", "en": "Required column missing"}
    fix: ClassVar = {
        "vi": "thêm cột vào nguồn, hoặc thêm nhãn cột đó đang dùng vào mục labels: trong tệp khai báo nguồn",
        "en": "add the column to the source, or add the label it uses to labels: in the feed file",
    }

    def expected(self, feed: Feed, lang: str = "en") -> str:
        return ("đủ các cột bắt buộc: " if lang == "vi" else "every required column: ") + ", ".join(
            c.name for c in feed.columns if not c.nullable
        )

    def expectations(self, feed: Feed, meta: dict) -> list:
        required = [c.name for c in feed.columns if not c.nullable]
        return [
            _gx().ExpectColumnDistinctValuesToContainSet(column=COLUMNS_FRAME_COLUMN, value_set=required, meta=meta)
        ]


class NoUnknownColumns(Check):
    """The source sends no column the contract does not know (schema drift)."""

    check: Literal["no_unknown_columns"]
    severity: Severity = "warning"
    scope: ClassVar[str] = "batch"
    frame: ClassVar[str] = "columns"
    labels: ClassVar = {"vi": "Có cột không khai báo", "en": "Undeclared column"}
    fix: ClassVar = {
        "vi": "thêm nhãn của cột mới vào tệp khai báo nguồn nếu cột có dữ liệu",
        "en": "add the new column's label to the feed file if it carries data",
    }

    def expected(self, feed: Feed, lang: str = "en") -> str:
        return ("chỉ các cột đã khai báo: " if lang == "vi" else "only the contract's columns: ") + ", ".join(
            feed.column_names
        )

    def expectations(self, feed: Feed, meta: dict) -> list:
        return [_gx().ExpectColumnValuesToBeInSet(column=COLUMNS_FRAME_COLUMN, value_set=feed.column_names, meta=meta)]


class FormRule(RowCheck):
    """A validation rule across a form's cells and periods (DHIS2's validation rules), for a feed whose source
    is a form: it reads the figures' indicator, measure and value, and the indicator catalogue's aggregation
    and parents. The rows that break it are found over the batch (and the published earlier periods) into a
    derived column holding, for each failing figure, the cells involved and their values."""

    measures_read: ClassVar[tuple[str, ...]] = ()

    def columns(self) -> list[str]:
        return ["indicator_code", "measure", "value", "source_cell"]

    def expectations(self, feed: Feed, meta: dict) -> list:
        return [_gx().ExpectColumnValuesToBeNull(column=rule_column(self), meta=meta, **self._mostly())]

    def failing(self, feed: Feed, parameters: dict):
        return _pl().col(rule_column(self)).is_not_null()


def rule_column(check: FormRule) -> str:
    """The derived column holding why a figure breaks a form rule (null when it does not)."""
    parts = [check.check] + [str(v) for k in ("measure", "numerator", "denominator") if (v := getattr(check, k, None))]
    return "_rule__" + "__".join(parts)


class YtdNotBelowMonth(FormRule):
    """For a flow (a monthly amount), the year-to-date figure is at least this month's."""

    check: Literal["ytd_not_below_month"]
    month: str = "month"
    ytd: str = "ytd"
    labels: ClassVar = {"vi": "Lũy kế nhỏ hơn số tháng", "en": "Year-to-date below the month"}
    fix: ClassVar = {
        "vi": "kiểm tra số tháng và số lũy kế của chỉ tiêu (lũy kế gồm cả tháng này) rồi gửi lại biểu",
        "en": "check the indicator's month and year-to-date figures (the year to date includes this "
        "month) and send the form again",
    }

    def expected(self, feed: Feed, lang: str = "en") -> str:
        return (
            "số lũy kế từ đầu năm không nhỏ hơn số của tháng (chỉ tiêu cộng dồn)"
            if lang == "vi"
            else "a year-to-date figure not below the month's (for a flow indicator)"
        )


class PartNotAboveWhole(FormRule):
    """A part ("Trong đó: …", the catalogue's parent) is not more than its whole, measure by measure."""

    check: Literal["part_not_above_whole"]
    measures: list[str] = ["plan_year", "month", "ytd"]
    labels: ClassVar = {"vi": "Phần lớn hơn tổng", "en": "Part larger than its whole"}
    fix: ClassVar = {
        "vi": "số của dòng 'Trong đó' không thể lớn hơn số của chỉ tiêu chứa nó: sửa một trong hai rồi gửi lại biểu",
        "en": "a 'Trong đó' (of which) row cannot exceed the indicator it is part of: correct one of "
        "them and send the form again",
    }

    def expected(self, feed: Feed, lang: str = "en") -> str:
        return (
            "số của phần (Trong đó) không lớn hơn số của tổng"
            if lang == "vi"
            else "a part's figure (Trong đó) not above its whole's"
        )


class YtdAddsUp(FormRule):
    """For a flow, this month's year-to-date = last month's year-to-date (as published) + this month, within
    `tolerance_pct` percent (rounding); January's year-to-date is January's figure."""

    check: Literal["ytd_adds_up"]
    tolerance_pct: Annotated[float, Field(ge=0, le=100)] = 0.5
    month: str = "month"
    ytd: str = "ytd"
    labels: ClassVar = {"vi": "Lũy kế không khớp kỳ trước", "en": "Year-to-date does not add up"}
    fix: ClassVar = {
        "vi": "lũy kế tháng này phải bằng lũy kế tháng trước cộng số tháng này: sửa biểu tháng này, "
        "hoặc gửi lại biểu tháng trước nếu số đó đã được điều chỉnh",
        "en": "this month's year to date must be last month's plus this month: correct this form, or "
        "send last month's form again if its figure was revised",
    }

    def expected(self, feed: Feed, lang: str = "en") -> str:
        if lang == "vi":
            return f"lũy kế = lũy kế tháng trước + số tháng này (sai lệch tối đa {self.tolerance_pct:g} %)"
        return f"year to date = last month's year to date + this month (within {self.tolerance_pct:g} %)"


class RatioMatches(FormRule):
    """A ratio column equals its recomputation: measure = factor × numerator ÷ denominator, within `tolerance`
    (in the ratio's own unit), for the indicators of the given aggregations (all by default)."""

    check: Literal["ratio_matches"]
    measure: str
    numerator: str
    denominator: str
    factor: float = 100
    tolerance: Annotated[float, Field(ge=0)] = 0.15
    aggregation: list[Literal["flow", "stock", "rate"]] | None = None
    labels: ClassVar = {"vi": "Tỷ lệ không khớp số liệu", "en": "Ratio does not match its figures"}
    fix: ClassVar = {
        "vi": "tính lại cột tỷ lệ từ các cột số liệu của nó (hoặc sửa các cột đó) rồi gửi lại biểu",
        "en": "recompute the ratio column from the columns it is made of (or correct them) and send the form again",
    }

    def expected(self, feed: Feed, lang: str = "en") -> str:
        if lang == "vi":
            return (
                f"{self.measure} = {self.factor:g} × {self.numerator} ÷ {self.denominator} "
                f"(sai lệch tối đa {self.tolerance:g})"
            )
        return f"{self.measure} = {self.factor:g} × {self.numerator} ÷ {self.denominator} (within {self.tolerance:g})"


CHECK_CLASSES = (
    ValuesNotNull,
    ValuesInSet,
    ValuesBetween,
    ValuesMatchRegex,
    UnitCodeIsActive,
    ColumnPairInOrder,
    KeyIsUnique,
    RowsMatchFileName,
    RowCountBetween,
    RequiredColumnsPresent,
    NoUnknownColumns,
    YtdNotBelowMonth,
    PartNotAboveWhole,
    YtdAddsUp,
    RatioMatches,
)

DeclaredCheck = Annotated[
    ValuesNotNull
    | ValuesInSet
    | ValuesBetween
    | ValuesMatchRegex
    | UnitCodeIsActive
    | ColumnPairInOrder
    | KeyIsUnique
    | RowsMatchFileName
    | RowCountBetween
    | RequiredColumnsPresent
    | NoUnknownColumns
    | YtdNotBelowMonth
    | PartNotAboveWhole
    | YtdAddsUp
    | RatioMatches,
    Field(discriminator="check"),
]


def check_name(cls: type[Check]) -> str:
    """The name a check class is declared by: the one value of its `check` field's Literal."""
    return get_args(cls.model_fields["check"].annotation)[0]


CHECK_NAMES = sorted(check_name(cls) for cls in CHECK_CLASSES)

# The check the conform stage applies while parsing: a value that is not of its column's type.
TYPE_CHECK = "value_has_contract_type"
OUTLIER_CHECK = "value_is_not_outlier"
# A file's line that is a record of its header's columns (not too many or too few fields, quotes closed).
WELL_FORMED_CHECK = "row_is_well_formed"
WELL_FORMED_EXPECTED = {"en": "one field per header column", "vi": "mỗi cột tiêu đề một trường"}
TYPED_EXPECTED = {"en": "a value of the column's type", "vi": "giá trị đúng kiểu của cột"}
# A form's row names an indicator of the feed's catalogue (the conform stage looks it up).
INDICATOR_CHECK = "indicator_in_catalogue"


def indicator_expected(catalogue: str, lang: str = "en") -> str:
    if lang == "vi":
        return (
            f"một chỉ tiêu của danh mục {catalogue}, theo tên hoặc tên khác (aliases); sau '→' là các tên "
            f"gần nhất trong danh mục"
        )
    return f"an indicator of catalogue {catalogue}, by its name or an alias; after '→', the closest catalogue names"


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

    labels: ClassVar = {"vi": "Giá trị bất thường so với lịch sử", "en": "Outlier against history"}

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

    def expected(self, feed: Feed, lang: str = "en") -> str:
        if lang == "vi":
            method = {"z_score": "điểm z", "modified_z_score": "điểm z hiệu chỉnh", "min_max": "khoảng cho phép"}
            return (
                f"giá trị trong khoảng thường gặp của chuỗi số liệu ({method[self.method]}, ngưỡng {self.threshold:g})"
            )
        return (
            f"a value in the usual range of its series ({self.method.replace('_', ' ')}, threshold {self.threshold:g})"
        )

    def expectations(self, feed: Feed, meta: dict, index: int) -> list:
        return [_gx().ExpectColumnValuesToBeInSet(column=outlier_column(index), value_set=[True], meta=meta)]

    def failing(self, feed: Feed, parameters: dict, index: int):
        column = _pl().col(outlier_column(index))
        return column.is_not_null() & ~column


# Checks the platform applies that no feed declares: their words and fixes, beside the declared ones'.
PLATFORM_CHECKS = {
    TYPE_CHECK: (
        {"vi": "Sai kiểu dữ liệu", "en": "Wrong data type"},
        {
            "vi": "sửa giá trị trong nguồn rồi gửi lại dữ liệu",
            "en": "correct the value in the source and send the data again",
        },
    ),
    WELL_FORMED_CHECK: (
        {"vi": "Dòng sai cấu trúc (thừa hoặc thiếu cột)", "en": "Malformed line (too many or too few fields)"},
        {
            "vi": "sửa dòng đó trong nguồn (mỗi cột tiêu đề một trường, đóng đủ dấu ngoặc kép) rồi gửi lại tệp",
            "en": "correct the line in the source (one field per header column, quotes closed) and send the file again",
        },
    ),
    "batch_is_publishable": ({"vi": "Lô dữ liệu bị chặn công bố", "en": "Batch blocked from publication"}, None),
    INDICATOR_CHECK: (
        {"vi": "Chỉ tiêu không có trong danh mục", "en": "Indicator not in the catalogue"},
        {
            "vi": "ghi tên chỉ tiêu đúng như danh mục, hoặc thêm tên đơn vị dùng vào aliases: của chỉ tiêu "
            "trong schemas/indicators/ (chỉ tiêu mới: thêm vào danh mục)",
            "en": "write the indicator's name as the catalogue does, or add the name the department uses to "
            "the indicator's aliases: in schemas/indicators/ (a new indicator: add it to the "
            "catalogue)",
        },
    ),
}

# What each check means, for people (the wall's data-quality panel); a test keeps it complete.
CHECK_LABELS = (
    {check_name(cls): cls.labels for cls in CHECK_CLASSES}
    | {OUTLIER_CHECK: OutlierRule.labels}
    | {name: labels for name, (labels, _) in PLATFORM_CHECKS.items()}
)

# How a department fixes each failure (vi, en), quoted at the end of a quarantine reason.
CHECK_FIXES = {check_name(cls): cls.fix for cls in CHECK_CLASSES} | {
    name: fix for name, (_, fix) in PLATFORM_CHECKS.items() if fix
}
