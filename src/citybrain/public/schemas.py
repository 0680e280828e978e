"""API shapes of the public pages: plain-language warnings, safety articles, subscriptions."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from citybrain.core.schemas import InputModel, ReadModel


class ArticleRef(ReadModel):
    key: str
    title_zh: str
    title_en: str
    url: str


class PublicWarningRead(ReadModel):
    """One public warning as residents read it (the fields of the warning engine's public list, and more)."""

    id: int
    level: str
    level_roman: str
    level_zh: str
    summary_zh: str
    summary_en: str
    district: str | None
    district_name_zh: str | None
    district_name_en: str | None
    lon: float | None
    lat: float | None
    starts_at: datetime
    updated_at: datetime
    since_local: str
    type: str | None
    exercise: bool
    state: str
    headline_zh: str
    headline_en: str
    action_zh: str
    action_en: str
    text_zh: str
    text_en: str
    instruction_zh: str
    instruction_en: str
    do_now_zh: list[str]
    do_now_en: list[str]
    call: list[str]
    article: ArticleRef | None
    cap: str
    feed: str | None
    page: str


class DistrictWarnings(ReadModel):
    district: str | None
    name_zh: str
    name_en: str
    warnings: list[PublicWarningRead]
    feed: str | None


class PublicWarningList(BaseModel):
    items: list[PublicWarningRead]
    districts: list[DistrictWarnings]
    district: str | None
    feed: str | None


class ArticleSummary(ReadModel):
    key: str
    types: list[str]
    title_zh: str
    title_en: str
    summary_zh: str
    summary_en: str
    action_zh: str
    action_en: str
    url: str
    api: str


class ArticleRead(ArticleSummary):
    call: list[str]
    do_now_zh: list[str]
    do_now_en: list[str]
    body_zh: str
    body_en: str


class SubscriptionCreate(InputModel):
    kind: Literal["email", "webhook"]
    target: str = Field(..., min_length=3, max_length=500, description="an email address or an http(s) URL")
    district: str = Field(..., min_length=1, max_length=12, description="district code, e.g. 310101")
    min_level: str | int = Field("blue", description="the least severe level to hear about: blue … red, IV … I")
    include_exercise: bool = Field(False, description="also hear about drills (演练)")
    lang: Literal["zh-CN", "en"] = "zh-CN"
    secret: str | None = Field(None, max_length=128, description="webhook signing secret; generated if omitted")


class SubscriptionRead(ReadModel):
    id: int
    kind: str
    target: str
    district: str
    min_level: str
    include_exercise: bool
    lang: str
    status: str
    created_at: datetime
    confirmed_at: datetime | None
    unsubscribe: str


class SubscriptionAnswer(BaseModel):
    """The answer to a subscription: an email's stays vague (it must not tell who is subscribed)."""

    kind: str
    status: str
    district: str
    message_zh: str
    message_en: str
    subscription: SubscriptionRead | None = None
    secret: str | None = Field(None, description="the webhook signing secret, shown only now")


class TokenAnswer(BaseModel):
    status: str
    district: str
    message_zh: str
    message_en: str
    extra: dict[str, Any] = Field(default_factory=dict)
