"""Department simulator: plays every department server (HTTP APIs, file drops, a finance database)."""
