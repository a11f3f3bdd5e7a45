"""Conform stage: map headers and values to the column contract, type them, and explain every rejected row."""
