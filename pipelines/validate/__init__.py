"""Validate stage: the feed's checks compiled into a Great Expectations suite, run on every batch."""
