"""`citybrain analyze ...`: precursor analysis (e.g. the NYC collisions validation)."""

from __future__ import annotations

import typer

app = typer.Typer(help="precursor analysis (e.g. the NYC collisions validation).", no_args_is_help=True)
