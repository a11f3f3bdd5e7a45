"""The API fuzzed from its own OpenAPI schema by schemathesis: `ioc serve` on loopback over the demo's
warehouse (every feed ingested, deadlines and KPIs computed); each operation of its /api/openapi.json is sent a
bounded, derandomised set of requests (valid ones, invalid ones, boundary values), with the warehouse's own
KPI ids, unit codes, periods, a submission and a department's token mixed in, so that requests reach the data
and not only the 404s, and with the values that once broke a route. No answer may be a server error, not even
a 503 "warehouse busy": nothing else holds this warehouse. A submission may be refused (4xx, 429 once
throttled), never fail."""

from __future__ import annotations

import os
import sys
from collections import Counter
from functools import cache

import httpx
import pytest
import schemathesis
from schemathesis import GenerationMode
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from pipelines.serve.app import create_app
from tests.conftest import TEST_NOW
from tests.demo_warehouse import shared_demo_warehouse
from tests.stack import start_exporter
from tests.helpers import HEADER

SCHEMA_URL = "/api/openapi.json"
# requests generated per operation (fewer where there is less to vary); more for a deeper run
EXAMPLES = int(os.environ.get("IOC_FUZZ_EXAMPLES", "25"))
UNIT, TOKEN, OPERATOR_TOKEN = "SXD", "fuzz-token-of-sxd-0123456789", "fuzz-operator-token-0123456789"
SUBMIT = "POST /api/submissions/{feed_id}"
SUBMISSION_ANSWERS = {202, 400, 401, 403, 404, 413, 415, 422, 429}  # accepted, or refused saying why
# Requests that once answered 500 (or dropped the connection), and what they get now: a refusal saying why.
ONCE_FAILED = {
    "explain's page beyond a BIGINT OFFSET": ("/api/kpis/dossier_on_time_rate/explain",
                                              {"page": "178201292581719932928"}, 422),
    "a period of fullwidth digits into a file name": ("/api/briefings/monthly", {"period": "２０２６-１１"}, 400),
    "a period with a newline into a header": ("/api/briefings/monthly", {"period": "2026-11\n"}, 400),
    "a moment of year 0 in UTC": ("/api/kpis/dossier_on_time_rate/as-of", {"at": "0001-01-01T00:00:00"}, 400),
}
ANSWERS: dict[str, Counter[int]] = {}  # per operation: how many requests got each status
SUBMITTED: list[str] = []  # the id of the report the department sent before the fuzzing

# The schema `ioc serve` publishes, built from the same app at collection: the served one must be identical.
schema = schemathesis.openapi.from_dict(create_app().openapi())


def _report(cells: list[str]) -> bytes:
    return ("\r\n".join(",".join(row) for row in [HEADER, cells]) + "\r\n").encode()


@pytest.fixture(scope="module")
def served(tmp_path_factory, postgres) -> str:
    """The demo's warehouse (test_wall.py's, built once per run: a copy) and `ioc serve` over it, taking
    submissions from one department, which has sent one report; its URL."""
    home = tmp_path_factory.mktemp("fuzz") / "ioc-home"
    shared_demo_warehouse(tmp_path_factory, postgres, TEST_NOW, home)
    with pytest.MonkeyPatch.context() as env:
        env.setenv(f"IOC_SUBMIT_TOKEN_{UNIT}", TOKEN)
        env.setenv("IOC_OPERATOR_TOKEN", OPERATOR_TOKEN)
        process, address = start_exporter(home, tmp_path_factory.mktemp("fuzz-serve"))
    url = f"http://{address}"
    try:
        published = httpx.get(url + SCHEMA_URL, timeout=10)
        assert published.status_code == 200 and published.json() == schema.raw_schema, published.text[:500]
        sent = httpx.post(f"{url}/api/submissions/dept_monthly_report", headers={"Authorization": f"Bearer {TOKEN}"},
                          files={"file": (f"{UNIT}_2026-11.csv", _report([UNIT, "2026-11", "GP_CAP", "Giấy phép", "5",
                                                                            "giấy phép", ""]))}, timeout=30)
        assert sent.status_code == 202, sent.text
        SUBMITTED.append(sent.json()["submission_id"])
        yield url
    finally:
        process.stop()


@cache
def swaps() -> dict[str, list]:
    """Per parameter name, what a generated value (or its absence) is swapped for now and then: values the
    warehouse has (of the feeds, the one taking submissions) and values that once broke a route."""
    from pipelines.declarations.loading import catalog

    declared = catalog()
    known = {"kpi_id": sorted(declared.kpis), "unit": sorted(declared.org_units.codes),
             "feed_id": ["dept_monthly_report"], "period": ["2026-09", "2026-10", "2026-11"],
             "at": ["2026-11-01", "2026-11-20T10:00:00+07:00"], "submission_id": SUBMITTED,
             "authorization": [f"Bearer {TOKEN}", f"Bearer {OPERATOR_TOKEN}"]}
    for _, params, _ in ONCE_FAILED.values():
        for name, value in params.items():
            known.setdefault(name, []).append(value)
    return known


ABSENT = object()


def _swapping(location: str):
    """A flatmap hook for one location (path, query, header): each parameter the operation declares there is
    the generated value or one of its swaps."""
    def swap(context, values: dict | None) -> st.SearchStrategy:
        values = dict(values or {})
        declared = {p.name for p in context.operation.iter_parameters() if p.location.value == location}
        choices = {name: st.sampled_from([values.get(name, ABSENT), *swaps()[name]])
                   for name in declared & swaps().keys()}
        return st.fixed_dictionaries({**{name: st.just(v) for name, v in values.items()}, **choices}).map(
            lambda drawn: {name: value for name, value in drawn.items() if value is not ABSENT})
    return swap


for _hook, _location in (("path_parameters", "path"), ("query", "query"), ("headers", "header")):
    schema.hook(f"flatmap_{_hook}")(_swapping(_location))


@schema.hook("flatmap_body").apply_to(method="POST", path="/api/submissions/{feed_id}")
def _or_a_report(_context, body):
    """The generated body, or the department's report (bytes) with one generated row."""
    row = st.lists(st.text(max_size=12), min_size=len(HEADER) - 1, max_size=len(HEADER) + 1)
    return st.one_of(st.just(body), row.map(lambda cells: {"file": _report([UNIT, *cells])}))


def _named(case) -> dict:
    """A report goes under a name of the department's (its unit and period): .csv, or now and then .xlsx (and
    then it is no workbook); a generated body keeps the name schemathesis gives it."""
    content = case.body.get("file") if case.operation.label == SUBMIT and isinstance(case.body, dict) else None
    if not isinstance(content, bytes):
        return {}
    return {"files": [("file", (f"{UNIT}_2026-11.{'xlsx' if len(content) % 3 == 0 else 'csv'}", content))]}


def _cases(operation) -> st.SearchStrategy:
    """Requests the schema allows, and requests it does not (those of an operation without any parameter aside)."""
    valid = operation.as_strategy(GenerationMode.POSITIVE)
    if not list(operation.iter_parameters()) and not list(operation.body):
        return valid
    return st.one_of(valid, operation.as_strategy(GenerationMode.NEGATIVE))


# One test per operation, parametrised here: schemathesis's own `schema.parametrize()` gives its tests one node
# id on pytest 9 (from the function's bare name), so pytest-xdist ran one of them and dropped the rest.
OPERATIONS = {result.ok().label: result.ok() for result in schema.get_all_operations()}


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_no_request_gets_a_server_error(label, served):
    operation = OPERATIONS[label]

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(_cases(operation))
    def request(case):
        response = case.call(base_url=served, timeout=60, **_named(case))
        ANSWERS.setdefault(label, Counter())[response.status_code] += 1
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
        if label == SUBMIT:
            assert response.status_code in SUBMISSION_ANSWERS, (response.status_code, response.text[:500])

    request()


@pytest.mark.parametrize(("path", "params", "status"), ONCE_FAILED.values(), ids=ONCE_FAILED)
def test_a_request_that_once_failed_is_refused_saying_why(served, path, params, status):
    response = httpx.get(served + path, params=params, timeout=60)
    assert response.status_code == status, response.text
    assert response.json()["detail"]


def test_every_operation_was_fuzzed(capsys):
    """After the fuzzing (same file, same worker): every operation got requests, every read an answer with data;
    the counts by status go to the terminal (with pytest-xdist too)."""
    if not ANSWERS:
        pytest.skip("nothing was fuzzed in this session: run the whole file")
    operations = {f"{method.upper()} {path}" for path, methods in schema.raw_schema["paths"].items()
                  for method in methods}
    sent = {label: sum(statuses.values()) for label, statuses in ANSWERS.items()}
    lines = [f"fuzzed {len(ANSWERS)} operations of {len(operations)} with {sum(sent.values())} requests"] + [
        f"  {label:40} {sent[label]:4}  " + " ".join(f"{status}×{n}" for status, n in sorted(statuses.items()))
        for label, statuses in sorted(ANSWERS.items())]
    with capsys.disabled():
        print(f"\n{__name__}: " + "\n".join(lines), file=sys.stderr)
    assert set(ANSWERS) == operations, lines
    # time travel is DuckLake's only (409 on the DuckDB file); submissions answer 202 or a refusal
    without_data = {label for label, statuses in ANSWERS.items() if 200 not in statuses}
    assert without_data <= {"GET /api/kpis/{kpi_id}/as-of", SUBMIT}, lines
