// The map's layer registry. Adding a layer to the dashboard is one entry in LAYERS:
//   name         id of the GeoJSON source; its URL comes from /api/v1/meta (or `url` here)
//   group        a LAYER_GROUPS id, the heading it is listed under in the left panel
//   titleKey     i18n key of its name in the layer list
//   visible      shown by default
//   requiresAuth only loaded while someone is logged in (sensors, warnings, incidents ...)
//   refreshSeconds  reload the data every N seconds (live layers)
//   swatch       legend sample in the layer list: {kind: 'fill'|'line'|'circle'|'lines', color(s)}
//   source       extra MapLibre GeoJSON source options (promoteId, cluster ...)
//   style        MapLibre style layers drawn for it, bottom to top; ids must be unique
//   hover        style-layer id whose features get feature-state {hover: true} under the pointer
//   url          where its GeoJSON comes from, when not from /api/v1/meta (a 404 shows it as unavailable)
//   load(ctx)    returns (a promise of) the FeatureCollection instead of fetching `url` (data kept by a store)
//   legend       [{color, key, kind?}] drawn under its toggle (colour classes of data-driven styles)
//   tooltip      {layer, render(feature, ctx)} -> Node shown while hovering (layer: an id or a list of ids)
//   popup        {layer, render(feature, ctx)} -> Node shown on click
//   click        {layer, handle(feature, ctx)} called on click instead of a popup (select, zoom ...)
//   onData(data, ctx)  called with each loaded FeatureCollection (to build lookups such as line colours)
// ctx = {lineColors, map, reload(name)} (reload: fetch a shown layer's data again, e.g. after the view moved).
// Layers are drawn in list order, so later entries sit on top.

import { h } from './dom.js';
import { t, has, getLang, localized } from './i18n.js';
import { SENSING_GROUP, SENSING_LAYERS } from './sensing-layers.js';
import { WARNING_GROUP, WARNING_LAYERS } from './warnings.js';
import { INCIDENT_GROUP, INCIDENT_LAYERS } from './incidents.js';
import { RISKMAP_GROUP, RISKMAP_LAYERS } from './riskmap-layer.js';

export const LAYER_GROUPS = [
  { id: 'base', titleKey: 'group.base' },
  SENSING_GROUP,
  WARNING_GROUP,
  INCIDENT_GROUP,
  RISKMAP_GROUP,
];

/** Line label: "Line 2" -> "2号线" / "Line 2"; anything else as given. */
export function lineLabel(line) {
  const match = /(\d+)/.exec(String(line ?? ''));
  return match ? t('metro.line', { n: match[1] }) : String(line ?? '');
}

/** Key lines by their number so "Line 2", "2" and 2 share one colour. */
export function lineKey(line) {
  const match = /(\d+)/.exec(String(line ?? ''));
  return match ? match[1] : String(line ?? '');
}

function stationName(props) {
  return localized(props) || props.code || '';
}

function popupCard(kicker, title, ...body) {
  return h('div', { class: 'cb-popup' }, h('div', { class: 'cb-popup-kicker' }, kicker), h('div', { class: 'cb-popup-title' }, title), ...body);
}

function parseLines(value) {
  if (Array.isArray(value)) return value;
  if (typeof value === 'string') {
    try {
      const parsed = JSON.parse(value); // MapLibre hands nested arrays back as JSON strings
      if (Array.isArray(parsed)) return parsed;
    } catch {
      return value.split(',').map((s) => s.trim()).filter(Boolean);
    }
  }
  return [];
}

function stationCard(feature, ctx) {
  const p = feature.properties;
  const lines = parseLines(p.lines);
  const secondary = getLang() === 'zh-CN' && p.name_zh && p.name_en ? h('div', { class: 'cb-popup-sub' }, p.name_en) : null;
  const chips = h(
    'div',
    { class: 'cb-line-chips' },
    lines.map((line) => h('span', { class: 'cb-line-chip', style: { '--line-color': ctx.lineColors.get(lineKey(line)) || '#8b98a9' } }, lineLabel(line))),
  );
  return popupCard(t('layer.metro_stations'), stationName(p), secondary, chips);
}

function districtCard(feature) {
  const p = feature.properties;
  return popupCard(t('layer.districts'), localized(p) || p.code, h('div', { class: 'cb-popup-sub' }, t('popup.adcode', { code: p.code })));
}

function roadCard(feature) {
  const p = feature.properties;
  const cls = has(`road.class.${p.highway}`) ? t(`road.class.${p.highway}`) : p.highway;
  const flags = [cls, p.oneway === true || p.oneway === 'true' ? t('road.oneway') : null, p.bridge === true || p.bridge === 'true' ? t('road.bridge') : null];
  return popupCard(t('layer.roads'), p.name || t('road.unnamed'), h('div', { class: 'cb-popup-sub' }, flags.filter(Boolean).join(' · ')));
}

function segmentCard(feature) {
  const p = feature.properties;
  const minutes = Number(p.minutes);
  return popupCard(
    t('layer.metro_segments'),
    h('span', { class: 'cb-line-chip', style: { '--line-color': p.color || '#8b98a9' } }, lineLabel(p.line)),
    Number.isFinite(minutes) ? h('div', { class: 'cb-popup-sub' }, t('metro.minutes', { n: minutes })) : null,
  );
}

// Road widths by OSM class, scaled with zoom below.
const ROAD_CLASS_WIDTH = [
  'match', ['get', 'highway'],
  ['motorway', 'trunk'], 3.2,
  ['primary'], 2.6,
  ['secondary'], 2.0,
  ['tertiary'], 1.5,
  ['motorway_link', 'trunk_link', 'primary_link', 'secondary_link', 'tertiary_link'], 1.2,
  0.8,
];
const ROAD_CLASS_COLOR = [
  'match', ['get', 'highway'],
  ['motorway', 'trunk', 'motorway_link', 'trunk_link'], '#e0a25a',
  ['primary', 'primary_link'], '#c9b27a',
  ['secondary', 'secondary_link'], '#8fa3bb',
  '#5d6f86',
];

const INTERCHANGE = ['boolean', ['get', 'interchange'], false];

export const LAYERS = [
  {
    name: 'districts',
    group: 'base',
    titleKey: 'layer.districts',
    visible: true,
    swatch: { kind: 'fill', color: '#3b82f6' },
    source: { promoteId: 'code' },
    style: [
      {
        id: 'districts-fill',
        type: 'fill',
        paint: {
          'fill-color': '#2f6fd0',
          'fill-opacity': ['case', ['boolean', ['feature-state', 'hover'], false], 0.26, 0.07],
        },
      },
      {
        id: 'districts-line',
        type: 'line',
        paint: {
          'line-color': '#5f9cf2',
          'line-opacity': 0.8,
          'line-width': ['interpolate', ['linear'], ['zoom'], 8, 0.8, 14, 2.2],
        },
      },
    ],
    hover: 'districts-fill',
    popup: { layer: 'districts-fill', render: districtCard },
  },
  {
    name: 'roads',
    group: 'base',
    titleKey: 'layer.roads',
    visible: true,
    swatch: { kind: 'line', color: '#c9b27a' },
    style: [
      {
        id: 'roads-line',
        type: 'line',
        layout: { 'line-cap': 'round', 'line-join': 'round' },
        paint: {
          'line-color': ROAD_CLASS_COLOR,
          'line-opacity': 0.85,
          'line-width': ['interpolate', ['exponential', 1.6], ['zoom'], 10, ['*', 0.35, ROAD_CLASS_WIDTH], 14, ROAD_CLASS_WIDTH, 18, ['*', 5, ROAD_CLASS_WIDTH]],
        },
      },
    ],
    popup: { layer: 'roads-line', render: roadCard },
  },
  {
    name: 'metro_segments',
    group: 'base',
    titleKey: 'layer.metro_segments',
    visible: true,
    swatch: { kind: 'lines', colors: ['#E3002B', '#8CC220', '#FCD600', '#461D84'] },
    style: [
      {
        id: 'metro-segments-casing',
        type: 'line',
        layout: { 'line-cap': 'round', 'line-join': 'round' },
        paint: { 'line-color': '#0b1424', 'line-width': ['interpolate', ['linear'], ['zoom'], 8, 2.6, 14, 7] },
      },
      {
        id: 'metro-segments-line',
        type: 'line',
        layout: { 'line-cap': 'round', 'line-join': 'round' },
        paint: {
          'line-color': ['coalesce', ['get', 'color'], '#8b98a9'],
          'line-width': ['interpolate', ['linear'], ['zoom'], 8, 1.4, 14, 4.5],
        },
      },
    ],
    popup: { layer: 'metro-segments-line', render: segmentCard },
    onData(data, ctx) {
      for (const f of data.features || []) {
        const { line, color } = f.properties || {};
        if (line != null && color && !ctx.lineColors.has(lineKey(line))) ctx.lineColors.set(lineKey(line), color);
      }
    },
  },
  {
    name: 'metro_stations',
    group: 'base',
    titleKey: 'layer.metro_stations',
    visible: true,
    swatch: { kind: 'circle', color: '#f1f5f9' },
    style: [
      {
        id: 'metro-stations-circle',
        type: 'circle',
        paint: {
          // Interchanges are larger; a single-line station is ringed in its line's colour when the API sends one.
          'circle-radius': ['interpolate', ['linear'], ['zoom'], 8, ['case', INTERCHANGE, 2.6, 1.8], 12, ['case', INTERCHANGE, 5.5, 4], 16, ['case', INTERCHANGE, 9, 7]],
          'circle-color': '#f1f5f9',
          'circle-stroke-color': ['case', INTERCHANGE, '#0b1424', ['coalesce', ['get', 'color'], '#0b1424']],
          'circle-stroke-width': ['interpolate', ['linear'], ['zoom'], 8, 0.6, 14, 1.8],
        },
      },
    ],
    tooltip: { layer: 'metro-stations-circle', render: stationCard },
    popup: { layer: 'metro-stations-circle', render: stationCard },
  },
  ...RISKMAP_LAYERS, // the risk map (风险四色图): above the base layers (its click wins), under devices and markers
  ...SENSING_LAYERS,
  ...WARNING_LAYERS, // above the devices
  ...INCIDENT_LAYERS, // units, then incidents on top of everything
];
