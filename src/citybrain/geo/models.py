"""Base-map features (districts, metro stations and segments, roads) and the metro arc graph."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from citybrain.core.database import Base
from citybrain.geo.spatial import SpatialMixin


class GeoFeature(SpatialMixin, Base):
    """One feature of a named layer; ``key`` is stable across reloads (e.g. ``district:310101``)."""

    __tablename__ = "geo_feature"
    __table_args__ = (sa.UniqueConstraint("layer", "key", name="uq_geo_feature_layer_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    layer: Mapped[str] = mapped_column(sa.String(40), index=True)
    key: Mapped[str] = mapped_column(sa.String(80))
    code: Mapped[str | None] = mapped_column(sa.String(40), index=True)
    name_zh: Mapped[str] = mapped_column(sa.String(200), default="")
    name_en: Mapped[str] = mapped_column(sa.String(200), default="")
    props: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime]


class MetroArc(Base):
    __tablename__ = "metro_arc"

    id: Mapped[int] = mapped_column(primary_key=True)
    origin: Mapped[str] = mapped_column(sa.String(40), index=True)
    destination: Mapped[str] = mapped_column(sa.String(40))
    minutes: Mapped[float]
    category: Mapped[str] = mapped_column(sa.String(40))
    capacity: Mapped[float | None]
