"""Citizen reports (群防群治): Open311 GeoReport v2, the phone reporting page, duplicates, cases, feedback."""
