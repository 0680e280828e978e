"""Safety training for staff and enterprise safety officers: courses, sessions, attendance, certificates."""
