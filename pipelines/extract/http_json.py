"""HTTP JSON extractor: paginated API, bearer token from an environment variable, incremental
cursor, timeouts, retries with exponential backoff, Retry-After and a request rate honoured."""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlencode, urljoin

import httpx
from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from pipelines.declarations.models import (
    Feed,
    HttpJsonSource,
    NextLinkPagination,
    OffsetPagination,
    PageNumberPagination,
    TombstoneWithdrawal,
)
from pipelines.extract.cursors import cursor_key, earlier
from pipelines.extract.errors import SourceError
from pipelines.extract.landing import LandedBatch
from pipelines.extract.pull import (
    TIE_STEP_SECONDS,
    Pull,
    Window,
    record_identity,
    setting,
    snapshot_due,
    start_cursor,
    tombstone,
    tombstones_after,
)
from pipelines.extract.records import as_text

log = logging.getLogger(__name__)

MAX_PAGES = 100_000
MAX_PASSES = 3  # reads of a query whose pages keep shifting, before the pull gives up and keeps its cursor
MAX_RETRY_AFTER_SECONDS = 300


class RetryableAnswer(Exception):
    """A 429, a 5xx or a transport failure: worth asking again, after retry_after if the source said."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class RateLimiter:
    """Spaces requests at least 1/requests_per_second apart."""

    def __init__(self, requests_per_second: float | None):
        self.interval = 1.0 / requests_per_second if requests_per_second else 0.0
        self.last = 0.0

    def wait(self) -> None:
        delay = self.last + self.interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self.last = time.monotonic()


def _wait(backoff):
    def wait(retry_state) -> float:
        exc = retry_state.outcome.exception()
        if isinstance(exc, RetryableAnswer) and exc.retry_after is not None:
            return min(exc.retry_after, MAX_RETRY_AFTER_SECONDS)
        return backoff(retry_state)

    return wait


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


class Fetcher:
    """GETs JSON pages of one feed's API with retries and rate limiting."""

    def __init__(self, feed: Feed, client: httpx.Client):
        self.feed, self.client = feed, client
        self.source = feed.source_as(HttpJsonSource)
        self.limiter = RateLimiter(self.source.requests_per_second)

    def get(self, url: str, params: dict | None = None) -> dict:
        retrying = Retrying(
            stop=stop_after_attempt(self.source.max_retries + 1),
            wait=_wait(wait_random_exponential(multiplier=0.5, max=30)),
            retry=retry_if_exception_type(RetryableAnswer),
        )
        try:
            return retrying(self._get_once, url, params)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            raise SourceError(
                f"feed {self.feed.id}: GET {describe_request(url, params)} still failing after "
                f"{self.source.max_retries + 1} attempts ({last}); the source may be down: check it, "
                "then re-run. The last good data keeps serving."
            ) from None

    def _get_once(self, url: str, params: dict | None) -> dict:
        self.limiter.wait()
        shown = describe_request(url, params)
        try:
            response = self.client.get(url, params=params)
        except httpx.TransportError as exc:
            raise RetryableAnswer(f"{type(exc).__name__}: {exc}") from None
        if response.status_code in (401, 403):
            env = self.source.auth.bearer_token_env if self.source.auth else None
            hint = (
                f"check the token in environment variable {env}"
                if env
                else "the source wants credentials: declare source.auth.bearer_token_env"
            )
            raise SourceError(f"feed {self.feed.id}: GET {shown} refused access (HTTP {response.status_code}); {hint}")
        if response.status_code == 429 or response.status_code >= 500:
            raise RetryableAnswer(f"HTTP {response.status_code} from GET {shown}", _retry_after(response))
        if response.status_code != 200:
            raise SourceError(
                f"feed {self.feed.id}: GET {shown} answered HTTP {response.status_code}: {response.text[:300]}"
            )
        try:
            return response.json()
        except json.JSONDecodeError as exc:
            raise SourceError(
                f"feed {self.feed.id}: GET {shown} did not answer JSON ({exc}): {response.text[:200]!r}"
            ) from None


def describe_request(url: str, params: dict | None) -> str:
    """The URL with its query, as shown in lineage and messages (no headers, so never a token)."""
    return f"{url}{'?' + urlencode(params) if params else ''}"


def _dig(body: object, path: str, feed: Feed, url: str) -> list[dict]:
    value = body
    for part in path.split(".") if path else []:
        value = value.get(part) if isinstance(value, dict) else None
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise SourceError(
            f"feed {feed.id}: {url} answered JSON without a list of records at {path!r}; "
            "check source.records_path in the feed file against the API's response"
        )
    return value


@dataclass
class Page:
    uri: str  # the request, as lineage shows it
    records: list[dict]
    body: object  # the whole answer (its total, its next link or token)


def _total(page: Page, path: str | None) -> int | None:
    """What the answer says the query matches in all (at the declared total_path), if it says."""
    value = page.body
    for part in path.split(".") if path else []:
        value = value.get(part) if isinstance(value, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _get_page(fetcher: Fetcher, url: str, params: dict | None) -> Page:
    body = fetcher.get(url, params)
    return Page(describe_request(url, params), _dig(body, fetcher.source.records_path, fetcher.feed, url), body)


def _next(page: Page, pagination, url: str, params: dict, turned: int) -> tuple[str, dict | None] | None:
    """The request for the page after `page` (the `turned`-th page of the query, counted from 0), or None
    when `page` was the last."""
    if pagination is None or len(page.records) < pagination.page_size and pagination.kind in ("page_number", "offset"):
        return None
    body = page.body if isinstance(page.body, dict) else {}
    if isinstance(pagination, PageNumberPagination):
        return url, {**params, pagination.page_param: turned + 2}
    if isinstance(pagination, OffsetPagination):
        return url, {**params, pagination.offset_param: (turned + 1) * pagination.page_size}
    if isinstance(pagination, NextLinkPagination):
        link = body.get(pagination.next_path)
        return (urljoin(url, link), None) if link else None
    token = body.get(pagination.next_cursor_path)
    return (url, {**params, pagination.cursor_param: token}) if token else None


def pages(fetcher: Fetcher, url: str, params: dict):
    """Every page of the answer to one query, turned as the API's pagination says."""
    pagination = fetcher.source.pagination
    if pagination is not None:
        params = {**params, pagination.size_param: pagination.page_size}
    request: tuple[str, dict | None] = (url, params)
    for turned in range(MAX_PAGES):
        page = _get_page(fetcher, *request)
        yield page
        following = _next(page, pagination, url, params, turned)
        if following is None:
            return
        request = following
    raise SourceError(f"feed {fetcher.feed.id}: more than {MAX_PAGES} pages; the API's pagination does not end")


def read_turning_pages(fetcher: Fetcher, url: str, params: dict, pull: Pull) -> None:
    """Read the answer page after page. Pages turned by number, offset or link shift when the source changes
    under them (a record moving to the end slides the next one into a page already read): where the API
    declares its total, a read whose total changed, or that brought fewer distinct records than the total,
    is read again (what came before is kept, what comes again is kept once) until one is stable. If none is,
    the cursor stays where it was, so that the next pull reads the same range again."""
    total_path = getattr(fetcher.source.pagination, "total_path", None)
    for attempt in range(1, MAX_PASSES + 1):
        totals: list[int] = []
        keys: set[int] = set()
        for page in pages(fetcher, url, params):
            pull.add(page.records, page.uri)
            keys.update(record_identity(fetcher.feed, r, version=False) for r in page.records)
            if (total := _total(page, total_path)) is not None:
                totals.append(total)
        if not totals or (len(set(totals)) == 1 and len(keys) >= totals[-1]):
            if attempt > 1:
                pull.warnings.append(
                    f"the source changed while its pages were read; read {attempt} times until a read was stable"
                )
            return
        shown = f"total {totals[0]}" + (f" then {totals[-1]}" if totals[-1] != totals[0] else "")
        log.warning(
            "feed %s: pages shifted while read (%s, %d distinct records); reading again",
            fetcher.feed.id,
            shown,
            len(keys),
        )
    pull.hold_cursor = True
    pull.warnings.append(
        f"the source kept changing while its pages were read ({MAX_PASSES} reads, {shown}, "
        f"{len(keys)} distinct records in the last); the cursor stays, so the next pull reads "
        f"this range again"
    )


def read_by_keyset(fetcher: Fetcher, url: str, start: str | None, pull: Pull) -> None:
    """Page by the cursor itself: each request asks again from the last cursor value seen, that value
    included (a tie across the page boundary comes again, and is kept once), so nothing that changes while
    the pull runs is skipped: a record updated meanwhile comes later with its new value. A page made only
    of records tied on one value is followed by the query's next page, as its pagination turns."""
    source, feed = fetcher.source, fetcher.feed
    incremental = source.incremental
    assert incremental is not None  # paging by the cursor is an incremental read's
    field, param = incremental.cursor_field, incremental.param
    pagination = source.pagination
    size = {pagination.size_param: pagination.page_size} if pagination else {}
    params = {**size, **({param: start} if start else {})}
    request: tuple[str, dict | None] = (url, params)
    boundary: datetime | None = None
    turned = 0
    for _ in range(MAX_PAGES):
        page = _get_page(fetcher, *request)
        found = [cursor_key(text) if (text := as_text(r.get(field))) is not None else None for r in page.records]
        values = [v for v in found if v is not None]  # every record's, or the SourceError below
        if len(values) < len(found) or values != sorted(values) or (boundary and values and values[0] < boundary):
            raise SourceError(
                f"feed {feed.id}: GET {page.uri} did not answer in ascending {field} order (or a record has no "
                f"ISO 8601 {field}); paging by the cursor needs that order: declare source.incremental.keyset: "
                "false (pages are then turned, and read again when they shift)"
            )
        pull.add(page.records, page.uri)
        if pagination is None or len(page.records) < pagination.page_size:
            return
        if pull.window is not None and values[-1] > pull.window.end:
            return
        if values[-1] == boundary:  # a whole page tied on the boundary value: turn the page within that query
            following = _next(page, pagination, url, params, turned)
            turned += 1
            if following is None:
                return
            request = following
            continue
        boundary, turned = values[-1], 0
        pull.remember_only([r for r, v in zip(page.records, values, strict=False) if v == boundary])
        last = as_text(page.records[-1][field])
        assert last is not None  # every record has its cursor value (checked above)
        params = {**size, param: earlier(last, TIE_STEP_SECONDS)}
        request = (url, params)
    raise SourceError(f"feed {feed.id}: more than {MAX_PAGES} pages; the API's pagination does not end")


def extract(feed: Feed, window: Window | None = None) -> list[LandedBatch]:
    """Fetch everything new since the feed's cursor into one landed batch, then advance the cursor."""
    source = feed.source_as(HttpJsonSource)
    url = setting(feed, "url", source.url)
    headers = {"Accept": "application/json", "User-Agent": "ioc-platform"}
    if source.auth:
        token = os.environ.get(source.auth.bearer_token_env)
        if not token:
            raise SourceError(
                f"feed {feed.id}: environment variable {source.auth.bearer_token_env} is not set; it must hold "
                f"the bearer token for {url} (set it where the scheduler and workers run, never in the feed file)"
            )
        headers["Authorization"] = f"Bearer {token}"
    snapshot = snapshot_due(feed, window)  # a whole read, to find what the source withdrew
    cursor = None if snapshot else start_cursor(feed, window)
    params: dict[str, str] = {}
    if cursor:
        assert source.incremental is not None  # a cursor is an incremental read's
        params = {source.incremental.param: cursor}
    pull = Pull(feed, describe_request(url, params), cursor, window, snapshot=snapshot)
    with httpx.Client(timeout=source.timeout_seconds, headers=headers, follow_redirects=True) as client:
        fetcher = Fetcher(feed, client)
        if source.incremental is not None and source.incremental.keyset:
            read_by_keyset(fetcher, url, cursor, pull)
        else:
            read_turning_pages(fetcher, url, params, pull)
        if feed.reconcile is not None and feed.reconcile.by == "count":
            pull.source_count = source_count(fetcher, url)
        if feed.withdrawals is not None and feed.withdrawals.kind == "tombstones":
            pull.tombstones = read_tombstones(fetcher)
    return pull.finish()


def read_tombstones(fetcher: Fetcher) -> list[list[str]]:
    """The records the API lists as deleted since the last deletion time it listed."""
    declared, feed = fetcher.feed.withdrawals, fetcher.feed
    # read for a feed whose withdrawals are tombstones, with the url the declarations' checks require
    assert isinstance(declared, TombstoneWithdrawal) and declared.url is not None
    url = setting(feed, "withdrawals.url", declared.url)
    after = tombstones_after(feed)
    params = {declared.param: after} if after else None
    body = fetcher.get(url, params)
    where = f"GET {describe_request(url, params)}"
    return [tombstone(feed, r, declared.at_field, where) for r in _dig(body, declared.records_path, feed, url)]


def source_count(fetcher: Fetcher, url: str) -> int:
    """How many records the API says it holds: the total of its unfiltered query (one record asked for)."""
    pagination = fetcher.source.pagination
    assert pagination is not None  # reconciled by count: the declarations' checks ask for pagination.total_path
    page = _get_page(fetcher, url, {pagination.size_param: 1})
    total = _total(page, pagination.total_path)
    if total is None:
        raise SourceError(
            f"feed {fetcher.feed.id}: GET {page.uri} answered no count at "
            f"{pagination.total_path!r}; check source.pagination.total_path (it reconciles the feed)"
        )
    return total
