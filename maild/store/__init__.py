"""The database: engine, models, queries and the outbox."""
