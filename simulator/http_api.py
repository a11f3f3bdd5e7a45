"""The departments' HTTP JSON APIs on loopback: bearer tokens, page-number pagination, incremental filters, faults."""

from __future__ import annotations

import bisect
import hmac
import json
import os
import random
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from simulator.clock import TZ, iso
from simulator.world import World

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
RANDOM_FAULTS = (429, 500)


@dataclass(frozen=True)
class Endpoint:
    path: str
    records: str  # name of the World attribute holding the records
    id_field: str
    cursor_field: str
    filter_param: str
    token_env: str


ENDPOINTS = {
    e.path: e
    for e in (
        Endpoint("/api/tthc/dossiers", "dossiers", "dossier_id", "updated_at", "updated_after", "IOC_TTHC_TOKEN"),
        Endpoint("/api/hotline/tickets", "tickets", "ticket_id", "updated_at", "updated_after", "IOC_HOTLINE_TOKEN"),
        Endpoint("/api/soc/incidents", "incidents", "incident_id", "updated_at", "updated_after", "IOC_SOC_TOKEN"),
        Endpoint("/api/air/readings", "air_readings", "station_id", "observed_at", "observed_after", "IOC_AIR_TOKEN"),
    )
}


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict
    headers: tuple[tuple[str, str], ...] = ()


class ClientError(Exception):
    """A request the API refuses, with the status and message to answer."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _json_value(value: object) -> str:
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _parse_moment(name: str, text: str) -> datetime:
    """An ISO 8601 moment; naive ones are read as Asia/Ho_Chi_Minh. A `+` decoded as a space is put back."""
    for candidate in (text, text[::-1].replace(" ", "+", 1)[::-1]):
        try:
            moment = datetime.fromisoformat(candidate)
        except ValueError:
            continue
        return moment if moment.tzinfo else moment.replace(tzinfo=TZ)
    raise ClientError(400, f"{name} must be an ISO 8601 timestamp such as 2026-10-01T00:00:00+07:00, got {text!r}")


def _parse_int(name: str, text: str, low: int, high: int | None = None) -> int:
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ClientError(400, f"{name} must be an integer {bounds}, got {text!r}")
    return value


class SimulatorServer:
    """The department APIs over a World, served by a ThreadingHTTPServer in a daemon thread."""

    def __init__(self, world: World, host: str = "127.0.0.1", port: int = 0, fault_rate: float = 0.0, seed: int = 0,
                 static: bool = False, on_page=None):
        self.world = world
        self.on_page = on_page  # called with (path, query parameters) before each page is answered
        # A world that never changes (a benchmark's million records) is sorted once, not for every page.
        self.static = static
        self._ordered: dict[str, tuple[list, list]] = {}
        self.host, self.port = host, port
        self.fault_rate = fault_rate
        self.request_log: list[tuple[str, str, int]] = []
        self._fault_rng = random.Random(seed)
        self._faults: deque[int] = deque()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the simulator server is not started: call start() first")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> SimulatorServer:
        self._httpd = ThreadingHTTPServer((self.host, self.port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.simulator = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="simulator-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join()
            self._httpd = self._thread = None

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def inject_faults(self, statuses: list[int]) -> None:
        """Answer the next API requests (not /healthz) with these statuses, in order."""
        with self._lock:
            self._faults.extend(statuses)

    def _next_fault(self) -> int | None:
        with self._lock:
            if self._faults:
                return self._faults.popleft()
            if self.fault_rate > 0 and self._fault_rng.random() < self.fault_rate:
                return self._fault_rng.choice(RANDOM_FAULTS)
        return None

    def respond(self, target: str, authorization: str | None) -> Reply:
        """The reply to `GET target`."""
        parts = urlsplit(target)
        if parts.path == "/healthz":
            return Reply(200, {"status": "ok"})
        deleted = parts.path.endswith("/deleted")
        endpoint = ENDPOINTS.get(parts.path.removesuffix("/deleted"))
        if endpoint is None:
            return Reply(404, {"error": f"no endpoint {parts.path}; endpoints: /healthz, {', '.join(ENDPOINTS)}"})
        fault = self._next_fault()
        if fault == 429:
            return Reply(429, {"error": "too many requests (simulated); retry after 1 second"}, (("Retry-After", "1"),))
        if fault is not None:
            return Reply(fault, {"error": f"simulated server error {fault}"})
        try:
            self._authorize(endpoint, authorization)
            query = parse_qs(parts.query, keep_blank_values=True)
            if deleted:
                return Reply(200, self._deleted(endpoint, query))
            return Reply(200, self._page(endpoint, parts.path, query))
        except ClientError as error:
            return Reply(error.status, {"error": str(error)})

    @staticmethod
    def _authorize(endpoint: Endpoint, authorization: str | None) -> None:
        expected = os.environ.get(endpoint.token_env)
        if not expected:
            raise ClientError(401, f"the simulator has no token for {endpoint.path}: set {endpoint.token_env}")
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected.encode()):
            hint = f"send 'Authorization: Bearer <value of {endpoint.token_env}>'"
            raise ClientError(401, f"missing or wrong bearer token for {endpoint.path} ({hint})")

    def _page(self, endpoint: Endpoint, path: str, query: dict[str, list[str]]) -> dict:
        """One page of an endpoint's records, in (cursor field, id) order, filtered by the cursor field if asked.
        Pages are asked by number (page, page_size), by offset (offset, limit) or by the opaque token an
        answer gives for the next page (cursor: stable, it names the last record given)."""
        allowed = {"page", "page_size", "offset", "limit", "cursor", endpoint.filter_param}
        unknown = sorted(set(query) - allowed)
        if unknown:
            raise ClientError(
                400, f"unknown query parameter(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
            )
        params = {name: values[-1] for name, values in query.items()}
        if self.on_page is not None:
            self.on_page(path, params)  # a test changes the source between page requests
        page = _parse_int("page", params.get("page", "1"), 1)
        page_size = _parse_int("page_size", params.get("limit", params.get("page_size", str(DEFAULT_PAGE_SIZE))), 1,
                               MAX_PAGE_SIZE)
        after = params.get(endpoint.filter_param)
        after_moment = _parse_moment(endpoint.filter_param, after) if after is not None else None
        cursor, key = endpoint.cursor_field, endpoint.id_field
        start = _parse_int("offset", params["offset"], 0) if "offset" in params else (page - 1) * page_size
        if "cursor" in params:
            return self._page_after_token(endpoint, params, after_moment, page_size)
        if self.static:
            if path not in self._ordered:
                ordered = sorted(getattr(self.world, endpoint.records), key=lambda r: (r[cursor], r[key]))
                self._ordered[path] = (ordered, [r[cursor] for r in ordered])
            ordered, moments = self._ordered[path]
            first = bisect.bisect_right(moments, after_moment) if after_moment is not None else 0
            matching = _Window(ordered, first)
        else:
            with self.world.lock:
                records = getattr(self.world, endpoint.records)
                matching = [dict(r) for r in records if after_moment is None or r[cursor] > after_moment]
            matching.sort(key=lambda r: (r[cursor], r[key]))
        next_url = None
        if start + page_size < len(matching):
            next_params = {**params, "page": page + 1, "page_size": page_size}
            if after_moment is not None:
                next_params[endpoint.filter_param] = after_moment.isoformat()
            next_url = f"{self.url}{path}?{urlencode(next_params)}"
        data = matching[start:start + page_size]
        return {
            "data": data,
            "page": page,
            "page_size": page_size,
            "total": len(matching),
            "next": next_url,
            "next_cursor": _token(data[-1], cursor, key) if data and start + page_size < len(matching) else None,
        }

    def _deleted(self, endpoint: Endpoint, query: dict[str, list[str]]) -> dict:
        """The records deleted from the system (after `deleted_after`, if given): their id and when."""
        unknown = sorted(set(query) - {"deleted_after"})
        if unknown:
            raise ClientError(400, f"unknown query parameter(s) {', '.join(unknown)}; allowed: deleted_after")
        after = query.get("deleted_after", [None])[-1]
        after_moment = _parse_moment("deleted_after", after) if after is not None else None
        with self.world.lock:
            gone = [dict(r) for r in self.world.withdrawn.get(endpoint.records, [])
                    if after_moment is None or r["deleted_at"] > after_moment]
        return {"data": sorted(gone, key=lambda r: r["deleted_at"]), "total": len(gone)}

    def _page_after_token(self, endpoint: Endpoint, params: dict, after_moment: datetime | None, page_size: int) -> dict:
        cursor, key = endpoint.cursor_field, endpoint.id_field
        last = _read_token(params["cursor"])
        with self.world.lock:
            matching = [dict(r) for r in getattr(self.world, endpoint.records)
                        if (after_moment is None or r[cursor] > after_moment) and (iso(r[cursor]), r[key]) > last]
        matching.sort(key=lambda r: (r[cursor], r[key]))
        data = matching[:page_size]
        return {"data": data, "page_size": page_size, "total": None, "next": None,
                "next_cursor": _token(data[-1], cursor, key) if len(matching) > page_size else None}


def _token(record: dict, cursor: str, key: str) -> str:
    """An opaque next-page token: the (cursor value, id) of the last record given."""
    import base64

    return base64.urlsafe_b64encode(json.dumps([iso(record[cursor]), record[key]]).encode()).decode()


def _read_token(text: str) -> tuple[str, str]:
    import base64

    try:
        moment, key = json.loads(base64.urlsafe_b64decode(text.encode()))
        return iso(datetime.fromisoformat(moment)), key
    except (ValueError, TypeError):
        raise ClientError(400, f"cursor must be a token from an earlier answer's next_cursor, got {text!r}") from None


class _Window:
    """The records of a sorted list from `first` on, sliced without copying the rest."""

    def __init__(self, ordered: list, first: int):
        self.ordered, self.first = ordered, first

    def __len__(self) -> int:
        return len(self.ordered) - self.first

    def __getitem__(self, part: slice) -> list:
        return [dict(r) for r in self.ordered[self.first + part.start:self.first + part.stop]]


class _Handler(BaseHTTPRequestHandler):
    server_version = "IOCSimulator/1.0"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's naming)
        simulator: SimulatorServer = self.server.simulator  # type: ignore[attr-defined]
        reply = simulator.respond(self.path, self.headers.get("Authorization"))
        simulator.request_log.append(("GET", self.path, reply.status))  # before replying: the client may read it next
        self._send(reply)

    def _refuse_method(self) -> None:
        reply = Reply(405, {"error": f"method {self.command} not allowed; the simulator's APIs are read-only (GET)"},
                      (("Allow", "GET"),))
        self.server.simulator.request_log.append((self.command, self.path, reply.status))  # type: ignore[attr-defined]
        self._send(reply)

    do_POST = do_PUT = do_PATCH = do_DELETE = _refuse_method

    def _send(self, reply: Reply) -> None:
        payload = json.dumps(reply.body, ensure_ascii=False, default=_json_value).encode("utf-8")
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        """Silent: requests are recorded in `request_log` (which never holds headers, hence no tokens)."""
