"""Record generators of the simulated department systems, one module per canonical feed."""
