"""Indicator catalogues (schemas/indicators/*.yaml): the indicators of one data set — what departments report on
their forms — and how a form's row is matched to one of them.

A row names its indicator as the department writes it: "1.1 Trong đó: Số ca tử vong", "SỐ LƯỢT KHÁM CHỮA BỆNH",
"Tỷ lệ đô thị hoá". The match ignores case, spacing, Unicode form, where the tone mark sits (hoá = hóa),
numbering and a "Trong đó:" prefix; a declared alias matches as the name does. A name several indicators share
(each disease's "Số ca tử vong") is told apart by the row it is part of, then by the reporting department.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, PrivateAttr, model_validator

from pipelines.declarations.base import Strict, read_yaml
from pipelines.declarations.models import IDENTIFIER, Names
from pipelines.settings import paths
from pipelines.text import label_key

CODE = r"^[A-Z][A-Z0-9_]*$"
Aggregation = Literal["flow", "stock", "rate"]

# Tone marks, which Vietnamese writes on one vowel or another of a syllable (hoá / hóa, thuỷ / thủy).
_TONES = {"\u0300": "2", "\u0301": "1", "\u0303": "4", "\u0309": "3", "\u0323": "5"}
NUMBERING = re.compile(
    r"^\s*(?:\d+(?:\.\d+)*\.?\s+(?=\D)|(?:[ivxlc]+|\d+(?:\.\d+)*|[a-zđ])\s*[.):/-]\s*|[-+•*–]\s*)", re.IGNORECASE
)
PART_PREFIX = re.compile(r"^trong\s+đó\s*[:,.-]?\s*", re.IGNORECASE)


@lru_cache(maxsize=65536)
def tone_key(text: str) -> str:
    """Text with each syllable's tone mark moved to its end (hoá and hóa are the same), NFC, case-folded and
    single-spaced: the form in which header labels and indicator names are compared."""
    words = []
    for word in label_key(text).split(" "):
        decomposed = unicodedata.normalize("NFD", word)
        tones = "".join(_TONES[c] for c in decomposed if c in _TONES)
        base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _TONES))
        words.append(base + tones)
    return " ".join(words)


@lru_cache(maxsize=65536)
def name_key(text: str) -> str:
    """An indicator's name as compared: numbering ("1.", "1.1", "a)", "-"), a "Trong đó:" prefix and a trailing
    colon or full stop left out."""
    text = " ".join(text.split())
    for _ in range(3):
        before = text
        text = NUMBERING.sub("", text, count=1)
        text = PART_PREFIX.sub("", unicodedata.normalize("NFC", text), count=1)
        if text == before:
            break
    return tone_key(text.rstrip(" :.;"))


class Indicator(Strict):
    """One indicator of a data set."""

    code: Annotated[str, Field(pattern=CODE)]
    vi: str
    en: str
    aliases: list[str] = []
    unit: str  # its unit of measure as forms write it (ca, lượt, %, tỷ đồng, triệu USD)
    # flow: a monthly amount, year-to-date is the sum of the months; stock (a level) and rate (a ratio or index)
    # do not add up over time
    aggregation: Aggregation
    parent: Annotated[str, Field(pattern=CODE)] | None = None  # the indicator this one is part of ("Trong đó")
    departments: list[str] = []  # who reports it (empty: any department)
    measures: list[str] | None = None  # what they report of it (default: the catalogue's measures)


class IndicatorCatalogue(Strict):
    """A data set: its indicators and the measures each is reported in."""

    id: Annotated[str, Field(pattern=IDENTIFIER)]
    name: Names
    measures: list[Annotated[str, Field(pattern=IDENTIFIER)]]
    indicators: list[Indicator]
    _matcher: Matcher | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _consistent(self) -> IndicatorCatalogue:
        codes = [i.code for i in self.indicators]
        twice = sorted({c for c in codes if codes.count(c) > 1})
        if twice:
            raise ValueError(f"indicator codes declared twice: {twice}")
        by_code = {i.code: i for i in self.indicators}
        for indicator in self.indicators:
            if indicator.parent is not None and indicator.parent not in by_code:
                raise ValueError(f"{indicator.code}: parent {indicator.parent!r} is not an indicator of the catalogue")
            unknown = sorted(set(indicator.measures or []) - set(self.measures))
            if unknown:
                raise ValueError(f"{indicator.code}: measures {unknown} are not among the catalogue's {self.measures}")
            seen, parent = {indicator.code}, indicator.parent
            while parent is not None:
                if parent in seen:
                    raise ValueError(f"{indicator.code}: its parents form a cycle ({' → '.join(seen)})")
                seen.add(parent)
                parent = by_code[parent].parent
        return self

    def get(self, code: str) -> Indicator | None:
        return next((i for i in self.indicators if i.code == code), None)

    def measures_of(self, indicator: Indicator) -> list[str]:
        return indicator.measures or self.measures

    def reported_by(self, unit: str) -> list[Indicator]:
        """The indicators a unit reports (those naming it, and those naming no department)."""
        return [i for i in self.indicators if not i.departments or unit in i.departments]

    @property
    def matcher(self) -> Matcher:
        if self._matcher is None:
            self._matcher = Matcher(self)
        return self._matcher


@dataclass(frozen=True)
class Match:
    """What a form's row names: its indicator, or why none (the two closest names of the catalogue)."""

    code: str | None
    closest: tuple[tuple[str, str], ...] = ()  # (name, code) of the nearest catalogue names
    ambiguous: tuple[str, ...] = ()  # codes the name fits equally


class Matcher:
    """Name → indicator, for one catalogue."""

    def __init__(self, catalogue: IndicatorCatalogue):
        self.catalogue = catalogue
        self.by_key: dict[str, list[Indicator]] = {}
        for indicator in catalogue.indicators:
            for name in (indicator.vi, *indicator.aliases):
                found = self.by_key.setdefault(name_key(name), [])
                if indicator not in found:
                    found.append(indicator)

    def match(self, name: str | None, part_of: str | None = None, unit: str | None = None) -> Match:
        """The indicator a row names: by name or alias; among several, the one that is part of the row's whole
        (`part_of`, as the form names it), then the one the unit reports."""
        if not name or not name_key(name):
            return Match(None, self._closest(""))
        candidates = self.by_key.get(name_key(name), [])
        if len(candidates) > 1 and part_of:
            whole = self.match(part_of, unit=unit).code
            candidates = [c for c in candidates if c.parent == whole] or candidates
        if len(candidates) > 1 and unit:
            candidates = [c for c in candidates if not c.departments or unit in c.departments] or candidates
        if len(candidates) == 1:
            return Match(candidates[0].code)
        if candidates:
            return Match(None, ambiguous=tuple(c.code for c in candidates))
        return Match(None, self._closest(name_key(name), unit))

    def _closest(self, key: str, unit: str | None = None) -> tuple[tuple[str, str], ...]:
        scored = []
        for indicator in self.catalogue.indicators:
            names = (indicator.vi, *indicator.aliases)
            score = max(difflib.SequenceMatcher(None, key, name_key(n)).ratio() for n in names)
            mine = not unit or not indicator.departments or unit in indicator.departments
            scored.append((mine, score, indicator.vi, indicator.code))
        scored.sort(key=lambda s: (not s[0], -s[1], s[3]))
        return tuple((name, code) for _, _, name, code in scored[:2])


def catalogue_file(catalogue_id: str, schemas: Path | None = None) -> Path:
    return (schemas or paths().schemas) / "indicators" / f"{catalogue_id}.yaml"


def indicator_catalogue(catalogue_id: str, schemas: Path | None = None) -> IndicatorCatalogue:
    """The catalogue schemas/indicators/<id>.yaml (read once per process and file)."""
    return _read(catalogue_file(catalogue_id, schemas))


@lru_cache(maxsize=16)
def _read(file: Path) -> IndicatorCatalogue:
    return IndicatorCatalogue.model_validate(read_yaml(file))
