"""The error an extractor raises when a source cannot be read."""


class SourceError(Exception):
    """A source is unreachable, refused us, or answered nonsense; the message names the feed,
    what happened, and how to fix it. The last good data keeps serving."""
