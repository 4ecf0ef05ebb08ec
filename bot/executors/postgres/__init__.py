"""Postgres checks and the terminate-idle fix, through asyncpg (the `postgres` extra)."""
