"""Organisations: government departments, enterprises, and what one department shares with another."""
