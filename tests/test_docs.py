"""The documentation keeps up with the code: README.md is the front door (under 300 lines) and docs/*.md hold one
page per topic. Every `ioc` command (read from the Typer app itself) and every key a declaration may hold (read
from the pydantic models of schemas/: feeds with their sources, paginations, withdrawals and checks, organisation
units, indicator catalogues, KPI files, the briefing's letterhead) must be named in them, and every relative link
must lead to a file that exists. No server, no warehouse: a second or two."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
import typer
from pydantic import BaseModel

from pipelines.cli import app
from pipelines.declarations import checks
from pipelines.declarations.briefing import Briefing
from pipelines.declarations.indicators import IndicatorCatalogue
from pipelines.declarations.kpis import KpiFile
from pipelines.declarations.models import Feed, OrgUnits

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = REPO / "docs"
MAX_README_LINES = 300

# Declaration keys deliberately left out of the documentation, each with its reason. Keep it empty: a key worth
# declaring is worth a line saying what it does.
UNDOCUMENTED_KEYS: dict[str, str] = {}

# The declaration files' top-level models (nested models are found from their annotations).
DECLARATION_MODELS = (Feed, OrgUnits, IndicatorCatalogue, KpiFile, Briefing, *checks.CHECK_CLASSES, checks.OutlierRule)
# Fields whose single literal value selects a member of a discriminated union: the value is a name to document too.
DISCRIMINATORS = ("kind", "check")

FENCE = re.compile(r"^(```|~~~)(.*)$")
INLINE_CODE = re.compile(r"(`+)(.+?)\1", re.DOTALL)
IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
DOTTED_PATH = re.compile(rf"{IDENTIFIER}(?:\[\])?(?:\.{IDENTIFIER}(?:\[\])?)*")
FILE_NAME = re.compile(r"\.(py|ya?ml|md|json|csv|xlsx|png|parquet|duckdb|js|html|css|txt|svg|toml|lock|sh)$")
YAML_KEY = re.compile(rf"(?:^|[{{,\[]|-\s)\s*({IDENTIFIER}):(?=\s|$)")
MD_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_LINK = re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']""")


def pages() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def split_fences(text: str) -> tuple[str, list[tuple[str, str]]]:
    """The page's prose (fenced blocks blanked out) and its fenced blocks as (info string, body)."""
    prose, blocks, fence, info, body = [], [], None, "", []
    for line in text.splitlines():
        match = FENCE.match(line.strip())
        if fence is None and match:
            fence, info, body = match.group(1), match.group(2).strip().lower(), []
            prose.append("")
        elif fence is not None and line.strip().startswith(fence) and not line.strip()[len(fence) :].strip():
            blocks.append((info, "\n".join(body)))
            fence = None
            prose.append("")
        elif fence is not None:
            body.append(line)
        else:
            prose.append(line)
    return "\n".join(prose), blocks


def inline_code(text: str) -> list[str]:
    prose, _ = split_fences(text)
    return [m.group(2).strip() for m in INLINE_CODE.finditer(prose)]


def documentation() -> dict[Path, str]:
    return {page: page.read_text(encoding="utf-8") for page in pages()}


# --- the ioc commands -------------------------------------------------------------------------------------------


def _group_name(group) -> str:
    name = group.name if isinstance(group.name, str) else group.typer_instance.info.name
    assert isinstance(name, str), f"a command group of `ioc` has no name: {group!r}"
    return name


def ioc_commands(typer_app: typer.Typer = app, prefix: str = "") -> list[str]:
    """Every command of the Typer app, by its full name (`feeds draft`), as typer names it: the declared name,
    else the callback's with `_` as `-`."""
    names = []
    for command in typer_app.registered_commands:
        if command.hidden:
            continue
        name = command.name if isinstance(command.name, str) else command.callback.__name__.replace("_", "-")
        names.append(prefix + name)
    for group in typer_app.registered_groups:
        if not group.hidden:
            names += ioc_commands(group.typer_instance, prefix + _group_name(group) + " ")
    return names


def click_commands(command, prefix: str = "") -> list[str]:
    if not hasattr(command, "commands"):
        return [prefix.strip()]
    return [
        n for name, sub in command.commands.items() if not sub.hidden for n in click_commands(sub, f"{prefix}{name} ")
    ]


def documented_commands(text: str) -> set[str]:
    """Each `ioc …` inline code span of the pages, by the words it begins with (arguments follow)."""
    said = set()
    for span in inline_code(text):
        words = span.split()
        if words and words[0] == "ioc":
            said |= {" ".join(words[1:n]) for n in range(2, len(words) + 1)}
    return said


def test_command_names_are_typers_own():
    """The walk over registered commands and groups names what `ioc --help` offers, no more, no less."""
    assert sorted(ioc_commands()) == sorted(click_commands(typer.main.get_command(app)))
    assert {"feeds draft", "kpi compute", "warehouse init", "validation-service"} <= set(ioc_commands())


def test_every_ioc_command_is_documented():
    said = set().union(*(documented_commands(text) for text in documentation().values()))
    missing = [name for name in ioc_commands() if name not in said]
    assert not missing, (
        "`ioc` commands named nowhere in README.md or docs/*.md as `ioc <command> …` (add them to docs/cli.md): "
        + ", ".join(missing)
    )


# --- the declaration keys ---------------------------------------------------------------------------------------


def _models_in(annotation) -> list[type[BaseModel]]:
    """The BaseModel classes an annotation holds: itself, or inside Annotated, unions, lists and dicts."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models_in(arg)]


def declaration_keys() -> dict[str, set[str]]:
    """Every key a declaration may hold (a field's alias where it has one), with where it is declared
    (Model.field), and the names that select a member of a union (a source's, pagination's or withdrawal's
    `kind`, a check's `check`)."""
    keys: dict[str, set[str]] = {}
    seen: set[type[BaseModel]] = set()
    todo = list(DECLARATION_MODELS)
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for field_name, field in model.model_fields.items():
            key = field.alias or field_name
            keys.setdefault(key, set()).add(f"{model.__name__}.{key}")
            literal = field.annotation
            if (
                field_name in DISCRIMINATORS
                and typing.get_origin(literal) is typing.Literal
                and len(typing.get_args(literal)) == 1
            ):
                for value in typing.get_args(literal):
                    keys.setdefault(value, set()).add(f"{model.__name__}.{key} = {value}")
            todo += _models_in(field.annotation)
    return keys


def documented_keys(text: str) -> set[str]:
    """The names the pages give as keys: an inline code span that is a key or a dotted path of keys
    (`source.limits`, `columns[].labels`), a key written `key: value` inside inline code (`{kind: status}`), and
    `key:` in a fenced YAML example."""
    said = set()
    for span in inline_code(text):
        if DOTTED_PATH.fullmatch(span) and not FILE_NAME.search(span):  # `indicators.py` names no key
            said |= set(re.findall(IDENTIFIER, span))
        said |= set(YAML_KEY.findall(span))
        said |= set(re.findall(rf"\b(?:kind|check):\s*({IDENTIFIER})", span))
        # a flow mapping's keys listed: `{kind: status, column, values}`
        if span.startswith("{") and span.endswith("}"):
            said |= {
                m for part in re.split(r"[,|]", span[1:-1]) if (m := part.strip(" \\")) and DOTTED_PATH.fullmatch(m)
            }
    _, blocks = split_fences(text)
    for info, body in blocks:
        if info in ("yaml", "yml"):
            for line in body.splitlines():
                line = re.sub(r"\s#.*$", "", line)
                said |= set(YAML_KEY.findall(line))
                said |= set(re.findall(rf"\b(?:kind|check):\s*({IDENTIFIER})", line))
    return said


def test_declaration_models_are_found():
    """The walk reaches the nested models: a source's limits, a form's measures, a KPI's thresholds, a check."""
    keys = declaration_keys()
    for key in (
        "max_compression_ratio",
        "unit_of_measure",
        "relative_to_target",
        "tolerance_pct",
        "next_cursor_path",
        "at_field",
        "from",
        "issuer_parent",
        "successor",
        "aliases",
        "tombstones",
        "ratio_matches",
    ):
        assert key in keys, key
    assert "from_" not in keys  # a field's alias is its key


def test_every_declaration_key_is_documented():
    said = set().union(*(documented_keys(text) for text in documentation().values()))
    keys = declaration_keys()
    missing = sorted(key for key in keys if key not in said and key not in UNDOCUMENTED_KEYS)
    assert not missing, "declaration keys documented nowhere in README.md or docs/*.md:\n" + "\n".join(
        f"  {key} ({', '.join(sorted(keys[key]))})" for key in missing
    )
    stale = sorted(key for key in UNDOCUMENTED_KEYS if key not in keys or key in said)
    assert not stale, f"exemptions no longer needed: {stale}"


# --- links and length -------------------------------------------------------------------------------------------


def relative_links(text: str) -> list[str]:
    prose, _ = split_fences(text)
    prose = INLINE_CODE.sub("", prose)
    links = MD_LINK.findall(prose) + HTML_LINK.findall(prose)
    return [link for link in links if not re.match(r"^[a-z][a-z0-9+.-]*:", link, re.IGNORECASE)]


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_leads_to_a_file(page):
    text = page.read_text(encoding="utf-8")
    broken = []
    for link in relative_links(text):
        target, _, anchor = link.partition("#")
        path = (page.parent / target).resolve() if target else page  # `#anchor`: this page
        if not path.exists():
            broken.append(link)
        elif anchor and path.suffix == ".md" and not _has_anchor(path.read_text(encoding="utf-8"), anchor):
            broken.append(link)
    assert not broken, f"{page.relative_to(REPO)} links to what does not exist: {broken}"


def _has_anchor(text: str, anchor: str) -> bool:
    """An explicit <a id> anchor, or a heading's GitHub slug."""
    if re.search(rf"""id\s*=\s*["']{re.escape(anchor)}["']""", text):
        return True
    prose, _ = split_fences(text)
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*$", prose, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        if slug == anchor:
            return True
    return False


def test_docs_exist_and_readme_links_every_page():
    docs = sorted(DOCS.glob("*.md"))
    assert docs, "docs/ holds no topic page"
    linked = {
        (README.parent / link.partition("#")[0]).resolve()
        for link in relative_links(README.read_text(encoding="utf-8"))
        if not link.startswith("#")
    }
    unlinked = [str(page.relative_to(REPO)) for page in docs if page.resolve() not in linked]
    assert not unlinked, f"README.md does not link these pages: {unlinked}"


def test_readme_is_a_front_door():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) < MAX_README_LINES, f"README.md has {len(lines)} lines; keep it under {MAX_README_LINES}"
