"""Tools for audit tests of cps_ledger books: strategies, a reference model, a state machine
and pytest fixtures. Public and stable: users run them against their own books."""
