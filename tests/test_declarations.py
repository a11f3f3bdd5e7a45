"""Every declaration parses and resolves; a broken one is rejected naming its file and key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from pipelines.declarations.loading import DeclarationError, feed_files, read_catalog
from pipelines.settings import REPO_ROOT
from tests.conftest import ioc

SCHEMAS = REPO_ROOT / "schemas"
CANONICAL_FEEDS = ["air_quality", "citizen_feedback", "dept_monthly_report", "directive_tasks",
                   "public_investment", "security_incidents", "tthc_dossiers"]


def test_the_seven_canonical_feeds_are_declared():
    assert set(CANONICAL_FEEDS) <= set(read_catalog(SCHEMAS).feeds)


@pytest.mark.parametrize("file", feed_files(SCHEMAS), ids=lambda f: f.stem)
def test_feed_declaration_is_complete(file: Path):
    catalog = read_catalog(SCHEMAS)
    feed = catalog.feed(file.stem)
    assert feed.owner in catalog.org_units.codes
    assert feed.name.vi and feed.name.en and feed.schedule
    assert set(feed.load.key) <= set(feed.column_names)
    for column in feed.columns:
        if column.references == "org_unit":
            assert column.type == "string"


def test_org_units_cover_the_seed_departments_and_centres():
    units = read_catalog(SCHEMAS).org_units
    kinds = {u.kind for u in units.units}
    assert {"province", "department", "centre", "commune"} <= kinds
    assert {"IOC", "SOC", "TTCNTT", "SKHCN", "STTTT"} <= units.codes
    merged = units.get("STTTT")
    assert merged.valid_to is not None and merged.successor == "SKHCN"


@pytest.fixture
def schemas_copy(tmp_path, monkeypatch) -> Path:
    copy = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, copy)
    monkeypatch.setenv("IOC_SCHEMAS", str(copy))
    return copy


def edit(file: Path, change) -> None:
    data = yaml.safe_load(file.read_text(encoding="utf-8"))
    change(data)
    file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


BROKEN = {
    "unknown key": ("tthc_dossiers", lambda d: d.update(shedule="@daily"), "shedule", "unknown key"),
    "unknown column type": ("air_quality", lambda d: d["columns"][2].update(type="float"), "columns[2].type", "float"),
    "unknown owner": ("air_quality", lambda d: d.update(owner="SXXX"), "owner", "SXXX"),
    "key not a column": ("air_quality", lambda d: d["load"].update(key=["station"]), "load.key", "station"),
    "value outside enum": ("security_incidents", lambda d: d["columns"][2]["values"].update(Khẩn="urgent"),
                           "columns[2]", "urgent"),
    "bad skip regex": ("dept_monthly_report", lambda d: d["source"]["skip_rows"][0].update(matches="(tổng"),
                       "source.skip_rows[0].matches", "regular expression"),
    "unknown check name": ("dept_monthly_report", lambda d: d["checks"].append({"check": "value_is_positive"}),
                           "checks[4]", "'value_is_positive'"),
    "unknown check parameter": ("dept_monthly_report", lambda d: d["checks"].append(
        {"check": "values_between", "column": "value", "minimum": 0}), "checks[4].minimum", "unknown key"),
    "check on an undeclared column": ("dept_monthly_report", lambda d: d["checks"].append(
        {"check": "values_between", "column": "valeu", "min": 0}), "checks[4]", "'valeu' is not a declared column"),
    "mostly above 1": ("dept_monthly_report", lambda d: d["checks"].append(
        {"check": "values_not_null", "column": "note", "mostly": 1.5}), "checks[4].mostly", "less than or equal to 1"),
    "outlier on a text column": ("dept_monthly_report", lambda d: d["outliers"][0].update(column="note"),
                                 "outliers[0].column", "outliers need a number column"),
    "task source not a column": ("directive_tasks", lambda d: d["tasks"].update(source_column="van_ban"), "tasks",
                                 "'van_ban' is not a declared column"),
    "reconcile by an API count with no total": ("tthc_dossiers", lambda d: d["source"]["pagination"].pop("total_path"),
                                                "reconcile", "total_path"),
    "key scan without snapshots": ("public_investment", lambda d: d.update(
        reconcile={"by": "key_scan"}, withdrawals={"kind": "status", "column": "period", "values": ["x"]}),
                                   "reconcile", "snapshot"),
    "withdrawal status not a column": ("tthc_dossiers", lambda d: d.update(
        withdrawals={"kind": "status", "column": "trang_thai", "values": ["x"]}), "withdrawals.column", "trang_thai"),
    "a file drop read whole": ("dept_monthly_report", lambda d: d.update(withdrawals={"kind": "snapshot"}),
                               "withdrawals", "pulled"),
    "database tombstones without a query": ("public_investment", lambda d: d.update(
        withdrawals={"kind": "tombstones", "url": "http://x"}), "withdrawals.query", "query"),
    "a form rule on a table": ("dept_monthly_report", lambda d: d["checks"].append({"check": "ytd_not_below_month"}),
                               "checks[4]", "declares no form"),
    "a form without its catalogue": ("dept_indicators", lambda d: d["source"]["form"].update(catalogue="kt_xh_nam"),
                                     "source.form.catalogue", "no indicator catalogue"),
    "a measure label with an unknown placeholder": ("dept_indicators", lambda d: d["source"]["form"]["measures"][1].update(
        labels=["Tháng {thang}/{year}"]), "source.form.measures[1].labels", "unknown placeholder"),
    "a form without the columns its figures land in": ("dept_indicators", lambda d: d.update(
        columns=[c for c in d["columns"] if c["name"] != "source_cell"]), "columns", "source_cell"),
    "a catalogue measure the form has no column for": ("dept_indicators", lambda d: d["source"]["form"].update(
        measures=d["source"]["form"]["measures"][:3]), "source.form.measures", "vs_plan_pct"),
    "token in a non-env name": ("tthc_dossiers", lambda d: d["source"]["auth"].update(bearer_token_env="abc123"),
                                "source.auth.bearer_token_env", "pattern"),
}


@pytest.mark.parametrize("case", BROKEN)
def test_broken_declaration_is_rejected_with_file_and_key(schemas_copy, case):
    feed, change, key, words = BROKEN[case]
    file = schemas_copy / "feeds" / f"{feed}.yaml"
    edit(file, change)

    with pytest.raises(DeclarationError) as raised:
        read_catalog(schemas_copy)

    problems = [str(p) for p in raised.value.problems]
    assert any(str(file) in p and f": {key}" in p and words in p for p in problems), problems


def test_feeds_check_command(schemas_copy):
    good = ioc("feeds", "check")
    assert good.returncode == 0 and f"{len(feed_files(SCHEMAS))} feeds" in good.stdout
    edit(schemas_copy / "feeds" / "air_quality.yaml", lambda d: d.update(owner="SXXX"))
    edit(schemas_copy / "org_units.yaml", lambda d: d["units"][2].update(parent="NOWHERE"))

    bad = ioc("feeds", "check")

    assert bad.returncode == 1
    assert "air_quality.yaml: owner: unknown organisation unit 'SXXX'" in bad.stderr
    assert "org_units.yaml: units[2].parent: unknown unit code 'NOWHERE'" in bad.stderr


def test_feeds_list_command_shows_every_feed():
    listed = ioc("feeds", "list")
    assert listed.returncode == 0
    for feed in CANONICAL_FEEDS:
        assert feed in listed.stdout
    assert "Hồ sơ thủ tục hành chính" in listed.stdout


def test_a_broken_indicator_catalogue_is_named_by_the_form_that_uses_it(schemas_copy):
    catalogue = schemas_copy / "indicators" / "kt_xh_thang.yaml"
    edit(catalogue, lambda d: d["indicators"][1].update(parent="YT_NOWHERE"))

    with pytest.raises(DeclarationError) as raised:
        read_catalog(schemas_copy)

    problems = [str(p) for p in raised.value.problems]
    assert any("dept_indicators.yaml: source.form.catalogue" in p and "YT_NOWHERE" in p for p in problems), problems


def test_a_kpi_on_an_indicator_names_one_of_its_catalogue(schemas_copy):
    edit(schemas_copy / "kpis" / "socio_economic.yaml", lambda d: d["kpis"][0]["indicator"].update(code="CT_BANSI"))
    edit(schemas_copy / "kpis" / "socio_economic.yaml", lambda d: d["kpis"][2]["indicator"].update(value="ytd_vs_plan"))

    with pytest.raises(DeclarationError) as raised:
        read_catalog(schemas_copy)

    problems = [str(p) for p in raised.value.problems]
    assert any("kpis[0].indicator.code" in p and "'CT_BANSI' is not an indicator of catalogue kt_xh_thang" in p
               for p in problems), problems
    # the production index is a rate: its year to date is no sum, and it has no plan
    assert any("kpis[2].indicator.value" in p and "CT_IIP" in p for p in problems), problems
