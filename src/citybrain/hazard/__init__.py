"""Dual prevention (双重预防): hazards (隐患) from discovery to closure, regulations, responsibility."""
