"""Platform plumbing shared by every domain: settings, database, clock, bus, errors, ids (no domain logic)."""
