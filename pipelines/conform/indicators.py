"""Which indicator a form's row names: its name (or an alias) looked up in the feed's indicator catalogue.

The form's rows land with the indicator as the department writes it; conforming them gives each its code, as a
column's labels map to codes. A name that matches nothing (or several indicators alike) is a reason against
its row that names the two closest catalogue names, so the department or the catalogue can be corrected.
"""

from __future__ import annotations

import polars as pl

from pipelines.declarations.checks import indicator_expected
from pipelines.declarations.indicators import IndicatorCatalogue, indicator_catalogue
from pipelines.declarations.models import Feed

CODE = "indicator_code"
NAME = "indicator_name"
PART_OF = "part_of"
WHY = "__indicator_why__"


def catalogue_of(feed: Feed) -> IndicatorCatalogue | None:
    form = getattr(feed.source, "form", None)
    return indicator_catalogue(form.catalogue) if form is not None else None


def with_codes(feed: Feed, records: pl.DataFrame, mapping: dict[str, str], unit_column: str | None) -> pl.DataFrame:
    """The records with the code of the indicator each names (CODE, null when none) and why none (WHY)."""
    catalogue = catalogue_of(feed)
    assert catalogue is not None  # the indicators of a form's rows: the feed has a form
    matcher = catalogue.matcher
    columns = [mapping.get(NAME), mapping.get(PART_OF), mapping.get(unit_column) if unit_column else None]
    text = [pl.col(c).cast(pl.String).str.strip_chars() if c else pl.lit(None, pl.String) for c in columns]
    keys = records.select(*(t.alias(f"__k{i}") for i, t in enumerate(text)))
    found = []
    for name, part_of, unit in keys.unique(maintain_order=True).iter_rows():
        match = matcher.match(name, part_of, unit)
        found.append((name, part_of, unit, match.code, None if match.code else _why(name, match)))
    lookup = pl.DataFrame(
        found,
        schema={"__k0": pl.String, "__k1": pl.String, "__k2": pl.String, CODE: pl.String, WHY: pl.String},
        orient="row",
    )
    matched = keys.join(lookup, on=["__k0", "__k1", "__k2"], how="left", maintain_order="left", nulls_equal=True)
    return records.with_columns(matched[CODE].alias(f"__code__{CODE}"), matched[WHY])


def _why(name: str | None, match) -> str:
    """What a row's name is and the catalogue names nearest it: "Số ca mắc sởi → A (CODE_A) | B (CODE_B)"."""
    if match.ambiguous:
        return f"{name} → {' | '.join(match.ambiguous)}"
    return f"{name or ''} → " + " | ".join(f"{n} ({code})" for n, code in match.closest)


def expected(feed: Feed) -> str:
    """What an unmatched row's reason says was expected (the wall says it in Vietnamese from the same words)."""
    catalogue = catalogue_of(feed)
    assert catalogue is not None  # asked for a form's rows only
    return indicator_expected(catalogue.id)
