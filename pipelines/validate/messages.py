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

PUBLISHABLE = "batch_is_publishable"
CHECK_NOT_RUN = {
    "vi": "phép kiểm tra không chạy được (chi tiết kỹ thuật trong Data Docs)",
    "en": "the check could not run: {error}",
}
SOURCE_FAILED = {
    "vi": "không đọc được nguồn; chi tiết kỹ thuật (tiếng Anh) xem bằng lệnh `ioc batches`",
    "en": "{error}",
}


def vietnamese_expected(catalog: Catalog) -> dict[tuple[str, str], str]:
    """(feed, what was expected in English) → the same in Vietnamese: every text the declarations write."""
    from pipelines.validate.suite import expected_text, suite_checks

    words = {}
    for feed in catalog.feeds.values():
        number_format = getattr(feed.source, "number_format", "en")
        for column in feed.columns:
            words[feed.id, expected_words(column, number_format)] = expected_words(column, number_format, "vi")
        for check in suite_checks(feed):
            words[feed.id, expected_text(check, feed)] = expected_text(check, feed, "vi")
        for text in (TYPED_EXPECTED, WELL_FORMED_EXPECTED):
            words[feed.id, text["en"]] = text["vi"]
        form = getattr(feed.source, "form", None)
        if form is not None:
            words[feed.id, indicator_expected(form.catalogue)] = indicator_expected(form.catalogue, "vi")
    return words


def place(source_uri: str | None, row: int | None) -> dict[str, str]:
    """Where a row came from: the file (its name, without the archive's prefix) or the page, and the row."""
    found = re.search(FILE_NAME_IN_URI, source_uri or "")
    vi = f"tệp {found.group(1)}" if found else (source_uri or "")
    en = f"file {found.group(1)}" if found else (source_uri or "")
    if row is not None:
        vi, en = f"{vi} dòng {row}", f"{en} row {row}"
    return {"vi": vi, "en": en}


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
        return {
            "vi": f"{where['vi']}: cả lô bị chặn công bố vì một phép kiểm tra chặn không đạt",
            "en": f"{where['en']}: the whole batch was blocked from publication by a failing blocking check",
        }
    fix = CHECK_FIXES.get(check)
    got = {"vi": "ô trống" if actual is None else f"'{actual}'", "en": "nothing" if actual is None else f"'{actual}'"}
    column_vi, column_en = (f", cột '{column}'", f", column '{column}'") if column else ("", "")
    expected_vi = words.get((feed_id, expected or ""))
    vi = (
        f"{where['vi']}{column_vi}: "
        + (f"cần {expected_vi}, " if expected_vi else "")
        + f"nhận được {got['vi']}"
        + (f". Cách sửa: {fix['vi']}" if fix else "")
    )
    en = (
        f"{where['en']}{column_en}: "
        + (f"expected {expected}, " if expected else "")
        + f"got {got['en']}"
        + (f". Fix: {fix['en']}" if fix else "")
    )
    return {"vi": vi, "en": en}


def check_text(
    feed_id: str, expected: str | None, observed: str | None, error: str | None, words: dict[tuple[str, str], str]
) -> dict[str, str] | None:
    """What a failing check expected and observed (or that it could not run)."""
    if error:
        return {"vi": CHECK_NOT_RUN["vi"], "en": CHECK_NOT_RUN["en"].format(error=error)}
    vi, en = [], []
    if expected:
        if (feed_id, expected) in words:
            vi.append(f"cần: {words[feed_id, expected]}")
        en.append(f"expected: {expected}")
    if observed:
        vi.append(f"thực tế: {observed}")
        en.append(f"observed: {observed}")
    return {"vi": " — ".join(vi), "en": " — ".join(en)} if en else None


def batch_text(error: str | None, error_vi: str | None) -> dict[str, str] | None:
    """Why a batch failed: its error in both languages (a source that failed before any Vietnamese was
    written for it says so in Vietnamese, with the English detail for engineers)."""
    if not error:
        return None
    return {"vi": error_vi or SOURCE_FAILED["vi"], "en": error}
