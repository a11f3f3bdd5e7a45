"""The platform's wording: every message people read (on the wall, from the API, the command line and in the
monthly briefing) in one gettext catalogue per language, `locales/<lang>/LC_MESSAGES/ioc.po`, keyed by
symbolic ids (`kpi.status.red`, `wall.title`, `briefing.subject`…). Vietnamese is the default language.

    text("kpi.status.red")                    → "Không đạt"
    text("wall.units", "en", n=3)             → "3 units" (a message with plural forms is chosen by `n`)
    bilingual("cli.column.period")            → "kỳ / period" (the command line's tables and hints)
    catalogue("en")                           → {id: message}: what the wall is served (GET /api/wording)

Placeholders are Python's str.format fields (`{n}`, `{file}`), the same set in both languages. The catalogues are
read with Babel's .po reader once per process (no compile step, no .mo file). An unknown id raises KeyError: a
message is never shown as its id. Words the readers match in department files (header words, measures, totals
rows) are input vocabulary, not wording: they stay with the readers; declarations keep their own {vi, en} names.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

LOCALES = Path(__file__).with_name("locales")
DOMAIN = "ioc"
LANGUAGES = ("vi", "en")
DEFAULT = "vi"


@dataclass(frozen=True)
class _Catalogue:
    messages: dict[str, str | tuple[str, ...]]  # a message with plural forms: its forms in the .po's order
    plural: Callable[[int], int]  # n → the index of its form (the catalogue's Plural-Forms)


def path(lang: str) -> Path:
    """The .po file of a language."""
    return LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def _read(lang: str) -> _Catalogue:
    if lang not in LANGUAGES:
        raise KeyError(f"no wording in the language {lang!r} (only {', '.join(LANGUAGES)})")
    from babel.messages.pofile import read_po  # lazy: Babel's .po reader, once, when the first message is asked

    with path(lang).open("rb") as f:
        po = read_po(f, domain=DOMAIN)  # plural forms from its own header: no locale data to load
    messages: dict[str, str | tuple[str, ...]] = {}
    for message in po:
        if not message.id:  # the header
            continue
        ident = message.id[0] if isinstance(message.id, tuple | list) else message.id
        strings = message.string
        messages[ident] = tuple(strings) if isinstance(strings, tuple | list) else strings or ""
    return _Catalogue(messages, gettext.c2py(po.plural_expr))


def ids(lang: str = DEFAULT) -> set[str]:
    """Every message id of a language's catalogue."""
    return set(_read(lang).messages)


def text(msg_id: str, lang: str = DEFAULT, /, **params: object) -> str:
    """A message in a language, its {placeholders} filled from `params` (a message with plural forms is chosen by
    `n`). KeyError names an unknown id (or a placeholder the params lack)."""
    book = _read(lang)
    try:
        message = book.messages[msg_id]
    except KeyError:
        raise KeyError(f"no message {msg_id!r} in the {lang} wording (pipelines/wording/locales)") from None
    if isinstance(message, tuple):
        n = params.get("n")
        if not isinstance(n, int):
            raise KeyError(f"the message {msg_id!r} has plural forms: give it n (an int)")
        message = message[min(book.plural(n), len(message) - 1)]
    return message.format(**params) if params else message


def both(msg_id: str, /, **params: object) -> dict[str, str]:
    """A message in every language, as the API and the wall snapshot carry texts: {"vi": …, "en": …}."""
    return {lang: text(msg_id, lang, **params) for lang in LANGUAGES}


def bilingual(msg_id: str, /, **params: object) -> str:
    """A message in every language as one text, "Vietnamese / English": how the command line labels its tables
    and hints for both the centre's staff and its engineers."""
    return " / ".join(text(msg_id, lang, **params) for lang in LANGUAGES)


def catalogue(lang: str = DEFAULT) -> dict[str, str | list[str]]:
    """Every message of a language, by id, unfilled (what the wall is served): a message with plural forms in a
    language that has them is the list of its forms, in the order of the .po's Plural-Forms (English: one,
    other)."""
    return {
        ident: (list(message) if len(message) > 1 else message[0]) if isinstance(message, tuple) else message
        for ident, message in sorted(_read(lang).messages.items())
    }
