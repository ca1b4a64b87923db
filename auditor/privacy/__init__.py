"""Privacy requirements from policies, DP accounting and the privacy ledger."""
