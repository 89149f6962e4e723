"""The runners: ingest, pipeline, sender and timers, each claiming work from the database."""
