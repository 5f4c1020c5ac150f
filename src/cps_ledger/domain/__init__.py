"""Pure business logic: no SQLAlchemy, no I/O. Unit-testable without a database."""
