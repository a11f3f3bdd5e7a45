"""What the project's declarations already say, for a draft to reuse: the names its feeds give header labels, the
codes they give value labels, the layouts of its forms and its indicator catalogues."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from pipelines.declarations.indicators import IndicatorCatalogue, indicator_catalogue
from pipelines.declarations.models import Feed, FormLayout, OrgUnits
from pipelines.text import label_key

# Labels of a form's columns that are not measures, and of its indicator column, as forms commonly write them.
INDICATOR_LABELS = ["Chỉ tiêu", "Tên chỉ tiêu", "Chỉ tiêu chủ yếu", "Nội dung", "Nội dung chỉ tiêu"]
NUMBERING_LABELS = ["STT", "TT", "Số TT", "Số thứ tự"]
UNIT_LABELS = ["Đơn vị tính", "ĐVT", "Đơn vị"]
NOTE_LABELS = ["Ghi chú"]


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
        feed = next(f.id for f in self.feeds.values() for c in f.columns
                    if c.name == name and label_key(label) in {label_key(x) for x in (c.name, *c.labels)})
        return name, feed

    def value_code(self, label: str) -> str | None:
        codes = self.value_codes.get(label_key(label))
        return codes.most_common(1)[0][0] if codes else None

    @property
    def forms(self) -> list[tuple[Feed, FormLayout]]:
        return [(f, f.source.form) for f in self.feeds.values() if getattr(f.source, "form", None) is not None]

    def form_labels(self, part: str, defaults: list[str]) -> list[str]:
        """The labels declared forms give a part of theirs (indicator, numbering, unit_of_measure, note)."""
        labels = list(defaults)
        for _, form in self.forms:
            labels += [label for label in getattr(form, part) if label_key(label) not in map(label_key, labels)]
        return labels


def vocabulary(leave_out: str | None = None) -> Vocabulary:
    """The declarations of $IOC_SCHEMAS as a vocabulary, without the feed `leave_out` (the one a draft replaces);
    only the organisation units if the declarations do not load (`problem` then says why)."""
    from pipelines.declarations.loading import DeclarationError, catalog, read_org_units
    from pipelines.settings import paths

    try:
        found = catalog()
    except DeclarationError as exc:
        return Vocabulary(read_org_units(), problem=f"{len(exc.problems)} problems, e.g. {exc.problems[0]}")
    words = Vocabulary(found.org_units, {k: f for k, f in found.feeds.items() if k != leave_out})
    for feed in words.feeds.values():
        for column in feed.columns:
            for label in {label_key(x) for x in (column.name, *column.labels)}:
                words.column_names.setdefault(label, Counter())[column.name] += 1
            for label, code in column.values.items():
                words.value_codes.setdefault(label_key(label), Counter())[code] += 1
    for file in sorted((paths().schemas / "indicators").glob("*.yaml")):
        try:
            words.catalogues.append(indicator_catalogue(file.stem))
        except Exception:  # a catalogue that does not load is reported by `ioc feeds check`, not used here
            continue
    return words
