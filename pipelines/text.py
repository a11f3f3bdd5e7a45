"""Text rules shared by every stage: Unicode NFC, header-label keys, ${VAR:-default} expansion, masking."""

from __future__ import annotations

import os
import re
import unicodedata
from urllib.parse import urlsplit, urlunsplit

_SPACES = re.compile(r"\s+")
_ENV_REF = re.compile(r"\$\{([A-Z][A-Z0-9_]*)(?::-([^}]*))?\}")


def nfc(text: str) -> str:
    """Vietnamese text in composed form (sources send NFD or NFC; we store NFC)."""
    return unicodedata.normalize("NFC", text)


def label_key(label: str) -> str:
    """Key under which a header or value label is matched: NFC, case-folded, single-spaced."""
    return _SPACES.sub(" ", nfc(label).replace("\u00a0", " ")).strip().strip(":*").strip().casefold()


class MissingEnvironmentVariable(LookupError):
    """A declaration refers to an environment variable that is not set and has no default."""


def expand_env(text: str) -> str:
    """Expand ${VAR} and ${VAR:-default} from the environment."""

    def value(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = os.environ.get(name)
        if found:
            return found
        if default is not None:
            return default
        raise MissingEnvironmentVariable(f"environment variable {name} is not set")

    return _ENV_REF.sub(value, text)


def mask_url(url: str) -> str:
    """The URL with any password replaced by ***, safe to print and store."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def column_letter(index: int) -> str:
    """Spreadsheet letter of a 0-based column index (0 → A, 27 → AB)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def vi_number(value: float | int, decimals: int = 0) -> str:
    """1234.5 → 1.234,5 (Vietnamese grouping and decimal comma)."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")
