// Open warnings: one store fed by GET /warnings, /warnings/summary and the SSE stream /stream/warnings,
// drawn twice — the "预警 / Warnings" card (counts by level, a level filter, the live list) and the
// warning markers on the map (a registry entry appended to LAYERS). The store lives as long as the
// session: startWarnings(user) when someone signs in, stopWarnings() when they sign out.

import { api, ApiError } from './api.js';
import { h } from './dom.js';
import { t, intlLocale, localized } from './i18n.js';
import { LEVELS, LEVEL_COLOR, fmtDateTime, levelChip, openWarning, refreshWarning, stateName, summaryOf } from './warning-page.js';
import { openRuleEditor } from './rule-editor.js';

const LIST_LIMIT = 500;
const POLL_MS = 60000;
const SHOW = 60;
const EMPTY = { type: 'FeatureCollection', features: [] };
const SCOPE_ONLY = new Set(['audit', 'admin']); // never reached through "*:verb" (as auth/permissions.py)

const store = {
  user: null, grants: [], items: new Map(), summary: null, status: 'off', error: null,
  source: null, retryTimer: null, retryMs: 2000, loading: null, summaryTimer: null, pollTimer: null,
};
const listeners = new Set();
let env = { api, map: null, timezone: 'Asia/Shanghai' };
let districtNames = null;
const filter = new Set(); // levels shown; empty = all

// ---- the store -----------------------------------------------------------------------------

/** Wire the store to the app (called once the map exists). */
export function initWarnings(options) {
  env = { ...env, ...options };
  window.citybrain && Object.assign(window.citybrain, { openWarning: (id) => openWarning(id, pageCtx()), warnings: store });
}

function emit() {
  pushMap();
  for (const fn of listeners) fn();
}

/** Whether the signed-in user holds `permission` (grants from /auth/me, patterns as on the server). */
export function can(permission) {
  const area = permission.split(':')[0];
  return (store.grants || []).some((g) => g === '*' || g === permission || (!SCOPE_ONLY.has(area) && globMatch(g, permission)));
}

/** Resolves once the signed-in user's permissions are known (other stores wait for it before using can()). */
export function permissionsReady() {
  return store.loading;
}

function globMatch(pattern, text) {
  const escaped = pattern.split('*').map((part) => part.replace(/[.+?^$()|[\]{}\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`).test(text);
}

export function startWarnings(user) {
  if (store.user?.id === user?.id && store.status !== 'off') return;
  stopWarnings();
  if (!user) return;
  store.user = user;
  store.status = 'connecting';
  store.loading = env.api.get('/api/v1/auth/me')
    .then((me) => { store.grants = me.permissions || []; }, () => { store.grants = null; }) // null: unknown, let the API decide
    .then(() => {
      if (store.user !== user) return null;
      if (store.grants && !can('warning:read')) {
        store.status = 'forbidden'; // e.g. an enterprise account: no list, no stream
        emit();
        return null;
      }
      connect();
      // Actions taken through the API by other people are not on the stream: a slow poll catches them.
      store.pollTimer = setInterval(refresh, POLL_MS);
      return refresh();
    });
}

export function stopWarnings() {
  if (store.status === 'off' && !store.user) return;
  store.source?.close();
  clearInterval(store.pollTimer);
  clearTimeout(store.retryTimer);
  clearTimeout(store.summaryTimer);
  Object.assign(store, { user: null, grants: [], summary: null, status: 'off', error: null, source: null, loading: null, retryMs: 2000 });
  store.items.clear();
  emit();
}

async function refresh() {
  const user = store.user;
  try {
    const [page, summary] = await Promise.all([
      env.api.get(`/api/v1/warnings?state=open&limit=${LIST_LIMIT}`),
      env.api.get('/api/v1/warnings/summary'),
    ]);
    if (store.user !== user) return;
    // What the stream brought while this was on its way is newer: keep it.
    const newer = (w) => {
      const seen = store.items.get(w.id);
      return seen && Date.parse(seen.updated_at) > Date.parse(w.updated_at) ? seen : w;
    };
    store.items = new Map(page.items.map((w) => [w.id, newer(w)]));
    store.summary = summary;
    store.error = null;
  } catch (err) {
    if (store.user !== user) return;
    store.error = err;
    if (err instanceof ApiError && err.status === 403) store.status = 'forbidden';
  }
  emit();
}

function refreshSummarySoon() {
  clearTimeout(store.summaryTimer);
  store.summaryTimer = setTimeout(async () => {
    const user = store.user;
    try {
      const summary = await env.api.get('/api/v1/warnings/summary');
      if (store.user === user && user) {
        store.summary = summary;
        emit();
      }
    } catch { /* the next event retries */ }
  }, 400);
}

/** A changed warning (from the stream or an action): open ones are kept, resolved ones leave. */
export function upsert(w) {
  if (!w || w.id === undefined) return;
  if (w.state === 'resolved') store.items.delete(w.id);
  else store.items.set(w.id, { ...(store.items.get(w.id) || {}), ...w });
  emit();
  refreshSummarySoon();
  refreshWarning(w.id);
}

function connect() {
  const user = store.user;
  const source = new EventSource('/api/v1/stream/warnings');
  store.source = source;
  source.addEventListener('ready', () => {
    if (store.user !== user) return;
    const reconnected = store.status !== 'connecting';
    store.status = 'open';
    store.retryMs = 2000;
    if (reconnected) refresh(); // catch up on what changed while we were away
    else emit();
  });
  source.addEventListener('warning', (e) => {
    try {
      upsert(JSON.parse(e.data));
    } catch (err) {
      console.warn('warning stream:', err);
    }
  });
  source.addEventListener('error', () => {
    if (store.user !== user || store.source !== source || store.status === 'forbidden') return;
    store.status = 'reconnecting';
    if (source.readyState === EventSource.CLOSED) {
      // The browser gave up (e.g. the server restarted and answered an error): retry with backoff.
      clearTimeout(store.retryTimer);
      store.retryTimer = setTimeout(() => store.user === user && connect(), store.retryMs);
      store.retryMs = Math.min(store.retryMs * 2, 60000);
    }
    emit();
  });
}

export function openWarnings() {
  return [...store.items.values()].sort((a, b) => a.level_number - b.level_number || Date.parse(b.starts_at) - Date.parse(a.starts_at));
}

// ---- words and places ----------------------------------------------------------------------

function loadDistricts() {
  districtNames = districtNames || env.api.get('/api/v1/geo/layers/districts')
    .then((fc) => new Map((fc.features || []).map((f) => [String(f.properties.code), f.properties])))
    .catch(() => new Map());
  return districtNames;
}
let districts = new Map();

export function placeOf(w) {
  const l = w.labels || {};
  const district = w.district || l.district;
  const name = district ? localized(districts.get(String(district))) || district : '';
  return [l.asset || l.device, name].filter(Boolean).join(' · ');
}

function clock(value) {
  return new Intl.DateTimeFormat(intlLocale(), { timeZone: env.timezone, hour: '2-digit', minute: '2-digit', hour12: false }).format(new Date(value));
}

function age(value) {
  const s = Math.round((Date.now() - Date.parse(value)) / 1000);
  const rtf = new Intl.RelativeTimeFormat(intlLocale(), { numeric: 'auto', style: 'short' });
  if (s < 60) return rtf.format(-Math.max(s, 0), 'second');
  if (s < 3600) return rtf.format(-Math.floor(s / 60), 'minute');
  if (s < 86400) return rtf.format(-Math.floor(s / 3600), 'hour');
  return rtf.format(-Math.floor(s / 86400), 'day');
}

function pageCtx() {
  return { api: env.api, timezone: env.timezone, can, onChange: upsert, placeOf, openIncident: (id) => window.citybrain?.openIncident?.(id) };
}

function badges(w) {
  const out = [];
  if (w.state !== 'firing') out.push(h('span', { class: `state-badge state-${w.state}` }, stateName(w.state)));
  if (w.silenced_by) out.push(h('span', { class: 'state-badge state-suppressed' }, t('warnings.badge.silenced')));
  if (w.inhibited_by) out.push(h('span', { class: 'state-badge state-suppressed' }, t('warnings.badge.inhibited')));
  if (w.escalation_step) out.push(h('span', { class: 'state-badge state-escalated' }, t('warnings.badge.escalated', { n: w.escalation_step })));
  return out;
}

// ---- the card ------------------------------------------------------------------------------

/** Fill the warnings card; returns the cleanup (stops listening; the store itself lives on). */
export function renderWarningsCard(body, ctx) {
  env.timezone = ctx.timezone || env.timezone;
  const counts = h('div', { class: 'warn-counts', role: 'group', 'aria-label': t('warnings.filter') });
  const status = h('p', { class: 'live-status warn-live' }, h('span', { class: 'dot', 'aria-hidden': 'true' }), h('span', { class: 'live-text' }));
  const list = h('ul', { class: 'warn-list', 'aria-label': t('panel.warnings') });
  const more = h('p', { class: 'gaps-more', hidden: true });
  const rules = h('button', { type: 'button', class: 'link-btn warn-rules', hidden: true, onclick: () => openRuleEditor({ api: env.api, can }) }, t('rules.open'));
  body.replaceChildren(counts, h('div', { class: 'warn-bar' }, status, rules), list, more);
  body.classList.add('warn-card');

  function countButton(level, n) {
    const spec = LEVELS.find((l) => l.level === level);
    const pressed = level ? filter.has(level) : filter.size === 0;
    const label = level ? t('warnings.count', { roman: spec.roman, name: t(`warnings.level.${level}`), n }) : t('warnings.count.all', { n });
    return h('button', {
      type: 'button', class: `warn-count${level ? ` level-${level}` : ''}`, 'aria-pressed': String(pressed), dataset: { level: level || 'all' },
      title: label, 'aria-label': label,
      onclick: () => {
        if (!level) filter.clear();
        else if (filter.has(level)) filter.delete(level);
        else filter.add(level);
        draw();
      },
    }, level ? h('span', { class: 'warn-roman' }, spec.roman) : h('span', {}, t('warnings.all')), h('span', { class: 'warn-n mono' }, String(n)));
  }

  function draw() {
    const byLevel = store.summary?.by_level || {};
    counts.replaceChildren(countButton(null, store.summary?.open ?? store.items.size), ...LEVELS.map((l) => countButton(l.level, byLevel[l.level] ?? 0)));
    status.dataset.stream = { open: 'open', connecting: 'connecting', reconnecting: 'connecting', off: 'closed', forbidden: 'closed' }[store.status];
    status.querySelector('.live-text').textContent = t(`warnings.live.${store.status}`);
    rules.hidden = !can('warning:write');
    const all = openWarnings().filter((w) => !filter.size || filter.has(w.level));
    body.dataset.count = String(all.length);
    if (store.status === 'forbidden') {
      list.replaceChildren(h('li', { class: 'empty-state' }, h('p', {}, t('warnings.forbidden'))));
    } else if (store.error && !store.items.size) {
      list.replaceChildren(h('li', { class: 'form-error' }, t('warnings.error.load', { message: store.error.message })));
    } else if (!all.length) {
      list.replaceChildren(h('li', { class: 'empty-state' }, h('span', { class: 'empty-icon', 'aria-hidden': 'true' }),
        h('p', {}, t(store.status === 'connecting' && !store.summary ? 'warnings.loading' : 'panel.warnings.empty'))));
    } else {
      list.replaceChildren(...all.slice(0, SHOW).map((w) => h('li', {}, h('button', {
        type: 'button', class: 'warn-item', dataset: { id: String(w.id), level: w.level, state: w.state, suppressed: String(Boolean(w.suppressed)) },
        onclick: () => openWarning(w.id, pageCtx()),
      },
      levelChip(w.level),
      h('span', { class: 'warn-main' },
        h('span', { class: 'warn-summary' }, summaryOf(w)),
        h('span', { class: 'warn-sub' }, [placeOf(w), h('time', { dateTime: w.starts_at, title: fmtDateTime(w.starts_at, env.timezone) },
          `${clock(w.starts_at)} · ${age(w.starts_at)}`)].filter(Boolean).flatMap((x, i) => (i ? [' · ', x] : [x])))),
      h('span', { class: 'warn-badges' }, badges(w))))));
    }
    more.hidden = all.length <= SHOW;
    more.textContent = t('gaps.more', { n: all.length - SHOW });
  }

  listeners.add(draw);
  const tick = setInterval(draw, 30000); // ages
  draw();
  loadDistricts().then((m) => {
    districts = m;
    if (listeners.has(draw)) draw();
  });
  return () => {
    listeners.delete(draw);
    clearInterval(tick);
  };
}

// ---- the map layer -------------------------------------------------------------------------

function geojson() {
  const features = openWarnings().filter((w) => Number.isFinite(w.lon) && Number.isFinite(w.lat)).reverse() // most severe drawn last
    .map((w) => ({
      type: 'Feature', id: w.id, geometry: { type: 'Point', coordinates: [w.lon, w.lat] },
      properties: { id: w.id, level: w.level, level_number: w.level_number, state: w.state, suppressed: Boolean(w.suppressed),
        summary_zh: w.summary_zh, summary_en: w.summary_en, rule: w.rule, starts_at: w.starts_at },
    }));
  return store.user ? { type: 'FeatureCollection', features } : EMPTY;
}

let pushed = '';
function pushMap() {
  const source = env.map?.getSource?.('warnings');
  const data = geojson();
  const key = JSON.stringify(data.features.map((f) => f.properties)); // skip the redraw when nothing moved
  if (source && key !== pushed) {
    source.setData(data);
    pushed = key;
  }
  syncPulse();
}

// Red warnings pulse: a ring drawn by CSS on a DOM marker, so the animation never redraws the map
// (a paint-property animation would repaint every layer ten times a second). Clicks pass through.
const pulses = new Map(); // id -> maplibregl.Marker
let pulseHooked = false;
function syncPulse() {
  const map = env.map;
  const lib = window.maplibregl;
  if (!map || !lib) return;
  if (!pulseHooked) {
    pulseHooked = true;
    map.on('styledata', syncPulse); // the layer toggle hides and shows the rings too
  }
  const shown = Boolean(store.user) && map.getLayer('warnings-point') && map.getLayoutProperty('warnings-point', 'visibility') !== 'none';
  const red = new Map(shown ? openWarnings().filter((w) => w.level === 'red' && Number.isFinite(w.lon) && Number.isFinite(w.lat)).map((w) => [w.id, w]) : []);
  for (const [id, marker] of pulses) {
    if (!red.has(id)) {
      marker.remove();
      pulses.delete(id);
    }
  }
  for (const [id, w] of red) {
    const marker = pulses.get(id);
    if (marker) marker.setLngLat([w.lon, w.lat]);
    else pulses.set(id, new lib.Marker({ element: h('div', { class: 'warn-pulse', 'aria-hidden': 'true', dataset: { id: String(id) } }) }).setLngLat([w.lon, w.lat]).addTo(map));
  }
}

const LEVEL_EXPR = ['match', ['get', 'level'], ...LEVELS.flatMap((l) => [l.level, l.color]), '#8b98a9'];
const IS_RED = ['==', ['get', 'level'], 'red'];
const MUTED = ['any', ['get', 'suppressed'], ['==', ['get', 'state'], 'acknowledged']];

function tooltip(feature) {
  const p = feature.properties;
  return h('div', { class: 'cb-popup' },
    h('div', { class: 'cb-popup-kicker' }, levelChip(p.level), ' ', stateName(p.state)),
    h('div', { class: 'cb-popup-title' }, localized(p, 'summary') || p.rule),
    h('div', { class: 'cb-popup-sub' }, fmtDateTime(p.starts_at, env.timezone)));
}

export const WARNING_GROUP = { id: 'warning', titleKey: 'group.warning' };

export const WARNING_LAYERS = [
  {
    name: 'warnings',
    group: 'warning',
    titleKey: 'layer.warnings',
    visible: true,
    requiresAuth: true,
    load: async () => {
      await store.loading;
      return geojson();
    },
    swatch: { kind: 'circle', color: LEVEL_COLOR.red },
    legend: LEVELS.map((l) => ({ color: l.color, key: `warnings.legend.${l.level}` })),
    style: [
      {
        id: 'warnings-point',
        type: 'circle',
        paint: {
          'circle-color': LEVEL_EXPR,
          'circle-radius': ['interpolate', ['linear'], ['zoom'], 9, ['case', IS_RED, 7, 5], 14, ['case', IS_RED, 11, 8], 18, ['case', IS_RED, 15, 11]],
          'circle-opacity': ['case', MUTED, 0.45, 0.95],
          'circle-stroke-color': '#f8fafc',
          'circle-stroke-width': ['case', IS_RED, 2.2, 1.4],
        },
      },
    ],
    tooltip: { layer: 'warnings-point', render: tooltip },
    click: { layer: 'warnings-point', handle: (feature) => openWarning(feature.properties.id, pageCtx()) },
  },
];
