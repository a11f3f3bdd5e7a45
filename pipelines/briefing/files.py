"""The monthly briefing written as files: PDF for reading and printing, XLSX for working with its figures."""

from __future__ import annotations

from pathlib import Path

from pipelines.briefing.content import Monthly
from pipelines.briefing.pdf import write_pdf
from pipelines.briefing.xlsx import write_xlsx


def write_files(b: Monthly, folder: Path) -> dict[str, Path]:
    """The briefing as PDF and XLSX in `folder` (bao-cao-thang-2026-11.pdf, .xlsx), replaced if there."""
    stem = f"bao-cao-thang-{b.period.key}"
    return {"pdf": write_pdf(b, folder / f"{stem}.pdf"), "xlsx": write_xlsx(b, folder / f"{stem}.xlsx")}
