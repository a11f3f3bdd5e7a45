"""A department submits its report through the API (POST /api/submissions/<feed> on `ioc serve`'s app, over
real HTTP in the test client, with the real warehouse): accepted into the inbox atomically and loaded; each
refusal (another unit's token, a forbidden type, an oversized body, a name with a path, a corrupt workbook,
another unit's rows, no token) answers why in Vietnamese and English and leaves nothing behind but its
record in ops.submissions."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pipelines.ingest import ingest_feed
from tests.helpers import HEADER, inbox

FEED = "dept_monthly_report"
SXD, SCT, OPERATOR = "token-of-sxd-0123456789", "token-of-sct-9876543210", "operator-token-of-the-centre-42"


def csv_bytes(unit: str, period: str = "2026-11", value: str = "5") -> bytes:
    rows = [HEADER, [unit, period, "GP_CAP", "Giấy phép", value, "giấy phép", ""],
            [unit, period, "TIN_BAI", "Số tin, bài", "3", "tin", ""]]
    return ("\r\n".join(",".join(f'"{c}"' if "," in c else c for c in row) for row in rows) + "\r\n").encode()


@pytest.fixture
def client(home, monkeypatch):
    from fastapi.testclient import TestClient

    from pipelines.serve.app import create_app

    monkeypatch.setenv("IOC_SUBMIT_TOKEN_SXD", SXD)
    monkeypatch.setenv("IOC_SUBMIT_TOKEN_SCT", SCT)
    monkeypatch.setenv("IOC_OPERATOR_TOKEN", OPERATOR)
    with TestClient(create_app()) as test_client:
        yield test_client


def send(client, name: str, body: bytes, token: str | None = SXD, feed: str = FEED):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(f"/api/submissions/{feed}", files={"file": (name, body, "application/octet-stream")},
                       headers=headers)


def outcome(client, url: str, token: str | None = SXD):
    return client.get(url, headers={"Authorization": f"Bearer {token}"} if token else {})


def recorded(query) -> list[tuple]:
    return query("SELECT unit, file_name, status, reason_en FROM ops.submissions ORDER BY submitted_at")


def test_an_accepted_submission_lands_atomically_loads_and_reports_its_outcome(client, home, query):
    answer = send(client, "SXD_2026-11.csv", csv_bytes("SXD"))
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["status"] == "accepted" and body["unit"] == "SXD" and body["rows"] == 2
    assert [p.name for p in inbox(home).iterdir()] == ["SXD_2026-11.csv"], "no partial file left beside it"
    waiting = outcome(client, body["outcome"]).json()
    assert waiting["status"] == "waiting" and waiting["unit"] == "SXD"

    ingest_feed(FEED)
    loaded = outcome(client, body["outcome"]).json()
    assert loaded["status"] == "loaded" and loaded["rows_loaded"] == 2 and loaded["reasons"] == []
    assert recorded(query) == [("SXD", "SXD_2026-11.csv", "accepted", None)]


def test_each_submission_follows_its_own_batch_however_soon_the_same_name_or_bytes_come_again(client, home):
    """A department corrects its report and sends it again under the same name, then sends the first version once
    more: each outcome is its own file's batch (found by its bytes and by loading after it, never by a window of
    time around its name and the file's modification time, which says when it was written, not submitted), the
    last one a duplicate of the first."""
    first, corrected = csv_bytes("SXD"), csv_bytes("SXD", value="7")
    urls = []
    for body in (first, corrected, first):
        answer = send(client, "SXD_2026-11.csv", body)
        assert answer.status_code == 202, answer.text
        urls.append(answer.json()["outcome"])
        assert outcome(client, urls[-1]).json()["status"] == "waiting", "not taken for an earlier one's batch"
        landed = inbox(home) / "SXD_2026-11.csv"
        ahead = time.time() + 60  # the file's clock ahead of the server's (a copy keeps its own time)
        os.utime(landed, (ahead, ahead))
        ingest_feed(FEED)
    batches = [outcome(client, url).json() for url in urls]
    assert [b["status"] for b in batches] == ["loaded", "loaded", "duplicate"]
    assert len({b["batch_id"] for b in batches}) == 3


def test_a_submission_with_a_bad_row_reports_the_row_in_vietnamese_and_english(client, home):
    answer = send(client, "SXD_2026-11.csv", csv_bytes("SXD", value="không có"))
    assert answer.status_code == 202, answer.text
    ingest_feed(FEED)
    found = outcome(client, answer.json()["outcome"]).json()
    assert found["status"] == "partial" and found["rows_quarantined"] == 1
    (reason,) = found["reasons"]
    assert "tệp SXD_2026-11.csv dòng 2" in reason["vi"] and "nhận được 'không có'" in reason["vi"]
    assert "file SXD_2026-11.csv row 2" in reason["en"] and "got 'không có'" in reason["en"]


REFUSALS = {
    "another unit's token": (dict(name="SXD_2026-11.csv", body=csv_bytes("SXD"), token=SCT),
                             403, "SCT"),
    "a forbidden type": (dict(name="SXD_2026-11.exe", body=b"MZ\x90\x00"), 415, ".exe"),
    "an oversized body": (dict(name="SXD_2026-11.csv", body=csv_bytes("SXD") + b"x" * 5_000_001), 413, "too large"),
    "a name with ../": (dict(name="../SXD_2026-11.csv", body=csv_bytes("SXD")), 400, "not a plain name"),
    "a name too long to store": (dict(name="SXD_2026-11_" + "ư" * 100 + ".csv", body=csv_bytes("SXD")), 400,
                                 "not a plain name"),
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
    assert outcome(client, f"/api/submissions/{body['submission_id']}", OPERATOR).json()["reason"]["en"] == rows[0][3]


def test_the_upload_page_sends_a_report_and_follows_it_until_loaded(home, tmp_path, monkeypatch):
    """/submit in Chromium: the token entered once, a report sent and followed until loaded, then another
    unit's report refused with why — in Vietnamese, with no console error."""
    import shutil

    from playwright.sync_api import sync_playwright

    from tests.stack import start_exporter
    from tests.helpers import CHROMIUM_FLAGS

    monkeypatch.setenv("IOC_SUBMIT_TOKEN_SXD", SXD)
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
            assert sorted(page.locator("#feed option").all_inner_texts()) == [
                "Biểu số liệu chỉ tiêu kinh tế - xã hội của các sở", "Báo cáo tháng của các sở, ngành"]
            label = page.locator("label[for='file']").inner_text()  # the wording's, its {types} and {max} filled
            assert label.startswith("Tệp (.") and "; tối đa " in label and label.endswith(" SKHCN_2026-11.xlsx"), label
            page.select_option("#feed", FEED)
            page.fill("#token", SXD)
            page.click("#token-form button")
            assert page.locator("#token-saved").is_visible()
            assert page.locator("#token-saved").inner_text() == "Đã lưu mã của đơn vị trên máy này. Đổi mã"
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


def test_an_outcome_is_answered_only_to_its_unit_or_the_operator(client, home):
    """The submitting unit's token and the operator's read it; no token or a bare one is 401; another unit's
    token is 404, as an unknown id; the id carries 128 random bits."""
    answer = send(client, "SXD_2026-11.csv", csv_bytes("SXD", value="không có"))
    url = answer.json()["outcome"]
    assert len(answer.json()["submission_id"].rsplit("-", 1)[1]) == 32, "128 random bits, in hex"
    assert outcome(client, url, SXD).status_code == 200
    assert outcome(client, url, OPERATOR).json()["unit"] == "SXD"
    assert outcome(client, url, None).status_code == 401
    assert client.get(url, headers={"Authorization": SXD}).status_code == 401, "a token without Bearer"
    assert outcome(client, url, "a-guess-0123456789").status_code == 401
    other = outcome(client, url, SCT)
    assert other.status_code == 404 and "không có" not in other.text, "another unit learns nothing, not even that"
    assert outcome(client, url.replace(url[-6:], "000000"), SXD).status_code == 404


def test_the_authorization_header_is_bearer_and_nothing_else(client, home):
    for header in (SXD, f"Basic {SXD}", f"Bearer  {SXD}", f"Bearer {SXD} extra", f"Token {SXD}"):
        answer = client.post(f"/api/submissions/{FEED}", headers={"Authorization": header},
                             files={"file": ("SXD_2026-11.csv", csv_bytes("SXD"), "text/csv")})
        assert answer.status_code == 401, header
        assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert client.post(f"/api/submissions/{FEED}", headers={"Authorization": f"bearer {SXD}"},
                       files={"file": ("SXD_2026-11.csv", csv_bytes("SXD"), "text/csv")}).status_code == 202


def test_a_submitted_report_with_its_totals_row_is_accepted_as_the_inbox_reads_it(client, home):
    """The feed's skip_rows leave out the totals row ("Tổng cộng" in the unit column), as the inbox does:
    it is no other unit's row."""
    body = csv_bytes("SXD") + "Tổng cộng,,,,8,,\r\n".encode()
    answer = send(client, "SXD_2026-11.csv", body)
    assert answer.status_code == 202, answer.text
    assert answer.json()["rows"] == 2


def test_the_eleventh_failed_token_in_a_minute_is_throttled_and_a_flood_is_counted_not_kept(client, home, query):
    """10 failed authentications a minute per address (and per unit claimed): the 11th is 429 with Retry-After,
    as are the next; the department's own token still gets through; ops.submissions keeps the 10 and the
    first throttled one, and /metrics counts all 30."""
    answers = [send(client, "SXD_2026-11.csv", csv_bytes("SXD"), token=f"guess-{i:04d}-abcdefgh") for i in range(30)]
    assert [a.status_code for a in answers[:10]] == [401] * 10
    assert {a.status_code for a in answers[10:]} == {429}
    wait = int(answers[10].headers["Retry-After"])
    assert 1 <= wait <= 60 and "giây" in answers[10].json()["reason"]["vi"]
    assert send(client, "SXD_2026-11.csv", csv_bytes("SXD")).status_code == 202, "a valid token is never throttled"
    rows = query("SELECT http_status, count(*) FROM ops.submissions WHERE status = 'refused' GROUP BY ALL ORDER BY 1")
    assert rows == [(401, 10), (429, 1)]
    assert query("SELECT DISTINCT client FROM ops.submissions WHERE status = 'refused'") == [("testclient",)]
    metrics = client.get("/metrics").text
    assert f'ioc_submission_refusals_total{{feed="{FEED}",status="401"}} 10.0' in metrics
    assert f'ioc_submission_refusals_total{{feed="{FEED}",status="429"}} 20.0' in metrics


def test_failed_attempts_claiming_one_unit_are_throttled_from_any_address(home, monkeypatch):
    """Guesses for SXD's token spread over addresses: the unit's window fills all the same (the unit a failed
    attempt claims is its file's name)."""
    from fastapi.testclient import TestClient

    from pipelines.serve.app import create_app

    monkeypatch.setenv("IOC_SUBMIT_TOKEN_SXD", SXD)
    app = create_app()
    statuses = []
    for i in range(12):
        with TestClient(app, client=(f"10.0.1.{i}", 50000)) as stranger:
            statuses.append(send(stranger, "SXD_2026-11.csv", csv_bytes("SXD"), token=f"guess-{i:04d}").status_code)
    assert statuses == [401] * 10 + [429] * 2
    with TestClient(app, client=("10.0.2.1", 50000)) as other:
        assert send(other, "SCT_2026-11.csv", csv_bytes("SCT"), token="guess").status_code == 401, \
            "another unit's window is its own"


@pytest.fixture
def server(home, tmp_path, monkeypatch):
    """`ioc serve` on loopback with SXD's token; (address, pid)."""
    from tests.stack import start_exporter

    monkeypatch.setenv("IOC_SUBMIT_TOKEN_SXD", SXD)
    process, address = start_exporter(home, tmp_path)
    yield address, process.popen.pid
    process.stop()


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) / 1024


def test_a_zip_bomb_is_refused_within_seconds_while_the_server_stays_small_and_answers(server, tmp_path):
    """A 3.6 MB workbook inflating to 1 GiB, sent with SXD's own token: 422 naming the cap within 5 s, the
    server's RSS never 100 MiB above where it stood before (sampled every 20 ms; the server had refused one such
    workbook already, so that its first imports are not counted), /healthz answering throughout."""
    import threading

    import httpx

    from tests.hostile_files import bomb

    from pipelines.snapshots.files import state_file, wall_file

    address, pid = server
    body = bomb(tmp_path / "SXD_2026-11.xlsx").read_bytes()
    # The server's refresher publishes the snapshots of this new warehouse once, opening DuckDB in the server's
    # process (some 100 MiB, at a moment a busy machine decides): the bomb is sent once that is done.
    deadline = time.monotonic() + 60
    while not (state_file().exists() and wall_file().exists()):
        assert time.monotonic() < deadline, "the server never published its snapshots"
        time.sleep(0.1)
    time.sleep(0.5)  # its connection closed
    # and a first bomb, refused, has had the server import what reads a workbook: what is measured is a bomb's own
    first = httpx.post(f"http://{address}/api/submissions/{FEED}", headers={"Authorization": f"Bearer {SXD}"},
                       files={"file": ("SXD_2026-10.xlsx", body)}, timeout=30)
    assert first.status_code == 422, first.text
    before, peak, healthy, done = rss_mib(pid), [0.0], [], threading.Event()

    def watch():
        with httpx.Client(base_url=f"http://{address}", timeout=5) as c:
            while not done.is_set():
                peak[0] = max(peak[0], rss_mib(pid))
                healthy.append(c.get("/healthz").status_code)
                time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    started = time.monotonic()
    try:
        answer = httpx.post(f"http://{address}/api/submissions/{FEED}", headers={"Authorization": f"Bearer {SXD}"},
                            files={"file": ("SXD_2026-11.xlsx", body)}, timeout=30)
        took = time.monotonic() - started
        time.sleep(0.3)
    finally:
        done.set()
        watcher.join()
    assert answer.status_code == 422 and "source.limits.max_unpacked_bytes" in answer.json()["reason"]["en"]
    assert took < 5, f"{took:.1f} s"
    assert peak[0] - before < 100, f"RSS {before:.0f} → {peak[0]:.0f} MiB"
    assert healthy and set(healthy) == {200}


def _raw_post(address: str, headers: dict[str, str], chunk: bytes, most: int, chunked: bool = False,
              request: str = f"POST /api/submissions/{FEED}"):
    """Send a POST's headers, then body blocks until the server answers or `most` bytes are sent: (status, bytes
    sent). The body is never finished, so an answer means the server decided without it."""
    import select
    import socket

    host, port = address.split(":")
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    sent = 0
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(f"{request} HTTP/1.1\r\nHost: {address}\r\n{head}\r\n".encode())
        while sent < most:
            if select.select([s], [], [], 0.05)[0]:
                break
            try:
                s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        s.settimeout(10)
        answer = s.recv(65536).decode("latin-1")
    return int(answer.split(" ", 2)[1]), sent


def test_a_body_is_refused_from_its_headers_before_it_is_read(server):
    """200 MiB announced without a token: refused before 4 MiB is sent (413 from the server-wide limit), and
    sent chunked with no size, 401 before 4 MiB; with the token, 5.5 MB announced is 413 from the feed's 5 MB,
    and sent chunked with no size, cut with 413 soon after the 5 MB."""
    address, _ = server
    form = {"Content-Type": "multipart/form-data; boundary=xyz"}
    block = b"x" * (64 << 10)
    # what the client wrote before the answer came: the server reads at most 16 KiB of an unauthenticated body,
    # the rest waits in loopback's buffers (several MiB) while a loaded machine schedules the server's answer
    early = 4 << 20
    part = b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="SXD_2026-11.csv"\r\n\r\n' + block
    status, sent = _raw_post(address, {**form, "Content-Length": str(200 << 20)}, block, 200 << 20)
    assert status == 413 and sent < early, (status, sent)
    status, sent = _raw_post(address, {**form, "Transfer-Encoding": "chunked"}, part, 200 << 20, chunked=True)
    assert status == 401 and sent < early, (status, sent)
    bearer = {"Authorization": f"Bearer {SXD}"}
    status, sent = _raw_post(address, {**form, **bearer, "Content-Length": str(5_500_000)}, block, 200 << 20)
    assert status == 413 and sent < early, (status, sent)
    status, sent = _raw_post(address, {**form, **bearer, "Transfer-Encoding": "chunked"}, part, 200 << 20,
                             chunked=True)
    assert status == 413 and 5_000_000 < sent < 8 << 20, (status, sent)


def test_every_route_has_a_body_limit(server):
    """Routes that take no body refuse a large one too: from its declared size, or cut as it streams."""
    address, _ = server
    block = b"x" * (64 << 10)
    status, sent = _raw_post(address, {"Content-Length": str(1 << 30)}, block, 1 << 30, request="GET /healthz")
    assert status == 413 and sent < 1 << 20, (status, sent)
    status, sent = _raw_post(address, {"Transfer-Encoding": "chunked"}, block, 1 << 30, chunked=True,
                             request="POST /api/kpis/x/explain")
    assert status in (405, 413) and sent < 8 << 20, (status, sent)
