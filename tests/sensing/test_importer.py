"""File import: CSV and NDJSON through the pipeline, bad lines reported by number, a replay stored once."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from citybrain.core.database import Database
from citybrain.sensing.importer import import_readings
from citybrain.sensing.models import DeadLetter, Reading
from citybrain.sensing.pipeline import Pipeline
from tests.sensing.conftest import iso, reading


def count(database: Database, model: type) -> int:
    with database.session() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def test_csv_groups_rows_into_readings_and_reports_bad_lines(pipeline: Pipeline, database: Database,
                                                             t0: datetime, tmp_path: Path) -> None:
    t1 = iso(t0)
    t2 = iso(t0 + timedelta(minutes=1))
    path = tmp_path / "readings.csv"
    path.write_text(
        "\ufeffdevice_id,ts,quantity,value,msg_id\n"  # line 1 (a BOM, as Excel writes it)
        f"GAS-1,{t1},methane,1.5,m1\n"               # 2 ┐ one reading
        f"GAS-1,{t1},battery,90,m1\n"                # 3 ┘
        f"GAS-1,{t2},methane,abc,m2\n"               # 4 not a number
        f"NOPE,{t1},methane,1.0,\n"                  # 5 unknown device
        "GAS-1,yesterday,methane,1.0,m3\n"           # 6 bad timestamp
        f"GAS-1,{t2},methane\n"                      # 7 too few columns
        "\n"
        f"WPR-1,{t1},pressure,0.3,\n"                # 9
        f"GAS-2,{t2},methane,250,\n",                # 10 out of range
        encoding="utf-8")
    seen: list[tuple[int, int]] = []
    report = import_readings(path, pipeline=pipeline, batch_size=3, progress=lambda d, t: seen.append((d, t)))
    assert (report.format, report.readings, report.accepted, report.lines) == ("csv", 7, 2, 10)
    assert [(r.line, r.reason) for r in report.rejected] == [
        (4, "not_a_number"), (5, "unknown_device"), (6, "bad_timestamp"), (7, "malformed"), (10, "out_of_range")]
    assert report.rejected_count == 5
    assert report.rejected[3].field == "line 7"
    assert count(database, Reading) == 3  # methane + battery of GAS-1, pressure of WPR-1
    assert count(database, DeadLetter) == 5
    assert seen[-1] == (path.stat().st_size,) * 2 and len(seen) >= 3


def test_ndjson_reports_lines_and_a_replay_is_stored_once(pipeline: Pipeline, database: Database, t0: datetime,
                                                          tmp_path: Path) -> None:
    good = [reading("GAS-1", t0 + timedelta(minutes=i), methane=1.0 + i, battery=90) for i in range(4)]
    lines = [json.dumps(good[0]), json.dumps(good[1]), "{not json", "", json.dumps(good[2]),
             json.dumps({"device_id": "GAS-1", "ts": iso(t0), "value": -5}), json.dumps(good[3])]
    path = tmp_path / "readings.ndjson"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    first = import_readings(path, pipeline=pipeline, batch_size=2)
    assert (first.readings, first.accepted, first.duplicates) == (6, 4, 0)
    assert [(r.line, r.reason, r.field) for r in first.rejected] == [(3, "malformed", "line 3"),
                                                                    (6, "out_of_range", "value")]
    again = import_readings(path, pipeline=pipeline, batch_size=5000)
    assert (again.accepted, again.duplicates, again.rejected_count) == (0, 4, 2)
    assert count(database, Reading) == 8


def test_unknown_extension_and_bad_header_are_refused(pipeline: Pipeline, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="extension"):
        import_readings(tmp_path / "x.txt", pipeline=pipeline)
    path = tmp_path / "bad.csv"
    path.write_text("device,time,value\nGAS-1,2026-11-30T00:00:00Z,1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="lacks device_id, ts, quantity"):
        import_readings(path, pipeline=pipeline)
