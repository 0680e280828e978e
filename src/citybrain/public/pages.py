"""The public pages (mounted at the app root, deliberately without login), phone-friendly, 简体中文 first.

``GET /public`` lists the current public warnings by district in plain language with what to do, the
district's Atom feed and a subscription form; ``GET /public/articles`` and ``/public/articles/{key}`` show
the safety knowledge. Pages are rendered on the server, so they work without JavaScript; both languages are
in the page and ``public.js`` (served from ``/public/static``, no inline script, under the dashboard's CSP)
switches between them, remembers the choice and sends the subscription form.
"""

from __future__ import annotations

import html
from functools import cache
from importlib.resources import files
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from citybrain.core.errors import NotFound
from citybrain.deps import DbSession
from citybrain.public import articles
from citybrain.public import service as public_service
from citybrain.warning.models import Warning
from citybrain.web.views import CONTENT_SECURITY_POLICY

router = APIRouter(include_in_schema=False)
PAGE_HEADERS = {"Cache-Control": "no-cache", "Content-Security-Policy": CONTENT_SECURITY_POLICY,
                "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}
STATIC = {"public.css": "text/css; charset=utf-8", "public.js": "text/javascript; charset=utf-8"}
LEVELS = (("blue", "蓝色及以上（全部）", "Blue and above (all)"), ("yellow", "黄色及以上", "Yellow and above"),
          ("orange", "橙色及以上", "Orange and above"), ("red", "仅红色", "Red only"))


def e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def bi(zh: str, en: str, tag: str = "span", cls: str = "") -> str:
    """Both languages side by side; the stylesheet shows the chosen one."""
    extra = f" {cls}" if cls else ""
    return (f'<{tag} class="zh{extra}" lang="zh-CN">{e(zh)}</{tag}>'
            f'<{tag} class="en{extra}" lang="en">{e(en)}</{tag}>')


def _page(title_zh: str, title_en: str, body: str, *, lang: str, head: str = "",
          status_code: int = 200) -> HTMLResponse:
    code = "en" if lang == "en" else "zh"
    doc = f"""<!doctype html>
<html lang="{'en' if code == 'en' else 'zh-CN'}" data-lang="{code}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title_zh)} · {e(title_en)}</title>
<link rel="stylesheet" href="/public/static/public.css">
<script src="/public/static/public.js" defer></script>
{head}
</head>
<body>
<header class="top">
<a class="home" href="/public">{bi("城市公共安全", "City public safety")}</a>
<a class="lang-toggle" href="?lang={'zh-CN' if code == 'en' else 'en'}" data-lang-toggle>{bi("English", "中文")}</a>
</header>
<main>
{body}
</main>
<footer>{bi("紧急求助：匪警 110 · 火警 119 · 急救 120", "Emergency: police 110 · fire 119 · ambulance 120")}</footer>
</body>
</html>
"""
    return HTMLResponse(doc, status_code=status_code, headers=PAGE_HEADERS)


def message_page(zh: str, en: str, *, back: str = "/public", status_code: int = 200,
                 lang: str = "zh-CN") -> HTMLResponse:
    body = (f'<section class="message"><p>{bi(zh, en)}</p>'
            f'<p><a href="{e(back)}">{bi("返回预警页", "Back to the warnings")}</a></p></section>')
    return _page("公共安全预警", "Public-safety warnings", body, lang=lang, status_code=status_code)


def _warning_html(w: dict[str, Any]) -> str:
    bullets_zh = "".join(f"<li>{e(b)}</li>" for b in w["do_now_zh"])
    bullets_en = "".join(f"<li>{e(b)}</li>" for b in w["do_now_en"])
    article = w["article"]
    link = (f'<p class="more"><a href="{e(article["url"])}">'
            f'{bi("怎么做：" + article["title_zh"], "What to do: " + article["title_en"])}</a></p>' if article else "")
    drill = f'<p class="drill">{bi("这是一次演练，不是真实事件。", "This is a drill, not a real event.")}</p>' \
        if w["exercise"] else ""
    since = bi(f"发布时间 {w['since_local']}（北京时间）", f"Issued {w['since_local']} (Beijing time)")
    return f"""<article class="warning level-{e(w['level'])}{' exercise' if w['exercise'] else ''}" id="w-{w['id']}">
<h3>{bi(w['headline_zh'], w['headline_en'])}</h3>
{drill}<p class="action">{bi(w['action_zh'], w['action_en'])}</p>
<ul class="zh" lang="zh-CN">{bullets_zh}</ul><ul class="en" lang="en">{bullets_en}</ul>
{link}<p class="since">{since}</p>
</article>"""


def _district_select(names: dict[str, tuple[str, str]], current: str | None, *, name: str = "district",
                     everything: bool = True) -> str:
    options = ['<option value="">全市 · City-wide</option>'] if everything else []
    for code, (zh, en) in names.items():
        sel = " selected" if code == current else ""
        options.append(f'<option value="{e(code)}"{sel}>{e(zh)} · {e(en)}</option>')
    return f'<select name="{name}" data-autosubmit="{str(everything).lower()}">{"".join(options)}</select>'


def _subscribe_form(names: dict[str, tuple[str, str]], current: str | None) -> str:
    levels = "".join(f'<option value="{k}">{e(zh)} · {e(en)}</option>' for k, zh, en in LEVELS)
    return f"""<section class="subscribe" id="subscribe" hidden>
<h2>{bi("订阅预警", "Get warnings")}</h2>
<form data-subscribe>
<label>{bi("区", "District")} {_district_select(names, current, everything=False)}</label>
<label>{bi("方式", "By")} <select name="kind"><option value="email">Email</option>
<option value="webhook">Webhook (https)</option></select></label>
<label>{bi("邮箱或网址", "Email address or URL")} <input name="target" required maxlength="500"
 autocomplete="email" inputmode="email"></label>
<label>{bi("级别", "Level")} <select name="min_level">{levels}</select></label>
<label class="check"><input type="checkbox" name="include_exercise">
 {bi("也接收演练消息", "Also tell me about drills")}</label>
<button type="submit">{bi("订阅", "Subscribe")}</button>
<p class="result" role="status" aria-live="polite"></p>
</form>
</section>"""


@router.get("/public", response_class=HTMLResponse)
def warnings_page(session: DbSession, district: str | None = Query(None, max_length=12),
                  lang: str = Query("zh-CN", pattern="^(zh-CN|en)$")) -> HTMLResponse:
    """The current public warnings by district, in plain language, with what to do."""
    names = public_service.district_names(session=session)
    if district is not None and district not in names:
        district = None if district == "" else district
        if district is not None:
            return message_page("没有这个区。", "There is no such district.", status_code=404, lang=lang)
    items = public_service.current_warnings(session=session, district=district)
    groups = public_service.by_district(items, districts=names)
    sections = []
    for g in groups:
        feed = (f'<a class="feed" href="{e(g["feed"])}" type="application/atom+xml">'
                f'{bi("订阅 Atom 源", "Atom feed")}</a>' if g["feed"] else "")
        sections.append(f'<section class="district-group"><h2>{bi(g["name_zh"], g["name_en"])}</h2>{feed}'
                        + "".join(_warning_html(w) for w in g["warnings"]) + "</section>")
    if not sections:
        where_zh, where_en = names.get(district or "", ("全市", "the city"))
        calm_text = bi(f"{where_zh}目前没有公共安全预警。", f"No public-safety warning for {where_en} now.")
        calm = f'<p class="calm">{calm_text}</p>'
        if district:
            calm += (f'<p><a class="feed" href="{e(public_service.feed_path(district))}" type="application/atom+xml">'
                     f'{bi("订阅 Atom 源", "Atom feed")}</a></p>')
        sections.append(calm)
    guide = "".join(f'<li><a href="{e(a.path)}">{bi(a.title_zh, a.title_en)}</a></li>'
                    for a in articles.all_articles())
    body = f"""<h1>{bi("公共安全预警", "Public-safety warnings")}</h1>
<form class="district" method="get" action="/public">
<label>{bi("选择区", "District")} {_district_select(names, district)}</label>
<button type="submit">{bi("查看", "Show")}</button>
</form>
{''.join(sections)}
{_subscribe_form(names, district)}
<section class="guide"><h2>{bi("安全知识", "Safety knowledge")}</h2><ul>{guide}</ul></section>"""
    head = '<meta http-equiv="refresh" content="120">'
    if district:
        head += f'\n<link rel="alternate" type="application/atom+xml" href="{e(public_service.feed_path(district))}">'
    return _page("公共安全预警", "Public-safety warnings", body, lang=lang, head=head)


@router.get("/public/warnings/{warning_id}", response_class=RedirectResponse)
def warning_page(warning_id: int, session: DbSession) -> RedirectResponse:
    """A public warning's place on the public page (the link of the city-wide Atom feed's entries)."""
    w = session.get(Warning, warning_id)
    district = w.district_code if w is not None and w.public else None
    return RedirectResponse(public_service.page_path(district, warning_id if district else None), status_code=303)


@router.get("/public/articles", response_class=HTMLResponse)
def articles_page(lang: str = Query("zh-CN", pattern="^(zh-CN|en)$")) -> HTMLResponse:
    items = "".join(f'<li><a href="{e(a.path)}">{bi(a.title_zh, a.title_en, "strong")}</a>'
                    f'<p>{bi(a.summary_zh, a.summary_en)}</p></li>' for a in articles.all_articles())
    body = f'<h1>{bi("安全知识", "Safety knowledge")}</h1><ul class="articles">{items}</ul>'
    return _page("安全知识", "Safety knowledge", body, lang=lang)


@router.get("/public/articles/{key}", response_class=HTMLResponse)
def article_page(key: str, lang: str = Query("zh-CN", pattern="^(zh-CN|en)$")) -> HTMLResponse:
    a = articles.get_article(key)
    if a is None:
        return message_page("没有这篇文章。", "There is no such article.", back="/public/articles", status_code=404,
                            lang=lang)
    paras_zh = "".join(f'<p class="zh" lang="zh-CN">{e(p)}</p>' for p in a.body_zh.split("\n\n") if p.strip())
    paras_en = "".join(f'<p class="en" lang="en">{e(p)}</p>' for p in a.body_en.split("\n\n") if p.strip())
    calls = " · ".join(f'<a href="tel:{e(c)}">{e(c)}</a>' for c in a.call)
    body = f"""<article class="knowledge">
<h1>{bi(a.title_zh, a.title_en)}</h1>
<p class="summary">{bi(a.summary_zh, a.summary_en)}</p>
<h2>{bi("现在就做", "Do this now")}</h2>
<ol class="zh" lang="zh-CN">{''.join(f'<li>{e(b)}</li>' for b in a.do_now_zh)}</ol>
<ol class="en" lang="en">{''.join(f'<li>{e(b)}</li>' for b in a.do_now_en)}</ol>
<p class="call">{bi("求助电话：", "Call: ")}{calls}</p>
<h2>{bi("为什么", "Why")}</h2>
{paras_zh}{paras_en}
<p><a href="/public/articles">{bi("全部安全知识", "All safety knowledge")}</a></p>
</article>"""
    return _page(a.title_zh, a.title_en, body, lang=lang)


@cache
def _static(name: str) -> bytes:
    return (files("citybrain.public") / "static" / name).read_bytes()


@router.get("/public/static/{name}")
def static(name: str) -> Response:
    """The page's own stylesheet and script (a fixed list; nothing else is served from here)."""
    if name not in STATIC:
        raise NotFound(f"no static file {name!r}")
    return Response(_static(name), media_type=STATIC[name],
                    headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})
