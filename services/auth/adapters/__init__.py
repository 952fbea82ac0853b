"""Storage adapters of the auth service."""
