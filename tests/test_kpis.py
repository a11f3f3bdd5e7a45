"""KPIs: every shipped KPI against YAML fixtures on a real DuckDB (no data, roll-up of ratios, status
bounds in both directions), the compiler, declaration errors and the CLI."""

from __future__ import annotations

import pytest

from pipelines.declarations.loading import catalog
from tests.kpi_harness import cases, run_case

CASES = cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_kpi_fixture(case):
    _, problems = run_case(case, catalog())
    assert not problems, "\n".join(problems)


def test_fixtures_cover_every_kpi_no_data_rollup_and_both_directions():
    kpis = catalog().kpis
    expectations = [want for case in CASES for want in case.spec["expect"] if "absent" not in want]
    statuses: dict[str, set[str]] = {}
    for want in expectations:
        statuses.setdefault(want["kpi"], set()).add(want.get("status"))
    missing = sorted(set(kpis) - set(statuses))
    assert not missing, f"KPIs without a fixture: {missing}"
    for kpi_id, seen in statuses.items():
        assert "no_data" in seen, f"{kpi_id}: no fixture expects no_data"
        assert seen & {"green", "amber", "red"}, f"{kpi_id}: no fixture expects a value with a status"
    for direction in ("higher_is_better", "lower_is_better"):
        seen = set().union(*(statuses[k] for k, kpi in kpis.items() if kpi.direction == direction))
        assert {"green", "amber", "red"} <= seen, f"{direction}: statuses covered {sorted(seen)}"
    province = catalog().org_units.province
    ratio_rollups = {w["kpi"] for w in expectations if w["unit"] == province and "denominator" in w
                     and kpis[w["kpi"]].rollup == "add"}
    assert ratio_rollups, "no fixture checks a ratio rolled up to the province"
