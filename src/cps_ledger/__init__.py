"""cps_ledger: a double-entry commission ledger for CPS community e-commerce."""
