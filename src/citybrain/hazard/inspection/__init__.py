"""Inspections (排查): plans, checklists per asset class, inspection records; a failed item makes a hazard."""
