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

from pipelines.declarations.loading import Catalog, catalog
from pipelines.declarations.models import Feed, FileDropSource, Submissions
from pipelines.extract.file_drop import archived_name, file_frame, file_name_fields, label_index, without_skipped
from pipelines.extract.tabular import read_grid
from pipelines.extract.unreadable import UnreadableFile
from pipelines.serve.auth import Throttle, bearer, is_operator
from pipelines.serve.upload import PART_OVERHEAD, NotMultipart, TooLarge, peek_file_name, receive_file
from pipelines.settings import paths
from pipelines.text import label_key, vi_number
from pipelines.validate.messages import batch_text, reason_text, vietnamese_expected
from pipelines.warehouse import committed, connect
from pipelines.wording import text

LOG = logging.getLogger("ioc.serve")
MAX_NAME_BYTES = 200  # a file system takes 255 bytes; the archive prefixes 18
SAFE_NAME = re.compile(r"^[\w][\w.\-() ]*$", re.UNICODE)


class Refused(Exception):
    """A submission refused: the HTTP status and why, in Vietnamese and English."""

    def __init__(self, status: int, vi: str, en: str):
        super().__init__(en)
        self.status, self.vi, self.en = status, vi, en

    @classmethod
    def saying(cls, status: int, msg_id: str, **params) -> Refused:
        """Refused with a message of the wording (pipelines/wording) in both languages."""
        return cls(status, text(msg_id, "vi", **params), text(msg_id, "en", **params))


class Throttled(Refused):
    """Too many failed authentications from the address (or for the unit claimed): wait `retry_after` seconds."""

    def __init__(self, wait: float):
        self.retry_after = math.ceil(wait)
        super().__init__(
            429,
            text("submit.refused.throttled", "vi", seconds=self.retry_after),
            text("submit.refused.throttled", "en", seconds=self.retry_after),
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


def submission_rules(feed: Feed) -> Submissions | None:
    """What the feed's submissions follow (its file_drop source's `submissions`); None: it accepts none."""
    source = feed.source
    return source.submissions if isinstance(source, FileDropSource) else None


def _rules(feed: Feed) -> Submissions:
    rules = submission_rules(feed)
    assert rules is not None  # a feed that accepts submissions: submission_feed (or may_read) chose it
    return rules


def tokens(feed: Feed) -> dict[str, str]:
    """unit code → token, from $<prefix><UNIT> variables and the YAML file $<tokens_file_env> names."""
    rules = _rules(feed)
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
    if feed is None or submission_rules(feed) is None:
        raise Refused.saying(404, "submit.refused.feed", feed=feed_id)
    return feed


def not_a_department() -> Refused:
    return Refused.saying(401, "submit.refused.token")


def too_large(max_bytes: int) -> Refused:
    return Refused(
        413,
        text("submit.refused.too_large", "vi", size=vi_number(max_bytes)),
        text("submit.refused.too_large", "en", size=f"{max_bytes:,}"),
    )


def claimed_unit(feed: Feed, file_name: str | None) -> str | None:
    """The unit a file's name says it is from (who a failed attempt claims to be)."""
    pattern = feed.source_as(FileDropSource).file_name_pattern
    match = re.match(pattern, file_name) if file_name and pattern else None
    return match.groupdict().get(_unit_column(feed)) if match else None


def _unit_column(feed: Feed) -> str:
    reporting = feed.reporting
    assert reporting is not None  # a feed accepting submissions declares its unit column (the declarations' checks)
    return reporting.unit_column


def new_id(now: datetime) -> str:
    """A submission's id: its time, then 128 random bits (an id cannot be guessed from another)."""
    return f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(16)}"


def submit(
    feed: Feed, unit: str, file_name: str | None, received: Path, size: int, submission_id: str, now: datetime
) -> Submission:
    """Check a file received (on disk, beside the inbox under a hidden name) and land it in the feed's inbox;
    Refused says why not (the caller then removes it)."""
    rules = _rules(feed)
    name = (file_name or "").strip()
    if (
        not name
        or "/" in name
        or "\\" in name
        or ".." in name
        or not SAFE_NAME.match(name)
        or len(name.encode()) > MAX_NAME_BYTES
    ):
        raise Refused.saying(400, "submit.refused.file_name", name=name)
    suffix = Path(name).suffix.lower().lstrip(".")
    if suffix not in rules.file_types:
        raise Refused.saying(
            415, "submit.refused.file_type", suffix=suffix, types=", ".join("." + t for t in rules.file_types)
        )
    if claimed_unit(feed, name) != unit:
        raise Refused.saying(403, "submit.refused.unit_in_name", unit=unit, suffix=suffix)
    body = received.read_bytes()
    rows = _rows_for(feed, name, body, unit)
    inbox = paths().inbox(feed.source_as(FileDropSource).inbox)
    os.replace(received, inbox / name)  # the watcher never sees it half-written
    return Submission(
        submission_id, feed.id, unit, name, size, hashlib.sha256(body).hexdigest(), now, "accepted", rows=rows
    )


def receiving(feed: Feed, submission_id: str) -> Path:
    """Where a submission's body is written as it arrives: in the inbox, under a hidden name the watcher skips."""
    inbox = paths().inbox(feed.source_as(FileDropSource).inbox)
    inbox.mkdir(parents=True, exist_ok=True)
    return inbox / f".{submission_id}.part"


def _rows_for(feed: Feed, name: str, body: bytes, unit: str) -> int:
    """Read the file as the inbox reads it (its limits, its header, its skip rules: a totals row is no unit's);
    every row must be the unit's. The number of rows."""
    source = feed.source_as(FileDropSource)
    try:
        grid = read_grid(Path(name), body, source.encodings, source.sheet, source.limits)
        frame, _ = file_frame(feed, grid, file_name_fields(feed, name))
    except UnreadableFile as exc:
        raise Refused(
            422, text("submit.refused.unreadable", "vi", why=exc.vi), text("submit.refused.unreadable", "en", why=exc)
        ) from None
    frame = without_skipped(feed, frame, [])
    labels = label_index(feed)
    unit_column = _unit_column(feed)
    column = next((h for h in frame.columns if labels.get(label_key(h)) == unit_column), None)
    others = sorted({str(v).strip() for v in (frame[column].to_list() if column else []) if v is not None} - {unit})
    if others:
        raise Refused.saying(403, "submit.refused.other_units", units=", ".join(others), unit=unit)
    return frame.height


def record(con, submission: Submission) -> None:
    """The submission (accepted or refused) in ops.submissions."""
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
        if submission_rules(feed) is not None and (unit := unit_of(feed, token)):
            return True, unit
    return False, None


def outcome(con, catalog: Catalog, submission_id: str, unit: str | None) -> dict | None:
    """What became of a submission of `unit` (any unit's: None, for the operator): refused (why), waiting in the
    inbox, or loaded (its batch's status and the reasons of its quarantined rows, in Vietnamese and English)."""
    row = con.execute(
        "SELECT submission_id, feed, unit, file_name, bytes, submitted_at, status, reason_vi, reason_en, "
        "rows, checksum FROM ops.submissions WHERE submission_id = ?",
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
    answer = dict(zip(keys, row[: len(keys)], strict=True))
    answer["submitted_at"] = answer["submitted_at"].astimezone(UTC).isoformat()
    answer["reason"] = {"vi": answer.pop("reason_vi"), "en": answer.pop("reason_en")}
    if answer["status"] == "refused":
        return answer
    # Its batch: the first one loaded after it from these very bytes (the archive names a file by its sha256,
    # as the submission recorded it), so neither an earlier upload of the same file nor another file of that
    # name is taken for it.
    batch = con.execute(
        "SELECT batch_id, status, rows_received, rows_loaded, rows_quarantined, error, error_vi FROM ops.batches "
        "WHERE feed = ? AND file_name = ? AND ends_with(source_uri, ?) AND loaded_at >= ? "
        "ORDER BY loaded_at LIMIT 1",
        [row[1], row[3], f"/{archived_name(row[10], row[3])}", row[5]],
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
    now = datetime.now(UTC)
    submission_id, address = new_id(now), request.client.host if request.client else None
    feed, unit, name, size, throttled, received = None, None, None, 0, False, None
    try:
        feed = submission_feed(catalog(), feed_id)
        rules = _rules(feed)
        unit = unit_of(feed, bearer(authorization))
        if unit is None:  # a stranger: throttled, and never read beyond the file's name
            name = await peek_file_name(request.stream(), request.headers.get("content-type"))
            claimed = claimed_unit(feed, name)
            wait = guard.throttle.blocked(address, claimed) or guard.throttle.failed(address, claimed)
            throttled = wait is not None
            raise Throttled(wait) if wait is not None else not_a_department()
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
            raise Refused.saying(400, exc.msg_id, **exc.params) from None
        name, size = upload.file_name, upload.size
        if not upload.found:
            raise Refused.saying(400, "submit.refused.no_file")
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
    with connect() as con:
        record(con, submission)
