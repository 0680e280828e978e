"""Shipped data of risk assessment: the pre-works checklist of metro construction."""
