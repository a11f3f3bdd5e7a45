"""Rules of the code that no linter states: an import inside a function is there on purpose (issue 28)."""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _comments(source: str) -> dict[int, str]:
    """Line number → the comment on that line."""
    return {
        token.start[0]: token.string
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT
    }


def _is_command(function: ast.AST) -> bool:
    """A Typer command of the command line (`@app.command()`, `@feeds.command("draft")`…)."""
    return any(
        isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr == "command"
        for d in getattr(function, "decorator_list", [])
    )


def _local_imports(tree: ast.Module):
    """(import node, the function it is in) for every import inside a function, outside `if TYPE_CHECKING:`."""
    def visit(node: ast.AST, function: ast.AST | None):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                yield from visit(child, function if function is not None and _is_command(function) else child)
            elif isinstance(child, ast.Import | ast.ImportFrom):
                if function is not None:
                    yield child, function
            else:
                yield from visit(child, function)

    yield from visit(tree, None)


def unexplained_local_imports(path: Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    comments, lines = _comments(source), source.splitlines()
    found = []
    for node, function in _local_imports(ast.parse(source)):
        if path.name == "cli.py" and _is_command(function):
            continue  # a command imports its own stage: `ioc --help` and every other command stay quick
        # the reason: on the import's own line(s), or on the comment line above it or above its block of imports
        said = any(n in comments for n in range(node.lineno, (node.end_lineno or node.lineno) + 1))
        above = node.lineno - 1
        while not said and above >= 1:
            text = lines[above - 1].strip()
            if above in comments and text.startswith("#"):
                said = True
            elif text.startswith(("import ", "from ")) or text.endswith(",") or text in (")", ""):
                above -= 1  # within the block of imports
                continue
            break
        if not said:
            found.append(f"{path.relative_to(REPO)}:{node.lineno} {ast.unparse(node)} (in {function.name})")
    return found


def test_every_import_inside_a_function_says_why_it_waits():
    """An import inside a function is deliberately lazy (Great Expectations, Airflow, Playwright, fpdf… cost seconds
    a process that does not need them should not pay; a command's own stage) and says so beside it; any other import
    belongs at the top of its module, where the layering contracts (pyproject.toml) see it plainly."""
    found = [line for path in sorted((REPO / "pipelines").rglob("*.py")) for line in unexplained_local_imports(path)]
    assert not found, f"{len(found)} imports inside functions without a reason:\n" + "\n".join(found)
