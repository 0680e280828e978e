// Open incidents and the unit fleet: one store polled every 15 s (GET /incidents?open=true, GET /units),
// drawn as the "事件 / Incidents" card and as two map layers (incident markers by level, units by status),
// plus the route of a recommended unit while it is hovered on the incident page. The store lives as long
// as the session: startIncidents(user) on sign-in, stopIncidents() on sign-out.
// While any unit is moving (dispatched, en route, returning) the fleet alone is re-read every 3 s and each
// square glides to its new position, so the map looks live; the open incident page's unit rows get the
// unit's live status, since when, and when it last reported. With incident:write the card offers the
// response-plan editor (plan-editor.js) and the drill launcher (drill-launcher.js).

import { api, ApiError } from './api.js';
import { h } from './dom.js';
import { t, intlLocale } from './i18n.js';
import { LEVELS, LEVEL_COLOR, fmtDateTime, levelChip } from './warning-page.js';
import { can, permissionsReady } from './warnings.js';
import { UNIT_COLOR, incidentStatusName, openIncident, refreshIncident, titleOf, typeName, unitKindName, unitStatusName } from './incident-page.js';
import { openPlanEditor } from './plan-editor.js';
import { openDrillLauncher } from './drill-launcher.js';

const POLL_MS = 15000;
const UNIT_FAST_MS = 3000; // the fleet alone, while a unit is moving
const MOVING = new Set(['dispatched', 'en_route', 'returning']);
const TWEEN_MS = 1000; // a moved square glides to its new position
const TWEEN_MAX_DEG = 0.05; // ~5 km: farther jumps (a unit sent home, a new registration) are not animated
const LIST_LIMIT = 200;
const SHOW = 40;
const EMPTY = { type: 'FeatureCollection', features: [] };
const LEVEL_NUMBER = Object.fromEntries(LEVELS.map((l, i) => [l.level, i + 1]));

const store = {
  user: null, items: new Map(), units: [], status: 'off', error: null, pollTimer: null, loading: null,
  unitTimer: null, unitPollMs: POLL_MS, // unitPollMs: how often the fleet is re-read now (3 s while a unit moves)
  unitsAt: 0, // when the fleet was last read (Date.now())
};
const listeners = new Set();
let env = { api, map: null, timezone: 'Asia/Shanghai' };

/** Wire the store to the app (called once the map exists). */
export function initIncidents(options) {
  env = { ...env, ...options };
  if (window.citybrain) Object.assign(window.citybrain, { openIncident: showIncident, incidents: store });
  env.map?.on('styleimagemissing', (e) => addSquare(e.id));
}

function emit() {
  pushMap();
  decorateIncidentUnits();
  for (const fn of listeners) fn();
}

/** Open an incident's page (and follow its unit rows with the fleet's live state). */
export function showIncident(id) {
  const opened = openIncident(id, pageCtx());
  watchIncidentPage();
  return opened;
}

export function startIncidents(user) {
  if (store.user?.id === user?.id && store.status !== 'off') return;
  stopIncidents();
  if (!user) return;
  store.user = user;
  store.status = 'loading';
  store.loading = Promise.resolve(permissionsReady()).then(() => {
    if (store.user !== user) return null;
    if (!can('incident:read')) {
      store.status = 'forbidden';
      emit();
      return null;
    }
    store.pollTimer = setInterval(refresh, POLL_MS);
    return refresh();
  });
}

export function stopIncidents() {
  if (store.status === 'off' && !store.user) return;
  clearInterval(store.pollTimer);
  clearTimeout(store.unitTimer);
  tween = null;
  Object.assign(store, { user: null, units: [], status: 'off', error: null, pollTimer: null, loading: null, unitTimer: null, unitPollMs: POLL_MS });
  store.items.clear();
  emit();
}

export async function refresh() {
  const user = store.user;
  if (!user) return;
  try {
    const [page, units] = await Promise.all([
      env.api.get(`/api/v1/incidents?open=true&limit=${LIST_LIMIT}`),
      env.api.get('/api/v1/units').catch(() => []),
    ]);
    if (store.user !== user) return;
    store.items = new Map(page.items.map((i) => [i.id, i]));
    setUnits(units || []);
    store.status = 'ready';
    store.error = null;
  } catch (err) {
    if (store.user !== user) return;
    store.error = err;
    if (err instanceof ApiError && err.status === 403) store.status = 'forbidden';
  }
  emit();
  scheduleUnits();
  for (const id of store.items.keys()) refreshIncident(id);
}

// ---- live unit positions -------------------------------------------------------------------

/** Re-read the fleet in 3 s while any unit is moving; otherwise the 15 s poll is enough. */
function scheduleUnits() {
  clearTimeout(store.unitTimer);
  store.unitTimer = null;
  const moving = store.units.some((u) => MOVING.has(u.status));
  store.unitPollMs = moving ? UNIT_FAST_MS : POLL_MS;
  if (store.user && moving && store.status === 'ready') store.unitTimer = setTimeout(refreshUnits, UNIT_FAST_MS);
}

async function refreshUnits() {
  const user = store.user;
  if (!user) return;
  if (!document.hidden) { // a hidden tab waits; the first poll after it shows catches up
    try {
      const units = await env.api.get('/api/v1/units');
      if (store.user !== user) return;
      setUnits(units || []);
      pushMap();
      decorateIncidentUnits();
    } catch {
      /* the next poll tries again */
    }
  }
  if (store.user === user) scheduleUnits();
}

let tween = null; // {from: Map(unit id -> [lon, lat]), start}

const reducedMotion = () => window.matchMedia?.('(prefers-reduced-motion: reduce)').matches;

/** Where a unit's square is drawn now: on its way from the previous position while a glide runs. */
function drawnAt(u, now = performance.now()) {
  const from = tween?.from.get(u.id);
  if (!from) return [u.lon, u.lat];
  const x = Math.min(1, (now - tween.start) / TWEEN_MS);
  const k = x < 0.5 ? 2 * x * x : 1 - ((-2 * x + 2) ** 2) / 2; // ease in-out
  return [from[0] + (u.lon - from[0]) * k, from[1] + (u.lat - from[1]) * k];
}

function setUnits(units) {
  const now = performance.now();
  const before = new Map(store.units.map((u) => [u.id, drawnAt(u, now)]));
  store.units = units;
  store.unitsAt = Date.now();
  const from = new Map();
  if (!reducedMotion()) {
    for (const u of units) {
      const p = before.get(u.id);
      if (!p || !Number.isFinite(u.lon) || !Number.isFinite(u.lat)) continue;
      const d = Math.abs(p[0] - u.lon) + Math.abs(p[1] - u.lat);
      if (d > 0 && d < TWEEN_MAX_DEG) from.set(u.id, p);
    }
  }
  tween = from.size ? { from, start: now } : null;
  if (tween) requestAnimationFrame(glide);
}

function glide() {
  if (!tween) return;
  const done = performance.now() - tween.start >= TWEEN_MS;
  if (done) tween = null;
  pushMap();
  if (!done) requestAnimationFrame(glide);
}

// The incident page (incident-page.js) lists the units dispatched to the incident from the incident's own
// record; each row (li[data-unit-id]) is completed here with the fleet's live state: status, since when,
// and when its position was last reported (position_at; updated_at for a server without it).
// When the page was drawn after the fleet was read and the two disagree (a unit just dispatched from the page),
// the page is the fresher: the row waits for the re-read that every action starts.
let watchedPage = null;
let pageDrawnAt = 0;

function watchIncidentPage() {
  const el = document.getElementById('incident-dialog');
  if (!el || watchedPage === el) return;
  watchedPage = el;
  new MutationObserver(() => { // each render replaces the dialog's children
    pageDrawnAt = Date.now();
    decorateIncidentUnits();
  }).observe(el, { childList: true });
  pageDrawnAt = Date.now();
  decorateIncidentUnits();
}

function decorateIncidentUnits() {
  const el = watchedPage;
  if (!el?.open) return;
  const byId = new Map(store.units.map((u) => [String(u.id), u]));
  for (const li of el.querySelectorAll('.incident-units li[data-unit-id]')) {
    const u = byId.get(li.dataset.unitId);
    let live = li.querySelector('.unit-live');
    const stale = u && u.status !== li.dataset.status && store.unitsAt < pageDrawnAt;
    if (!u || stale || li.dataset.status === 'released') { // released: a past assignment, the unit is elsewhere now
      live?.remove();
      continue;
    }
    if (!live) {
      live = h('span', { class: 'unit-live' });
      li.append(live);
    }
    live.dataset.status = u.status;
    const reportedAt = u.position_at || u.updated_at;
    live.dataset.updatedAt = reportedAt;
    live.replaceChildren(
      h('span', { class: `state-badge unit-status unit-${u.status}`, style: { '--unit': UNIT_COLOR[u.status] || '#8b98a9' } }, unitStatusName(u.status)),
      ' ', h('time', { class: 'unit-since', dateTime: u.since, title: fmtDateTime(u.since, env.timezone) }, t('units.since', { age: age(u.since) })),
      ' · ', h('time', { class: 'unit-updated', dateTime: reportedAt, title: fmtDateTime(reportedAt, env.timezone) },
        t('units.reported', { age: age(reportedAt) })),
      ' · ', h('span', { class: 'mono unit-pos' }, `${u.lon.toFixed(4)}°E ${u.lat.toFixed(4)}°N`));
  }
}

export function openIncidents() {
  return [...store.items.values()].sort((a, b) => (LEVEL_NUMBER[a.level] || 9) - (LEVEL_NUMBER[b.level] || 9)
    || Date.parse(b.reported_at) - Date.parse(a.reported_at));
}

function upsert(inc) {
  if (!inc || inc.id === undefined) return;
  if (inc.open === false) store.items.delete(inc.id);
  else store.items.set(inc.id, { ...(store.items.get(inc.id) || {}), ...inc });
  emit();
  refresh(); // units move when one is dispatched
}

function pageCtx() {
  return {
    api: env.api, timezone: env.timezone, can, onChange: upsert, showRoute,
    onOpen: (inc) => inc.open && !store.items.has(inc.id) && upsert(inc),
  };
}

/** A drill was started: exercise mode on (the watermark), the exercise incident in the list, its page open. */
function drillStarted(detail) {
  window.citybrain?.setExerciseMode?.(true);
  const incident = { ...detail };
  for (const key of ['tasks', 'parts', 'units', 'links']) delete incident[key]; // the list keeps the summary only
  upsert(incident);
  showIncident(incident.id);
}

function age(value) {
  const s = Math.round((Date.now() - Date.parse(value)) / 1000);
  const rtf = new Intl.RelativeTimeFormat(intlLocale(), { numeric: 'auto', style: 'short' });
  if (s < 60) return rtf.format(-Math.max(s, 0), 'second');
  if (s < 3600) return rtf.format(-Math.floor(s / 60), 'minute');
  if (s < 86400) return rtf.format(-Math.floor(s / 3600), 'hour');
  return rtf.format(-Math.floor(s / 86400), 'day');
}

// ---- the card ------------------------------------------------------------------------------

/** Fill the incidents card; returns the cleanup (stops listening; the store itself lives on). */
export function renderIncidentsCard(body, ctx) {
  env.timezone = ctx.timezone || env.timezone;
  const list = h('ul', { class: 'warn-list inc-list', 'aria-label': t('panel.incidents') });
  const more = h('p', { class: 'gaps-more', hidden: true });
  const tools = h('div', { class: 'warn-bar inc-tools', hidden: true },
    h('button', { type: 'button', class: 'link-btn warn-rules', dataset: { action: 'plans' }, title: t('plans.title'),
      onclick: () => openPlanEditor({ api: env.api, can }) }, t('plans.open')),
    h('button', { type: 'button', class: 'link-btn warn-rules', dataset: { action: 'drills' }, title: t('drills.title'),
      onclick: () => openDrillLauncher({ api: env.api, can, onStarted: drillStarted }) }, t('drills.open')));
  body.replaceChildren(tools, list, more);
  body.classList.add('warn-card');

  function draw() {
    const all = openIncidents();
    body.dataset.count = String(all.length);
    tools.hidden = !can('incident:write');
    if (store.status === 'forbidden') {
      list.replaceChildren(h('li', { class: 'empty-state' }, h('p', {}, t('incidents.forbidden'))));
    } else if (store.error && !store.items.size) {
      list.replaceChildren(h('li', { class: 'form-error' }, t('incidents.error.load', { message: store.error.message })));
    } else if (!all.length) {
      list.replaceChildren(h('li', { class: 'empty-state' }, h('span', { class: 'empty-icon', 'aria-hidden': 'true' }),
        h('p', {}, t(store.status === 'loading' ? 'incidents.loading' : 'panel.incidents.empty'))));
    } else {
      list.replaceChildren(...all.slice(0, SHOW).map((inc) => h('li', {}, h('button', {
        type: 'button', class: 'warn-item inc-item', dataset: { id: String(inc.id), level: inc.level, status: inc.status, exercise: String(inc.exercise) },
        onclick: () => showIncident(inc.id),
      },
      levelChip(inc.level),
      h('span', { class: 'warn-main' },
        h('span', { class: 'warn-summary' }, titleOf(inc)),
        h('span', { class: 'warn-sub' }, [typeName(inc), inc.lead_department,
          h('time', { dateTime: inc.reported_at, title: fmtDateTime(inc.reported_at, env.timezone) }, age(inc.reported_at))]
          .filter(Boolean).flatMap((x, i) => (i ? [' · ', x] : [x])))),
      h('span', { class: 'warn-badges' },
        h('span', { class: `state-badge inc-status inc-${inc.status}` }, incidentStatusName(inc.status)),
        inc.exercise ? h('span', { class: 'state-badge state-exercise' }, t('incidents.exercise')) : null)))));
    }
    more.hidden = all.length <= SHOW;
    more.textContent = t('gaps.more', { n: all.length - SHOW });
  }

  listeners.add(draw);
  const tick = setInterval(draw, 30000); // ages
  draw();
  return () => {
    listeners.delete(draw);
    clearInterval(tick);
  };
}

// ---- the map layers ------------------------------------------------------------------------

function incidentFeatures() {
  if (!store.user) return EMPTY;
  return { type: 'FeatureCollection', features: openIncidents().reverse().map((inc) => ({ // most severe drawn last
    type: 'Feature', id: inc.id, geometry: { type: 'Point', coordinates: [inc.lon, inc.lat] },
    properties: { id: inc.id, level: inc.level, level_roman: inc.level_roman, status: inc.status, exercise: inc.exercise,
      title_zh: inc.title_zh, title_en: inc.title_en, type_name_zh: inc.type_name_zh, type_name_en: inc.type_name_en,
      incident_type: inc.incident_type, reported_at: inc.reported_at },
  })) };
}

function unitFeatures() {
  if (!store.user) return EMPTY;
  const now = performance.now();
  return { type: 'FeatureCollection', features: store.units.filter((u) => Number.isFinite(u.lon) && Number.isFinite(u.lat)).map((u) => ({
    type: 'Feature', id: u.id, geometry: { type: 'Point', coordinates: drawnAt(u, now) },
    properties: { id: u.id, key: u.key, name: u.name, kind: u.kind, status: u.status, department: u.department, incident_id: u.incident_id,
      since: u.since, updated_at: u.position_at || u.updated_at },
  })) };
}

const pushed = { incidents: '', units: '' };
function pushMap() {
  for (const [name, data] of [['incidents', incidentFeatures()], ['units', unitFeatures()]]) {
    const source = env.map?.getSource?.(name);
    const key = JSON.stringify(data.features.map((f) => [f.properties, f.geometry.coordinates]));
    if (source && key !== pushed[name]) {
      source.setData(data);
      pushed[name] = key;
    }
  }
}

/** A unit is a small square in its status colour: an image drawn here (the style has no sprite). */
function addSquare(id) {
  const map = env.map;
  const m = /^cb-unit-(\w+)$/.exec(id);
  if (!map || !m || map.hasImage(id)) return;
  const size = 28;
  const canvas = document.createElement('canvas');
  canvas.width = size;
  canvas.height = size;
  const c = canvas.getContext('2d');
  c.fillStyle = '#0b1424';
  c.fillRect(0, 0, size, size);
  c.fillStyle = '#f8fafc';
  c.fillRect(3, 3, size - 6, size - 6);
  c.fillStyle = UNIT_COLOR[m[1]] || '#8b98a9';
  c.fillRect(6, 6, size - 12, size - 12);
  map.addImage(id, c.getImageData(0, 0, size, size), { pixelRatio: 2 });
}

/** Draw (or clear, with null) a recommended unit's route: a GeoJSON LineString. */
export function showRoute(route) {
  const map = env.map;
  if (!map?.getStyle?.()) return;
  const data = route ? { type: 'FeatureCollection', features: [{ type: 'Feature', geometry: route, properties: {} }] } : EMPTY;
  if (!map.getSource('incident-route')) {
    map.addSource('incident-route', { type: 'geojson', data });
    map.addLayer({ id: 'incident-route-casing', type: 'line', source: 'incident-route', layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': '#0b1424', 'line-width': 7 } }, map.getLayer('units-square') ? 'units-square' : undefined);
    map.addLayer({ id: 'incident-route-line', type: 'line', source: 'incident-route', layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': '#22d3ee', 'line-width': 4, 'line-dasharray': [2, 1] } }, map.getLayer('units-square') ? 'units-square' : undefined);
  } else {
    map.getSource('incident-route').setData(data);
  }
}

function incidentTooltip(feature) {
  const p = feature.properties;
  return h('div', { class: 'cb-popup' },
    h('div', { class: 'cb-popup-kicker' }, levelChip(p.level), ' ', incidentStatusName(p.status)),
    h('div', { class: 'cb-popup-title' }, titleOf(p)),
    h('div', { class: 'cb-popup-sub' }, `${typeName(p)} · ${fmtDateTime(p.reported_at, env.timezone)}`));
}

function unitTooltip(feature) {
  const p = feature.properties;
  return h('div', { class: 'cb-popup' },
    h('div', { class: 'cb-popup-kicker' }, `${unitKindName(p.kind)} · ${unitStatusName(p.status)}`),
    h('div', { class: 'cb-popup-title' }, p.name || p.key),
    h('div', { class: 'cb-popup-sub mono' }, [p.key, p.department].filter(Boolean).join(' · ')),
    p.updated_at ? h('div', { class: 'cb-popup-sub' }, `${t('units.since', { age: age(p.since) })} · ${t('units.reported', { age: age(p.updated_at) })}`) : null);
}

const LEVEL_EXPR = ['match', ['get', 'level'], ...LEVELS.flatMap((l) => [l.level, l.color]), '#8b98a9'];
const UNIT_STATUSES = Object.keys(UNIT_COLOR);

export const INCIDENT_GROUP = { id: 'incident', titleKey: 'group.incident' };

export const INCIDENT_LAYERS = [
  {
    name: 'units',
    group: 'incident',
    titleKey: 'layer.units',
    visible: true,
    requiresAuth: true,
    load: async () => {
      await store.loading;
      return unitFeatures();
    },
    swatch: { kind: 'fill', color: UNIT_COLOR.available },
    legend: UNIT_STATUSES.map((s) => ({ color: UNIT_COLOR[s], key: `incidents.unit.status.${s}`, kind: 'fill' })),
    style: [
      {
        id: 'units-square',
        type: 'symbol',
        layout: {
          'icon-image': ['concat', 'cb-unit-', ['get', 'status']],
          'icon-size': ['interpolate', ['linear'], ['zoom'], 9, 0.6, 14, 1, 18, 1.4],
          'icon-allow-overlap': true,
          'icon-ignore-placement': true,
        },
      },
    ],
    tooltip: { layer: 'units-square', render: unitTooltip },
  },
  {
    name: 'incidents',
    group: 'incident',
    titleKey: 'layer.incidents',
    visible: true,
    requiresAuth: true,
    load: async () => {
      await store.loading;
      return incidentFeatures();
    },
    swatch: { kind: 'circle', color: LEVEL_COLOR.red },
    legend: LEVELS.map((l) => ({ color: l.color, key: `warnings.legend.${l.level}` })),
    style: [
      {
        id: 'incidents-halo',
        type: 'circle',
        paint: {
          'circle-color': 'rgba(0,0,0,0)',
          'circle-radius': ['interpolate', ['linear'], ['zoom'], 9, 11, 14, 16, 18, 21],
          'circle-stroke-color': LEVEL_EXPR,
          'circle-stroke-width': 2.5,
          'circle-stroke-opacity': 0.9,
        },
      },
      {
        id: 'incidents-point',
        type: 'circle',
        paint: {
          'circle-color': LEVEL_EXPR,
          'circle-radius': ['interpolate', ['linear'], ['zoom'], 9, 7, 14, 11, 18, 15],
          'circle-stroke-color': '#0b1424',
          'circle-stroke-width': 3,
        },
      },
    ],
    tooltip: { layer: 'incidents-point', render: incidentTooltip },
    click: { layer: ['incidents-point', 'incidents-halo'], handle: (feature) => showIncident(feature.properties.id) },
  },
];
