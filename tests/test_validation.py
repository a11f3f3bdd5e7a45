"""Validation on real DuckDB and real Great Expectations: generated suites, the simulator's planted
defects, blocking batches, corrections superseding quarantine, results history, outliers, CLI."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from pipelines.declarations.loading import read_catalog
from pipelines.ingest import ingest_feed
from pipelines.settings import REPO_ROOT
from pipelines.validate.suite import build_suites, suite_checks
from simulator.files import write_report_files
from tests.conftest import ioc
from tests.helpers import ROWS, inbox, write_csv

FEED = "dept_monthly_report"


@pytest.mark.parametrize("feed_id", sorted(read_catalog(REPO_ROOT / "schemas").feeds))
def test_every_feed_has_a_generated_suite_covering_its_declarations(feed_id):
    feed = read_catalog(REPO_ROOT / "schemas").feed(feed_id)

    suites = build_suites(feed)

    compiled = {e.meta["check_id"] for s in suites.values() for e in s.expectations}
    assert compiled == {c.id for c in suite_checks(feed)}
    assert {f"values_not_null:{c.name}" for c in feed.columns if not c.nullable} <= compiled
    for i, _ in enumerate(feed.checks):
        assert any(e.meta["origin"] == f"checks[{i}]" for s in suites.values() for e in s.expectations)


@pytest.fixture
def schemas_copy(tmp_path, monkeypatch) -> Path:
    copy = tmp_path / "schemas"
    shutil.copytree(REPO_ROOT / "schemas", copy)
    monkeypatch.setenv("IOC_SCHEMAS", str(copy))
    return copy


def add_check(schemas: Path, feed: str, check: dict) -> None:
    file = schemas / "feeds" / f"{feed}.yaml"
    data = yaml.safe_load(file.read_text(encoding="utf-8"))
    data.setdefault("checks", []).append(check)
    file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_a_check_added_in_yaml_changes_the_suite_and_the_outcome(schemas_copy, home, query):
    before = {e.meta["check_id"] for e in build_suites(read_catalog(schemas_copy).feed(FEED))["rows"].expectations}
    add_check(schemas_copy, FEED, {"check": "values_in_set", "column": "unit", "values": ["giấy phép", "tin"]})

    after = {e.meta["check_id"] for e in build_suites(read_catalog(schemas_copy).feed(FEED))["rows"].expectations}
    write_csv(inbox(home) / "SKHCN_2026-10.csv", ROWS)
    (summary,), _ = ingest_feed(FEED)

    assert after - before == {"values_in_set:unit"}
    assert (summary.rows_loaded, summary.rows_quarantined) == (2, 1)
    assert query("SELECT reasons[1].check_name, reasons[1].actual FROM ops.quarantine") == [
        ("values_in_set", "triệu đồng")]


def test_each_worker_reuses_the_stored_suite_until_the_declarations_change_it(schemas_copy, home, query):
    from pipelines.validate.gx_worker import worker

    def load(month: int) -> None:
        write_csv(inbox(home) / f"SKHCN_2026-{month:02d}.csv", [[r[0], f"{month:02d}/2026", *r[2:]] for r in ROWS])
        ingest_feed(FEED)
        worker().close()  # the next load's worker is a new process, as each load's is

    def stored() -> dict[Path, bytes]:
        return {p: p.read_bytes() for p in sorted((home / "gx").rglob("*")) if p.suffix in {".json", ".yml"}
                and "uncommitted" not in p.parts}

    load(8)
    first = stored()
    load(9)  # the same declarations: the suites, checkpoints and project file read, not written again
    assert stored() == first
    add_check(schemas_copy, FEED, {"check": "values_in_set", "column": "unit", "values": ["giấy phép", "tin"]})
    load(10)  # a changed suite is registered again, and checks the next batch

    changed = [p.relative_to(home / "gx").as_posix() for p, data in stored().items() if first.get(p) != data]
    assert changed and all(p.startswith(("expectations/", "validation_definitions/", "checkpoints/")) for p in changed)
    assert "values_in_set:unit" in "".join(stored()[p].decode() for p in stored() if "expectations" in p.parts)
    assert query("SELECT DISTINCT reasons[1].check_name FROM ops.quarantine q JOIN ops.batches b USING (batch_id) "
                 "WHERE b.file_name = 'SKHCN_2026-10.csv'") == [("values_in_set",)]


def planted_world_files(world, home: Path) -> dict:
    write_report_files(world, inbox(home))
    return world.planted[FEED]


def test_simulator_defects_land_in_quarantine_with_the_right_reasons(world, home, query):
    planted = planted_world_files(world, home)

    summaries, _ = ingest_feed(FEED)

    by_file = {s.file_name: s for s in summaries}
    for s in summaries:
        assert s.rows_received == s.rows_loaded + s.rows_quarantined, s.file_name
    (garbage,) = planted["garbage_files"]
    assert by_file[garbage].status == "failed" and "not a readable XLSX" in by_file[garbage].error
    for wrong in planted["unknown_department_files"]:
        blocked = by_file[wrong["file"]]
        assert blocked.status == "failed" and blocked.rows_loaded == 0
        assert "rows_match_file_name" in blocked.error
        reasons = query("SELECT DISTINCT unnest(q.reasons).check_name FROM ops.quarantine q JOIN ops.batches b "
                        "USING (batch_id) WHERE b.file_name = ?", [wrong["file"]])
        assert {"unit_code_is_active", "batch_is_publishable"} <= {r[0] for r in reasons}
    for bad in planted["non_numeric_value_files"]:
        rows = query("SELECT record, reasons FROM ops.quarantine q JOIN ops.batches b USING (batch_id) "
                     "WHERE b.file_name = ?", [bad["file"]])
        assert len(rows) == 1 and by_file[bad["file"]].status == "partial"
        assert rows[0][1][0]["check_name"] == "value_has_contract_type"
        assert rows[0][1][0]["actual"] == bad["value"] and rows[0][1][0]["column_name"] == "value"
    for resubmission in planted["resubmissions"]:
        for correction in resubmission["corrections"]:
            value = query("SELECT value FROM clean.dept_monthly_report WHERE department_code = ? AND period = ? "
                          "AND indicator_code = ?", [resubmission["department_code"], resubmission["period"],
                                                     correction["indicator_code"]])
            assert value == [(pytest.approx(correction["new_value"]),)]


def test_a_blocked_correction_leaves_the_last_good_data_serving(home, query):
    write_csv(inbox(home) / "SKHCN_2026-10.csv", ROWS)
    ingest_feed(FEED)
    good = query("SELECT * EXCLUDE (_loaded_at) FROM clean.dept_monthly_report ORDER BY indicator_code")
    # the correction carries another department's row: the file is not SKHCN's report alone
    write_csv(inbox(home) / "SKHCN_2026-10_v2.csv", [ROWS[0][:4] + ["12"] + ROWS[0][5:], ["SYT"] + ROWS[1][1:]])

    (summary,), _ = ingest_feed(FEED)

    assert summary.status == "failed" and summary.rows_loaded == 0 and summary.rows_quarantined == 2
    assert "validation blocked publication" in summary.error and "last good data keeps serving" in summary.error
    assert query("SELECT * EXCLUDE (_loaded_at) FROM clean.dept_monthly_report ORDER BY indicator_code") == good
    assert query("SELECT count(*) FROM raw.dept_monthly_report") == [(5,)], "the blocked file is kept in raw"


def test_mostly_blocks_a_batch_only_when_too_few_rows_pass(schemas_copy, home, query):
    add_check(schemas_copy, FEED, {"check": "values_match_regex", "column": "indicator_code",
                                   "regex": "^[A-Z_]+$", "mostly": 0.6})
    rows = [["SKHCN", "10/2026", f"IND_{c}", "x", "1", "", ""] for c in "ABCD"]
    write_csv(inbox(home) / "SKHCN_2026-09.csv", [r[:1] + ["09/2026"] + r[2:] for r in rows[:3]] +
              [["SKHCN", "09/2026", "ind_lower", "x", "1", "", ""]])
    write_csv(inbox(home) / "SKHCN_2026-10.csv", rows[:1] + [["SKHCN", "10/2026", f"bad-{n}", "x", "1", "", ""]
                                                             for n in range(3)])
    os.utime(inbox(home) / "SKHCN_2026-09.csv", (1_790_000_000,) * 2)

    september, october = ingest_feed(FEED)[0]

    assert (september.status, september.rows_loaded, september.rows_quarantined) == ("partial", 3, 1)
    assert (october.status, october.rows_loaded, october.rows_quarantined) == ("failed", 0, 4)
    assert "fewer than 60% passing" in october.error


def test_a_correction_supersedes_the_quarantined_rows_it_replaces(home, query):
    write_csv(inbox(home) / "SKHCN_2026-10.csv", [ROWS[0], ROWS[1][:4] + ["-3"] + ROWS[1][5:]])
    ingest_feed(FEED)
    assert query("SELECT status FROM ops.quarantine") == [("open",)]
    write_csv(inbox(home) / "SKHCN_2026-10_v2.csv", ROWS[:2])

    (correction,), _ = ingest_feed(FEED)

    assert query("SELECT status, superseded_by FROM ops.quarantine") == [("superseded", correction.batch_id)]
    assert query("SELECT count(*) FROM clean.dept_monthly_report WHERE indicator_code = 'TIN_BAI'") == [(1,)]
    listed = json.loads(ioc("quarantine", FEED, "--json").stdout)
    assert listed == [], "superseded rows are not open any more"
    everything = json.loads(ioc("quarantine", FEED, "--all", "--json").stdout)
    assert [r["status"] for r in everything] == ["superseded"]


def test_every_batch_leaves_one_result_per_check_and_data_docs(home, query):
    write_csv(inbox(home) / "SKHCN_2026-10.csv", [ROWS[0], ROWS[1][:4] + ["-3"] + ROWS[1][5:]])
    (summary,), _ = ingest_feed(FEED)

    results = query("SELECT check_id, severity, success, unexpected_count, failing_keys FROM ops.validation_results "
                    "WHERE batch_id = ?", [summary.batch_id])

    feed = read_catalog(REPO_ROOT / "schemas").feed(FEED)
    assert sorted(r[0] for r in results) == sorted([c.id for c in suite_checks(feed)]
                                                   + ["value_has_contract_type", "row_is_well_formed"])
    failed = [r for r in results if not r[2]]
    assert [(r[0], r[3], r[4]) for r in failed] == [("values_between:value", 1, ["SKHCN|2026-10|TIN_BAI"])]
    docs = home / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    assert docs.exists() and "dept_monthly_report" in docs.read_text(encoding="utf-8")


def test_a_large_run_lets_the_ge_worker_go_before_its_commit_and_still_gets_data_docs(home, query, monkeypatch):
    from pipelines import ingest
    from pipelines.validate.gx_worker import worker

    monkeypatch.setattr(ingest, "LET_GX_GO_ROWS", 2)  # this run counts as large
    write_csv(inbox(home) / "SKHCN_2026-09.csv", [[r[0], "09/2026", *r[2:]] for r in ROWS[:2]])
    write_csv(inbox(home) / "SKHCN_2026-10.csv", [ROWS[0], ROWS[1][:4] + ["-3"] + ROWS[1][5:]])

    summaries, _ = ingest_feed(FEED)

    assert [s.data_docs_requested for s in summaries] == [False, True], "asked once, with the last batch"
    assert worker().channel is None, "the worker exited once it had built the docs"
    docs = home / "gx" / "uncommitted" / "data_docs" / "local_site" / "validations"
    assert len(list(docs.rglob("*.html"))) == 2 * len(summaries), "each batch's rows and columns results rendered"
    write_csv(inbox(home) / "SKHCN_2026-11.csv", [[ROWS[0][0], "11/2026", *ROWS[0][2:]]])
    (again,), _ = ingest_feed(FEED)  # the next load starts a new worker
    assert again.status == "loaded", again.error
    assert query("SELECT count(*) FROM ops.validation_results WHERE batch_id = ?", [again.batch_id])[0][0] > 0


def test_outliers_are_flagged_with_the_expected_range_and_published_unchanged(home, query):
    for month, value in enumerate([20, 22, 19, 21, 20, 23], start=4):
        path = write_csv(inbox(home) / f"SKHCN_2026-{month:02d}.csv",
                         [["SKHCN", f"{month:02d}/2026", "TIN_BAI", "Tin", str(value), "tin", ""]])
        os.utime(path, (1_780_000_000 + month * 86_400 * 30,) * 2)
    ingest_feed(FEED)
    write_csv(inbox(home) / "SKHCN_2026-10.csv", [["SKHCN", "10/2026", "TIN_BAI", "Tin", "95", "tin", ""]])

    (summary,), _ = ingest_feed(FEED)

    assert (summary.status, summary.outliers) == ("loaded", 1)
    flag = query("SELECT unit_code, period, value, method, expected_min, expected_max, baseline_size FROM ops.outliers")
    assert len(flag) == 1
    unit, period, value, method, low, high, baseline = flag[0]
    assert (unit, period, value, method, baseline) == ("SKHCN", "2026-10", 95.0, "modified_z_score", 6)
    assert low < 20 < 23 < high < 95
    assert query("SELECT value FROM clean.dept_monthly_report WHERE period = '2026-10'") == [(95.0,)]


def test_validate_and_quality_commands(home, query):
    write_csv(inbox(home) / "SKHCN_2026-10.csv", [ROWS[0], ROWS[1][:4] + ["-3"] + ROWS[1][5:]])
    ingest_feed(FEED)

    validated = json.loads(ioc("validate", FEED, "--json").stdout)
    quality = json.loads(ioc("quality", "--json").stdout)
    unknown = ioc("validate", "no_such_feed")

    checks = {c["check"]: c for c in validated["checks"]}
    assert checks["values_between:value"]["passed"] is False and checks["values_between:value"]["failing rows"] == 1
    assert (validated["published"], validated["quarantined"], validated["blocked"]) == (1, 1, [])
    assert query("SELECT count(DISTINCT run_at) FROM ops.validation_results") == [(2,)], "the re-run is recorded"
    (feed_row,) = quality["feeds"]
    assert (feed_row["feed"], feed_row["received"], feed_row["quarantined"], feed_row["open_quarantine"]) == (
        FEED, 2, 1, 1)
    assert quality["units"] == [{"feed": FEED, "unit_code": "SKHCN", "open_quarantine": 1, "superseded": 0,
                                 "failed_files": 0, "outliers": 0}]
    assert unknown.returncode == 2 and "unknown feed 'no_such_feed'" in unknown.stderr


def test_every_check_a_result_can_name_has_words_for_people():
    """The wall names failing checks in Vietnamese and English: every check needs both."""
    from pipelines.declarations.checks import CHECK_LABELS, CHECK_NAMES, TYPE_CHECK
    from pipelines.validate.suite import OUTLIER_CHECK

    for name in [*CHECK_NAMES, TYPE_CHECK, OUTLIER_CHECK, "batch_is_publishable", "row_is_well_formed"]:
        assert CHECK_LABELS.get(name, {}).keys() == {"vi", "en"}, name


def test_data_docs_templates_compiled_once_serve_every_view_until_their_source_changes(tmp_path, monkeypatch):
    from great_expectations.render.view.view import DefaultJinjaPageView
    from jinja2 import Environment

    from pipelines.validate.gx_templates import compile_templates

    assert compile_templates() >= 40  # GE's page, section and component templates (what a worker inherits)
    compiled: list[str] = []
    upstream = Environment.compile
    monkeypatch.setattr(Environment, "compile",
                        lambda self, source, name=None, *a, **k: compiled.append(name) or upstream(self, source, name, *a, **k))

    DefaultJinjaPageView().env.get_template("page.j2")
    assert compiled == [], "a new view renders from the compiled cache"
    mine = tmp_path / "mine.j2"
    mine.write_text("first {{ x }}")
    assert DefaultJinjaPageView(custom_views_directory=str(tmp_path)).env.get_template("mine.j2").render(x=1) == "first 1"
    assert DefaultJinjaPageView(custom_views_directory=str(tmp_path)).env.get_template("mine.j2").render(x=2) == "first 2"
    assert compiled == ["mine.j2"], "compiled once for both views"
    mine.write_text("second {{ x }}")
    assert DefaultJinjaPageView(custom_views_directory=str(tmp_path)).env.get_template("mine.j2").render(x=3) == "second 3"
    assert compiled == ["mine.j2", "mine.j2"], "a changed source compiled again"
