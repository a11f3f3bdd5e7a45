"""The monthly briefing for the leaders: its content from the warehouse, written as XLSX and as PDF."""
