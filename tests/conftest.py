"""Test wiring: one switch selects the backend, and CI's strict mode turns every skip into a failure.

    pytest                      # SQLite (the embedded default)
    pytest --db postgres        # PostgreSQL + PostGIS (or CITYBRAIN_TEST_DB=postgres)

``CITYBRAIN_TEST_PG_URL`` points at a server where the test user may create databases (default
``postgresql://postgres@127.0.0.1:5432/postgres``). ``CITYBRAIN_STRICT_TESTS=1`` (set by ``.ci/run``)
fails any test that would skip because PostgreSQL, MQTT, Chromium or ../shared/data is missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from citybrain.api import create_app
from citybrain.auth import passwords
from citybrain.auth import service as auth_service
from citybrain.bootstrap import prepare, seed_reference
from citybrain.core.clock import ManualClock, SystemClock
from citybrain.core.database import Database
from citybrain.core.settings import Settings
from citybrain.org import service as org_service
from tests.support import STRICT

ADMIN_PASSWORD = "test-admin-password-1"

# Production-cost Argon2 takes ~0.5 s a hash on a loaded 2-core machine; tests exercise the flows, so
# the whole suite (first admin included) hashes at minimal cost. Production parameters stay untouched.
_cheap_hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
passwords._hasher = _cheap_hasher
passwords._DUMMY_HASH = _cheap_hasher.hash("timing-equaliser")
REFERENCE_TABLES = {"alembic_version", "geo_feature", "metro_arc", "department"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--db", default=os.environ.get("CITYBRAIN_TEST_DB", "sqlite"), choices=("sqlite", "postgres"),
                     help="database backend for the suite")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if STRICT and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"strict mode (CI): a skip is a failure here: {reason}"


def _pg_admin_url() -> str:
    return os.environ.get("CITYBRAIN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@dataclass
class Backend:
    name: str
    url: str
    template: Path | None = None  # SQLite: a migrated, seeded file copied for each test


@contextmanager
def private_database(backend: Backend, tmp_path: Path, tag: str) -> Iterator[Database]:
    """An empty database of the test's own (not the shared, migrated one): an SQLite file under ``tmp_path``,
    or a throwaway PostgreSQL database named after ``tag``, dropped afterwards. Migration tests start here."""
    if backend.name == "sqlite":
        db = Database(f"sqlite:///{tmp_path / f'{tag}.db'}")
        try:
            yield db
        finally:
            db.dispose()
        return
    admin = sa.create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    name = f"citybrain_{tag}_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    db = Database(admin.url.set(database=name).render_as_string(hide_password=False), pool_size=2)
    try:
        yield db
    finally:
        db.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    clock = SystemClock()
    if request.config.getoption("--db") == "postgres":
        admin = sa.create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
        name = f"citybrain_test_{os.getpid()}"
        try:
            with admin.connect() as conn:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
                conn.execute(sa.text(f"CREATE DATABASE {name}"))
        except sa.exc.OperationalError as exc:
            pytest.skip(f"PostgreSQL is not reachable at {_pg_admin_url()}: {exc.__class__.__name__}")
        url = admin.url.set(database=name).render_as_string(hide_password=False)
        db = Database(url)
        prepare(Settings(env="test", database_url=url, admin_password=ADMIN_PASSWORD), db, clock)
        with db.engine.connect() as conn:
            _seeded_print[db.url] = _fingerprint(conn)
        db.dispose()
        yield Backend("postgres", url)
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
        return
    template = tmp_path_factory.mktemp("db") / "template.db"
    url = f"sqlite:///{template}"
    db = Database(url)
    prepare(Settings(env="test", database_url=url, admin_password=ADMIN_PASSWORD), db, clock)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    yield Backend("sqlite", url, template)


#: Tables a test may fill with many rows (benchmarks, back-fills): emptied by TRUNCATE rather than DELETE.
BULKY_TABLES = frozenset({"reading", "reading_rollup", "reading_latest", "dead_letter"})
#: Tables first-run preparation seeds (bootstrap.seed_reference): kept across tests while no test changed them.
SEEDED_TABLES = ("regulation", "regulation_clause", "training_course", "case_route", "case_time_limit")
_SEEDED_PRINT = " UNION ALL ".join(
    f"SELECT '{t}', md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) FROM {t} x"  # noqa: S608
    for t in SEEDED_TABLES)
_seeded_print: dict[str, str] = {}  # database url -> fingerprint of the seeded tables as first prepared


def _fingerprint(conn: Any) -> str:
    return "|".join(f"{name}:{digest}" for name, digest in conn.exec_driver_sql(_SEEDED_PRINT))


def _reset_postgres(db: Database) -> None:
    """Empty every table a test filled and rewind every sequence it used, keeping the seeded reference data.

    Only the tables that hold rows are truncated (one cheap EXISTS probe per table first), and the seeded
    reference tables only when a test changed them (then they are seeded again): truncating all of the
    schema's tables after every test costs seconds on a busy machine, most of it on empty tables.
    """
    from citybrain.geo.service import BASE_LAYERS
    from citybrain.models import metadata
    from citybrain.org.service import DEFAULT_DEPARTMENTS

    tables = [t for t in metadata.tables if t not in REFERENCE_TABLES]  # never PostGIS's spatial_ref_sys
    probe = " UNION ALL ".join(f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM {t})" for t in tables)  # noqa: S608
    with db.engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")  # lets the append-only audit go
        reseed = _fingerprint(conn) != _seeded_print.setdefault(db.url, "")
        keep = () if reseed else SEEDED_TABLES
        filled = [row[0] for row in conn.exec_driver_sql(probe) if row[0] not in keep]
        # DELETE is far cheaper than TRUNCATE … CASCADE for the few rows a test leaves (no triggers or foreign
        # keys fire under the replica role); only tables that may hold many rows are truncated
        for table in (t for t in filled if t not in BULKY_TABLES):
            conn.exec_driver_sql(f"DELETE FROM {table}")  # noqa: S608 - names from our own metadata
        bulky = [t for t in filled if t in BULKY_TABLES]
        if bulky:
            conn.exec_driver_sql(f"TRUNCATE {', '.join(bulky)} CASCADE")
        conn.execute(sa.text(
            "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, 1, false) FROM pg_sequences "
            "WHERE schemaname = current_schema() AND last_value IS NOT NULL AND NOT (sequencename = ANY(:keep))"),
            {"keep": [f"{t}_id_seq" for t in (*REFERENCE_TABLES, *keep)]})
        conn.execute(sa.text("DELETE FROM department WHERE code NOT IN :codes").bindparams(
            sa.bindparam("codes", expanding=True)), {"codes": [d[0] for d in DEFAULT_DEPARTMENTS]})
        conn.execute(sa.text("DELETE FROM geo_feature WHERE layer NOT IN :layers").bindparams(
            sa.bindparam("layers", expanding=True)), {"layers": [s.name for s in BASE_LAYERS]})
    if reseed:
        with db.session() as s:
            seed_reference(session=s, now=datetime.now(UTC))
        with db.engine.connect() as conn:
            _seeded_print[db.url] = _fingerprint(conn)


@pytest.fixture
def database(backend: Backend, tmp_path: Path) -> Iterator[Database]:
    if backend.template is not None:
        path = tmp_path / "citybrain.db"
        shutil.copyfile(backend.template, path)
        db = Database(f"sqlite:///{path}")
    else:
        db = Database(backend.url, pool_size=5)
        with db.session() as s:  # the reset emptied the users: the first admin comes back as on a first run
            auth_service.ensure_admin(session=s, now=datetime.now(UTC), username="admin", password=ADMIN_PASSWORD)
    yield db
    if backend.template is None:
        _reset_postgres(db)
    db.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 30, 1, 0, tzinfo=UTC))


@pytest.fixture
def settings(database: Database, tmp_path: Path) -> Settings:
    return Settings(env="test", data_dir=tmp_path, database_url=database.url, admin_password=ADMIN_PASSWORD)


@pytest.fixture
def session(database: Database) -> Iterator[sa.orm.Session]:
    with database.session() as s:
        yield s


@pytest.fixture
def app(settings: Settings, database: Database, clock: ManualClock) -> Any:
    return create_app(settings, database=database, clock=clock)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as c:
        yield c


class Users:
    """Factory for users in a department with given roles; returns logged-in clients on request."""

    def __init__(self, app: Any, database: Database, clock: ManualClock) -> None:
        self.app, self.database, self.clock = app, database, clock

    def add(self, username: str, *, roles: tuple[str, ...] = ("dispatcher",), department: str | None = "police",
            password: str | None = None, enterprise_id: int | None = None, display_name: str | None = None) -> str:
        password = password or f"pw-{username}-123"
        with self.database.session() as s:
            dept_id = (org_service.department_id_for(session=s, code=department, field="department")
                       if department else None)
            auth_service.create(session=s, now=self.clock.now(), username=username, password=password,
                                roles=list(roles), department_id=dept_id, enterprise_id=enterprise_id,
                                display_name=display_name)
        return password

    def client(self, username: str, password: str | None = None) -> TestClient:
        c = TestClient(self.app, base_url="http://testserver")
        r = c.post("/api/v1/auth/login", json={"username": username, "password": password or f"pw-{username}-123"})
        assert r.status_code == 200, r.text
        c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        return c

    def login(self, username: str, *, roles: tuple[str, ...] = ("dispatcher",), department: str | None = "police",
              **kw: Any) -> TestClient:
        password = self.add(username, roles=roles, department=department, **kw)
        return self.client(username, password)


@pytest.fixture
def users(app: Any, database: Database, clock: ManualClock) -> Users:
    return Users(app, database, clock)


@pytest.fixture
def admin(users: Users) -> TestClient:
    return users.client("admin", ADMIN_PASSWORD)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Run ``app`` under uvicorn on a free local port, in a thread, for as long as the block; yields its URL."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
                                           timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("live server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def new_user(database: Database, *, roles: tuple[str, ...] = ("duty_officer",), department: str | None = "ops",
             display_name: str | None = None, enterprise_id: int | None = None, username: str | None = None,
             password: str | None = None) -> tuple[str, str]:
    """Create a user (a fresh name and password unless given); returns (username, password)."""
    username = username or f"u-{uuid.uuid4().hex[:8]}"
    password = password or f"pw-{uuid.uuid4().hex}"
    with database.session() as s:
        dept_id = (org_service.department_id_for(session=s, code=department, field="department")
                   if department else None)
        auth_service.create(session=s, now=datetime.now(UTC), username=username, password=password,
                            roles=list(roles), department_id=dept_id, display_name=display_name or username,
                            enterprise_id=enterprise_id)
    return username, password


def api_client(url: str, username: str = "admin", password: str = ADMIN_PASSWORD) -> Any:
    """An httpx client of a live server, signed in (session cookie and CSRF header)."""
    import httpx

    c = httpx.Client(base_url=url, timeout=30)
    r = c.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return c


@dataclass
class LiveServer:
    url: str
    database: Database
    app: Any = None

    def add_user(self, username: str, password: str, *, roles: tuple[str, ...] = ("duty_officer",),
                 department: str | None = "ops", display_name: str | None = None) -> None:
        new_user(self.database, roles=roles, department=department, display_name=display_name, username=username,
                 password=password)

    def client(self, username: str = "admin", password: str = ADMIN_PASSWORD) -> Any:
        return api_client(self.url, username, password)

    def user(self, *, roles: tuple[str, ...], department: str | None, **kw: Any) -> Any:
        """A signed-in client of a new user with these roles."""
        return api_client(self.url, *new_user(self.database, roles=roles, department=department, **kw))


@pytest.fixture
def live_server(settings: Settings, database: Database) -> Iterator[LiveServer]:
    """The real app under uvicorn on a free local port, in a thread (for browser tests)."""
    app = create_app(settings, database=database, clock=SystemClock())
    with serving(app) as url:
        yield LiveServer(url, database, app)
