"""Storage adapters of moderation."""
