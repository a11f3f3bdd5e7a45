"""Helpers several test files share (no test file imports another; shared fixtures are in conftest.py):
the departments' monthly report files (dept_monthly_report), the task tracker's export (directive_tasks),
and the flags of the headless browser the wall's tests open.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from simulator.cp1258 import encode_cp1258
from tests.conftest import ioc

# --- dept_monthly_report: a department's monthly report as a CSV file ------------------------------

REPORT_FEED = "dept_monthly_report"
HEADER = ["Mã đơn vị", "Kỳ báo cáo", "Mã chỉ tiêu", "Tên chỉ tiêu", "Giá trị", "Đơn vị tính", "Ghi chú"]
ROWS = [
    ["SKHCN", "10/2026", "GP_CAP", "Số giấy phép được cấp", "11", "giấy phép", ""],
    ["SKHCN", "10/2026", "TIN_BAI", "Số tin, bài đăng tải", "28", "tin", "Cổng thông tin điện tử"],
    ["SKHCN", "10/2026", "KINH_PHI", "Kinh phí đã giải ngân", "1.234,5", "triệu đồng", "Đợt 1"],
]


def inbox(home: Path) -> Path:
    """The monthly reports' inbox under $IOC_HOME=`home` (made if missing)."""
    path = home / "inbox" / REPORT_FEED
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8", delimiter: str = ",",
              header: list[str] = HEADER) -> Path:
    lines = [delimiter.join(f'"{c}"' if delimiter in c else c for c in row) for row in [header, *rows]]
    text = "\r\n".join(lines) + "\r\n"
    data = encode_cp1258(text) if encoding == "cp1258" else text.encode(encoding)
    path.write_bytes(data)
    return path


def report(home: Path, unit: str, period: str, received: str) -> None:
    """`unit`'s report for `period` dropped in the inbox, received at `received` (its mtime)."""
    path = write_csv(inbox(home) / f"{unit}_{period}.csv", [[unit, period, "GP_CAP", "Giấy phép", "5", "", ""]])
    moment = datetime.fromisoformat(received).timestamp()
    os.utime(path, (moment, moment))


# --- directive_tasks: the task tracker's CSV export ------------------------------------------------

TASK_HEADER = ["Mã nhiệm vụ", "Văn bản giao", "Người giao", "Đơn vị chủ trì", "Nội dung nhiệm vụ", "Ngày giao",
               "Hạn hoàn thành", "Trạng thái", "Ngày hoàn thành", "Cập nhật lúc"]
TASKS_NOW = "2026-11-20T10:00:00+07:00"  # the moment ingest_tasks' comments describe (conftest's TEST_NOW)


def ingest_tasks(home) -> None:
    """Five directive tasks of SXD and SYT, ingested through the task tracker's CSV export."""
    rows = [  # task, unit, due, done, status
        ("NV-1", "SXD", "15/10/2026", "14/10/2026", "Hoàn thành"),
        ("NV-2", "SXD", "15/10/2026", "20/10/2026", "Hoàn thành"),  # done late
        ("NV-3", "SXD", "02/11/2026", "", "Đang thực hiện"),  # overdue on 20 November
        ("NV-4", "SYT", "25/11/2026", "", "Chưa thực hiện"),  # due within 7 days
        ("NV-5", "SYT", "30/12/2026", "", "Đang thực hiện"),  # open
    ]
    header = TASK_HEADER
    folder = home / "inbox" / "directive_tasks"
    folder.mkdir(parents=True)
    write_csv(folder / "nhiem_vu.csv", [[t, "TB 1/TB-VP", "Lãnh đạo", u, f"Nhiệm vụ {t}", "01/09/2026", due, status,
                                         done, "20/11/2026 08:00:00"] for t, u, due, done, status in rows],
              header=header)
    ioc("ingest", "directive_tasks", check=True)


# --- the wall in a headless Chromium ----------------------------------------------------------------

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
