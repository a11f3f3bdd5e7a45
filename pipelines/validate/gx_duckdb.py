"""Great Expectations' SQL path on DuckDB (through duckdb-engine), made to work with two small adaptations.

GE 1.24 has no DuckDB engine of its own (a native one is an open upstream pull request, #12084), and
its SQLAlchemy engine fails on duckdb-engine in two ways:
- it reads a query's result after closing the connection, and duckdb-engine drops pending results on
  the rollback that closing does, so every metric comes back empty (upstream #11579): the result is
  buffered before the connection closes;
- its regex expectations know each dialect's regex operator and not DuckDB's (it hands them no dialect
  module for DuckDB at all): DuckDB's `regexp_matches` (RE2, a search, as GE's other dialects do) is
  given where GE knows no dialect — here, only DuckDB is ever validated through SQL.
Applied once per process, before the first validation; other dialects are left to GE.
"""

from __future__ import annotations

from functools import cache


@cache
def adapt() -> None:
    import sqlalchemy as sa  # lazy: SQLAlchemy and Great Expectations cost seconds: imported in GE's worker only
    from great_expectations.execution_engine import sqlalchemy_execution_engine as engine_module  # lazy: the same
    from great_expectations.expectations.metrics import util  # lazy: the same
    from great_expectations.expectations.metrics.column_map_metrics import (
        column_values_match_regex,
        column_values_not_match_regex,
    )  # lazy: the same

    def execute_query(self, query):
        with self.get_connection() as connection:
            result = self._execute_query_with_recovery(connection, query)
            return result.freeze()() if connection.dialect.name == "duckdb" else result

    # Patched with setattr: mypy rightly refuses an assignment to a method or to a module's function.
    setattr(engine_module.SqlAlchemyExecutionEngine, "execute_query", execute_query)  # noqa: B010

    upstream = util.get_dialect_regex_expression

    def regex_expression(column, regex, dialect, positive=True):
        if dialect is None or _dialect_name(dialect) == "duckdb":
            matches = sa.func.regexp_matches(column, sa.literal(regex))
            return matches if positive else sa.not_(matches)
        return upstream(column, regex, dialect, positive)

    for module in (util, column_values_match_regex, column_values_not_match_regex):
        setattr(module, "get_dialect_regex_expression", regex_expression)  # noqa: B010


def _dialect_name(dialect) -> str | None:
    """GE passes a dialect module, class or instance."""
    for candidate in (dialect, getattr(dialect, "dialect", None)):
        name = getattr(candidate, "name", None)
        if isinstance(name, str):
            return name
    module = getattr(dialect, "__name__", "")
    return "duckdb" if "duckdb" in module else None
