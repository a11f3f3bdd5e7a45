"""Load stage: raw history, batches, quarantine and current data in the DuckDB warehouse."""
