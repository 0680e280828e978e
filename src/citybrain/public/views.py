"""Public routes (mounted under /api/v1, deliberately without login): current warnings by district in plain
language, a per-district Atom feed, safety articles, and subscriptions (subscribe, confirm, unsubscribe).

Subscription routes are rate-limited per client IP; the subscription itself is audited like every write.
``confirm`` and ``unsubscribe`` links are followed from mail, so they answer a short HTML page to a
browser and JSON to everything else; ``unsubscribe`` also takes POST (one-click unsubscribe, RFC 8058).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request, Response, status

from citybrain.core.errors import NotFound, TooManyRequests
from citybrain.core.ratelimit import Limit, RateLimiter
from citybrain.deps import ClockDep, DbSession, Settings, client_ip, set_audit
from citybrain.public import articles
from citybrain.public import service as public_service
from citybrain.public import subscriptions as subs
from citybrain.public.schemas import (
    ArticleRead,
    ArticleSummary,
    PublicWarningList,
    SubscriptionAnswer,
    SubscriptionCreate,
    SubscriptionRead,
    TokenAnswer,
)
from citybrain.warning.atom import ATOM_MEDIA_TYPE

router = APIRouter(tags=["public"])
#: Five subscriptions per IP per ten minutes; token links thirty a minute.
LIMITS = {"subscribe": Limit(5, 600), "token": Limit(30, 60)}


def rate_limit(request: Request, action: str, now: datetime) -> None:
    """Refuse with 429 when this client IP has used up its bucket for ``action``."""
    cache: dict[str, Any] = request.app.state.cache
    if "public.limiter" not in cache:
        clock = request.app.state.clock
        cache.setdefault("public.limiter", RateLimiter(clock=lambda: clock.now().timestamp(), limits=dict(LIMITS)))
    wait = cache["public.limiter"].hit(action, client_ip(request) or "unknown")
    if wait is not None:
        raise TooManyRequests(f"too many requests from this address; try again in {int(wait)} s",
                              retry_after_s=int(wait))


def _allow_private(settings: Any) -> bool:
    return bool(getattr(settings, "public_webhook_allow_private", False))


# -- warnings ----------------------------------------------------------------------------------------


@router.get("/public/warnings", response_model=PublicWarningList)
def public_warnings(session: DbSession, district: str | None = Query(None, max_length=12)) -> PublicWarningList:
    """Public: the current public warnings in plain language (optionally one district), with what to do."""
    public_service.check_district(session=session, code=district, field="query.district")
    items = public_service.current_warnings(session=session, district=district)
    names = public_service.district_names(session=session)
    return PublicWarningList.model_validate({
        "items": items, "districts": public_service.by_district(items, districts=names), "district": district,
        "feed": public_service.feed_path(district) if district else None})


@router.get("/public/warnings/{district_code}.atom", response_class=Response,
            responses={200: {"content": {ATOM_MEDIA_TYPE: {}}}})
def district_atom(district_code: str, request: Request, session: DbSession, clock: ClockDep,
                  lang: str = Query("zh-CN", pattern="^(zh-CN|en)$")) -> Response:
    """Public: the Atom feed of one district's current public warnings."""
    public_service.check_district(session=session, code=district_code, field="path.district_code")
    base = str(request.base_url).rstrip("/")
    body = public_service.district_feed(session=session, now=clock.now(), base_url=base, district=district_code,
                                        lang=lang)
    return Response(body, media_type=ATOM_MEDIA_TYPE)


# -- articles ----------------------------------------------------------------------------------------


@router.get("/public/articles", response_model=list[ArticleSummary])
def list_articles() -> list[ArticleSummary]:
    """Public: every safety-knowledge article (both languages)."""
    return [ArticleSummary.model_validate(a.as_dict()) for a in articles.all_articles()]


@router.get("/public/articles/{key}", response_model=ArticleRead)
def get_article(key: str) -> ArticleRead:
    """Public: one safety-knowledge article."""
    article = articles.get_article(key)
    if article is None:
        raise NotFound(f"article {key!r} not found")
    return ArticleRead.model_validate(article.as_dict())


# -- subscriptions -----------------------------------------------------------------------------------


@router.post("/public/subscriptions", response_model=SubscriptionAnswer, status_code=status.HTTP_202_ACCEPTED)
def subscribe(body: SubscriptionCreate, request: Request, response: Response, session: DbSession, clock: ClockDep,
              settings: Settings) -> SubscriptionAnswer:
    """Public: subscribe an email address (confirmed by a link sent to it) or a webhook to a district."""
    now = clock.now()
    set_audit(request, resource_type="public_subscription", action="subscribe", kind=body.kind,
              district=body.district)
    rate_limit(request, "subscribe", now)
    done = subs.subscribe(session=session, now=now, kind=body.kind, target=body.target, district=body.district,
                          min_level=body.min_level, include_exercise=body.include_exercise, lang=body.lang,
                          secret=body.secret, allow_private=_allow_private(settings))
    sub = done.subscription
    set_audit(request, resource_type="public_subscription", resource_id=sub.id, action="subscribe", kind=body.kind,
              district=body.district, created=done.created)
    if body.kind == "email":
        return SubscriptionAnswer(
            kind="email", status="pending", district=sub.district_code,
            message_zh="如果该邮箱尚未订阅，我们已发送一封确认邮件，请打开其中的链接完成订阅。",
            message_en="If this address was not subscribed yet, a confirmation mail is on its way: "
                       "open its link to finish.")
    if not done.created:  # the asker may not own it: tell nothing that would let them change or stop it
        response.status_code = status.HTTP_200_OK
        return SubscriptionAnswer(kind="webhook", status=sub.status, district=sub.district_code,
                                  message_zh="该地址已订阅此区，未作改动。",
                                  message_en="This URL is already subscribed to this district; nothing changed.")
    response.status_code = status.HTTP_201_CREATED
    return SubscriptionAnswer(
        kind="webhook", status=sub.status, district=sub.district_code,
        message_zh="订阅已生效。请保存签名密钥和退订链接，它们只显示这一次。",
        message_en="Subscribed. Keep the signing secret and the unsubscribe link: they are shown only now.",
        subscription=SubscriptionRead.model_validate(subs.subscription_dict(sub)), secret=done.secret)


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


def _token_answer(request: Request, answer: TokenAnswer) -> Response:
    if not _wants_html(request):
        return Response(answer.model_dump_json(), media_type="application/json")
    from citybrain.public.pages import message_page

    return message_page(answer.message_zh, answer.message_en, back=f"/public?district={answer.district}")


@router.get("/public/subscriptions/confirm/{token}", response_model=TokenAnswer,
            responses={200: {"content": {"text/html": {}}}})
def confirm(token: str, request: Request, session: DbSession, clock: ClockDep) -> Response:
    """Public: confirm an email subscription (the link in the confirmation mail)."""
    now = clock.now()
    rate_limit(request, "token", now)
    sub = subs.confirm(session=session, now=now, token=token)
    return _token_answer(request, TokenAnswer(
        status=sub.status, district=sub.district_code, message_zh="订阅成功。有预警时我们会发邮件通知您。",
        message_en="You are subscribed. We will mail you when there is a warning."))


@router.get("/public/subscriptions/unsubscribe/{token}", response_model=TokenAnswer,
            responses={200: {"content": {"text/html": {}}}})
def unsubscribe_link(token: str, request: Request, session: DbSession, clock: ClockDep) -> Response:
    """Public: stop a subscription (the link in every message)."""
    return _unsubscribe(token, request, session, clock)


@router.post("/public/subscriptions/unsubscribe/{token}", response_model=TokenAnswer,
             responses={200: {"content": {"text/html": {}}}})
def unsubscribe_one_click(token: str, request: Request, session: DbSession, clock: ClockDep) -> Response:
    """Public: one-click unsubscribe (RFC 8058), as mail clients send it."""
    set_audit(request, resource_type="public_subscription", action="unsubscribe")
    return _unsubscribe(token, request, session, clock)


def _unsubscribe(token: str, request: Request, session: Any, clock: Any) -> Response:
    now = clock.now()
    rate_limit(request, "token", now)
    sub = subs.unsubscribe(session=session, now=now, token=token)
    if request.method == "POST":
        set_audit(request, resource_type="public_subscription", resource_id=sub.id, action="unsubscribe")
    return _token_answer(request, TokenAnswer(
        status=sub.status, district=sub.district_code, message_zh="已退订，您不会再收到这个订阅的消息。",
        message_en="Unsubscribed: you will get no more messages from this subscription."))

