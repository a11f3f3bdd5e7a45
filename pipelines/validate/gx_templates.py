"""Data Docs' page templates compiled once per validation service, not once per load.

GE renders Data Docs with Jinja through a new Environment per view (DefaultJinjaView), so each process parses
and compiles the templates it renders again: of the 0.2 s a small load's Data Docs took in a worker of the
service, 0.15 s was compiling GE's 42 templates (profiled, 4 December). Jinja keeps compiled templates in a
bytecode cache of the application's choosing (Environment.bytecode_cache): here one in memory, shared by every
view of the process, which the validation service fills before it forks, so that its workers inherit the
compiled code. A template whose source changed (its checksum) is compiled again, as Jinja does.
"""

from __future__ import annotations

from functools import cache


@cache
def cache_compiled_templates() -> None:
    """Give every GE view of this process the shared cache (once per process)."""
    from great_expectations.render.view import view  # lazy: Great Expectations costs seconds: in its worker only

    upstream = view.DefaultJinjaView.__init__

    def init(self, *args, **kwargs) -> None:
        upstream(self, *args, **kwargs)
        self.env.bytecode_cache = _compiled()

    # Patched with setattr: mypy rightly refuses an assignment to a method.
    setattr(view.DefaultJinjaView, "__init__", init)  # noqa: B010


def compile_templates() -> int:
    """Compile every template GE's Data Docs may render into the cache now; how many."""
    from great_expectations.render.view.view import DefaultJinjaView  # lazy: the same

    cache_compiled_templates()
    env = DefaultJinjaView().env
    names = env.list_templates()
    for name in names:
        env.get_template(name)
    return len(names)


@cache
def _compiled():
    from jinja2 import BytecodeCache  # lazy: with GE, in its worker only

    class InMemory(BytecodeCache):
        """Compiled templates by Jinja's key (the template's name), with the checksum of the source they were
        compiled from."""

        def __init__(self) -> None:
            self.codes: dict[str, tuple[str, object]] = {}

        def load_bytecode(self, bucket) -> None:
            stored = self.codes.get(bucket.key)
            if stored is not None and stored[0] == bucket.checksum:
                bucket.code = stored[1]

        def dump_bytecode(self, bucket) -> None:
            self.codes[bucket.key] = (bucket.checksum, bucket.code)

    return InMemory()
