"""SQLAlchemy 2 tables, engine and dialect set-up, and the repositories built on them."""
