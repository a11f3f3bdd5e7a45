"""The data-quality messages people read on the wall, in Vietnamese and in English.

The warehouse keeps each reason as parts (check, column, what was expected, what came, the file or page and
row) with an English sentence for engineers; a failed batch keeps its error in both languages. The wall's
words are built here from those parts and from the declarations, which give each check's name, what passing
looks like and how to fix a failure in both languages, so a department reads the same reason in its own
language.
"""

from __future__ import annotations

import re

from pipelines.conform.parse import expected_words
from pipelines.conform.reasons import FILE_NAME_IN_URI
from pipelines.declarations.checks import CHECK_FIXES, TYPED_EXPECTED, WELL_FORMED_EXPECTED, indicator_expected
from pipelines.declarations.loading import Catalog
from pipelines.validate.suite import expected_text, suite_checks
from pipelines.wording import LANGUAGES, both, text

PUBLISHABLE = "batch_is_publishable"


def vietnamese_expected(catalog: Catalog) -> dict[tuple[str, str], str]:
    """(feed, what was expected in English) → the same in Vietnamese: every text the declarations write."""
    words = {}
    for feed in catalog.feeds.values():
        number_format = getattr(feed.source, "number_format", "en")
        for column in feed.columns:
            words[feed.id, expected_words(column, number_format)] = expected_words(column, number_format, "vi")
        for check in suite_checks(feed):
            words[feed.id, expected_text(check, feed)] = expected_text(check, feed, "vi")
        for known in (TYPED_EXPECTED, WELL_FORMED_EXPECTED):
            words[feed.id, known["en"]] = known["vi"]
        form = getattr(feed.source, "form", None)
        if form is not None:
            words[feed.id, indicator_expected(form.catalogue)] = indicator_expected(form.catalogue, "vi")
    return words


def place(source_uri: str | None, row: int | None) -> dict[str, str]:
    """Where a row came from: the file (its name, without the archive's prefix) or the page, and the row."""
    found = re.search(FILE_NAME_IN_URI, source_uri or "")
    where = both("dq.place.file", file=found.group(1)) if found else {lang: source_uri or "" for lang in LANGUAGES}
    if row is None:
        return where
    return {lang: text("dq.place.row", lang, where=where[lang], row=row) for lang in LANGUAGES}


def column_label(catalog: Catalog, feed_id: str, column: str | None) -> str | None:
    """A column as the department's files name it (its first header label), else its contract name."""
    feed = catalog.feeds.get(feed_id)
    declared = feed.column(column) if feed is not None and column else None
    return declared.labels[0] if declared is not None and declared.labels else column


def reason_text(
    feed_id: str,
    check: str,
    column: str | None,
    expected: str | None,
    actual: str | None,
    source_uri: str | None,
    row: int | None,
    words: dict[tuple[str, str], str],
) -> dict[str, str]:
    """One quarantine reason as a department reads it (`column` as column_label gives it)."""
    where = place(source_uri, row)
    if check == PUBLISHABLE:  # every row of a blocked batch: the batch's own error says which check blocked it
        return {lang: text("dq.reason.batch_blocked", lang, where=where[lang]) for lang in LANGUAGES}
    fix = CHECK_FIXES.get(check)
    # what was expected, in each language: the Vietnamese of the stored English sentence, when it is known
    said = {"vi": words.get((feed_id, expected or "")), "en": expected}
    reasons = {}
    for lang in LANGUAGES:
        at = text("dq.reason.column", lang, where=where[lang], column=column) if column else where[lang]
        got = text("dq.reason.empty", lang) if actual is None else f"'{actual}'"
        reason = (
            text("dq.reason.expected_got", lang, where=at, expected=said[lang], got=got)
            if said[lang]
            else text("dq.reason.got", lang, where=at, got=got)
        )
        reasons[lang] = text("dq.reason.fix", lang, reason=reason, fix=fix[lang]) if fix else reason
    return reasons


def check_text(
    feed_id: str, expected: str | None, observed: str | None, error: str | None, words: dict[tuple[str, str], str]
) -> dict[str, str] | None:
    """What a failing check expected and observed (or that it could not run)."""
    if error:  # the error is English, for engineers: the Vietnamese says where it is
        return {"vi": text("dq.check.not_run", "vi"), "en": text("dq.check.not_run_because", "en", error=error)}
    vi, en = [], []
    if expected:
        if (feed_id, expected) in words:
            vi.append(text("dq.check.expected", "vi", expected=words[feed_id, expected]))
        en.append(text("dq.check.expected", "en", expected=expected))
    if observed:
        vi.append(text("dq.check.observed", "vi", observed=observed))
        en.append(text("dq.check.observed", "en", observed=observed))
    return {"vi": " — ".join(vi), "en": " — ".join(en)} if en else None


def batch_text(error: str | None, error_vi: str | None) -> dict[str, str] | None:
    """Why a batch failed: its error in both languages (a source that failed before any Vietnamese was
    written for it says so in Vietnamese, with the English detail for engineers)."""
    if not error:
        return None
    return {"vi": error_vi or text("dq.batch.source_failed", "vi"), "en": error}
