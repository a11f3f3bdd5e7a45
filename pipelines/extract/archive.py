"""What a workbook (an XLSX file: a zip archive of XML parts) unpacks to, checked before it is parsed.

A workbook of a few MB can inflate to gigabytes (a zip bomb), and the parser holds a sheet's cells in
memory. So before any parsing, every member of the archive is unpacked as a stream, in blocks, its bytes
counted and never kept: the archive is refused as soon as a member goes over the feed's limits on
unpacked size or compression ratio (declared sizes are checked first, and the real ones as they come, so
a header that lies does not help), or a sheet over its limits on rows and cells (counted from the sheet's
XML tags as they stream by). What is refused costs one block of memory.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib

from pipelines.declarations.models import ReadLimits
from pipelines.extract.unreadable import corrupt_workbook, over_limit
from pipelines.text import vi_number

BLOCK = 1 << 20
RATIO_FLOOR = 1 << 20  # a member under 1 MiB unpacked is never refused for its ratio (small XML packs tightly)
# A sheet's row and cell tags, with or without a namespace prefix (<row r="1">, <x:c r="A1">, <c>): one scan
# finds both (measured, a 35 MB sheet: 0.19 s, where a scan for each took 0.28 s).
TAG = re.compile(rb"<(?:\w{1,16}:)?(c|row)[\s>/]")
TAG_BYTES = 32  # longer than any match of TAG: what is carried from one block to the next, at most
MIN_CELL_BYTES, MIN_ROW_BYTES = 4, 6


def check_workbook(data: bytes, limits: ReadLimits) -> None:
    """Raise UnreadableFile if the workbook's archive is corrupt or goes over any of `limits`."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise corrupt_workbook(f"not a zip archive: {exc}") from None
    with archive:
        members = archive.infolist()
        if len(members) > limits.max_members:
            raise over_limit(
                "max_members",
                limits.max_members,
                f"the workbook's archive holds {len(members):,} files",
                f"tệp XLSX chứa {vi_number(len(members))} tệp con",
            )
        for member in members:  # the declared sizes first: most bombs are refused without unpacking a byte
            _check_size(member.filename, member.file_size, member.compress_size, limits)
        for member in members:
            _check_member(archive, member, limits)


def _check_size(name: str, unpacked: int, packed: int, limits: ReadLimits) -> None:
    if unpacked > limits.max_unpacked_bytes:
        raise over_limit(
            "max_unpacked_bytes",
            limits.max_unpacked_bytes,
            f"the workbook's part {name} unpacks to more than {limits.max_unpacked_bytes:,} bytes",
            f"phần {name} của tệp XLSX giải nén ra hơn {vi_number(limits.max_unpacked_bytes)} byte",
        )
    if unpacked > RATIO_FLOOR and unpacked > limits.max_compression_ratio * max(packed, 1):
        raise over_limit(
            "max_compression_ratio",
            limits.max_compression_ratio,
            f"the workbook's part {name} unpacks to more than {limits.max_compression_ratio:g} times "
            f"its packed size ({packed:,} bytes packed)",
            f"phần {name} của tệp XLSX giải nén ra hơn {limits.max_compression_ratio:g} lần kích thước "
            f"nén ({vi_number(packed)} byte)",
        )


def _check_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, limits: ReadLimits) -> None:
    """Unpack one member block by block, counting its bytes (and a sheet's rows and cells), keeping none."""
    sheet = member.filename.startswith("xl/worksheets/") and member.filename.endswith(".xml")
    # A cell takes at least 4 bytes of XML (<c/>), a row 6 (<row/>); a sheet too small to pass either cap is not
    # counted (unpacking never goes past the size the archive declares: zipfile stops there).
    counted = sheet and (
        member.file_size > MIN_CELL_BYTES * limits.max_cells or member.file_size > MIN_ROW_BYTES * limits.max_rows
    )
    unpacked = rows = cells = 0
    tail = b""
    try:
        with archive.open(member) as stream:
            while block := stream.read(BLOCK):
                unpacked += len(block)
                _check_size(member.filename, unpacked, member.compress_size, limits)
                if counted:
                    text = tail + block
                    cut = text.rfind(b"<")  # a tag before the last '<' is whole; the rest waits for the next block
                    if cut < 0 or len(text) - cut > TAG_BYTES:  # unless the last '<' is far enough from the end
                        cut = len(text)
                    tags = TAG.findall(text, 0, cut)
                    rows, cells = rows + tags.count(b"row"), cells + len(tags) - tags.count(b"row")
                    tail = text[cut:]
                    _check_sheet(member.filename, rows, cells, limits)
        if counted and tail:
            tags = TAG.findall(tail)
            _check_sheet(member.filename, rows + tags.count(b"row"), cells + len(tags) - tags.count(b"row"), limits)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError, OSError) as exc:
        raise corrupt_workbook(f"its part {member.filename} cannot be unpacked: {exc}") from None


def _check_sheet(name: str, rows: int, cells: int, limits: ReadLimits) -> None:
    if rows > limits.max_rows:
        raise over_limit(
            "max_rows",
            limits.max_rows,
            f"the sheet {name} holds more than {limits.max_rows:,} rows",
            f"trang tính {name} có hơn {vi_number(limits.max_rows)} dòng",
        )
    if cells > limits.max_cells:
        raise over_limit(
            "max_cells",
            limits.max_cells,
            f"the sheet {name} holds more than {limits.max_cells:,} cells",
            f"trang tính {name} có hơn {vi_number(limits.max_cells)} ô",
        )
