"""The append-only audit log: every write, accepted or rejected (who, what, when, from where)."""
