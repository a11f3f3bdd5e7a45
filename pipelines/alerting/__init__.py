"""Alerting: Prometheus rules generated from the declarations, and the Alertmanager configuration."""
