"""Data platform of the provincial smart operations centre."""
