"""Names for what a draft declares: snake_case ASCII column names and codes from Vietnamese labels."""

from __future__ import annotations

import re
import unicodedata

_NOT_NAME = re.compile(r"[^a-z0-9]+")


def ascii_words(text: str) -> str:
    """The text without tones and diacritics, đ as d: `Ngày hoàn thành` → `Ngay hoan thanh`."""
    text = text.replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def snake_name(label: str, limit: int = 40) -> str:
    """A contract column name from a header label: `Ngày hoàn thành` → `ngay_hoan_thanh` (a digit first gets c_)."""
    name = _NOT_NAME.sub("_", ascii_words(label).lower()).strip("_")[:limit].strip("_") or "column"
    return f"c_{name}" if name[0].isdigit() else name


def upper_code(text: str, limit: int = 32) -> str:
    """A code from a name: `Số lượt khám chữa bệnh` → `SO_LUOT_KHAM_CHUA_BENH`."""
    code = snake_name(text, limit).upper()
    return code if code[0].isalpha() else f"X_{code}"


def unique(name: str, taken: set[str]) -> str:
    """The name, or name_2, name_3… if it is taken; the result is added to `taken`."""
    found, n = name, 2
    while found in taken:
        found, n = f"{name}_{n}", n + 1
    taken.add(found)
    return found
