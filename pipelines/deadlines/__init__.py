"""Deadline tracking: expected vs received reports, and directive tasks against their due dates."""
