"""The in-process ingestion path: reading batches published on the bus subject ``readings.in``.

The embedded simulator (and any in-process feed) publishes there; this service hands each batch to
the same pipeline that HTTP and MQTT use.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI

from citybrain.sensing.pipeline import Pipeline

log = logging.getLogger(__name__)
READINGS_IN = "readings.in"


class BusIngestor:
    name = "bus-ingest"

    def __init__(self, subject: str = READINGS_IN) -> None:
        self.subject = subject
        self.batches = 0

    async def start(self, app: FastAPI) -> None:
        self.pipeline: Pipeline = app.state.cache["sensing.pipeline"]
        # A durable name: on JetStream, ingestors on several nodes share the work instead of repeating it.
        self.subscription = await app.state.bus.subscribe(self.subject, self._handle, durable="bus-ingest")

    async def _handle(self, _subject: str, batch: Any) -> None:
        items = batch if isinstance(batch, list) else [batch]
        await self.pipeline.submit(items, source="bus")
        self.batches += 1

    async def stop(self) -> None:
        await self.subscription.close()
