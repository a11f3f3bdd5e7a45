"""A department submits its report through the API (POST /api/submissions/<feed> on `ioc serve`'s app, over
real HTTP in the test client, with the real warehouse): accepted into the inbox atomically and loaded; each
refusal (another unit's token, a forbidden type, an oversized body, a name with a path, a corrupt workbook,
another unit's rows, no token) answers why in Vietnamese and English and leaves nothing behind but its
record in ops.submissions."""

from __future__ import annotations

import pytest

from pipelines.ingest import ingest_feed
from tests.test_file_drop import HEADER, inbox

FEED = "dept_monthly_report"


def csv_bytes(unit: str, period: str = "2026-11", value: str = "5") -> bytes:
    rows = [HEADER, [unit, period, "GP_CAP", "Giấy phép", value, "giấy phép", ""],
            [unit, period, "TIN_BAI", "Số tin, bài", "3", "tin", ""]]
    return ("\r\n".join(",".join(f'"{c}"' if "," in c else c for c in row) for row in rows) + "\r\n").encode()


@pytest.fixture
def client(home, monkeypatch):
    from fastapi.testclient import TestClient

    from pipelines.serve.app import create_app

    monkeypatch.setenv("IOC_SUBMIT_TOKEN_SXD", "token-of-sxd-0123456789")
    monkeypatch.setenv("IOC_SUBMIT_TOKEN_SCT", "token-of-sct-9876543210")
    with TestClient(create_app(refresh=False)) as test_client:
        yield test_client


def send(client, name: str, body: bytes, token: str | None = "token-of-sxd-0123456789", feed: str = FEED):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(f"/api/submissions/{feed}", files={"file": (name, body, "application/octet-stream")},
                       headers=headers)


def recorded(query) -> list[tuple]:
    return query("SELECT unit, file_name, status, reason_en FROM ops.submissions ORDER BY submitted_at")


def test_an_accepted_submission_lands_atomically_loads_and_reports_its_outcome(client, home, query):
    answer = send(client, "SXD_2026-11.csv", csv_bytes("SXD"))
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["status"] == "accepted" and body["unit"] == "SXD" and body["rows"] == 2
    assert [p.name for p in inbox(home).iterdir()] == ["SXD_2026-11.csv"], "no partial file left beside it"
    waiting = client.get(body["outcome"]).json()
    assert waiting["status"] == "waiting" and waiting["unit"] == "SXD"

    ingest_feed(FEED)
    loaded = client.get(body["outcome"]).json()
    assert loaded["status"] == "loaded" and loaded["rows_loaded"] == 2 and loaded["reasons"] == []
    assert recorded(query) == [("SXD", "SXD_2026-11.csv", "accepted", None)]


def test_a_submission_with_a_bad_row_reports_the_row_in_vietnamese_and_english(client, home):
    answer = send(client, "SXD_2026-11.csv", csv_bytes("SXD", value="không có"))
    assert answer.status_code == 202, answer.text
    ingest_feed(FEED)
    outcome = client.get(answer.json()["outcome"]).json()
    assert outcome["status"] == "partial" and outcome["rows_quarantined"] == 1
    (reason,) = outcome["reasons"]
    assert "tệp SXD_2026-11.csv dòng 2" in reason["vi"] and "nhận được 'không có'" in reason["vi"]
    assert "file SXD_2026-11.csv row 2" in reason["en"] and "got 'không có'" in reason["en"]


REFUSALS = {
    "another unit's token": (dict(name="SXD_2026-11.csv", body=csv_bytes("SXD"), token="token-of-sct-9876543210"),
                             403, "SCT"),
    "a forbidden type": (dict(name="SXD_2026-11.exe", body=b"MZ\x90\x00"), 415, ".exe"),
    "an oversized body": (dict(name="SXD_2026-11.csv", body=csv_bytes("SXD") + b"x" * 5_000_001), 413, "too large"),
    "a name with ../": (dict(name="../SXD_2026-11.csv", body=csv_bytes("SXD")), 400, "not a plain name"),
    "a corrupt workbook": (dict(name="SXD_2026-11.xlsx", body=b"PK\x03\x04 not really a workbook"), 422,
                           "not a readable XLSX workbook"),
    "another unit's rows": (dict(name="SXD_2026-11.csv", body=csv_bytes("SCT")), 403, "rows of other units (SCT)"),
    "no token": (dict(name="SXD_2026-11.csv", body=csv_bytes("SXD"), token=None), 401, "token"),
    "a feed that takes no submissions": (dict(name="SXD_2026-11.csv", body=csv_bytes("SXD"), feed="directive_tasks"),
                                         404, "does not accept submissions"),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_a_refused_submission_says_why_and_leaves_only_its_record(client, home, query, case):
    kwargs, status, words = REFUSALS[case]
    answer = send(client, **kwargs)
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["status"] == "refused" and words in body["reason"]["en"], body
    assert body["reason"]["vi"] and body["reason"]["vi"] != body["reason"]["en"]
    for folder in ("inbox", "landing", "archive", "rejected"):
        left = [p for p in (home / folder).rglob("*") if p.is_file()] if (home / folder).exists() else []
        assert left == [], f"{case}: {folder} holds {left}"
    rows = recorded(query)
    assert len(rows) == 1 and rows[0][2] == "refused" and words in rows[0][3]
    assert client.get(f"/api/submissions/{body['submission_id']}").json()["reason"]["en"] == rows[0][3]


def test_the_upload_page_sends_a_report_and_follows_it_until_loaded(home, tmp_path, monkeypatch):
    """/submit in Chromium: the token entered once, a report sent and followed until loaded, then another
    unit's report refused with why — in Vietnamese, with no console error."""
    import shutil

    from playwright.sync_api import sync_playwright

    from tests.stack import start_exporter
    from tests.test_wall import CHROMIUM_FLAGS

    monkeypatch.setenv("IOC_SUBMIT_TOKEN_SXD", "token-of-sxd-0123456789")
    process, address = start_exporter(home, tmp_path)
    good, bad = tmp_path / "SXD_2026-11.csv", tmp_path / "SXD_2026-10.csv"
    good.write_bytes(csv_bytes("SXD"))
    bad.write_bytes(csv_bytes("SCT", "2026-10"))
    errors: list[str] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_FLAGS)
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "403" not in m.text else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"http://{address}/submit")
            page.wait_for_selector("body[data-ready='1']")
            assert page.locator("#feed option").all_inner_texts() == ["Báo cáo tháng của các sở, ngành"]
            page.fill("#token", "token-of-sxd-0123456789")
            page.click("#token-form button")
            assert page.locator("#token-saved").is_visible()
            page.set_input_files("#file", str(good))
            page.click("#send")
            page.wait_for_selector("#result .s-waiting, #result .s-accepted")
            ingest_feed(FEED)
            page.wait_for_selector("#result .s-loaded", timeout=20_000)
            assert "nạp 2 dòng" in page.locator("#result").inner_text()

            page.reload()  # the token is remembered
            page.wait_for_selector("body[data-ready='1']")
            assert page.locator("#token-saved").is_visible()
            page.set_input_files("#file", str(bad))
            page.click("#send")
            page.wait_for_selector("#result .s-refused")
            text = page.locator("#result").inner_text()
            assert "Bị từ chối" in text and "đơn vị khác (SCT)" in text, text
            browser.close()
    finally:
        process.stop()
    assert errors == []
