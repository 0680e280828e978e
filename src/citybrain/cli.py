"""The ``citybrain`` command (Typer): serve, demo, db, users, tokens, geo, simulate, bench."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from citybrain.core.clock import SystemClock
from citybrain.core.database import Database
from citybrain.core.errors import CityBrainError, SettingsError
from citybrain.core.settings import Settings, load_settings

app = typer.Typer(help="citybrain — urban operational-safety platform (城市大脑).", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="Users and API tokens.", no_args_is_help=True)
geo_app = typer.Typer(help="Base geography (districts, metro, roads).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(geo_app, name="geo")


def _add_domain_clis() -> None:
    from citybrain.analytics.cli import app as analyze_app
    from citybrain.hazard.cli import app as hazard_app
    from citybrain.report.cli import app as report_app

    app.add_typer(hazard_app, name="hazard")
    app.add_typer(report_app, name="report")
    app.add_typer(analyze_app, name="analyze")


_add_domain_clis()
console = Console()
err = Console(stderr=True)


def _settings(**overrides: Any) -> Settings:
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        err.print(f"[red]configuration error:[/] {exc.detail}")
        raise typer.Exit(2) from None


def _logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _database(settings: Settings) -> Database:
    return Database(settings.sqlalchemy_url, pool_size=settings.db_pool_size)


def _print_admin(password: str | None, username: str) -> None:
    if password:
        console.print(f"[bold yellow]First run: administrator '{username}' created with password "
                      f"[reverse]{password}[/reverse] — shown once, note it now.[/]")


def _prepare(settings: Settings, database: Database, *, load_geo: bool = True) -> None:
    from citybrain.bootstrap import prepare

    try:
        report = prepare(settings, database, SystemClock(), load_geo=load_geo)
    except Exception as exc:
        err.print(f"[red]cannot prepare the database at {database.engine.url.render_as_string(hide_password=True)}:[/] "
                  f"{exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        raise typer.Exit(1) from None
    if report.migrated_from != report.migrated_to:
        console.print(f"database migrated {report.migrated_from or 'empty'} → {report.migrated_to}")
    if report.geo_loaded:
        console.print("loaded base map: " + ", ".join(f"{k} {v}" for k, v in report.geo_loaded.items()))
    _print_admin(report.admin_password, settings.admin_username)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="interface to listen on (CITYBRAIN_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (CITYBRAIN_PORT)")] = None,
    migrate: Annotated[bool, typer.Option(help="run migrations and first-run setup before serving")] = True,
) -> None:
    """Run the API and dashboard."""
    import uvicorn

    from citybrain.api import create_app

    settings = _settings(host=host, port=port)
    _logging(settings)
    database = _database(settings)
    if migrate:
        _prepare(settings, database)
    from citybrain.worker import build_services

    services = build_services(settings, settings.services)  # CITYBRAIN_SERVICES, default all
    console.print(f"citybrain serving on http://{settings.host}:{settings.port}/ "
                  f"(background services: {', '.join(s.name for s in services) or 'none'})")
    uvicorn.run(create_app(settings, database=database, services=services), host=settings.host,
                port=settings.port, log_level=settings.log_level.lower())


@app.command()
def worker(
    services: Annotated[str, typer.Option(help="comma-separated: ingest, rollup, retention, warning, followup, "
                                                "mqtt (or all)")] = "warning",
    lease_ttl: Annotated[float, typer.Option(help="seconds a standby waits after the warning engine's lease "
                                                  "was last renewed")] = 15.0,
    stream: Annotated[str | None, typer.Option(help="JetStream stream name; every node must use the same "
                                                    "(default CITYBRAIN; for isolated runs such as benches)")] = None,
    prefix: Annotated[str | None, typer.Option(help="subject prefix, likewise (default citybrain)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the services' figures as one JSON line on exit")]
    = False,
) -> None:
    """Run background services (default: the warning engine) without the HTTP server, until SIGINT/SIGTERM.

    Needs CITYBRAIN_NATS_URL (the bus the API nodes publish on) and a migrated database.
    """
    import asyncio

    from citybrain.core.errors import Unavailable
    from citybrain.core.settings import parse_services
    from citybrain.worker import run

    settings = _settings()
    _logging(settings)
    try:
        names = parse_services(services)
    except ValueError as exc:
        err.print(f"[red]--services:[/] {exc}")
        raise typer.Exit(2) from None
    if services.strip().lower() == "all" and not settings.mqtt_url:  # all: the MQTT bridge only with a broker
        names = tuple(n for n in names if n != "mqtt")
    options = {k: v for k, v in {"stream": stream, "prefix": prefix}.items() if v is not None}
    try:
        result = asyncio.run(run(settings, names, lease_ttl_s=lease_ttl, bus_options=options))
    except SettingsError as exc:
        err.print(f"[red]configuration error:[/] {exc.detail}")
        raise typer.Exit(2) from None
    except Unavailable as exc:
        err.print(f"[red]cannot run the worker:[/] {exc.detail}")
        raise typer.Exit(1) from None
    if as_json:
        print(json.dumps(result, default=str, ensure_ascii=False), flush=True)


@app.command()
def demo(
    port: Annotated[int | None, typer.Option(help="port (default CITYBRAIN_PORT or 8000)")] = None,
    seed: Annotated[int, typer.Option(help="simulator seed: the same seed gives the same city")] = 7,
    devices: Annotated[int, typer.Option(help="number of simulated sensors")] = 600,
    backfill_hours: Annotated[float, typer.Option(help="hours of history replayed at start, then live")] = 6.0,
) -> None:
    """Migrate, load Shanghai and demo users, start the simulator and the server (Ctrl-C stops)."""
    from citybrain.demo import run_demo

    settings = _settings(port=port)
    _logging(settings)
    database = _database(settings)
    _prepare(settings, database)
    run_demo(settings, database, seed=seed, devices=devices, backfill_hours=backfill_hours, console=console)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="target revision")] = "head") -> None:
    """Migrate the database (SQLite or PostgreSQL) to the latest schema and seed first-run data."""
    settings = _settings()
    database = _database(settings)
    if revision == "head":
        _prepare(settings, database, load_geo=True)
    else:
        from citybrain.core import migrate

        migrate.upgrade(database.engine, revision)
    from citybrain.core import migrate as m

    console.print(f"database at revision {m.current_revision(database.engine)} "
                  f"({database.dialect}: {database.engine.url.render_as_string(hide_password=True)})")


@db_app.command("current")
def db_current() -> None:
    """Show the schema revision of the database and of the code."""
    from citybrain.core import migrate

    database = _database(_settings())
    cur, head = migrate.current_revision(database.engine), migrate.head_revision(database.engine)
    state = "(current)" if cur == head else "(run: citybrain db upgrade)"
    console.print(f"database: {cur or 'empty'}  code: {head}  {state}")
    if cur != head:
        raise typer.Exit(1)


@db_app.command("prune")
def db_prune(dry_run: Annotated[bool, typer.Option("--dry-run", help="count, delete nothing")] = False) -> None:
    """Delete readings, roll-ups and dead letters past retention (drop old partitions on PostgreSQL)."""
    from citybrain.sensing.pipeline import load_types
    from citybrain.sensing.retention import prune

    database = _database(_settings())
    with database.session() as s:
        console.print(prune(s, datetime.now(UTC), types=load_types(s), dry_run=dry_run))


@users_app.command("create")
def users_create(
    username: str,
    roles: Annotated[str, typer.Option(help="comma-separated roles, e.g. dispatcher,dept_admin")] = "viewer",
    department: Annotated[str | None, typer.Option(help="department code, e.g. fire")] = None,
    display_name: Annotated[str | None, typer.Option()] = None,
    password: Annotated[str | None, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)] = None,
) -> None:
    """Create a user (audited as done from the command line)."""
    from citybrain.auth import service
    from citybrain.auth.audit import service as audit
    from citybrain.org import service as org

    settings = _settings()
    database = _database(settings)
    now = datetime.now(UTC)
    try:
        with database.session() as s:
            dept_id = org.department_id_for(session=s, code=department, field="--department") if department else None
            user = service.create(session=s, now=now, username=username, password=password or "",
                                  roles=[r.strip() for r in roles.split(",") if r.strip()], department_id=dept_id,
                                  display_name=display_name)
            audit.record(session=s, now=now, action="cli users create", status_code=201, actor="cli",
                         resource_type="user", resource_id=str(user.id), detail={"username": username})
    except CityBrainError as exc:
        err.print(f"[red]{exc.detail}[/] " + "; ".join(f"{e.field}: {e.message}" for e in exc.errors))
        raise typer.Exit(1) from None
    console.print(f"created user {username} (id {user.id})")


@users_app.command("token")
def users_token(
    username: str,
    name: Annotated[str, typer.Option(help="what the token is for")] = "cli",
    days: Annotated[float, typer.Option(help="valid for this many days")] = 90,
) -> None:
    """Issue an API bearer token for a user (printed once)."""
    from citybrain.auth import service
    from citybrain.auth.audit import service as audit

    database = _database(_settings())
    now = datetime.now(UTC)
    with database.session() as s:
        user = service.get_by_username(session=s, username=username)
        if user is None:
            err.print(f"[red]no user {username!r}[/]")
            raise typer.Exit(1)
        row, secret = service.create_api_token(session=s, now=now, user=user, name=name,
                                               expires_at=now + timedelta(days=days), ip=None)
        audit.record(session=s, now=now, action="cli users token", status_code=201, actor="cli",
                     resource_type="api_token", resource_id=str(row.id), detail={"username": username})
    console.print(secret)


@geo_app.command("load")
def geo_load(
    districts: Annotated[
        Path | None, typer.Option(help="GeoJSON of districts (properties code, name_zh, name_en)")
    ] = None,
    districts_crs: Annotated[str, typer.Option(help="wgs84 or gcj02")] = "wgs84",
    metro_stations: Annotated[Path | None, typer.Option(help="stations CSV (stationInfo.csv layout)")] = None,
    metro_arcs: Annotated[Path | None, typer.Option(help="arcs CSV (origin,destination,traveltime,category)")] = None,
    roads: Annotated[Path | None, typer.Option(help="OSM XML (.osm or .osm.gz) of the drivable roads")] = None,
) -> None:
    """Load a city's base map (any file not given comes from the bundled Shanghai data)."""
    from dataclasses import replace

    from citybrain.geo import loaders
    from citybrain.geo import service as geo

    city = loaders.load_shanghai()
    try:
        if districts:
            city = replace(city, regions=tuple(loaders.load_regions_geojson(districts, crs=districts_crs)))
        if metro_stations and metro_arcs:
            city = replace(city, metro=loaders.load_metro_csv(metro_stations, metro_arcs))
        if roads:
            city = replace(city, roads=loaders.load_osm_roads(roads))
    except (ValueError, OSError) as exc:
        err.print(f"[red]cannot load:[/] {exc}")
        raise typer.Exit(1) from None
    database = _database(_settings())
    with database.session() as s:
        counts = geo.load_city(session=s, now=datetime.now(UTC), city=city)
    console.print("loaded " + ", ".join(f"{k} {v}" for k, v in counts.items()))


import_app = typer.Typer(help="Import data from files.", no_args_is_help=True)
app.add_typer(import_app, name="import")


rules_app = typer.Typer(help="Warning rules (the rule language: docs/rules.md).", no_args_is_help=True)
app.add_typer(rules_app, name="rules")


@rules_app.command("validate")
def rules_validate(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="YAML rule file")]) -> None:
    """Check a rule file without touching the database; each problem with its line and column."""
    from citybrain.warning.rules import RuleError, parse_rules
    from citybrain.warning.rules.service import known_quantities

    try:
        rules = parse_rules(file.read_text(encoding="utf-8"), known_quantities=known_quantities())
    except RuleError as exc:
        for p in exc.problems:
            err.print(f"[red]{file}:{p.line or '?'}:{p.column or '?'}[/] {p.path}: {p.message}")
        raise typer.Exit(1) from None
    console.print(f"{len(rules)} rules OK: {', '.join(r.key for r in rules)}")


@rules_app.command("import")
def rules_import(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="YAML rule file")],
                 dry_run: Annotated[bool, typer.Option(help="validate only")] = False) -> None:
    """Create or replace rules from a YAML file, all or nothing (audited)."""
    from citybrain.auth.audit import service as audit
    from citybrain.warning.rules import service as rules

    settings = _settings()
    database = _database(settings)
    now = datetime.now(UTC)
    try:
        with database.session() as s:
            result = rules.import_yaml(session=s, now=now, principal=None, text=file.read_text(encoding="utf-8"),
                                       dry_run=dry_run)
            if not dry_run:
                audit.record(session=s, now=now, action="cli rules import", status_code=200, actor="cli",
                             resource_type="warning_rule", detail=result)
    except CityBrainError as exc:
        err.print(f"[red]{exc.detail}[/]")
        for e in exc.errors:
            err.print(f"  {e.field}: {e.message}")
        raise typer.Exit(1) from None
    console.print(f"created {len(result['created'])}, updated {len(result['updated'])}"
                  + (" (dry run)" if dry_run else ""))


@rules_app.command("export")
def rules_export(out: Annotated[Path | None, typer.Option(help="write here instead of stdout")] = None) -> None:
    """Every stored rule as one YAML document."""
    from citybrain.warning.rules import service as rules

    database = _database(_settings())
    with database.session() as s:
        text = rules.export_yaml(session=s)
    if out:
        out.write_text(text, encoding="utf-8")
        console.print(f"wrote {out}")
    else:
        print(text, end="")


@rules_app.command("seed")
def rules_seed() -> None:
    """Install the shipped starter rules (only into an empty rule table)."""
    from citybrain.warning.rules import service as rules

    database = _database(_settings())
    with database.session() as s:
        n = rules.seed_demo(session=s, now=datetime.now(UTC))
    console.print(f"installed {n} starter rules" if n else "rules exist already; nothing installed")


drill_app = typer.Typer(help="Drills (应急演练): scripted scenarios run live as exercise incidents.",
                        no_args_is_help=True)
app.add_typer(drill_app, name="drill")


@drill_app.command("list")
def drill_list() -> None:
    """The shipped scenarios."""
    from citybrain.incident import drills

    for key, sc in drills.starter_scenarios().items():
        console.print(f"{key:24} {sc.name.zh} / {sc.name.en} ({sc.incident_type}, {len(sc.injects)} injects)")


@drill_app.command("start")
def drill_start(
    scenario: Annotated[str, typer.Argument(help="a scenario key (see `drill list`) or a YAML file")],
) -> None:
    """Open the drill's exercise incident; a running server (serve/demo) plays the later injects on time."""
    from citybrain.auth.audit import service as audit
    from citybrain.incident import drills

    path = Path(scenario)
    try:
        sc = drills.parse_scenario(path.read_text(encoding="utf-8")) if path.is_file() else \
            drills.starter_scenarios().get(scenario)
    except CityBrainError as exc:
        err.print(f"[red]{exc.detail}[/] " + "; ".join(f"{e.field}: {e.message}" for e in exc.errors))
        raise typer.Exit(1) from None
    if sc is None:
        err.print(f"[red]no scenario {scenario!r}[/]; see `citybrain drill list`")
        raise typer.Exit(2)
    database = _database(_settings())
    now = datetime.now(UTC)
    with database.session() as s:
        inc = drills.start(session=s, now=now, principal=None, scenario=sc)
        audit.record(session=s, now=now, action="cli drill start", status_code=201, actor="cli",
                     resource_type="incident", resource_id=str(inc.id), detail={"scenario": sc.key})
        incident_id = inc.id
    console.print(f"drill {sc.key}: exercise incident #{incident_id} opened; "
                  f"report at /api/v1/incidents/{incident_id}/report")


@import_app.command("cap")
def import_cap(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="a CAP 1.2 (or 1.1) alert")],
               department: Annotated[str, typer.Option(help="department the warning goes to")] = "emergency") -> None:
    """An external CAP alert (e.g. a meteorological warning) as a warning; refused alerts say why."""
    from citybrain.auth.audit import service as audit
    from citybrain.warning import publishing

    database = _database(_settings())
    now = datetime.now(UTC)
    try:
        with database.session() as s:
            result = publishing.ingest_cap(session=s, now=now, data=file.read_bytes(), department=department)
            audit.record(session=s, now=now, action="cli import cap", status_code=202, actor="cli",
                         resource_type="cap_alert", resource_id=result["identifier"], detail=result)
    except CityBrainError as exc:
        err.print(f"[red]{exc.detail}[/]")
        raise typer.Exit(1) from None
    console.print(f"{result['msg_type']} {result['identifier']}: warnings {result['warnings']}")




@import_app.command("readings")
def import_readings_cmd(
    file: Annotated[Path, typer.Argument(help="CSV (device_id,ts,quantity,value[,msg_id]) or NDJSON readings")],
    batch_size: Annotated[int, typer.Option(help="readings per transaction")] = 5000,
    format: Annotated[str | None, typer.Option(help="csv or ndjson (default: from the file name)")] = None,  # noqa: A002
) -> None:
    """Back-fill history from a file through the ingestion pipeline (bad lines are reported, good ones kept)."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    from citybrain.sensing.importer import import_readings
    from citybrain.sensing.pipeline import Pipeline

    database = _database(_settings())
    pipeline = Pipeline(database, SystemClock())
    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                  console=err) as bar:
        task = bar.add_task(f"importing {file.name}", total=None)
        try:
            report = import_readings(file, pipeline=pipeline, batch_size=batch_size, format=format,
                                     progress=lambda done, total: bar.update(task, completed=done, total=total))
        except (ValueError, OSError) as exc:
            err.print(f"[red]cannot import {file}:[/] {exc}")
            raise typer.Exit(1) from None
    from citybrain.sensing import rollup

    rollup.catch_up(database)  # the roll-ups hold the imported history before the command returns
    console.print(f"{report.accepted} readings stored, {report.duplicates} already there, "
                  f"{report.rejected_count} refused")
    for r in report.rejected[:20]:
        console.print(f"  line {r.line}: {r.reason} {r.message or ''}")
    if report.rejected_count:
        raise typer.Exit(1)


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="NDJSON file of readings to write")],
    hours: Annotated[float, typer.Option(help="simulated duration")] = 1.0,
    seed: Annotated[int, typer.Option()] = 7,
    devices: Annotated[int, typer.Option()] = 600,
    truth: Annotated[Path | None, typer.Option(help="write the fault ground truth here (JSON)")] = None,
    start: Annotated[str | None, typer.Option(help="UTC start, ISO 8601 (default: today 00:00Z)")] = None,
) -> None:
    """Write a deterministic stream of simulated Shanghai sensor readings (and its fault ground truth)."""
    from citybrain.demo import make_simulator

    t0 = datetime.fromisoformat(start.replace("Z", "+00:00")) if start else datetime.now(UTC).replace(
        hour=0, minute=0, second=0, microsecond=0)
    sim = make_simulator(seed=seed, devices=devices, start=t0)
    n = 0
    with out.open("w", encoding="utf-8") as fh:
        for batch in sim.readings(t0, t0 + timedelta(hours=hours)):
            for reading in batch:
                fh.write(json.dumps(reading, separators=(",", ":")) + "\n")
                n += 1
    if truth:
        sim.write_ground_truth(truth)
    console.print(f"wrote {n} readings from {len(sim.devices)} devices to {out}")


@app.command()
def bench(
    name: Annotated[str, typer.Argument(help="benchmark name (see --list)")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object as the last line")] = False,
    list_: Annotated[bool, typer.Option("--list", help="list the benchmarks")] = False,
    rows: Annotated[int | None, typer.Option(help="table size, or a cap on messages")] = None,
    backend: Annotated[str | None, typer.Option(help="sqlite or a database URL (default: a temporary SQLite)")] = None,
    devices: Annotated[int | None, typer.Option(help="simulated devices (ingest)")] = None,
    seconds: Annotated[int | None, typer.Option(help="simulated seconds of readings (ingest)")] = None,
    path: Annotated[str | None, typer.Option(help="ingest path: inprocess, http or mqtt")] = None,
    batch: Annotated[int | None, typer.Option(help="readings per batch (ingest)")] = None,
    data: Annotated[str | None, typer.Option(help="corpus directory (nab; default ../shared/data/nab)")] = None,
    detector: Annotated[str | None, typer.Option(help="detector name (nab; default: the engine's default)")] = None,
    worker: Annotated[bool, typer.Option("--worker", help="warning: the host in a `citybrain worker` process over "
                                                          "NATS (CITYBRAIN_NATS_URL)")] = False,
    mqtt: Annotated[bool, typer.Option("--mqtt", help="warning: each reading published by a device over MQTT and "
                                                      "taken in by the MQTT bridge (CITYBRAIN_BENCH_MQTT_URL, "
                                                      "else a private mosquitto)")] = False,
    history: Annotated[int | None, typer.Option(help="warning: half-hour copies of the readings stored before "
                                                     "timing (default 8: ~300,000 rows; 0: empty table)")] = None,
    engine: Annotated[str | None, typer.Option(help="warning, on SQLite: the rules in a process of their own "
                                                    "(process, the default, as serve) or inline")] = None,
) -> None:
    """Run a benchmark; exits non-zero if it could not run."""
    from citybrain.bench import BENCHMARKS

    if list_ or not name:
        for key, (doc, _fn) in sorted(BENCHMARKS.items()):
            console.print(f"{key:12} {doc}")
        return
    if name not in BENCHMARKS:
        err.print(f"[red]no benchmark {name!r}[/]; known: {', '.join(sorted(BENCHMARKS))}")
        raise typer.Exit(2)
    given = {"rows": rows, "backend": backend, "devices": devices, "seconds": seconds, "path": path, "batch": batch,
             "data": data, "detector": detector, "worker": worker or None, "mqtt": mqtt or None,
             "history": history, "engine": engine}
    options = {k: v for k, v in given.items() if v is not None}
    try:
        result = BENCHMARKS[name][1](log=lambda msg: err.print(msg), **options)
    except Exception as exc:
        err.print(f"[red]benchmark {name} could not run:[/] {exc.__class__.__name__}: {exc}")
        if as_json:
            print(json.dumps({"benchmark": name, "error": str(exc)}))
        raise typer.Exit(1) from None
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        table = Table(title=f"bench {name}")
        table.add_column("figure")
        table.add_column("value", justify="right")
        for k, v in result.items():
            table.add_row(k, f"{v:,.3f}" if isinstance(v, float) else str(v))
        console.print(table)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
