"""pytest plugin (entry point ``pytest11``): fixtures for tests of cps_ledger books."""
