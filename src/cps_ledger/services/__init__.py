"""Use cases, each one database transaction (a unit of work)."""
