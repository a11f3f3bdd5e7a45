"""A department sends its report file itself (POST /api/submissions/<feed>), and later asks what became of it
(GET /api/submissions/<id>).

A submission is accepted only when every rule holds, each refusal saying why in Vietnamese and English:
the feed accepts submissions; the token is a department's (`Authorization: Bearer <token>`; tokens come from
the environment or a secrets file the declarations name, compared in constant time; failed attempts are
throttled); the declared size is within the feed's (these three decided from the headers, before the body is
read; the body then goes to disk as it arrives, cut at the size); the file's name is a plain name (no path, no
traversal, not hidden) of a declared type that follows the feed's file-name pattern with the token's own
unit; the file reads as the feed's table, within the feed's limits (a corrupt workbook is
refused here, not in the inbox) and every row's unit is the token's. An accepted file lands in the inbox
atomically (written beside it under a hidden name, then renamed), where the inbox watcher takes it. Both
outcomes are recorded in ops.submissions (a stranger's refusals within bounds); nothing else is left behind
by a refusal. An outcome is told only to the unit that sent it, or to the centre's operator.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml
from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter

from pipelines.declarations.loading import Catalog
from pipelines.declarations.models import Feed
from pipelines.extract.file_drop import file_frame, file_name_fields, label_index, without_skipped
from pipelines.extract.tabular import read_grid
from pipelines.extract.unreadable import UnreadableFile
from pipelines.serve.auth import Throttle, bearer, is_operator
from pipelines.serve.upload import PART_OVERHEAD, NotMultipart, TooLarge, peek_file_name, receive_file
from pipelines.settings import paths
from pipelines.text import label_key, vi_number

LOG = logging.getLogger("ioc.serve")
MAX_NAME_BYTES = 200  # a file system takes 255 bytes; the archive prefixes 18
SAFE_NAME = re.compile(r"^[\w][\w.\-() ]*$", re.UNICODE)


class Refused(Exception):
    """A submission refused: the HTTP status and why, in Vietnamese and English."""

    def __init__(self, status: int, vi: str, en: str):
        super().__init__(en)
        self.status, self.vi, self.en = status, vi, en


class Throttled(Refused):
    """Too many failed authentications from the address (or for the unit claimed): wait `retry_after` seconds."""

    def __init__(self, wait: float):
        self.retry_after = math.ceil(wait)
        super().__init__(
            429,
            f"quá nhiều lần xác thực sai: thử lại sau {self.retry_after} giây",
            f"too many failed authentications: try again in {self.retry_after} seconds",
        )


@dataclass
class Submission:
    submission_id: str
    feed: str
    unit: str | None
    file_name: str | None
    size: int
    checksum: str | None
    submitted_at: datetime
    status: str  # accepted | refused
    reason_vi: str | None = None
    reason_en: str | None = None
    rows: int = 0
    client: str | None = None  # the client's address
    http_status: int = 202


def tokens(feed: Feed) -> dict[str, str]:
    """unit code → token, from $<prefix><UNIT> variables and the YAML file $<tokens_file_env> names."""
    rules = feed.source.submissions
    found: dict[str, str] = {}
    file = os.environ.get(rules.tokens_file_env)
    if file:
        data = yaml.safe_load(Path(file).read_text(encoding="utf-8")) or {}
        found.update({str(unit): str(token) for unit, token in data.items() if token})
    for name, value in os.environ.items():
        if name.startswith(rules.tokens_env_prefix) and value:
            found[name.removeprefix(rules.tokens_env_prefix)] = value
    return found


def unit_of(feed: Feed, token: str | None) -> str | None:
    """The unit whose token this is (every token compared, in constant time)."""
    match = None
    for unit, known in tokens(feed).items():
        if token and hmac.compare_digest(known.encode(), token.encode()):
            match = unit
    return match


def submission_feed(catalog: Catalog, feed_id: str) -> Feed:
    """The feed, if it accepts submissions; Refused (404) otherwise."""
    feed = catalog.feeds.get(feed_id)
    if feed is None or getattr(feed.source, "submissions", None) is None:
        raise Refused(
            404, f"nguồn {feed_id!r} không nhận báo cáo gửi qua mạng", f"feed {feed_id!r} does not accept submissions"
        )
    return feed


def not_a_department() -> Refused:
    return Refused(
        401,
        "mã xác thực không đúng: gửi kèm tiêu đề 'Authorization: Bearer <mã được cấp cho đơn vị>'",
        "the token is not a department's: send the header 'Authorization: Bearer <your unit's token>'",
    )


def too_large(max_bytes: int) -> Refused:
    return Refused(
        413,
        f"tệp quá lớn (hơn {vi_number(max_bytes)} byte, mức tối đa)",
        f"the file is too large (over {max_bytes:,} bytes, the most accepted)",
    )


def claimed_unit(feed: Feed, file_name: str | None) -> str | None:
    """The unit a file's name says it is from (who a failed attempt claims to be)."""
    match = re.match(feed.source.file_name_pattern, file_name) if file_name and feed.source.file_name_pattern else None
    return match.groupdict().get(feed.reporting.unit_column) if match else None


def new_id(now: datetime) -> str:
    """A submission's id: its time, then 128 random bits (an id cannot be guessed from another)."""
    return f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(16)}"


def submit(
    feed: Feed, unit: str, file_name: str | None, received: Path, size: int, submission_id: str, now: datetime
) -> Submission:
    """Check a file received (on disk, beside the inbox under a hidden name) and land it in the feed's inbox;
    Refused says why not (the caller then removes it)."""
    rules = feed.source.submissions
    name = (file_name or "").strip()
    if (
        not name
        or "/" in name
        or "\\" in name
        or ".." in name
        or not SAFE_NAME.match(name)
        or len(name.encode()) > MAX_NAME_BYTES
    ):
        raise Refused(
            400,
            f"tên tệp không hợp lệ ({name!r}): chỉ dùng tên tệp, không có đường dẫn",
            f"the file name {name!r} is not a plain name: send the file's name only, without a path",
        )
    suffix = Path(name).suffix.lower().lstrip(".")
    if suffix not in rules.file_types:
        raise Refused(
            415,
            f"không nhận tệp loại .{suffix}; hãy gửi tệp {', '.join('.' + t for t in rules.file_types)}",
            f"files of type .{suffix} are not accepted; send {', '.join('.' + t for t in rules.file_types)}",
        )
    if claimed_unit(feed, name) != unit:
        raise Refused(
            403,
            f"tên tệp phải bắt đầu bằng mã đơn vị {unit} và kỳ báo cáo, ví dụ {unit}_2026-11.{suffix}",
            f"the file's name must carry your unit {unit} and the period, e.g. {unit}_2026-11.{suffix}",
        )
    body = received.read_bytes()
    rows = _rows_for(feed, name, body, unit)
    os.replace(received, paths().inbox(feed.source.inbox) / name)  # the watcher never sees it half-written
    return Submission(
        submission_id, feed.id, unit, name, size, hashlib.sha256(body).hexdigest(), now, "accepted", rows=rows
    )


def receiving(feed: Feed, submission_id: str) -> Path:
    """Where a submission's body is written as it arrives: in the inbox, under a hidden name the watcher skips."""
    inbox = paths().inbox(feed.source.inbox)
    inbox.mkdir(parents=True, exist_ok=True)
    return inbox / f".{submission_id}.part"


def _rows_for(feed: Feed, name: str, body: bytes, unit: str) -> int:
    """Read the file as the inbox reads it (its limits, its header, its skip rules: a totals row is no unit's);
    every row must be the unit's. The number of rows."""
    try:
        grid = read_grid(Path(name), body, feed.source.encodings, feed.source.sheet, feed.source.limits)
        frame, _ = file_frame(feed, grid, file_name_fields(feed, name))
    except UnreadableFile as exc:
        raise Refused(422, f"không đọc được tệp: {exc.vi}", f"the file cannot be read: {exc}") from None
    frame = without_skipped(feed, frame, [])
    labels = label_index(feed)
    column = next((h for h in frame.columns if labels.get(label_key(h)) == feed.reporting.unit_column), None)
    others = sorted({str(v).strip() for v in (frame[column].to_list() if column else []) if v is not None} - {unit})
    if others:
        raise Refused(
            403,
            f"tệp có dòng của đơn vị khác ({', '.join(others)}): chỉ gửi số liệu của {unit}",
            f"the file has rows of other units ({', '.join(others)}): send {unit}'s figures only",
        )
    return frame.height


def record(con, submission: Submission) -> None:
    """The submission (accepted or refused) in ops.submissions."""
    from pipelines.warehouse import committed

    columns = {
        "submission_id": submission.submission_id,
        "feed": submission.feed,
        "unit": submission.unit,
        "file_name": submission.file_name,
        "bytes": submission.size,
        "checksum": submission.checksum,
        "submitted_at": submission.submitted_at,
        "status": submission.status,
        "reason_vi": submission.reason_vi,
        "reason_en": submission.reason_en,
        "rows": submission.rows,
        "client": submission.client,
        "http_status": submission.http_status,
    }
    committed(
        con,
        lambda: con.execute(
            f"INSERT INTO ops.submissions ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            list(columns.values()),
        ),
    )


def refusal(
    submission_id: str,
    now: datetime,
    feed_id: str,
    unit: str | None,
    file_name: str | None,
    size: int,
    refused: Refused,
    client: str | None,
) -> Submission:
    return Submission(
        submission_id,
        feed_id,
        unit,
        file_name,
        size,
        None,
        now,
        "refused",
        refused.vi,
        refused.en,
        client=client,
        http_status=refused.status,
    )


def may_read(catalog: Catalog, token: str | None) -> tuple[bool, str | None]:
    """Whether the token is the operator's or a department's, and then whose (None: the operator's)."""
    if is_operator(token):
        return True, None
    for feed in catalog.feeds.values():
        if getattr(feed.source, "submissions", None) is not None and (unit := unit_of(feed, token)):
            return True, unit
    return False, None


def outcome(con, catalog: Catalog, submission_id: str, unit: str | None) -> dict | None:
    """What became of a submission of `unit` (any unit's: None, for the operator): refused (why), waiting in the
    inbox, or loaded (its batch's status and the reasons of its quarantined rows, in Vietnamese and English)."""
    from pipelines.validate.messages import batch_text, reason_text, vietnamese_expected

    row = con.execute(
        "SELECT submission_id, feed, unit, file_name, bytes, submitted_at, status, reason_vi, reason_en, "
        "rows FROM ops.submissions WHERE submission_id = ?",
        [submission_id],
    ).fetchone()
    if row is None or (unit is not None and row[2] != unit):  # another unit's is not found, as an unknown id
        return None
    keys = (
        "submission_id",
        "feed",
        "unit",
        "file",
        "bytes",
        "submitted_at",
        "status",
        "reason_vi",
        "reason_en",
        "rows",
    )
    answer = dict(zip(keys, row, strict=False))
    answer["submitted_at"] = answer["submitted_at"].astimezone(UTC).isoformat()
    answer["reason"] = {"vi": answer.pop("reason_vi"), "en": answer.pop("reason_en")}
    if answer["status"] == "refused":
        return answer
    batch = con.execute(
        "SELECT batch_id, status, rows_received, rows_loaded, rows_quarantined, error, error_vi FROM ops.batches "
        "WHERE feed = ? AND file_name = ? AND received_at >= ? - INTERVAL 2 SECOND ORDER BY received_at LIMIT 1",
        [row[1], row[3], row[5]],
    ).fetchone()
    if batch is None:
        answer["status"] = "waiting"
        return answer
    batch_id, status, received, loaded, quarantined, error, error_vi = batch
    words = vietnamese_expected(catalog)
    reasons = [
        reason_text(row[1], r["check_name"], r["column_name"], r["expected"], r["actual"], uri, source_row, words)
        for uri, source_row, reasons in con.execute(
            "SELECT source_uri, source_row, reasons FROM ops.quarantine WHERE batch_id = ? ORDER BY source_row",
            [batch_id],
        ).fetchall()
        for r in reasons
    ]
    answer.update(
        status=status,
        batch_id=batch_id,
        rows_received=received,
        rows_loaded=loaded,
        rows_quarantined=quarantined,
        error=batch_text(error, error_vi),
        reasons=reasons[:100],
    )
    return answer


class Guard:
    """What stands at the submissions' door of one app: the throttle on failed authentications, and the count
    of refusals by feed and HTTP status (ioc_submission_refusals_total on the app's /metrics)."""

    def __init__(self, registry: CollectorRegistry):
        self.throttle = Throttle()
        self.refusals = Counter(
            "ioc_submission_refusals",
            "Submissions refused, by feed and HTTP status "
            "(401: not a department's token, 429: throttled, 413: too large...)",
            ["feed", "status"],
            registry=registry,
        )


async def receive(feed_id: str, request: Request, authorization: str | None, guard: Guard):
    """POST /api/submissions/<feed>: every refusal decided as early as it can be, the body read last; the
    answer (202, or the refusal's status with why), and the submission recorded."""
    from pipelines.declarations.loading import catalog

    now = datetime.now(UTC)
    submission_id, address = new_id(now), request.client.host if request.client else None
    feed, unit, name, size, throttled, received = None, None, None, 0, False, None
    try:
        feed = submission_feed(catalog(), feed_id)
        rules = feed.source.submissions
        unit = unit_of(feed, bearer(authorization))
        if unit is None:  # a stranger: throttled, and never read beyond the file's name
            name = await peek_file_name(request.stream(), request.headers.get("content-type"))
            claimed = claimed_unit(feed, name)
            wait = guard.throttle.blocked(address, claimed) or guard.throttle.failed(address, claimed)
            throttled = wait is not None
            raise Throttled(wait) if throttled else not_a_department()
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > rules.max_bytes + PART_OVERHEAD:
            raise too_large(rules.max_bytes)
        received = receiving(feed, submission_id)
        try:
            upload = await receive_file(
                request.stream(), request.headers.get("content-type"), received, rules.max_bytes
            )
        except TooLarge:
            raise too_large(rules.max_bytes) from None
        except NotMultipart as exc:
            raise Refused(400, "nội dung gửi phải là biểu mẫu multipart có trường 'file'", str(exc)) from None
        name, size = upload.file_name, upload.size
        if not upload.found:
            raise Refused(400, "thiếu tệp (trường 'file')", "no file was sent (multipart field 'file')")
        done = await run_in_threadpool(submit, feed, unit, name, received, size, submission_id, now)
    except Refused as refused:
        done = refusal(submission_id, now, feed_id, unit, name, size, refused, address)
        guard.refusals.labels(feed=feed.id if feed else "(unknown)", status=str(refused.status)).inc()
        LOG.warning(
            "submission refused: feed %r, unit %s, address %s, file %r: %s %s",
            feed_id,
            unit or "-",
            address,
            name,
            refused.status,
            refused.en,
        )
        if unit is not None or guard.throttle.worth_recording(address, throttled):
            await run_in_threadpool(_recorded, done)
        headers = (
            {"Retry-After": str(refused.retry_after)}
            if isinstance(refused, Throttled)
            else {"WWW-Authenticate": "Bearer"}
            if refused.status == 401
            else {}
        )
        return JSONResponse(
            {"submission_id": done.submission_id, "status": "refused", "reason": {"vi": refused.vi, "en": refused.en}},
            status_code=refused.status,
            headers=headers,
        )
    finally:
        if received is not None:  # an accepted file has been renamed into the inbox by then
            received.unlink(missing_ok=True)
    await run_in_threadpool(_recorded, done)
    return {
        "submission_id": done.submission_id,
        "status": "accepted",
        "unit": done.unit,
        "file": done.file_name,
        "rows": done.rows,
        "outcome": f"/api/submissions/{done.submission_id}",
    }


def _recorded(submission: Submission) -> None:
    """Record a submission in ops.submissions (under the writer's lock, waiting for a load to finish)."""
    from pipelines.warehouse import connect

    with connect() as con:
        record(con, submission)
