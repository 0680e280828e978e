// Sensing layers (registry entries appended to LAYERS in layers.js): the device fleet coloured by health
// state, clustered at city scale, and the 500 m sensing-coverage grid.

import { h } from './dom.js';
import { t, has, intlLocale } from './i18n.js';
import { select } from './store.js';

/** Health states from /api/v1/devices/map, in legend order, with their map colours. */
export const DEVICE_STATES = [
  { state: 'ok', color: '#34d399' },
  { state: 'offline', color: '#8b98a9' },
  { state: 'stuck', color: '#b46cff' },
  { state: 'low_battery', color: '#f5a524' },
  { state: 'weak_signal', color: '#f5a524' },
  { state: 'inactive', color: '#2b3648' },
  { state: 'maintenance', color: '#2b3648' },
];
export const STATE_COLOR = Object.fromEntries(DEVICE_STATES.map((s) => [s.state, s.color]));
const PROBLEM_STATES = ['offline', 'stuck', 'low_battery', 'weak_signal'];
const UNKNOWN_COLOR = '#5d6f86';

const STATE_EXPR = ['match', ['get', 'state'], ...DEVICE_STATES.flatMap((s) => [s.state, s.color]), UNKNOWN_COLOR];
const IS_CLUSTER = ['has', 'point_count'];
const PROBLEM_SHARE = ['/', ['get', 'problems_n'], ['get', 'point_count']];

/** Coverage share colours: red < 0.5, orange < 0.8, yellow < 1, green when every asset is covered. */
export const COVERAGE_BANDS = [
  { key: 'coverage.band.low', color: '#e5484d' },
  { key: 'coverage.band.partial', color: '#f76b15' },
  { key: 'coverage.band.most', color: '#ffc53d' },
  { key: 'coverage.band.full', color: '#2fbf71' },
];
const SHARE = ['to-number', ['coalesce', ['get', 'share'], -1]];
const COVERAGE_COLOR = ['case', ['<', SHARE, 0], 'rgba(0,0,0,0)', ['<', SHARE, 0.5], COVERAGE_BANDS[0].color,
  ['<', SHARE, 0.8], COVERAGE_BANDS[1].color, ['<', SHARE, 1], COVERAGE_BANDS[2].color, COVERAGE_BANDS[3].color];

export function stateLabel(state) {
  return has(`device.state.${state}`) ? t(`device.state.${state}`) : String(state ?? '');
}

export function assetClassLabel(cls) {
  return has(`assetClass.${cls}`) ? t(`assetClass.${cls}`) : String(cls ?? '');
}

function problemLabel(problem) {
  return has(`device.problem.${problem}`) ? t(`device.problem.${problem}`) : String(problem);
}

/** MapLibre hands nested properties back as JSON strings. */
export function parseProp(value, fallback) {
  if (typeof value !== 'string') return value ?? fallback;
  try {
    return JSON.parse(value);
  } catch {
    return fallback;
  }
}

const pct = (x) => new Intl.NumberFormat(intlLocale(), { style: 'percent', maximumFractionDigits: 0 }).format(x);

export function stateChip(state) {
  return h('span', { class: 'state-chip', style: { '--state-color': STATE_COLOR[state] || UNKNOWN_COLOR } }, stateLabel(state));
}

function deviceTooltip(feature) {
  const p = feature.properties;
  if (p.point_count !== undefined) {
    return h('div', { class: 'cb-popup' },
      h('div', { class: 'cb-popup-kicker' }, t('layer.devices')),
      h('div', { class: 'cb-popup-title' }, t('device.cluster.count', { n: p.point_count })),
      h('div', { class: 'cb-popup-sub' }, t('device.cluster.problems', { n: p.problems_n ?? 0 })),
      h('div', { class: 'cb-popup-sub' }, t('device.cluster.zoom')));
  }
  const problems = parseProp(p.problems, []);
  return h('div', { class: 'cb-popup' },
    h('div', { class: 'cb-popup-kicker' }, [assetClassLabel(p.asset_class), p.type].filter(Boolean).join(' · ')),
    h('div', { class: 'cb-popup-title mono' }, p.key),
    stateChip(p.state),
    problems.length ? h('div', { class: 'cb-popup-sub' }, problems.map(problemLabel).join(' · ')) : null);
}

function deviceClick(feature, ctx) {
  const p = feature.properties;
  if (p.point_count !== undefined) {
    // A cluster: zoom in until it breaks apart.
    const source = ctx.map.getSource('devices');
    Promise.resolve(source.getClusterExpansionZoom(p.cluster_id)).then((zoom) => {
      ctx.map.easeTo({ center: feature.geometry.coordinates, zoom: Math.min(zoom + 0.5, 18) });
    });
    return;
  }
  select('device', {
    key: p.key,
    id: typeof feature.id === 'number' ? feature.id : Number(p.id) || null,
    lngLat: feature.geometry.coordinates,
    state: p.state,
    problems: parseProp(p.problems, []),
    lastSeenAt: p.last_seen_at || null,
  });
}

function coverageCard(feature) {
  const p = feature.properties;
  const share = Number(p.share);
  const byClass = parseProp(p.by_class, {}) || {};
  const rows = Object.entries(byClass).map(([cls, v]) => {
    let text;
    if (v && typeof v === 'object') {
      const a = v.assets ?? v.total;
      const c = v.covered;
      text = a !== undefined && c !== undefined ? t('coverage.fraction', { covered: c, assets: a }) : JSON.stringify(v);
    } else {
      text = Number(v) <= 1 && String(v).includes('.') ? pct(Number(v)) : String(v);
    }
    return h('li', {}, h('span', {}, assetClassLabel(cls)), h('span', { class: 'mono' }, text));
  });
  return h('div', { class: 'cb-popup' },
    h('div', { class: 'cb-popup-kicker' }, t('layer.coverage')),
    h('div', { class: 'cb-popup-title' }, Number.isFinite(share) ? t('coverage.share', { share: pct(share) }) : t('coverage.noAssets')),
    h('div', { class: 'cb-popup-sub' }, t('coverage.fraction', { covered: p.covered ?? 0, assets: p.assets ?? 0 })),
    rows.length ? h('ul', { class: 'cb-popup-list' }, rows) : null);
}

export const SENSING_GROUP = { id: 'sensing', titleKey: 'group.sensing' };

export const SENSING_LAYERS = [
  {
    name: 'coverage',
    group: 'sensing',
    titleKey: 'layer.coverage',
    url: '/api/v1/coverage/grid',
    visible: false,
    requiresAuth: true,
    refreshSeconds: 300,
    swatch: { kind: 'fill', color: COVERAGE_BANDS[0].color },
    legend: COVERAGE_BANDS.map((b) => ({ color: b.color, key: b.key, kind: 'fill' })),
    style: [
      { id: 'coverage-fill', type: 'fill', paint: { 'fill-color': COVERAGE_COLOR, 'fill-opacity': 0.38 } },
      { id: 'coverage-line', type: 'line', paint: { 'line-color': COVERAGE_COLOR, 'line-opacity': 0.7, 'line-width': 0.6 } },
    ],
    popup: { layer: 'coverage-fill', render: coverageCard },
  },
  {
    name: 'devices',
    group: 'sensing',
    titleKey: 'layer.devices',
    url: '/api/v1/devices/map',
    visible: true,
    requiresAuth: true,
    refreshSeconds: 30,
    swatch: { kind: 'circle', color: STATE_COLOR.ok },
    legend: [
      { color: STATE_COLOR.ok, key: 'device.state.ok' },
      { color: STATE_COLOR.offline, key: 'device.state.offline' },
      { color: STATE_COLOR.stuck, key: 'device.state.stuck' },
      { color: STATE_COLOR.low_battery, key: 'device.legend.power' },
      { color: STATE_COLOR.inactive, key: 'device.legend.off' },
    ],
    // Up to zoom 12 the fleet is clustered (100,000 dots at city scale are one smear); each cluster
    // counts its devices in trouble so its colour still says where to look.
    source: {
      cluster: true,
      clusterMaxZoom: 12,
      clusterRadius: 36,
      clusterProperties: { problems_n: ['+', ['case', ['in', ['get', 'state'], ['literal', PROBLEM_STATES]], 1, 0]] },
    },
    style: [
      {
        id: 'devices-cluster',
        type: 'circle',
        filter: IS_CLUSTER,
        paint: {
          'circle-color': ['case', ['==', ['get', 'problems_n'], 0], STATE_COLOR.ok, ['<', PROBLEM_SHARE, 0.2], STATE_COLOR.low_battery, '#e5484d'],
          'circle-opacity': 0.75,
          'circle-radius': ['interpolate', ['linear'], ['get', 'point_count'], 2, 7, 50, 12, 1000, 20, 20000, 30],
          'circle-stroke-color': '#0b1424',
          'circle-stroke-width': 1.2,
        },
      },
      {
        id: 'devices-point',
        type: 'circle',
        filter: ['!', IS_CLUSTER],
        paint: {
          'circle-color': STATE_EXPR,
          'circle-radius': ['interpolate', ['linear'], ['zoom'], 10, 3, 14, 5.5, 18, 9],
          'circle-stroke-color': ['match', ['get', 'state'], ['inactive', 'maintenance'], '#8b98a9', '#0b1424'],
          'circle-stroke-width': 1.2,
        },
      },
      {
        // The device whose card is open (the card sets this filter).
        id: 'devices-selected',
        type: 'circle',
        filter: ['all', ['!', IS_CLUSTER], ['==', ['get', 'key'], '']],
        paint: {
          'circle-color': 'rgba(0,0,0,0)',
          'circle-radius': ['interpolate', ['linear'], ['zoom'], 10, 7, 14, 10, 18, 14],
          'circle-stroke-color': '#22d3ee',
          'circle-stroke-width': 2.5,
        },
      },
    ],
    tooltip: { layer: ['devices-point', 'devices-cluster'], render: deviceTooltip },
    click: { layer: ['devices-point', 'devices-cluster'], handle: deviceClick },
  },
];

/** Ring the selected device on the map (or nobody, with null). */
export function highlightDevice(map, key) {
  if (map?.getLayer('devices-selected')) {
    map.setFilter('devices-selected', ['all', ['!', IS_CLUSTER], ['==', ['get', 'key'], key || '']]);
  }
}
