"""HTTP JSON extractor: paginated API, bearer token from an environment variable, incremental
cursor, timeouts, retries with exponential backoff, Retry-After and a request rate honoured."""

from __future__ import annotations

import json
import os
import time
from urllib.parse import urlencode, urljoin

import httpx
from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from pipelines.declarations.models import Feed, HttpJsonSource, NextLinkPagination, PageNumberPagination
from pipelines.extract.errors import SourceError
from pipelines.extract.landing import LandedBatch
from pipelines.extract.pull import Pull, Window, setting, start_cursor

MAX_PAGES = 100_000
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
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


class Fetcher:
    """GETs JSON pages of one feed's API with retries and rate limiting."""

    def __init__(self, feed: Feed, client: httpx.Client):
        self.feed, self.client = feed, client
        self.source: HttpJsonSource = feed.source
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
            hint = (f"check the token in environment variable {env}" if env
                    else "the source wants credentials: declare source.auth.bearer_token_env")
            raise SourceError(f"feed {self.feed.id}: GET {shown} refused access (HTTP {response.status_code}); {hint}")
        if response.status_code == 429 or response.status_code >= 500:
            raise RetryableAnswer(f"HTTP {response.status_code} from GET {shown}", _retry_after(response))
        if response.status_code != 200:
            raise SourceError(f"feed {self.feed.id}: GET {shown} answered HTTP {response.status_code}: {response.text[:300]}")
        try:
            return response.json()
        except json.JSONDecodeError as exc:
            raise SourceError(f"feed {self.feed.id}: GET {shown} did not answer JSON ({exc}): {response.text[:200]!r}") from None



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


def pages(fetcher: Fetcher, url: str, params: dict):
    """(page URL, records) for every page of the answer."""
    pagination = fetcher.source.pagination
    records_path = fetcher.source.records_path
    if pagination is None:
        yield describe_request(url, params), _dig(fetcher.get(url, params), records_path, fetcher.feed, url)
        return
    if isinstance(pagination, PageNumberPagination):
        for page in range(1, MAX_PAGES + 1):
            page_params = {**params, pagination.page_param: page, pagination.size_param: pagination.page_size}
            records = _dig(fetcher.get(url, page_params), records_path, fetcher.feed, url)
            yield describe_request(url, page_params), records
            if len(records) < pagination.page_size:
                return
    elif isinstance(pagination, NextLinkPagination):
        next_url, next_params = url, {**params, pagination.size_param: pagination.page_size}
        for _ in range(MAX_PAGES):
            body = fetcher.get(next_url, next_params)
            yield describe_request(next_url, next_params), _dig(body, records_path, fetcher.feed, next_url)
            link = body.get(pagination.next_path) if isinstance(body, dict) else None
            if not link:
                return
            next_url, next_params = urljoin(next_url, link), None
    raise SourceError(f"feed {fetcher.feed.id}: more than {MAX_PAGES} pages; the API's pagination does not end")


def extract(feed: Feed, window: Window | None = None) -> list[LandedBatch]:
    """Fetch everything new since the feed's cursor into one landed batch, then advance the cursor."""
    source: HttpJsonSource = feed.source
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
    cursor = start_cursor(feed, window)
    params = {source.incremental.param: cursor} if cursor else {}
    pull = Pull(feed, describe_request(url, params), cursor, window)
    with httpx.Client(timeout=source.timeout_seconds, headers=headers, follow_redirects=True) as client:
        fetcher = Fetcher(feed, client)
        for page_uri, page in pages(fetcher, url, params):
            pull.add(page, page_uri)
    return pull.finish()
