// The MapLibre map: an offline style (background colour only, no glyphs, sprites or remote sources),
// the registry's GeoJSON layers on top, hover tooltips and click popups built as DOM.

import { api, ApiError } from './api.js';
import { t, onLangChange } from './i18n.js';
import { LAYERS } from './layers.js';

const maplibregl = window.maplibregl;
const SHANGHAI_BOUNDS = [120.85, 30.67, 122.2, 31.88];
const EMPTY = { type: 'FeatureCollection', features: [] };
const ATTRIBUTION_KEYS = ['attr.osm', 'attr.districts', 'attr.metro'];

const BASE_STYLE = {
  version: 8,
  name: 'citybrain-offline',
  sources: {},
  layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#0a1322' } }],
};

function uiStrings() {
  return {
    'NavigationControl.ZoomIn': t('map.zoomIn'),
    'NavigationControl.ZoomOut': t('map.zoomOut'),
    'NavigationControl.ResetBearing': t('map.resetBearing'),
    'AttributionControl.ToggleAttribution': t('map.toggleAttribution'),
    'Popup.Close': t('map.closePopup'),
    'Map.Title': t('map.label'),
  };
}

/**
 * Create the map inside `container`.
 * Returns a controller: {map, ready (Promise), setVisible(name, on), isVisible(name), status(name), setAuthenticated(on), fitCity()}.
 * `onStatus(name, status)` is told about each layer's loading state: 'loading' | 'ready' | 'error' | 'unavailable'
 * (the server has no such endpoint yet: 404) | 'off'.
 */
export function createMap(container, { meta, visibility = {}, onStatus = () => {}, onPointer = () => {} } = {}) {
  const bounds = meta?.city?.bounds || SHANGHAI_BOUNDS;
  const urls = new Map((meta?.layers || []).map((l) => [l.name, l.url]));
  const ctx = { lineColors: new Map() };
  const state = new Map(LAYERS.map((entry) => [entry.name, { visible: visibility[entry.name] ?? entry.visible, status: 'off', timer: null, loaded: false }]));
  let authenticated = false;
  // Our layers exist once 'load' has run. (map.isStyleLoaded() is also false for a moment after any
  // setData, e.g. a live layer updating, which would drop a toggle or a sign-in made just then.)
  let layersAdded = false;

  const map = new maplibregl.Map({
    container,
    style: BASE_STYLE,
    bounds,
    fitBoundsOptions: { padding: fitPadding(container) },
    minZoom: 6,
    maxZoom: 19,
    attributionControl: false,
    dragRotate: false,
    pitchWithRotate: false,
    locale: uiStrings(),
  });
  map.touchZoomRotate.disableRotation();

  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric', maxWidth: 120 }), 'bottom-left');
  let attribution = null;
  function setAttribution() {
    if (attribution) map.removeControl(attribution);
    attribution = new maplibregl.AttributionControl({ compact: false, customAttribution: ATTRIBUTION_KEYS.map((k) => escapeHtml(t(k))) });
    map.addControl(attribution, 'bottom-right');
  }
  setAttribution();

  const hoverPopup = new maplibregl.Popup({ closeButton: false, closeOnClick: false, className: 'cb-tooltip', offset: 10, maxWidth: '280px' });
  const clickPopup = new maplibregl.Popup({ closeButton: true, closeOnClick: true, className: 'cb-popup-wrap', offset: 10, maxWidth: '320px' });
  let openPopup = null; // {entry, feature, lngLat} so a language switch can re-render it

  ctx.map = map;
  // A layer entry may ask for its data again (e.g. the risk map when the view moves); only while it is shown.
  ctx.reload = (name) => {
    const entry = LAYERS.find((e) => e.name === name);
    const s = entry && state.get(name);
    if (!entry || !layersAdded || !s.visible || (entry.requiresAuth && !authenticated)) return null;
    return load(entry);
  };
  const byStyleLayer = new Map();
  for (const entry of LAYERS) for (const layer of entry.style) byStyleLayer.set(layer.id, entry);
  const idsOf = (key) => LAYERS.filter((e) => e[key]).flatMap((e) => [].concat(e[key].layer));
  const popupLayers = idsOf('popup');
  const tooltipLayers = idsOf('tooltip');
  const clickLayers = [...popupLayers, ...idsOf('click')];
  const hoverLayers = LAYERS.filter((e) => e.hover).map((e) => e.hover);
  let hovered = null; // {source, id}

  function setStatus(name, status) {
    state.get(name).status = status;
    onStatus(name, status);
  }

  function applyVisibility(entry) {
    const s = state.get(entry.name);
    const shown = s.visible && (!entry.requiresAuth || authenticated);
    for (const layer of entry.style) {
      if (map.getLayer(layer.id)) map.setLayoutProperty(layer.id, 'visibility', shown ? 'visible' : 'none');
    }
    if (shown && !s.loaded) load(entry);
    if (!shown && entry.requiresAuth && !authenticated) clearData(entry);
    schedule(entry, shown);
  }

  function schedule(entry, shown) {
    const s = state.get(entry.name);
    clearInterval(s.timer);
    s.timer = null;
    if (shown && entry.refreshSeconds) s.timer = setInterval(() => load(entry), entry.refreshSeconds * 1000);
  }

  function clearData(entry) {
    const s = state.get(entry.name);
    s.loaded = false;
    map.getSource(entry.name)?.setData(EMPTY);
    setStatus(entry.name, 'off');
  }

  async function load(entry) {
    const s = state.get(entry.name);
    const url = entry.url || urls.get(entry.name) || `/api/v1/geo/layers/${entry.name}`;
    if (!s.loaded) setStatus(entry.name, 'loading');
    try {
      const data = entry.load ? await entry.load(ctx) : await api.get(url);
      entry.onData?.(data, ctx);
      map.getSource(entry.name)?.setData(data);
      s.loaded = true;
      setStatus(entry.name, 'ready');
    } catch (err) {
      if (err instanceof ApiError && (err.status === 404 || err.status === 403)) {
        // not served here, or not for this user's roles (an enterprise officer and the fleet): no alarm
        setStatus(entry.name, 'unavailable');
        return;
      }
      console.warn(`layer ${entry.name}:`, err);
      setStatus(entry.name, 'error');
    }
  }

  const ready = new Promise((resolve) => {
    map.on('load', async () => {
      for (const entry of LAYERS) {
        map.addSource(entry.name, { type: 'geojson', data: EMPTY, ...(entry.source || {}) });
        for (const layer of entry.style) map.addLayer({ ...layer, source: entry.name, layout: { ...(layer.layout || {}) } });
      }
      layersAdded = true;
      const pending = [];
      for (const entry of LAYERS) {
        const s = state.get(entry.name);
        const shown = s.visible && (!entry.requiresAuth || authenticated);
        for (const layer of entry.style) map.setLayoutProperty(layer.id, 'visibility', shown ? 'visible' : 'none');
        if (shown) pending.push(load(entry));
        schedule(entry, shown);
      }
      await Promise.all(pending);
      resolve();
    });
  });

  function setHover(feature) {
    const next = feature && feature.id !== undefined ? { source: feature.source, id: feature.id } : null;
    if (hovered && (!next || next.source !== hovered.source || next.id !== hovered.id)) {
      map.setFeatureState(hovered, { hover: false });
    }
    if (next) map.setFeatureState(next, { hover: true });
    hovered = next;
  }

  function pickTop(point, layers, pad = 4) {
    const existing = layers.filter((id) => map.getLayer(id));
    if (!existing.length) return null;
    const box = [[point.x - pad, point.y - pad], [point.x + pad, point.y + pad]];
    return map.queryRenderedFeatures(box, { layers: existing })[0] || null;
  }

  map.on('mousemove', (e) => {
    onPointer(e.lngLat);
    const tip = pickTop(e.point, tooltipLayers);
    const hoverFeature = pickTop(e.point, hoverLayers, 0);
    setHover(hoverFeature);
    const clickable = tip || pickTop(e.point, clickLayers, 3);
    map.getCanvas().style.cursor = clickable ? 'pointer' : '';
    if (tip && !clickPopup.isOpen()) {
      const entry = byStyleLayer.get(tip.layer.id);
      hoverPopup.setLngLat(tip.geometry.type === 'Point' ? tip.geometry.coordinates : e.lngLat).setDOMContent(entry.tooltip.render(tip, ctx)).addTo(map);
    } else {
      hoverPopup.remove();
    }
  });
  map.on('mouseout', () => {
    setHover(null);
    hoverPopup.remove();
    onPointer(null);
  });

  map.on('click', (e) => {
    const feature = pickTop(e.point, clickLayers, 3);
    if (!feature) return;
    const entry = byStyleLayer.get(feature.layer.id);
    if (entry.click && [].concat(entry.click.layer).includes(feature.layer.id)) {
      hoverPopup.remove();
      clickPopup.remove();
      entry.click.handle(feature, ctx);
      return;
    }
    const lngLat = feature.geometry.type === 'Point' ? feature.geometry.coordinates : [e.lngLat.lng, e.lngLat.lat];
    hoverPopup.remove();
    // Defer so this click's closeOnClick (which closes any previous popup) runs first.
    setTimeout(() => {
      clickPopup.setLngLat(lngLat).setDOMContent(entry.popup.render(feature, ctx)).addTo(map);
      openPopup = { entry, feature, lngLat };
    }, 0);
  });
  clickPopup.on('close', () => {
    openPopup = null;
  });
  // Esc closes an open popup (dialogs handle their own Esc).
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && clickPopup.isOpen() && !document.querySelector('dialog[open]')) clickPopup.remove();
  });

  onLangChange(() => {
    setAttribution();
    relabelControls(container);
    hoverPopup.remove();
    if (openPopup && clickPopup.isOpen()) clickPopup.setDOMContent(openPopup.entry.popup.render(openPopup.feature, ctx));
  });

  return {
    map,
    ready,
    layers: LAYERS,
    isVisible: (name) => state.get(name)?.visible ?? false,
    status: (name) => state.get(name)?.status ?? 'off',
    setVisible(name, on) {
      const entry = LAYERS.find((e) => e.name === name);
      if (!entry) return;
      state.get(name).visible = Boolean(on);
      if (layersAdded) applyVisibility(entry);
    },
    setAuthenticated(on) {
      const signedOut = authenticated && !on;
      authenticated = Boolean(on);
      if (signedOut) clickPopup.remove(); // e.g. a risk-map explanation must not outlive the session
      if (!layersAdded) return;
      for (const entry of LAYERS) if (entry.requiresAuth) applyVisibility(entry);
    },
    reload(name) {
      const entry = LAYERS.find((e) => e.name === name);
      if (entry) return load(entry);
    },
    fitCity() {
      map.fitBounds(bounds, { padding: fitPadding(container) });
    },
  };
}

// Keep the city clear of the floating panels (layer list on the left, cards on the right) on wide screens.
function fitPadding(container) {
  const width = container.clientWidth || window.innerWidth;
  return width > 1100 ? { top: 30, bottom: 30, left: 280, right: 350 } : 30;
}

// MapLibre reads control labels once; keep them in step with the language afterwards.
function relabelControls(container) {
  const labels = [
    ['.maplibregl-ctrl-zoom-in', 'map.zoomIn'],
    ['.maplibregl-ctrl-zoom-out', 'map.zoomOut'],
    ['.maplibregl-ctrl-compass', 'map.resetBearing'],
    ['.maplibregl-ctrl-attrib-button', 'map.toggleAttribution'],
  ];
  for (const [selector, key] of labels) {
    for (const el of container.querySelectorAll(selector)) {
      el.title = t(key);
      el.setAttribute('aria-label', t(key));
    }
  }
  const canvas = container.querySelector('canvas.maplibregl-canvas');
  if (canvas) canvas.setAttribute('aria-label', t('map.label'));
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}
