"""`citybrain report ...`: Open311 API keys and the duplicate matcher's evaluation."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Open311 API keys and report housekeeping.", no_args_is_help=True)
keys_app = typer.Typer(help="Open311 api_keys (for partner apps and systems).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
console = Console()


def _database() -> Any:
    from citybrain.core.database import Database
    from citybrain.core.settings import load_settings

    settings = load_settings()
    return Database(settings.sqlalchemy_url, pool_size=settings.db_pool_size)


@keys_app.command("create")
def keys_create(
    name: str,
    owner: Annotated[str, typer.Option(help="who runs the client (organisation, contact)")] = "",
) -> None:
    """Create an Open311 api_key; the key is printed once and stored only as a hash."""
    from citybrain.auth.audit import service as audit
    from citybrain.report import service

    now = datetime.now(UTC)
    database = _database()
    with database.session() as s:
        row, key = service.create_api_key(session=s, now=now, name=name, owner=owner, created_by="cli")
        audit.record(session=s, now=now, action="cli report keys create", status_code=201, actor="cli",
                     resource_type="report_api_key", resource_id=str(row.id), detail={"name": name})
    database.dispose()
    console.print(f"api_key for {name!r} (id {row.id}) — shown once:")
    print(key)


@keys_app.command("list")
def keys_list() -> None:
    """The Open311 api_keys (names and prefixes; never the keys)."""
    from citybrain.report import service

    database = _database()
    with database.session() as s:
        rows = service.list_api_keys(session=s)
    database.dispose()
    table = Table("id", "name", "owner", "prefix", "created", "revoked")
    for r in rows:
        table.add_row(str(r.id), r.name, r.owner, r.prefix + "…", f"{r.created_at:%Y-%m-%d %H:%M}",
                      f"{r.revoked_at:%Y-%m-%d %H:%M}" if r.revoked_at else "")
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: int) -> None:
    """Revoke an Open311 api_key (its clients get 403 from then on)."""
    from citybrain.auth.audit import service as audit
    from citybrain.core.errors import NotFound
    from citybrain.report import service

    now = datetime.now(UTC)
    database = _database()
    try:
        with database.session() as s:
            service.revoke_api_key(session=s, now=now, key_id=key_id)
            audit.record(session=s, now=now, action="cli report keys revoke", status_code=200, actor="cli",
                         resource_type="report_api_key", resource_id=str(key_id), detail={})
    except NotFound as exc:
        console.print(f"[red]{exc.detail}[/]")
        raise typer.Exit(1) from None
    finally:
        database.dispose()
    console.print(f"revoked api_key {key_id}")


def run_eval(*, seed: int, reports: int, auto: float | None = None, review: float | None = None) -> dict[str, Any]:
    """Generate a labelled set on Shanghai's roads and replay it through the matcher."""
    from citybrain.geo.loaders import load_shanghai
    from citybrain.report import duplicates
    from citybrain.report.services_catalog import services

    radii = {s.code: (s.duplicate_radius_m, s.duplicate_window_h) for s in services()}
    anchors = duplicates.anchors_from_city(load_shanghai(), seed=seed)
    labelled = duplicates.synthetic_reports(seed=seed, n=reports, anchors=anchors,
                                            start=datetime(2026, 11, 1, tzinfo=UTC), radii=radii)
    ev = duplicates.evaluate(labelled, radii=radii, auto=auto or duplicates.AUTO_THRESHOLD,
                             review=review or duplicates.REVIEW_THRESHOLD)
    out = ev.as_dict()
    out["thresholds"] = {"auto": auto or duplicates.AUTO_THRESHOLD, "review": review or duplicates.REVIEW_THRESHOLD}
    out["seed"] = seed
    return out


@app.command("dedupe-eval")
def dedupe_eval(
    seed: Annotated[int, typer.Option(help="random seed of the labelled set")] = 1,
    reports: Annotated[int, typer.Option(help="about this many synthetic reports")] = 2000,
    auto: Annotated[float | None, typer.Option(help="auto-link threshold (default: the matcher's)")] = None,
    review: Annotated[float | None, typer.Option(help="for-a-person threshold (default: the matcher's)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Precision, recall and F1 of duplicate detection on synthetic Shanghai reports with known groups."""
    result = run_eval(seed=seed, reports=reports, auto=auto, review=review)
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
        return
    a, r = result["auto"], result["review"]
    console.print(f"{result['reports']} reports of {result['incidents']} incidents, "
                  f"{result['true_duplicates']} true duplicates (seed {seed})")
    table = Table("band", "decisions", "correct", "precision", "recall", "F1")
    table.add_row(f"auto-link ≥ {result['thresholds']['auto']}", str(a["links"]), str(a["correct"]),
                  f"{a['precision']:.3f}", f"{a['recall']:.3f}", f"{a['f1']:.3f}")
    table.add_row(f"for a person ≥ {result['thresholds']['review']}", str(r["flagged"]), str(r["correct"]),
                  f"{r['precision']:.3f}", f"{r['recall_with_auto']:.3f} (with auto)", "")
    console.print(table)
