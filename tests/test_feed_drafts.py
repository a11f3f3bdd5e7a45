"""`ioc feeds draft` and `ioc feeds try` on department files as they come (tests/department_samples.py writes
them with csv, str.encode and openpyxl only, sharing no code with the readers): a Windows-1258 CSV with `;` and
Vietnamese numbers, a workbook with a title block and date cells, a task tracker's UTF-8 export with status
labels, and a monthly figures form with indicators no catalogue knows. Each is drafted from a first sample; the
draft must pass `ioc feeds check`; `try` on a second file of the same source quarantines exactly the rows planted
in it and loads every row of a clean one; `try` writes nothing; files that cannot be read are refused."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests import department_samples as samples
from tests.conftest import REPO, ioc

WIDE = {"COLUMNS": "1000"}  # no rich wrapping: a file name or a JSON line is never cut


def run(*args: object) -> subprocess.CompletedProcess:
    return ioc(*map(str, args), env=WIDE)


def output(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"


def names(result: subprocess.CompletedProcess, path: Path) -> bool:
    """The output names the file (whatever the console did with spaces, line ends and panel borders), and is the
    command's own refusal, not a usage error (which exits 2 too)."""
    text = result.stdout + result.stderr
    return "Usage:" not in text and path.name in re.sub(r"[\s│╭╮╰╯─]", "", text)


def key(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def snapshot(root: Path) -> tuple[dict[str, str], set[str]]:
    """Every file under `root` (relative path -> sha256) and every directory."""
    files, dirs = {}, set()
    for path in root.rglob("*"):
        relative = str(path.relative_to(root))
        if path.is_symlink():
            files[relative] = f"symlink to {os.readlink(path)}"
        elif path.is_dir():
            dirs.add(relative)
        else:
            with path.open("rb") as f:
                files[relative] = hashlib.file_digest(f, "sha256").hexdigest()
    return files, dirs


# --- the four sources -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Source:
    feed: str
    first: Callable[[Path], list[samples.Written]]  # the samples the draft is made from
    second: Callable[[Path, bool], samples.Written]  # another file of the source: (folder, plant bad rows?)
    read_as: tuple[str, ...]  # what `read_as` says (lower case)
    declared: dict[str, dict] = field(default_factory=dict)  # header label -> what its column declares
    key: tuple[str, ...] = ()  # the labels of the key's columns
    version: str | None = None  # the label of the version column
    enum: tuple[str, tuple[str, ...]] | None = None  # (label, the labels its values map)
    type_failures: dict[str, str] = field(default_factory=dict)  # label -> the text planted that cannot parse
    form: bool = False


SOURCES = {
    "cp1258_csv": Source(
        feed="du_an_dau_tu",
        first=lambda d: [samples.investment_csv(d / "du_an_dau_tu.csv", n=60, seed=1)],
        second=lambda d, plant: samples.investment_csv(d / f"du_an_dau_tu_{'loi' if plant else 'sach'}.csv",
                                                       n=40, seed=2 if plant else 3, plant=plant),
        read_as=("1258", ";"),
        declared={"Mã dự án": {"type": "string", "nullable": False},
                  "Tên dự án": {"nullable": False},
                  "Chủ đầu tư": {"references": "org_unit", "nullable": False},
                  "Tổng mức đầu tư (triệu đồng)": {"type": "number", "nullable": False},
                  "Kế hoạch vốn năm 2026 (triệu đồng)": {"type": "number"},
                  "Số gói thầu": {"type": "integer", "nullable": False},
                  "Ngày phê duyệt": {"type": "date", "nullable": False},
                  "Ghi chú": {"nullable": True}},
        key=("Mã dự án",),
        type_failures={"Tổng mức đầu tư (triệu đồng)": "12,3,4", "Số gói thầu": "abc", "Ngày phê duyệt": "31/02/2026"},
    ),
    "xlsx_title_block": Source(
        feed="kiem_tra_attp",
        first=lambda d: [samples.inspections_xlsx(d / "kiem_tra_attp.xlsx", n=45, seed=1)],
        second=lambda d, plant: samples.inspections_xlsx(d / f"kiem_tra_attp_{'loi' if plant else 'sach'}.xlsx",
                                                         n=36, seed=2 if plant else 3, plant=plant),
        read_as=("xlsx",),
        declared={"Số biên bản": {"nullable": False},
                  "Ngày kiểm tra": {"type": "date", "nullable": False},
                  "Tên cơ sở": {"nullable": False},
                  "Đơn vị kiểm tra": {"references": "org_unit", "nullable": False},
                  "Số lỗi vi phạm": {"type": "integer", "nullable": False},
                  "Số tiền phạt (triệu đồng)": {"type": "number", "nullable": False},
                  "Ghi chú": {"nullable": True}},
        key=("Số biên bản",),
        type_failures={"Ngày kiểm tra": "31/02/2026", "Số lỗi vi phạm": "abc", "Số tiền phạt (triệu đồng)": "12,3,4"},
    ),
    "task_export": Source(
        feed="cong_viec_giao",
        first=lambda d: [samples.task_export_csv(d / "cong_viec.csv", n=50, seed=1, labels=samples.TRACKER_LABELS)],
        second=lambda d, plant: samples.task_export_csv(d / f"cong_viec_{'loi' if plant else 'sach'}.csv", n=40,
                                                        seed=2 if plant else 3, plant=plant,
                                                        labels=samples.TRACKER_LABELS),
        read_as=("utf-8",),
        declared={"Mã đơn vị": {"references": "org_unit", "nullable": False},
                  "Tên nhiệm vụ": {"nullable": False},
                  "Ngày giao": {"type": "date", "nullable": False},
                  "Thời hạn": {"type": "date", "nullable": False},
                  "Ngày hoàn thành": {"type": "date", "nullable": True},
                  "Ngày cập nhật": {"type": "timestamp", "nullable": False}},
        key=("Mã công việc",),
        version="Ngày cập nhật",
        enum=("Tình trạng", tuple(samples.STATUSES)),
        type_failures={"Thời hạn": "31/02/2026", "Ngày cập nhật": "25/13/2026 08:15:00"},
    ),
    "monthly_form": Source(
        feed="chi_tieu_vhttdl",
        first=lambda d: [samples.form_xlsx(d / f"SVHTTDL_{p}.xlsx", period=p) for p in ("2026-09", "2026-10")],
        second=lambda d, plant: samples.form_xlsx(d / f"SVHTTDL_{'2026-11' if plant else '2026-12'}.xlsx",
                                                  period="2026-11" if plant else "2026-12", plant=plant),
        read_as=("xlsx",),
        form=True,
    ),
}


@dataclass
class Drafted:
    result: subprocess.CompletedProcess
    feed_file: Path
    samples: list[samples.Written]

    def feed(self) -> dict:
        if self.result.returncode != 0 or not self.feed_file.is_file():
            pytest.fail(f"the draft of {self.feed_file.stem} failed, nothing to try:\n{output(self.result)}")
        return yaml.safe_load(self.feed_file.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def schemas(tmp_path_factory) -> Path:
    """A copy of the repository's schemas/ the module's drafts are written into ($IOC_SCHEMAS for the module)."""
    copy = tmp_path_factory.mktemp("drafts") / "schemas"
    shutil.copytree(REPO / "schemas", copy)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IOC_SCHEMAS", str(copy))
        patch.setenv("IOC_HOME", str(tmp_path_factory.mktemp("module-home")))  # each test sets its own
        yield copy


@pytest.fixture(scope="module")
def drafts(schemas, tmp_path_factory) -> Callable[[str], Drafted]:
    """Each source drafted once for the module, from its first samples."""
    done: dict[str, Drafted] = {}

    def draft(name: str) -> Drafted:
        if name not in done:
            source = SOURCES[name]
            written = source.first(tmp_path_factory.mktemp(f"first-{name}"))
            result = run("feeds", "draft", *(w.path for w in written), "--id", source.feed)
            done[name] = Drafted(result, schemas / "feeds" / f"{source.feed}.yaml", written)
        return done[name]

    return draft


def declared_column(feed: dict, label: str) -> dict:
    found = [c for c in feed["columns"] if any(key(str(l)) == key(label) for l in c.get("labels") or [])]
    assert len(found) == 1, f"one column of {feed['id']} has the label {label!r}: {feed['columns']}"
    return found[0]


def strip_part(name: str) -> str:
    return re.sub(r"^trong đó\s*:\s*", "", key(name))


# --- A. draft, check, try -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", SOURCES)
def test_a_draft_is_written_with_what_the_samples_show_and_passes_check(name, drafts, schemas):
    source = SOURCES[name]

    drafted = drafts(name)

    assert drafted.result.returncode == 0, output(drafted.result)
    assert drafted.feed_file.is_file(), output(drafted.result)
    feed = drafted.feed()
    assert feed["id"] == source.feed
    check = run("feeds", "check")
    assert check.returncode == 0, output(check)
    if source.form:
        catalogue_file = schemas / "indicators" / f"{source.feed}.yaml"
        assert catalogue_file.is_file(), "indicators no catalogue knows get a catalogue of their own"
        catalogue = yaml.safe_load(catalogue_file.read_text(encoding="utf-8"))
        assert feed["source"]["form"]["catalogue"] == catalogue["id"]
        indicators = {strip_part(i["vi"]): i for i in catalogue["indicators"]}
        assert len(catalogue["indicators"]) == 7
        assert set(indicators) == {strip_part(n) for n in samples.form_indicator_names()}
        part, whole = indicators[key("Khách quốc tế")], indicators[key("Tổng lượt khách du lịch")]
        assert part.get("parent") == whole["code"], "the 'Trong đó:' row is part of the indicator above it"
        found = re.match(feed["source"]["file_name_pattern"], "SVHTTDL_2026-11.xlsx")
        assert found and {"SVHTTDL", "2026-11"} <= set(found.groupdict().values())
        assert feed["load"].get("replace"), "a department's file for a month replaces its earlier one"
        return
    for label, expected in source.declared.items():
        column = declared_column(feed, label)
        got = {"nullable": column.get("nullable", False), **column}
        assert {k: got.get(k) for k in expected} == expected, f"{label!r}: {column}"
    assert feed["load"]["key"] == [declared_column(feed, label)["name"] for label in source.key]
    if source.version:
        assert feed["load"].get("version") == declared_column(feed, source.version)["name"]
    if source.enum:
        label, labels = source.enum
        values = declared_column(feed, label).get("values") or {}
        assert {key(v) for v in labels} <= {key(str(v)) for v in values}, values
        assert len({values[v] for v in values if key(str(v)) in {key(x) for x in labels}}) == len(labels)


def try_json(feed: str, path: Path) -> tuple[subprocess.CompletedProcess, dict]:
    result = run("feeds", "try", feed, "--file", path, "--json")
    try:
        return result, json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"`ioc feeds try --json` did not print one JSON object:\n{output(result)}")


def column_stats(out: dict, label: str) -> dict:
    mapped = {key(m["label"]): m["column"] for m in out["mapping"]}
    column = mapped[key(label)]
    (stats,) = [c for c in out["columns"] if c["column"] == column]
    return stats


@pytest.mark.parametrize("name", SOURCES)
def test_try_quarantines_exactly_the_rows_planted_in_a_second_file(name, drafts, tmp_path, home):
    source = SOURCES[name]
    drafts(name).feed()
    second = source.second(tmp_path, True)

    result, out = try_json(source.feed, second.path)

    shown = json.dumps({k: v for k, v in out.items() if k != "columns"}, ensure_ascii=False, indent=1)[:6000]
    assert result.returncode == 1, output(result)
    assert (out["feed"], out["file"]) == (source.feed, second.path.name)
    assert (out["rows"], out["would_load"], out["quarantined"]) == (
        second.data_rows, second.would_load, second.data_rows - second.would_load), shown
    assert {q["row"] for q in out["quarantine"]} == set(second.planted), shown
    assert (out["blocked"], out["blocked_because"]) == (False, []), shown
    reasons: dict[int, str] = {}
    for q in out["quarantine"]:
        reasons[q["row"]] = reasons.get(q["row"], "") + " ".join(q["reasons"])
    for row, text in second.planted.items():
        if text is not None:
            assert key(text) in key(reasons.get(row, "")), f"row {row}'s reasons quote {text!r}: {shown}"
    assert all(s in out["read_as"].lower() for s in source.read_as), out["read_as"]
    if source.form:
        assert {q["cell"] for q in out["quarantine"]} == set(second.cells), shown
        (value,) = [c for c in out["columns"] if c["column"] == "value"]
        assert (value["values"], value["failed"]) == (second.data_rows, 2), value
        assert set(second.cells.values()) <= set(value["examples"]), value
        return
    assert out["header_row"] == second.header_row
    assert {key(m["label"]) for m in out["mapping"]} == {key(label) for label in second.labels}, out["mapping"]
    assert (out["unmapped_labels"], out["missing_columns"]) == ([], [])
    for label, text in source.type_failures.items():
        stats = column_stats(out, label)
        assert (stats["values"], stats["parsed"], stats["failed"]) == (second.data_rows, second.data_rows - 1, 1), stats
        assert text in stats["examples"], stats


@pytest.mark.parametrize("name", SOURCES)
def test_try_loads_every_row_of_a_clean_second_file(name, drafts, tmp_path, home):
    source = SOURCES[name]
    drafts(name).feed()
    second = source.second(tmp_path, False)

    result, out = try_json(source.feed, second.path)

    shown = json.dumps(out, ensure_ascii=False, indent=1)[:6000]
    assert result.returncode == 0, output(result)
    assert (out["rows"], out["would_load"], out["quarantined"], out["quarantine"]) == (
        second.data_rows, second.data_rows, 0, []), shown
    assert (out["blocked"], out["blocked_because"]) == (False, []), shown
    assert all(c["failed"] == 0 for c in out["columns"]), out["columns"]
    if source.form:
        assert out["header_row"] in (second.header_row, second.header_row + 1)
        return
    assert out["header_row"] == second.header_row
    assert (out["unmapped_labels"], out["missing_columns"]) == ([], [])


# --- B. try writes nothing --------------------------------------------------------------------------------------

def test_try_leaves_every_file_under_ioc_home_as_it_was(home, tmp_path):
    loaded = samples.task_export_csv(tmp_path / "nhiem_vu_thang_10.csv", n=8, seed=3)
    ingest = run("ingest", "directive_tasks", "--file", loaded.path)
    assert ingest.returncode == 0, output(ingest)
    inbox = home / "inbox" / "directive_tasks"
    inbox.mkdir(parents=True, exist_ok=True)
    samples.task_export_csv(inbox / "nhiem_vu_thang_11.csv", n=5, seed=4)
    before = snapshot(home)
    assert any(p.startswith("raw") for p in before[0]) and "inbox/directive_tasks/nhiem_vu_thang_11.csv" in before[0]
    other = samples.task_export_csv(tmp_path / "nhiem_vu_moi.csv", n=6, seed=5)

    result = run("feeds", "try", "directive_tasks", "--file", other.path)

    assert result.returncode == 0, output(result)
    files, dirs = snapshot(home)
    assert dirs == before[1]
    assert set(files) == set(before[0])
    assert files == before[0]


# --- C. draft refuses what it cannot read; never overwrites without --force ------------------------------------

BAD_INPUTS = {
    "empty file": ("trong.csv", samples.empty_file),
    "header only": ("chi_co_tieu_de.csv", samples.header_only_csv),
    "workbook with only a title line": ("chi_co_ten_bao_cao.xlsx", samples.title_only_xlsx),
    "workbook with an empty sheet": ("bang_trong.xlsx", samples.empty_sheet_xlsx),
    "neither UTF-8 nor Windows-1258": ("byte_hong.csv", samples.undecodable_csv),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_draft_refuses_a_file_it_cannot_read_and_writes_nothing(case, schemas, tmp_path):
    file_name, write = BAD_INPUTS[case]
    path = write(tmp_path / file_name)
    before = snapshot(schemas)

    result = run("feeds", "draft", path, "--id", "khong_doc_duoc")

    assert result.returncode == 2, output(result)
    assert names(result, path), output(result)
    assert not (schemas / "feeds" / "khong_doc_duoc.yaml").exists()
    assert not (schemas / "indicators" / "khong_doc_duoc.yaml").exists()
    assert snapshot(schemas) == before


def test_draft_overwrites_a_feed_only_with_force(tmp_path, monkeypatch):
    schemas = tmp_path / "schemas"
    shutil.copytree(REPO / "schemas", schemas)
    monkeypatch.setenv("IOC_SCHEMAS", str(schemas))
    projects = samples.investment_csv(tmp_path / "du_an.csv", n=30, seed=1)
    tasks = samples.task_export_csv(tmp_path / "cong_viec.csv", n=30, seed=1, labels=samples.TRACKER_LABELS)
    feed = schemas / "feeds" / "ghi_de.yaml"
    first = run("feeds", "draft", projects.path, "--id", "ghi_de")
    assert first.returncode == 0, output(first)
    drafted = feed.read_bytes()
    existing = schemas / "feeds" / "directive_tasks.yaml"
    declared = existing.read_bytes()

    again = run("feeds", "draft", tasks.path, "--id", "ghi_de")
    clash = run("feeds", "draft", tasks.path, "--id", "directive_tasks")

    assert again.returncode == 2 and "Usage:" not in again.stdout + again.stderr, output(again)
    assert feed.read_bytes() == drafted
    assert clash.returncode == 2 and "Usage:" not in clash.stdout + clash.stderr, output(clash)
    assert existing.read_bytes() == declared
    forced = run("feeds", "draft", tasks.path, "--id", "ghi_de", "--force")
    assert forced.returncode == 0, output(forced)
    assert feed.read_bytes() != drafted
    assert yaml.safe_load(feed.read_text(encoding="utf-8"))["id"] == "ghi_de"
    check = run("feeds", "check")
    assert check.returncode == 0, output(check)


# --- D. try on a file that cannot be read ---------------------------------------------------------------------

@pytest.mark.parametrize("case", ["empty file", "neither UTF-8 nor Windows-1258"])
def test_try_on_a_file_that_cannot_be_read_exits_2_naming_it(case, home, tmp_path):
    file_name, write = BAD_INPUTS[case]
    path = write(tmp_path / file_name)
    before = snapshot(home)

    result = run("feeds", "try", "directive_tasks", "--file", path)

    assert result.returncode == 2, output(result)
    assert names(result, path), output(result)
    assert snapshot(home) == before


# --- the shipped file-drop feeds, drafted from the simulator's files ------------------------------------------

def test_drafts_of_the_shipped_file_drop_feeds_load_the_same_rows_as_they_do(tmp_path):
    """Issue 27's target, at two months of the simulator's files (bench/draft_shipped_feeds.py --smoke; six months by
    default): each shipped file-drop feed drafted with its own declaration removed loads the same clean rows, and
    quarantines as many, as the shipped declaration, with no line of the draft edited. (The benchmark's smoke run of
    the suite: tests/test_bench.py leaves it to this test.)"""
    result = subprocess.run([str(REPO / ".venv/bin/python"), str(REPO / "bench/draft_shipped_feeds.py"), "--smoke",
                             "--keep", str(tmp_path / "bench")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, output(result)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    per_feed = {name: figures for line in lines[:-1] for name, figures in line.items()}
    assert set(per_feed) == {f"{f} (unseen)" for f in ("directive_tasks", "dept_monthly_report", "dept_indicators")}
    for name, figures in per_feed.items():
        assert figures["shipped_rows"] > 0 and figures["columns_compared"] >= 7, (name, figures)
        assert figures["same_clean_rows"], (name, figures)
        assert figures["shipped_quarantined"] == figures["draft_quarantined"], (name, figures)
        assert figures["shipped_columns_unmatched"] == [], (name, figures)
