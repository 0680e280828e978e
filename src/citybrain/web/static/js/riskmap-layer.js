// The dynamic risk map (风险四色图) as a layer entry (appended to LAYERS in layers.js): 500 m cells, or districts
// when zoomed out, filled red / orange / yellow / blue from GET /api/v1/risk-map; a click explains the colour
// (GET /risk-map/cells/{id} or /risk-map/districts/{code}): score, the assessed baseline against the dynamic
// colour and what live evidence added, contributions by kind, the heaviest items with their labels (a hazard
// opens its page). Re-read every 60 s while shown, and when the view moves out of what was loaded.
// Also the open hazards as markers (off by default): red for major, yellow for general, grey ungraded, ringed
// when overdue; hover for the code and title, click for the hazard page.

import { api } from './api.js';
import { h } from './dom.js';
import { t, localized, intlLocale } from './i18n.js';
import { can, permissionsReady } from './warnings.js';
import { OPEN_STATUSES, onHazardChange, openHazard, statusName } from './hazard-page.js';

/** The four colours, most severe first (the warning-level colours, so red means the same everywhere). */
export const RISK_COLOURS = [
  { colour: 'red', color: '#e5484d', key: 'riskmap.colour.red' },
  { colour: 'orange', color: '#f76b15', key: 'riskmap.colour.orange' },
  { colour: 'yellow', color: '#ffc53d', key: 'riskmap.colour.yellow' },
  { colour: 'blue', color: '#3e8bff', key: 'riskmap.colour.blue' },
];
export const RISK_COLOR = Object.fromEntries(RISK_COLOURS.map((c) => [c.colour, c.color]));
/** From this zoom on the map shows 500 m cells (a cell is ~7 px at zoom 11); below it, districts. */
export const CELL_MIN_ZOOM = 11;
const NAME = 'riskmap';
const FILL = 'riskmap-fill';
const PAD = 0.5; // cells are read for the view plus half of it on each side, so small pans need no request

const COLOUR_EXPR = ['match', ['get', 'colour'], ...RISK_COLOURS.flatMap((c) => [c.colour, c.color]), 'rgba(0,0,0,0)'];
const HOVER = ['boolean', ['feature-state', 'hover'], false];

let loaded = null; // {level, bbox} of the data on the map
let watching = false;
let seq = 0;

const fmt = (n, digits = 1) => new Intl.NumberFormat(intlLocale(), { maximumFractionDigits: digits }).format(n);
export const colourName = (colour) => (RISK_COLOURS.some((c) => c.colour === colour) ? t(`riskmap.colour.${colour}`) : t('riskmap.colour.none'));

function shown(map) {
  return Boolean(map.getLayer(FILL)) && map.getLayoutProperty(FILL, 'visibility') !== 'none';
}

/** What the view needs: districts when zoomed out, else the cells of the view (padded), as a bbox. */
function wanted(map) {
  if (map.getZoom() < CELL_MIN_ZOOM) return { level: 'district', bbox: null };
  const b = map.getBounds();
  const dx = (b.getEast() - b.getWest()) * PAD;
  const dy = (b.getNorth() - b.getSouth()) * PAD;
  const r = (x) => Math.round(x * 1000) / 1000;
  return { level: 'cell', bbox: [r(b.getWest() - dx), r(b.getSouth() - dy), r(b.getEast() + dx), r(b.getNorth() + dy)], view: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()] };
}

function covers(outer, inner) {
  return Boolean(outer && inner) && outer[0] <= inner[0] && outer[1] <= inner[1] && outer[2] >= inner[2] && outer[3] >= inner[3];
}

function watch(ctx) {
  if (watching || !ctx.map) return;
  watching = true;
  // A step taken on a hazard page: the markers (and the map, once the server has rebuilt it) follow.
  onHazardChange(() => {
    ctx.reload?.('hazard_markers');
    ctx.reload?.(NAME);
  });
  ctx.map.on('moveend', () => {
    if (shown(ctx.map) && loaded && stale(ctx.map, loaded)) ctx.reload?.(NAME);
  });
}

/** Whether the data loaded for `got` no longer fits the view (another level, or the view left its bbox). */
function stale(map, got) {
  const want = wanted(map);
  return want.level !== got.level || (want.level === 'cell' && !covers(got.bbox, want.view));
}

async function loadRiskMap(ctx) {
  watch(ctx);
  const mine = ++seq;
  const want = wanted(ctx.map);
  const params = new URLSearchParams({ level: want.level });
  if (want.bbox) params.set('bbox', want.bbox.join(','));
  const data = await api.get(`/api/v1/risk-map?${params}`);
  if (mine === seq) {
    loaded = { level: want.level, bbox: want.bbox };
    // The view moved while this was being read: read again once this answer is on the map.
    if (stale(ctx.map, loaded)) setTimeout(() => ctx.reload?.(NAME), 0);
  }
  if (window.citybrain) { // what is on the map, for tests and the console
    window.citybrain.riskmap = { level: want.level, bbox: want.bbox, builtAt: data?.meta?.built_at || null, count: data?.features?.length || 0 };
  }
  return data;
}

// ---- the explanation (popup) -------------------------------------------------------------------

function colourChip(colour, text) {
  return h('span', { class: `risk-chip risk-${colour || 'none'}`, dataset: { colour: colour || 'none' }, style: { '--risk': RISK_COLOR[colour] || '#5d6f86' } }, text);
}

function explanation(x, kind, onRefresh) {
  const baseline = x.baseline_colour || 'none';
  const rows = (x.contributions || []).map((c) => h('li', { dataset: { kind: c.kind } },
    h('span', {}, `${localized(c) || c.kind} × ${c.count}`),
    h('span', { class: 'mono' }, fmt(c.counted), c.capped ? h('small', { class: 'risk-capped' }, ` ${t('riskmap.capped', { n: fmt(c.weight) })}`) : null)));
  const top = (x.top || []).map((item) => {
    const hazardId = /^hazard:(\d+)$/.exec(item.ref || '')?.[1];
    const label = localized(item, 'label') || item.ref;
    return h('li', { dataset: { ref: item.ref, kind: item.kind } },
      hazardId
        ? h('button', { type: 'button', class: 'link-btn risk-open-hazard', dataset: { hazardId }, onclick: () => openHazard(Number(hazardId)) }, label)
        : h('span', {}, label),
      h('span', { class: 'mono' }, fmt(item.weight)));
  });
  return [
    h('div', { class: 'cb-popup-title risk-title' }, colourChip(x.colour, x.colour && x.colour !== 'none' ? localized(x, 'band') || colourName(x.colour) : colourName('none')),
      h('span', { class: 'mono risk-score' }, t('riskmap.score', { n: fmt(x.score, kind === 'district' ? 2 : 1) }))),
    h('div', { class: 'cb-popup-sub risk-baseline' },
      t('riskmap.baseline'), ' ', colourChip(baseline, colourName(baseline)), ` ${fmt(x.baseline_score ?? 0, kind === 'district' ? 2 : 1)}`,
      ' → ', t('riskmap.dynamic'), ' ', colourChip(x.colour, colourName(x.colour)),
      x.dynamic_added ? ` (${t('riskmap.added', { n: fmt(x.dynamic_added, kind === 'district' ? 2 : 1) })})` : ''),
    x.raised_by_live_evidence ? h('div', { class: 'risk-raised' }, t('riskmap.raised')) : null,
    kind === 'district' && x.total !== undefined ? h('div', { class: 'cb-popup-sub' }, t('riskmap.districtScore', { total: fmt(x.total), cells: fmt(x.area_cells) })) : null,
    rows.length ? [h('div', { class: 'risk-sub' }, t('riskmap.contributions')), h('ul', { class: 'cb-popup-list risk-contributions' }, rows)] : h('div', { class: 'cb-popup-sub' }, t('riskmap.empty')),
    top.length ? [h('div', { class: 'risk-sub' }, t('riskmap.top')), h('ul', { class: 'cb-popup-list risk-top' }, top)] : null,
    h('div', { class: 'cb-popup-sub risk-built' }, t('riskmap.builtAt', { at: new Date(x.built_at).toLocaleTimeString(intlLocale(), { timeZone: 'Asia/Shanghai', hour12: false }) }),
      can('risk:write') ? [' · ', h('button', { type: 'button', class: 'link-btn risk-refresh', onclick: onRefresh }, t('riskmap.refresh'))] : null),
  ];
}

function riskPopup(feature, ctx) {
  const p = feature.properties;
  const kind = p.name_zh !== undefined || p.name_en !== undefined ? 'district' : 'cell';
  const id = String(p.id ?? feature.id);
  const title = kind === 'district' ? t('riskmap.kicker.district', { name: localized(p) || id }) : t('riskmap.kicker.cell', { id });
  const body = h('div', { class: 'risk-body' }, h('div', { class: 'cb-popup-sub' }, t('riskmap.loading')));
  const root = h('div', { class: 'cb-popup risk-popup', dataset: { kind, id } }, h('div', { class: 'cb-popup-kicker' }, title), body);
  const url = kind === 'district' ? `/api/v1/risk-map/districts/${encodeURIComponent(id)}` : `/api/v1/risk-map/cells/${encodeURIComponent(id)}`;
  const fill = () => api.get(url).then((x) => {
    body.replaceChildren(...explanation(x, kind, refresh).flat().filter(Boolean));
    root.dataset.colour = x.colour || 'none';
    root.dataset.ready = 'true';
  }, (err) => {
    body.replaceChildren(h('div', { class: 'form-error' }, err.detail || err.message));
  });
  async function refresh() {
    body.replaceChildren(h('div', { class: 'cb-popup-sub' }, t('riskmap.loading')));
    try {
      await api.post('/api/v1/risk-map/refresh');
    } catch (err) {
      body.replaceChildren(h('div', { class: 'form-error' }, err.detail || err.message));
      return;
    }
    ctx.reload?.(NAME);
    fill();
  }
  fill();
  return root;
}

// ---- open hazards as markers ---------------------------------------------------------------------

const HAZARD_COLOR = ['match', ['get', 'grade'], 'major', RISK_COLOR.red, 'general', RISK_COLOR.yellow, '#8b98a9'];

async function loadHazards(ctx) {
  watch(ctx);
  await permissionsReady();
  if (!can('hazard:read')) return { type: 'FeatureCollection', features: [] };
  const q = new URLSearchParams(OPEN_STATUSES.map((s) => ['status', s]));
  q.set('limit', '500');
  const page = await api.get(`/api/v1/hazards?${q}`);
  return { type: 'FeatureCollection', features: page.items.map((hz) => ({
    type: 'Feature', id: hz.id, geometry: { type: 'Point', coordinates: [hz.lon, hz.lat] },
    properties: { id: hz.id, code: hz.code, title: hz.title, grade: hz.grade || 'none', status: hz.status, overdue: hz.overdue, supervised: hz.supervised },
  })) };
}

function hazardTooltip(feature) {
  const p = feature.properties;
  const flags = [statusName(p.status), p.overdue === true || p.overdue === 'true' ? t('hazards.count.overdue') : null,
    p.supervised === true || p.supervised === 'true' ? t('hazards.supervised') : null].filter(Boolean);
  return h('div', { class: 'cb-popup' }, h('div', { class: 'cb-popup-kicker mono' }, p.code),
    h('div', { class: 'cb-popup-title' }, p.title), h('div', { class: 'cb-popup-sub' }, flags.join(' · ')));
}

export const RISKMAP_GROUP = { id: 'prevention', titleKey: 'group.prevention' };

export const RISKMAP_LAYERS = [
  {
    name: NAME,
    group: 'prevention',
    titleKey: 'layer.riskmap',
    visible: false,
    requiresAuth: true,
    refreshSeconds: 60,
    swatch: { kind: 'fill', color: RISK_COLOR.red },
    legend: RISK_COLOURS.map((c) => ({ color: c.color, key: c.key, kind: 'fill' })),
    source: { promoteId: 'id' },
    load: loadRiskMap,
    style: [
      {
        id: FILL,
        type: 'fill',
        paint: { 'fill-color': COLOUR_EXPR, 'fill-opacity': ['case', HOVER, 0.62, 0.42] },
      },
      {
        id: 'riskmap-line',
        type: 'line',
        paint: {
          'line-color': COLOUR_EXPR,
          'line-opacity': 0.85,
          'line-width': ['case', HOVER, 2, ['interpolate', ['linear'], ['zoom'], 9, 0.8, 15, 1.2]],
        },
      },
    ],
    hover: FILL,
    popup: { layer: FILL, render: riskPopup },
  },
  {
    name: 'hazard_markers',
    group: 'prevention',
    titleKey: 'layer.hazards',
    visible: false,
    requiresAuth: true,
    refreshSeconds: 60,
    swatch: { kind: 'circle', color: RISK_COLOR.red },
    legend: [
      { color: RISK_COLOR.red, key: 'hazards.grade.major.long' },
      { color: RISK_COLOR.yellow, key: 'hazards.grade.general.long' },
      { color: '#8b98a9', key: 'hazards.grade.none' },
    ],
    load: loadHazards,
    style: [
      {
        id: 'hazard-markers-point',
        type: 'circle',
        paint: {
          'circle-color': HAZARD_COLOR,
          'circle-radius': ['interpolate', ['linear'], ['zoom'], 9, 3, 14, 6, 18, 9],
          'circle-stroke-color': ['case', ['boolean', ['get', 'overdue'], false], '#ff8a8d', '#0b1424'],
          'circle-stroke-width': ['case', ['boolean', ['get', 'overdue'], false], 2.5, 1.2],
        },
      },
    ],
    tooltip: { layer: 'hazard-markers-point', render: hazardTooltip },
    click: { layer: 'hazard-markers-point', handle: (feature) => openHazard(Number(feature.properties.id)) },
  },
];
