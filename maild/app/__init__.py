"""Entry points: the daemon's wiring and loop, the CLI, doctor and the importer."""
