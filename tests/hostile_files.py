"""Files made to hurt a reader: a workbook that inflates to a gigabyte (a zip bomb), and one whose archive
lies about the size of its sheet."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

SHEET = "xl/worksheets/sheet1.xml"
ROWS = b'<row r="2"><c r="A2" t="n"><v>1</v></c><c r="B2" t="n"><v>1</v></c></row>' * 1000


def bomb(path: Path, unpacked_mb: int = 1024, zip64: bool = True) -> Path:
    """A genuine workbook (openpyxl's) whose first sheet is replaced by `unpacked_mb` MB of rows: ~3.6 MB on disk
    for 1 GB (measured: 3.1 s to make)."""
    import openpyxl

    book = openpyxl.Workbook()
    book.active["A1"] = "x"
    base = io.BytesIO()
    book.save(base)
    source = zipfile.ZipFile(base)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as out:
        for info in source.infolist():
            if info.filename != SHEET:
                out.writestr(info, source.read(info))
                continue
            with out.open(SHEET, "w", force_zip64=zip64) as sheet:
                sheet.write(b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
                            b'spreadsheetml/2006/main"><sheetData>')
                written = 0
                while written < unpacked_mb << 20:
                    sheet.write(ROWS)
                    written += len(ROWS)
                sheet.write(b"</sheetData></worksheet>")
    return path


def lying(path: Path, unpacked_mb: int = 300) -> Path:
    """A bomb whose archive says its sheet unpacks to 1,000 bytes (local header and central directory)."""
    data = bytearray(bomb(path, unpacked_mb, zip64=False).read_bytes())
    name = SHEET.encode()
    central = data.find(b"PK\x01\x02")
    while central != -1:
        if data[central + 46: central + 46 + len(name)] == name:
            struct.pack_into("<I", data, central + 24, 1000)
            local = struct.unpack_from("<I", data, central + 42)[0]
            struct.pack_into("<I", data, local + 22, 1000)
        central = data.find(b"PK\x01\x02", central + 4)
    path.write_bytes(bytes(data))
    return path
