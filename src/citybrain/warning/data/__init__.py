"""Bundled CAP XML schemas (see DATA-LICENSES.md)."""
