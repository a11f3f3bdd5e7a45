"""A declaration written as YAML text line by line, so that each line can say why, or what is left to do."""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

_MISSING = object()


def flow(value: object) -> str:
    """A value as YAML on one line: {a: 1, b: [x, y]}, quoted only where YAML needs it."""
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, sort_keys=False, width=1 << 30)
    return text.removesuffix("\n").removesuffix("\n...").strip()


@dataclass
class YamlText:
    """Lines of YAML, each with an optional comment: why (a note), or `TODO: …` (what a person must decide)."""

    lines: list[tuple[str, str | None, bool]] = field(default_factory=list)  # (text, comment, is a TODO)

    def comment(self, text: str, indent: int = 0) -> None:
        for part in text.splitlines() or [""]:
            self.lines.append((" " * indent + "#" + (f" {part}" if part else ""), None, False))

    def key(
        self, indent: int, key: str, value: object = _MISSING, why: str | None = None, todo: str | None = None
    ) -> None:
        text = " " * indent + f"{key}:" + ("" if value is _MISSING else f" {flow(value)}")
        self._add(text, why, todo)

    def item(self, indent: int, value: object, why: str | None = None, todo: str | None = None) -> None:
        self._add(" " * indent + f"- {flow(value)}", why, todo)

    def _add(self, text: str, why: str | None, todo: str | None) -> None:
        if todo:
            self.lines.append((text, f"TODO: {todo}" + (f" ({why})" if why else ""), True))
        else:
            self.lines.append((text, why, False))

    def render(self) -> str:
        return "".join(f"{text}  # {comment}\n" if comment else f"{text}\n" for text, comment, _ in self.lines)

    @property
    def todos(self) -> list[tuple[int, str]]:
        """(1-based line, what is to do) of every TODO line."""
        # (a TODO line always has its comment)
        return [
            (n, comment) for n, (_, comment, todo) in enumerate(self.lines, start=1) if todo and comment is not None
        ]
