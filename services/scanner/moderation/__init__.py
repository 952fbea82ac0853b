"""Moderation inside the scanner: decisions, the review queue, the audit trail, statistics, webhooks."""
