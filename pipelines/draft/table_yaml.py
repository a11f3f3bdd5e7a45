"""A plain table's draft written as its feed declaration."""

from __future__ import annotations

from pipelines.draft.table import TableDraft
from pipelines.draft.yaml_text import YamlText


def write_columns(out: YamlText, draft: TableDraft) -> None:
    out.key(0, "columns")
    for slot in draft.slots:
        inferred = slot.inferred
        column: dict = {"name": slot.name, "type": inferred.type}
        if inferred.nullable:
            column["nullable"] = True
        column["labels"] = slot.labels
        if inferred.references:
            column["references"] = "org_unit"
        if inferred.formats:
            column["formats"] = inferred.formats
        if slot.codes:
            column["enum"] = list(dict.fromkeys(slot.codes.values()))
            column["values"] = slot.codes
        why = f"{inferred.why}; {slot.name_why}"
        out.item(2, column, why=why, todo="; ".join(slot.todo) or None)


def write_load(out: YamlText, draft: TableDraft) -> None:
    out.key(0, "load")
    out.key(2, "key", draft.key, why=draft.key_why or None, todo=draft.key_todo)
    if draft.replace:
        out.key(
            2,
            "replace",
            draft.replace,
            why="a file replaces the rows its unit and period sent before (a corrected report)",
        )
    elif draft.version:
        out.key(2, "version", draft.version, why="the latest version of each row wins (its header says an update time)")


def write_checks(out: YamlText, draft: TableDraft) -> None:
    checks: list[tuple[dict, str]] = []
    names = draft.file_names
    if names and names.pattern:
        checks.append(({"check": "rows_match_file_name"}, "every row's unit and period are those of the file's name"))
    as_of = next((s.name for s in draft.slots if s.inferred.type == "month" and not s.inferred.nullable), None) or next(
        (s.name for s in draft.slots if s.inferred.type == "date" and not s.inferred.nullable), None
    )
    for slot in draft.slots:
        if slot.inferred.references:
            check = {"check": "unit_code_is_active", "column": slot.name}
            if as_of:
                check["as_of"] = as_of
            checks.append((check, "a unit merged away does not report after it closed"))
    if checks:
        out.key(0, "checks")
    else:
        out.key(0, "checks", [])
    for check, why in checks:
        out.item(2, check, why=why)
    out.comment(
        "more checks (values_between, column_pair_in_order, row_count_between…): see docs/validation.md, The checks",
        indent=2,
    )
