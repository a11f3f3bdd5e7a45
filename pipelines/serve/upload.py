"""A multipart upload read from the request as it arrives: the `file` part written straight to disk and cut
at a limit the moment it is passed, nothing else kept.

FastAPI's UploadFile reads (and spools) the whole body before the handler runs, so a stranger could make
the server take in any amount before being refused. Here the handler decides on the headers first and only
then reads, through python-multipart's streaming parser (the one Starlette uses), block by block."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from python_multipart.multipart import MultipartParser, parse_options_header

from pipelines.serve.body_limit import BodyTooLarge
from pipelines.wording import text

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks  # a TypedDict defined for type checkers only

PART_OVERHEAD = 64 << 10  # what a body may hold beyond its file: boundaries, part headers, small fields
HEADERS_PEEK = 16 << 10  # what is read of a body to learn the file's name, at most


class TooLarge(Exception):
    """The body went over its limit (the upload is cut there)."""


class NotMultipart(Exception):
    """The body is not a multipart form (or it is cut short): why, as a message of the wording (its id and
    params, for the refusal in both languages; the exception's own text is the English)."""

    def __init__(self, msg_id: str, **params: object):
        super().__init__(text(msg_id, "en", **params))
        self.msg_id, self.params = msg_id, params


@dataclass
class Upload:
    file_name: str | None = None  # the `file` part's file name, as the client sent it
    size: int = 0  # bytes of the `file` part written
    found: bool = False  # a `file` part was sent


def boundary(content_type: str | None) -> bytes:
    kind, options = parse_options_header(content_type or "")
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        raise NotMultipart("submit.refused.not_multipart")
    return options[b"boundary"]


class _Parts:
    """The parser's callbacks: which part is which, and the `file` part's bytes to `sink`."""

    def __init__(self, sink, max_bytes: int, field: str):
        self.sink, self.max_bytes, self.field = sink, max_bytes, field
        self.upload = Upload()
        self.header_name, self.header_value = b"", b""
        self.headers: dict[bytes, bytes] = {}
        self.in_file = False
        self.named = False  # the file part's headers have been read

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self.part_begin,
            "on_header_field": self.header_field,
            "on_header_value": self.header_value_,
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_part_data": self.part_data,
        }

    def part_begin(self) -> None:
        self.headers, self.in_file = {}, False

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def header_value_(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def header_end(self) -> None:
        self.headers[self.header_name.lower()] = self.header_value
        self.header_name, self.header_value = b"", b""

    def headers_finished(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        if options.get(b"name") == self.field.encode() and not self.upload.found:
            self.in_file = self.upload.found = self.named = True
            name = options.get(b"filename")
            self.upload.file_name = name.decode("utf-8", "replace") if name is not None else None

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if not self.in_file:
            return
        self.upload.size += end - start
        if self.upload.size > self.max_bytes:
            raise TooLarge()
        if self.sink is not None:
            self.sink.write(data[start:end])


async def peek_file_name(stream: AsyncIterator[bytes], content_type: str | None, field: str = "file") -> str | None:
    """The `file` part's file name, read from at most the body's first HEADERS_PEEK bytes (None if not there)."""
    try:
        parts = _Parts(None, HEADERS_PEEK, field)
        parser = MultipartParser(boundary(content_type), parts.callbacks())
        read = 0
        async for block in stream:
            parser.write(block[: HEADERS_PEEK - read])
            read += len(block)
            if parts.named or read >= HEADERS_PEEK:
                break
        return parts.upload.file_name
    except Exception:  # a name is only a hint here (which unit a failed attempt claims)
        return None


async def receive_file(
    stream: AsyncIterator[bytes], content_type: str | None, destination: Path, max_bytes: int, field: str = "file"
) -> Upload:
    """Write the `file` part of a multipart body to `destination` as it arrives; TooLarge the moment the file
    passes max_bytes (or the whole body max_bytes + PART_OVERHEAD); NotMultipart if it is not a form."""
    parser_boundary = boundary(content_type)
    total = 0
    with open(destination, "wb") as sink:
        parts = _Parts(sink, max_bytes, field)
        parser = MultipartParser(parser_boundary, parts.callbacks())
        try:
            async for block in stream:
                total += len(block)
                if total > max_bytes + PART_OVERHEAD:
                    raise TooLarge()
                parser.write(block)
            parser.finalize()
        except (TooLarge, BodyTooLarge):
            raise
        except Exception as exc:  # python-multipart's parse errors
            raise NotMultipart("submit.refused.multipart_unreadable", error=exc) from None
    return parts.upload
