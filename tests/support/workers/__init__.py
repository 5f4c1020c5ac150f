"""Scripts the integration tests run in real OS processes (crashes, concurrency)."""
