"""Windows-1258 encoding of Vietnamese text: precomposed base letters followed by combining tone marks."""

from __future__ import annotations

import unicodedata

# The five Vietnamese tone marks; Windows-1258 has them as combining characters.
TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")


def _cp1258_form(char: str) -> str:
    """`char` itself if Windows-1258 has it, else its base letter (â, ê, ơ, ư, ă…) followed by its tone mark."""
    try:
        char.encode("cp1258")
        return char
    except UnicodeEncodeError:
        decomposed = unicodedata.normalize("NFD", char)
        base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in TONE_MARKS))
        return base + "".join(c for c in decomposed if c in TONE_MARKS)


def decode_cp1258(data: bytes) -> str:
    """Windows-1258 bytes back to NFC text."""
    return unicodedata.normalize("NFC", data.decode("cp1258"))


def encode_cp1258(text: str) -> bytes:
    """Encode `text` as Windows-1258; raises ValueError if a character cannot be written or read back."""
    nfc = unicodedata.normalize("NFC", text)
    try:
        data = "".join(_cp1258_form(char) for char in nfc).encode("cp1258")
    except UnicodeEncodeError as error:
        raise ValueError(f"cannot write {error.object[error.start:error.end]!r} in Windows-1258") from error
    if decode_cp1258(data) != nfc:
        raise ValueError(f"Windows-1258 round trip changed the text {text[:60]!r}")
    return data
