"""File import: CSV or NDJSON readings streamed through the one pipeline, each bad line reported by number.

CSV has a header with ``device_id, ts, quantity, value`` and optionally ``msg_id``, one value per row;
consecutive rows of the same device, timestamp and message become one reading. NDJSON has one wire
reading per line (what ``citybrain simulate`` writes). The file is read line by line and sent in
batches, so memory stays flat whatever its size; the pipeline judges every reading (and keeps the
refused ones as dead letters), and each refusal is reported with the file line it came from. A
replayed file is stored once (the pipeline's idempotency).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from citybrain.sensing.pipeline import Undecodable

SOURCE = "file"
CSV_COLUMNS = ("device_id", "ts", "quantity", "value")
MAX_REPORTED = 1000  # rejections kept in the report; the count goes on
Progress = Callable[[int, int], None]


class IngestPipeline(Protocol):
    def ingest(self, items: list[Any], *, source: str, device_key: str | None = None) -> Any: ...


@dataclass(frozen=True, slots=True)
class LineRejection:
    line: int
    reason: str
    field: str | None
    message: str
    device_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "reason": self.reason, "field": self.field, "message": self.message,
                "device_id": self.device_id}


@dataclass(slots=True)
class ImportReport:
    path: str
    format: str
    bytes: int = 0
    lines: int = 0
    readings: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected_count: int = 0
    rejected: list[LineRejection] = field(default_factory=list)  # the first MAX_REPORTED

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "format": self.format, "bytes": self.bytes, "lines": self.lines,
                "readings": self.readings, "accepted": self.accepted, "duplicates": self.duplicates,
                "rejected_count": self.rejected_count, "rejected": [r.as_dict() for r in self.rejected]}


class _Lines:
    """Decoded lines of a file with their numbers, counting the bytes read (for the progress bar)."""

    def __init__(self, fh: Any) -> None:
        self.fh, self.done, self.number = fh, 0, 0

    def __iter__(self) -> Iterator[str]:
        for raw in self.fh:
            self.done += len(raw)
            self.number += 1
            text = raw.decode("utf-8", errors="replace")
            if self.number == 1:
                text = text.lstrip("\ufeff")
            yield text


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".ndjson", ".jsonl", ".json"):
        return "ndjson"
    raise ValueError(f"{path.name}: cannot tell the format from the extension; use .csv or .ndjson")


def _ndjson(lines: _Lines) -> Iterator[tuple[Any, list[int]]]:
    for text in lines:
        if not text.strip():
            continue
        try:
            yield json.loads(text), [lines.number]
        except ValueError as exc:
            yield Undecodable(lines.number, text.rstrip("\r\n"), str(exc)), [lines.number]


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text  # the pipeline refuses it as not_a_number, naming the field


def _csv(lines: _Lines) -> Iterator[tuple[Any, list[int]]]:
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        return
    names = [h.strip().lower() for h in header]
    missing = [c for c in CSV_COLUMNS if c not in names]
    if missing:
        raise ValueError(f"line 1: the CSV header lacks {', '.join(missing)} (needs {', '.join(CSV_COLUMNS)}"
                         "[, msg_id])")
    pos = {c: names.index(c) for c in (*CSV_COLUMNS, "msg_id") if c in names}
    group: dict[str, Any] | None = None
    group_lines: list[int] = []
    for row in reader:
        line = reader.line_num
        if not row or not any(c.strip() for c in row):
            continue
        if len(row) != len(names):
            yield Undecodable(line, ",".join(row), f"{len(row)} columns, the header has {len(names)}"), [line]
            continue
        device, ts, quantity = row[pos["device_id"]].strip(), row[pos["ts"]].strip(), row[pos["quantity"]].strip()
        msg_id = row[pos["msg_id"]].strip() or None if "msg_id" in pos else None
        value = _number(row[pos["value"]].strip())
        key = (device, ts, msg_id)
        if not isinstance(value, float) or not quantity:  # alone, so only this row is refused
            single: dict[str, Any] = {"device_id": device, "ts": ts, "values": {quantity: value}}
            if msg_id is not None:
                single["msg_id"] = msg_id
            yield single, [line]
            continue
        if group is not None and (group["device_id"], group["ts"], group.get("msg_id")) == key \
                and quantity not in group["values"]:
            group["values"][quantity] = value
            group_lines.append(line)
            continue
        if group is not None:
            yield group, group_lines
        group = {"device_id": device, "ts": ts, "values": {quantity: value}}
        if msg_id is not None:
            group["msg_id"] = msg_id
        group_lines = [line]
    if group is not None:
        yield group, group_lines


def import_readings(path: str | Path, *, pipeline: IngestPipeline, batch_size: int = 5000,
                    progress: Progress | None = None, format: str | None = None) -> ImportReport:  # noqa: A002
    """Stream a CSV or NDJSON file of readings into ``pipeline``; returns counts and the refused lines."""
    path = Path(path)
    fmt = format or detect_format(path)
    total = path.stat().st_size
    report = ImportReport(str(path), fmt, bytes=total)
    items: list[Any] = []
    origins: list[list[int]] = []

    def flush() -> None:
        if not items:
            return
        result = pipeline.ingest(items, source=SOURCE)
        report.readings += len(items)
        report.accepted += result.accepted
        report.duplicates += result.duplicates
        for r in result.rejected:
            for line in origins[r.index]:
                report.rejected_count += 1
                if len(report.rejected) < MAX_REPORTED:
                    report.rejected.append(LineRejection(line, r.reason, r.field, r.message, r.device_id))
        items.clear()
        origins.clear()

    with path.open("rb") as fh:
        lines = _Lines(fh)
        for item, item_lines in (_csv(lines) if fmt == "csv" else _ndjson(lines)):
            items.append(item)
            origins.append(item_lines)
            if len(items) >= batch_size:
                flush()
                if progress is not None:
                    progress(lines.done, total)
        flush()
        report.lines = lines.number
    if progress is not None:
        progress(total, total)
    report.rejected.sort(key=lambda r: r.line)
    return report
