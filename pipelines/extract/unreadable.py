"""Why a file cannot be read as a table: each reason in English and Vietnamese, saying how to fix it."""

from __future__ import annotations

from pipelines.declarations.models import ReadLimits
from pipelines.text import vi_number


class UnreadableFile(Exception):
    """The file cannot be read as a table; the message says why and how to fix it, and `vi` says the same in
    Vietnamese (what the wall shows a department)."""

    def __init__(self, message: str, vi: str):
        super().__init__(message)
        self.vi = vi


def empty_file() -> UnreadableFile:
    return UnreadableFile(
        "the file is empty (0 bytes or only blanks); ask the department to send it again",
        "tệp rỗng (0 byte hoặc chỉ có khoảng trắng); đề nghị đơn vị gửi lại",
    )


def undecodable(encodings: list[str]) -> UnreadableFile:
    shown = ", ".join(encodings)
    return UnreadableFile(
        f"the bytes are not valid in any declared encoding ({shown}); "
        "save the file as CSV UTF-8 or declare its encoding under source.encodings",
        f"nội dung không đúng bảng mã nào đã khai báo ({shown}); lưu tệp dạng CSV UTF-8 "
        "hoặc khai báo bảng mã trong source.encodings",
    )


def binary_not_csv() -> UnreadableFile:
    return UnreadableFile(
        "the file holds binary data (NUL bytes), not CSV text; export the table again as CSV",
        "tệp chứa dữ liệu nhị phân, không phải văn bản CSV; xuất lại bảng dạng CSV",
    )


def corrupt_workbook(detail: str) -> UnreadableFile:
    return UnreadableFile(
        f"not a readable XLSX workbook ({detail}); open it in Excel or LibreOffice and save it again as .xlsx",
        "không đọc được tệp XLSX; mở bằng Excel hoặc LibreOffice rồi lưu lại dạng .xlsx",
    )


def over_limit(cap: str, limit: int | float, what_en: str, what_vi: str) -> UnreadableFile:
    """A file refused unread because it holds more than the feed's `source.limits.<cap>` allows."""
    shown, shown_vi = (f"{limit:,}", vi_number(limit)) if isinstance(limit, int) else (f"{limit:g}", f"{limit:g}")
    return UnreadableFile(
        f"{what_en}: over the limit source.limits.{cap} = {shown}, so the file was not read (a file this large "
        f"or this compressed is refused to protect the server); send the report in smaller files, or, if such "
        f"files are genuine for this feed, raise source.limits.{cap} in its declaration",
        f"{what_vi}: vượt giới hạn source.limits.{cap} = {shown_vi}, nên tệp không được đọc "
        f"(tệp lớn hoặc nén quá mức như vậy bị từ chối để bảo vệ máy chủ); hãy gửi báo cáo thành các tệp nhỏ "
        f"hơn, hoặc nếu tệp như vậy là bình thường với nguồn này thì nâng source.limits.{cap} trong khai báo",
    )


def line_too_long(limits: ReadLimits, row: int | None = None) -> UnreadableFile:
    at_en, at_vi = (f"record {row}", f"bản ghi {row}") if row is not None else ("a record", "một bản ghi")
    return over_limit(
        "max_line_bytes",
        limits.max_line_bytes,
        f"{at_en} of the CSV file is longer than {limits.max_line_bytes:,} bytes",
        f"{at_vi} của tệp CSV dài hơn {vi_number(limits.max_line_bytes)} byte",
    )


def too_many_rows(limits: ReadLimits) -> UnreadableFile:
    return over_limit(
        "max_rows",
        limits.max_rows,
        f"the file holds more than {limits.max_rows:,} records",
        f"tệp có hơn {vi_number(limits.max_rows)} bản ghi",
    )
