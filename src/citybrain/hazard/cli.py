"""`citybrain hazard ...`: regulations import and hazard housekeeping."""

from __future__ import annotations

import typer

app = typer.Typer(help="regulations import and hazard housekeeping.", no_args_is_help=True)
