"""SQLite's WAL checkpoints run beside the writers, not inside whichever commit crosses the WAL size."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from citybrain.core import database as dbm
from citybrain.core.database import Database


def _wait(cond, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _checkpoint_threads() -> int:
    return sum(t.name == "sqlite-checkpoint" and t.is_alive() for t in threading.enumerate())


def test_the_wal_is_checkpointed_in_the_background_and_commits_leave_it_alone(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(dbm, "CHECKPOINT_INTERVAL_S", 0.05)
    db = Database(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        assert db.checkpointer is not None
        with db.engine.begin() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == dbm.AUTOCHECKPOINT_BACKSTOP_PAGES
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL, as before
            conn.exec_driver_sql("CREATE TABLE t (x BLOB)")
            for _ in range(1500):  # more pages than SQLite's own auto-checkpoint default (1,000)
                conn.exec_driver_sql("INSERT INTO t VALUES (randomblob(3000))")
        runs = db.checkpointer.runs
        assert _wait(lambda: db.checkpointer.runs > runs + 1)
        # everything committed has been copied into the database file: nothing left for a commit to do
        busy, log_frames, done = sqlite3.connect(tmp_path / "a.db").execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert busy == 0 and log_frames == done
    finally:
        db.dispose()
    assert not db.checkpointer._thread.is_alive()
    db2 = Database(f"sqlite:///{tmp_path / 'a.db'}")
    db2.checkpointer.stop()
    db2.engine.dispose()
    with db2.engine.connect() as conn:  # a connection opened with no thread running checkpoints itself again
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
    db2.dispose()


def _wal_frames(path: Path) -> int:
    """Frames in the WAL since it last started afresh (a passive checkpoint reports them and copies them)."""
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])


def test_under_steady_commits_the_wal_starts_afresh_between_the_writers(tmp_path: Path, monkeypatch) -> None:
    """A passive checkpoint alone never lets a busy WAL restart; the thread restarts it in the process's write
    turn, and never while a writer of this process holds that turn."""
    monkeypatch.setattr(dbm, "CHECKPOINT_INTERVAL_S", 0.02)
    monkeypatch.setattr(dbm, "RESTART_FRAMES", 50)
    monkeypatch.setattr(dbm.Checkpointer, "RESTART_WAIT_S", 0.01)
    path = tmp_path / "w.db"
    db = Database(f"sqlite:///{path}")
    try:
        assert db.checkpointer is not None and db.checkpointer.write_lock is db._write_lock
        with db.writing(), db.engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x BLOB)")
        stop = threading.Event()

        def writer() -> None:  # commits back to back, as ingest does under load
            while not stop.is_set():
                with db.writing(), db.engine.begin() as conn:
                    conn.exec_driver_sql("INSERT INTO t VALUES (randomblob(3000))")

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            assert _wait(lambda: db.checkpointer.restarts >= 3)
        finally:
            stop.set()
            thread.join()
        with db.engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT count(*) FROM t").scalar_one()
        assert _wal_frames(path) < rows  # it started over instead of growing by every commit's page or more

        with db.writing():  # a writer holds the turn: the thread waits for it, briefly, and tries again later
            restarts, runs = db.checkpointer.restarts, db.checkpointer.runs
            with sqlite3.connect(path) as other:  # a write of another connection puts frames in the WAL
                for _ in range(100):
                    other.execute("INSERT INTO t VALUES (randomblob(3000))")
            assert _wait(lambda: db.checkpointer.runs > runs + 3)
            assert db.checkpointer.restarts == restarts
        assert _wait(lambda: db.checkpointer.restarts > restarts)  # and restarts it once the turn is free
    finally:
        db.dispose()


def test_the_checkpoint_thread_creates_no_file_and_ends_with_its_database(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(dbm, "CHECKPOINT_INTERVAL_S", 0.02)
    before = _checkpoint_threads()
    db = Database(f"sqlite:///{tmp_path / 'never-used.db'}")
    time.sleep(0.1)
    assert not (tmp_path / "never-used.db").exists()
    assert _checkpoint_threads() == before + 1
    del db  # never disposed: collected, and its thread goes with it
    import gc

    gc.collect()
    assert _wait(lambda: _checkpoint_threads() == before)


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "postgresql+psycopg://u@h/d"])
def test_no_checkpoint_thread_without_an_sqlite_file(url: str) -> None:
    assert dbm.sqlite_file(url) is None
