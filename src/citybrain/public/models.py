"""Tables of public subscriptions and their delivery log (safety articles are shipped data, not rows).

A ``public_subscription`` is one citizen's request to hear about public warnings in one district, by
email (confirmed through a link first) or webhook (signed like the department webhooks). The
``public_delivery`` row is the outbox and the log in one: one row per (subscription, warning, state),
so a warning state is never announced twice to the same subscriber, whatever retries happen.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from citybrain.core.database import Base, JSONType


class PublicSubscription(Base):
    __tablename__ = "public_subscription"
    __table_args__ = (sa.Index("ix_public_subscription_match", "district_code", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(10))  # email | webhook
    target: Mapped[str] = mapped_column(sa.String(500))  # the address or the URL
    district_code: Mapped[str] = mapped_column(sa.String(12))
    min_level: Mapped[int] = mapped_column(default=4)  # 4 = blue and above (everything), 1 = red only
    include_exercise: Mapped[bool] = mapped_column(default=False)
    lang: Mapped[str] = mapped_column(sa.String(8), default="zh-CN")
    status: Mapped[str] = mapped_column(sa.String(16), index=True)  # pending | active | unsubscribed
    secret: Mapped[str | None] = mapped_column(sa.String(128))  # the webhook's HMAC key (shown once)
    confirm_token_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    unsubscribe_token: Mapped[str] = mapped_column(sa.String(64), unique=True)  # a capability to stop messages only
    created_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class PublicDelivery(Base):
    """One message to one subscriber: the confirmation mail, or one state of one public warning."""

    __tablename__ = "public_delivery"
    __table_args__ = (
        sa.UniqueConstraint("subscription_id", "warning_id", "state", name="uq_public_delivery_state"),
        sa.Index("ix_public_delivery_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(sa.ForeignKey("public_subscription.id", ondelete="CASCADE"),
                                                 index=True)
    warning_id: Mapped[int | None] = mapped_column(sa.ForeignKey("warning.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(sa.String(24))  # confirm | firing:<level> | resolved
    kind: Mapped[str] = mapped_column(sa.String(10))  # email | webhook
    status: Mapped[str] = mapped_column(sa.String(12))  # pending | sent | dead | cancelled
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
