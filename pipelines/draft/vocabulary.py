"""What the project's declarations already say, for a draft to reuse: the names its feeds give header labels, the
codes they give value labels, the layouts of its forms and its indicator catalogues."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from pipelines.declarations.indicators import IndicatorCatalogue, indicator_catalogue
from pipelines.declarations.loading import DeclarationError, read_feed, read_org_units
from pipelines.declarations.models import Feed, FormLayout, OrgUnits
from pipelines.settings import paths
from pipelines.text import label_key

# Labels of a form's columns that are not measures, and of its indicator column, as forms commonly write them.
INDICATOR_LABELS = ["Chỉ tiêu", "Tên chỉ tiêu", "Chỉ tiêu chủ yếu", "Nội dung", "Nội dung chỉ tiêu"]
NUMBERING_LABELS = ["STT", "TT", "Số TT", "Số thứ tự"]
UNIT_LABELS = ["Đơn vị tính", "ĐVT", "Đơn vị"]
NOTE_LABELS = ["Ghi chú"]
# The measures a Vietnamese figures form (Decree 09/2019 report regimes) carries, told by the words of their header
# (without tones, placeholders for the period's numbers), most specific first: the codes the platform's form rules
# and its catalogues use. A column none of them fits gets a code made from its header.
MEASURE_ROLES = (
    ("vs_plan_pct", r"(so voi|so sanh|%).*\b(ke hoach|kh)\b|\b(ke hoach|kh)\b.*%", "%"),
    ("vs_last_year_pct", r"(so voi|so sanh|%).*cung ky|cung ky.*%", "%"),
    ("month_last_year", r"cung ky", None),
    ("ytd", r"luy ke|\{n\} thang|tu dau nam", None),
    ("plan_year", r"\b(ke hoach|kh)\b", None),
    ("month", r"thang \{month\}|\{month\}/\{year\}", None),
)
# The usual rules of such a form (pipelines.declarations.checks), each where the measures it reads are there.
FORM_RULES = (
    ({"check": "ytd_not_below_month"}, {"month", "ytd"}),
    ({"check": "part_not_above_whole"}, {"plan_year", "month", "ytd"}),
    ({"check": "ytd_adds_up"}, {"month", "ytd"}),
    (
        {
            "check": "ratio_matches",
            "measure": "vs_plan_pct",
            "numerator": "ytd",
            "denominator": "plan_year",
            "aggregation": ["flow"],
        },
        {"vs_plan_pct", "ytd", "plan_year"},
    ),
    (
        {
            "check": "ratio_matches",
            "measure": "vs_plan_pct",
            "numerator": "month",
            "denominator": "plan_year",
            "aggregation": ["stock", "rate"],
        },
        {"vs_plan_pct", "month", "plan_year"},
    ),
)


@dataclass
class Vocabulary:
    """Names and codes already declared in $IOC_SCHEMAS."""

    org_units: OrgUnits
    feeds: dict[str, Feed] = field(default_factory=dict)
    column_names: dict[str, Counter] = field(default_factory=dict)  # label key -> names feeds give it
    value_codes: dict[str, Counter] = field(default_factory=dict)  # value label key -> codes feeds give it
    catalogues: list[IndicatorCatalogue] = field(default_factory=list)
    problem: str | None = None  # why the declared feeds could not be read (nothing of them is reused)

    def column_name(self, label: str) -> tuple[str, str] | None:
        """The name the declared feeds give this header label (the most common), and which feed."""
        names = self.column_names.get(label_key(label))
        if not names:
            return None
        name = names.most_common(1)[0][0]
        feed = next(
            f.id
            for f in self.feeds.values()
            for c in f.columns
            if c.name == name and label_key(label) in {label_key(x) for x in (c.name, *c.labels)}
        )
        return name, feed

    def value_code(self, label: str) -> str | None:
        codes = self.value_codes.get(label_key(label))
        return codes.most_common(1)[0][0] if codes else None

    @property
    def forms(self) -> list[tuple[Feed, FormLayout]]:
        return [(f, form) for f in self.feeds.values() if (form := f.form) is not None]

    def form_labels(self, part: str, defaults: list[str]) -> list[str]:
        """The labels declared forms give a part of theirs (indicator, numbering, unit_of_measure, note)."""
        labels = list(defaults)
        for _, form in self.forms:
            labels += [label for label in getattr(form, part) if label_key(label) not in map(label_key, labels)]
        return labels


def vocabulary(leave_out: str | None = None) -> Vocabulary:
    """The declarations of $IOC_SCHEMAS as a vocabulary, without the feed `leave_out` (the one a draft replaces). Each
    feed and catalogue is read on its own: one that does not load is left out (`problem` says which), the others
    still lend their names."""

    words = Vocabulary(read_org_units())
    broken = []
    for file in sorted((paths().schemas / "feeds").glob("*.yaml")):
        if file.stem == leave_out:
            continue
        try:
            feed = read_feed(file, words.org_units)
        except DeclarationError as exc:
            broken.append(str(exc.problems[0]))
            continue
        words.feeds[feed.id] = feed
        for column in feed.columns:
            # a column's name and first label (what it is called), not the other labels it accepts
            for label in {label_key(x) for x in (column.name, *column.labels[:1])}:
                words.column_names.setdefault(label, Counter())[column.name] += 1
            for label, code in column.values.items():
                words.value_codes.setdefault(label_key(label), Counter())[code] += 1
    for file in sorted((paths().schemas / "indicators").glob("*.yaml")):
        try:
            words.catalogues.append(indicator_catalogue(file.stem))
        except Exception as exc:  # a catalogue that does not load is reported by `ioc feeds check`, not used here
            broken.append(f"{file}: {exc}".splitlines()[0])
    if broken:
        words.problem = f"{len(broken)} left out, e.g. {broken[0]}"
    return words
