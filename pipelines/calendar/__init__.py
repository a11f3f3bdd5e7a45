"""Reporting calendar: period types, Decree 09/2019 cut-off windows, working days, deadlines."""
