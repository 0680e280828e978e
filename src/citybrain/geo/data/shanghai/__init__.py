"""Bundled base-geography data files (see DATA-LICENSES.md)."""
