"""`citybrain report ...`: Open311 API keys and report housekeeping."""

from __future__ import annotations

import typer

app = typer.Typer(help="Open311 API keys and report housekeeping.", no_args_is_help=True)
