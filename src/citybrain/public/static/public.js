// The public pages: switch language (remembered), auto-submit the district choice, send the subscription form.
// Served as a file (no inline script) so the pages run under the dashboard's Content-Security-Policy.
(function () {
  "use strict";
  var KEY = "citybrain.public.lang";
  var root = document.documentElement;

  function setLang(code, remember) {
    root.setAttribute("data-lang", code);
    root.setAttribute("lang", code === "en" ? "en" : "zh-CN");
    if (remember) {
      try { localStorage.setItem(KEY, code); } catch (err) { /* private mode: not remembered */ }
    }
    var url = new URL(window.location.href);
    url.searchParams.set("lang", code === "en" ? "en" : "zh-CN");
    window.history.replaceState(null, "", url.toString());
    document.querySelectorAll("[data-lang-toggle]").forEach(function (a) {
      a.setAttribute("href", "?lang=" + (code === "en" ? "zh-CN" : "en"));
    });
  }

  function init() {
    var params = new URLSearchParams(window.location.search);
    var stored = null;
    try { stored = localStorage.getItem(KEY); } catch (err) { stored = null; }
    if (!params.has("lang") && (stored === "en" || stored === "zh")) { setLang(stored, false); }

    document.querySelectorAll("[data-lang-toggle]").forEach(function (a) {
      a.addEventListener("click", function (ev) {
        ev.preventDefault();
        setLang(root.getAttribute("data-lang") === "en" ? "zh" : "en", true);
      });
    });

    document.querySelectorAll('select[data-autosubmit="true"]').forEach(function (sel) {
      sel.addEventListener("change", function () { sel.form.submit(); });
    });

    var section = document.getElementById("subscribe");
    var form = document.querySelector("form[data-subscribe]");
    if (!section || !form) { return; }
    section.hidden = false;
    var out = form.querySelector(".result");
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var data = new FormData(form);
      var body = {
        kind: data.get("kind"), target: String(data.get("target") || "").trim(), district: data.get("district"),
        min_level: data.get("min_level"), include_exercise: data.get("include_exercise") === "on",
        lang: root.getAttribute("data-lang") === "en" ? "en" : "zh-CN"
      };
      var en = root.getAttribute("data-lang") === "en";
      out.textContent = en ? "Sending…" : "正在提交…";
      fetch("/api/v1/public/subscriptions", {
        method: "POST", headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify(body), credentials: "omit"
      }).then(function (r) {
        return r.json().then(function (j) { return { ok: r.ok, json: j }; });
      }).then(function (res) {
        var j = res.json;
        if (res.ok) {
          var text = en ? j.message_en : j.message_zh;
          if (j.secret) { text += (en ? " Secret: " : " 签名密钥：") + j.secret; }
          if (j.subscription && j.subscription.unsubscribe) {
            text += (en ? " Unsubscribe: " : " 退订链接：") + window.location.origin + j.subscription.unsubscribe;
          }
          out.textContent = text;
        } else {
          var msg = (j.errors && j.errors.length) ? j.errors.map(function (e) { return e.message; }).join("; ") : j.detail;
          out.textContent = (en ? "Not accepted: " : "未能提交：") + msg;
        }
      }).catch(function () {
        out.textContent = en ? "Network error, please try again." : "网络错误，请重试。";
      });
    });
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
