"""`ioc serve`: the exporter's HTTP server (/metrics, /healthz)."""
