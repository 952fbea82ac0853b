"""The scanner's domain: pure scan use cases, pipeline, decision rules, seed-000 derivation, results."""
