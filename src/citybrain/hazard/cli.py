"""`citybrain hazard ...`: regulations import and listing, and one sweep of hazard reminders and escalations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

app = typer.Typer(help="regulations import and hazard housekeeping.", no_args_is_help=True)
regulations_app = typer.Typer(help="Laws, regulations and rules that hazards cite.", no_args_is_help=True)
app.add_typer(regulations_app, name="regulations")


@contextmanager
def _session() -> Iterator[Session]:
    """A committing session on the configured database, whose connections are closed afterwards."""
    from citybrain.cli import _database, _settings  # imported late: citybrain.cli imports this module

    database = _database(_settings())
    try:
        with database.session() as s:
            yield s
    finally:
        database.dispose()


@regulations_app.command("import")
def regulations_import(file: Annotated[Path, typer.Argument(help="a regulations YAML file", exists=True,
                                                            dir_okay=False, readable=True)]) -> None:
    """Import (add or update) regulations and clauses from a YAML file; errors name the line and path."""
    from citybrain.cli import console, err
    from citybrain.core.errors import Invalid
    from citybrain.hazard import regulations

    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        err.print(f"[red]{file}: not UTF-8 text[/]")
        raise typer.Exit(1) from None
    try:
        with _session() as s:
            result = regulations.import_text(session=s, now=datetime.now(UTC), text=text, source=file.name)
    except Invalid as exc:
        err.print(f"[red]{exc.detail}[/]")
        for e in exc.errors[1:]:
            err.print(f"  {e.field}: {e.message}")
        raise typer.Exit(1) from None
    console.print(f"regulations: {result.regulations_added} added, {result.regulations_updated} updated; "
                  f"clauses: {result.clauses_added} added, {result.clauses_updated} updated")


@regulations_app.command("list")
def regulations_list() -> None:
    """List the stored regulations and how many clauses each has."""
    from rich.table import Table

    from citybrain.cli import console
    from citybrain.hazard import regulations

    with _session() as s:
        rows = regulations.list_regulations(session=s)
        clauses = regulations.clauses_of(session=s, regulation_ids=[r.id for r in rows])
        table = Table("id", "code", "kind", "title", "number", "effective", "clauses")
        table.columns[1].no_wrap = True  # the code is what a user types next: never cut it
        for r in rows:
            table.add_row(str(r.id), r.code, r.kind, r.title_zh, r.number, str(r.effective_on or ""),
                          str(len(clauses[r.id])))
    console.print(table)


@app.command("sweep")
def sweep() -> None:
    """Record the hazard reminders and escalations due now (once each; running it again does nothing new)."""
    from citybrain.cli import console
    from citybrain.hazard import service

    with _session() as s:
        items = service.sweep(session=s, now=datetime.now(UTC))
        for it in items:
            console.print(f"{it.code}: {it.due.kind} {it.due.key} → {it.due.target}  {it.due.message_en}")
    console.print(f"{len(items)} reminder(s)/escalation(s) recorded")
