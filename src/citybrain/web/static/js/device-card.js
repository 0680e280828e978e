// The device card: a device picked on the map, its registry entry, its quantities with their latest
// values, and a six-hour chart (min-max band, mean, last) kept live by the readings stream (SSE).

import { ApiError } from './api.js';
import { h } from './dom.js';
import { t, has, localized, intlLocale } from './i18n.js';
import { loadEcharts, seriesOption } from './chart.js';
import { assetClassLabel, highlightDevice, stateChip } from './sensing-layers.js';

const WINDOW_MS = 6 * 3600 * 1000;
const SERIES_POINTS = 180; // two-minute steps over six hours
let typesPromise = null;

function deviceTypes(api) {
  typesPromise = typesPromise || api.get('/api/v1/device-types').catch((err) => {
    typesPromise = null;
    throw err;
  });
  return typesPromise;
}

export function quantityLabel(q) {
  return has(`quantity.${q}`) ? t(`quantity.${q}`) : q;
}

function fmtNumber(v) {
  return Number.isFinite(v) ? new Intl.NumberFormat(intlLocale(), { maximumFractionDigits: 3 }).format(v) : '–';
}

function fmtDateTime(value, timeZone) {
  if (!value) return t('device.never');
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return new Intl.DateTimeFormat(intlLocale(), {
    timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
  }).format(d);
}

/** The device id for a map feature without one: look it up by key in a tiny box around its position. */
async function findId(api, sel) {
  if (sel.id) return sel.id;
  if (!sel.lngLat) return null;
  const [lon, lat] = sel.lngLat;
  const e = 1e-4;
  const page = await api.get(`/api/v1/devices?bbox=${lon - e},${lat - e},${lon + e},${lat + e}&limit=200`);
  return page.items.find((d) => d.key === sel.key)?.id ?? null;
}

function row(labelKey, value) {
  return [h('dt', { dataset: { i18n: labelKey } }, t(labelKey)), h('dd', {}, value)];
}

/** Fill `body` for the selected device; returns the cleanup (closes the stream, frees the chart). */
export function renderDeviceCard(body, ctx, sel) {
  if (!sel) return null;
  const { api } = ctx;
  const timeZone = ctx.timezone || 'Asia/Shanghai';
  let closed = false;
  let source = null;
  let chart = null;
  let resize = null;
  let current = null; // {quantity, unit, points}
  const latest = new Map(); // quantity -> {value, ts}
  let live = 0;

  highlightDevice(ctx.map, sel.key);
  const meta = h('dl', { class: 'kv' });
  const problems = h('div', { class: 'chips' });
  const quantities = h('div', { class: 'quantity-tabs', role: 'tablist', 'aria-label': t('device.quantities') });
  const chartEl = h('div', { class: 'device-chart', role: 'img', 'aria-label': t('device.chart') });
  const chartNote = h('p', { class: 'chart-note' }, t('device.loading'));
  const liveEl = h('p', { class: 'live-status', dataset: { stream: 'connecting' } }, h('span', { class: 'dot', 'aria-hidden': 'true' }), h('span', { class: 'live-text' }, t('device.live.connecting')));
  body.replaceChildren(
    h('div', { class: 'device-head' }, h('span', { class: 'device-key mono' }, sel.key), sel.state ? stateChip(sel.state) : null),
    problems,
    meta,
    h('h3', { class: 'card-sub' }, t('device.quantities')),
    quantities,
    h('div', { class: 'chart-wrap' }, chartEl, chartNote),
    liveEl,
  );
  body.dataset.device = sel.key;
  body.dataset.points = '0';
  body.dataset.live = '0';
  for (const p of sel.problems || []) {
    problems.append(h('span', { class: 'chip' }, has(`device.problem.${p}`) ? t(`device.problem.${p}`) : p));
  }

  function setLive(state, text) {
    liveEl.dataset.stream = state;
    liveEl.querySelector('.live-text').textContent = text;
  }

  function renderQuantities(type) {
    const names = type ? [type.quantity, ...(type.extras || []).map((e) => e.quantity)] : [...latest.keys()];
    const unitOf = (q) => (type && q === type.quantity ? type.unit : type?.extras?.find((e) => e.quantity === q)?.unit) || latest.get(q)?.unit || '';
    quantities.replaceChildren(
      ...names.map((q) => {
        const value = latest.get(q)?.value;
        return h('button', {
          type: 'button', role: 'tab', class: 'quantity-tab', dataset: { quantity: q },
          'aria-selected': String(current?.quantity === q),
          onclick: () => showQuantity(q, unitOf(q)),
        }, h('span', { class: 'q-name' }, quantityLabel(q)), h('span', { class: 'q-value mono' }, value === undefined ? '–' : `${fmtNumber(value)} ${unitOf(q)}`.trim()));
      }),
    );
    return unitOf;
  }

  function draw() {
    if (!chart || !current) return;
    const end = Math.max(Date.now(), current.points.at(-1)?.t ?? 0);
    const start = end - WINDOW_MS;
    current.points = current.points.filter((p) => p.t >= start);
    chart.setOption(seriesOption(current.points, { unit: current.unit, timeZone, start, end }), { notMerge: true });
    body.dataset.points = String(current.points.length);
    chartNote.hidden = current.points.length > 0;
    chartNote.textContent = t('device.noData');
  }

  async function showQuantity(quantity, unit) {
    for (const b of quantities.querySelectorAll('.quantity-tab')) b.setAttribute('aria-selected', String(b.dataset.quantity === quantity));
    current = { quantity, unit, points: [] };
    const end = new Date();
    const start = new Date(end.getTime() - WINDOW_MS);
    try {
      const [series, echarts] = await Promise.all([
        api.get(`/api/v1/devices/${body.dataset.deviceId}/series?quantity=${encodeURIComponent(quantity)}&start=${start.toISOString()}&end=${end.toISOString()}&points=${SERIES_POINTS}`),
        loadEcharts(),
      ]);
      if (closed || current.quantity !== quantity) return;
      current.unit = series.unit || unit;
      current.points = series.points.map((p) => ({ t: Date.parse(p.t), min: p.min, max: p.max, avg: p.avg, last: p.last }));
      if (!chart) {
        chart = echarts.init(chartEl, null, { renderer: 'canvas' });
        resize = new ResizeObserver(() => chart?.resize());
        resize.observe(chartEl);
      }
      draw();
    } catch (err) {
      if (closed) return;
      chartNote.hidden = false;
      chartNote.textContent = t('device.error', { message: err.message });
    }
  }

  function onReading(r) {
    live += 1;
    body.dataset.live = String(live);
    for (const [q, v] of Object.entries(r.values || {})) {
      const prev = latest.get(q);
      if (!prev || r.ts >= prev.ts) latest.set(q, { ...prev, value: v, ts: r.ts });
      const tab = quantities.querySelector(`.quantity-tab[data-quantity="${CSS.escape(q)}"] .q-value`);
      if (tab) tab.textContent = `${fmtNumber(v)} ${current && q === current.quantity ? current.unit : prev?.unit || ''}`.trim();
    }
    const v = r.values?.[current?.quantity];
    if (current && Number.isFinite(v)) {
      const tms = Date.parse(r.ts);
      current.points.push({ t: tms, min: v, max: v, avg: v, last: v });
      current.points.sort((a, b) => a.t - b.t);
      draw();
    }
    setLive('open', t('device.live.updated', { time: fmtDateTime(r.ts, timeZone) }));
  }

  function openStream() {
    source = new EventSource(`/api/v1/stream/readings?device=${encodeURIComponent(sel.key)}`);
    source.addEventListener('ready', () => setLive('open', t('device.live.open')));
    source.addEventListener('reading', (e) => {
      try {
        onReading(JSON.parse(e.data));
      } catch (err) {
        console.warn('stream:', err);
      }
    });
    source.addEventListener('dropped', (e) => {
      const n = JSON.parse(e.data).dropped;
      setLive('lagging', t('device.live.dropped', { n }));
    });
    source.addEventListener('error', () => {
      if (closed) return;
      setLive(source.readyState === EventSource.CLOSED ? 'closed' : 'connecting',
        t(source.readyState === EventSource.CLOSED ? 'device.live.closed' : 'device.live.connecting'));
    });
  }

  (async () => {
    try {
      const id = await findId(api, sel);
      if (closed) return;
      if (!id) throw new ApiError(404, { detail: t('device.notFound') });
      body.dataset.deviceId = String(id);
      const [device, types] = await Promise.all([api.get(`/api/v1/devices/${id}`), deviceTypes(api).catch(() => [])]);
      if (closed) return;
      const type = types.find((k) => k.key === device.type_key);
      const e = 1e-5;
      const [asset, latestPage] = await Promise.all([
        device.asset_id ? api.get(`/api/v1/assets/${device.asset_id}`).catch(() => null) : null,
        api.get(`/api/v1/readings/latest?bbox=${device.lon - e},${device.lat - e},${device.lon + e},${device.lat + e}`).catch(() => ({ items: [] })),
      ]);
      if (closed) return;
      for (const [q, v] of Object.entries(latestPage.items.find((d) => d.id === device.id)?.values || {})) latest.set(q, v);
      const statusKey = `device.status.${device.status}`;
      meta.replaceChildren(
        ...row('device.type', type ? localized(type) || type.key : device.type_key),
        ...row('device.asset', asset ? `${localized(asset) || asset.key} · ${assetClassLabel(asset.asset_class)}` : '–'),
        ...row('device.status', has(statusKey) ? t(statusKey) : device.status),
        ...row('device.lastSeen', fmtDateTime(device.last_seen_at, timeZone)),
        ...row('device.position', h('span', { class: 'mono' }, `${device.lon.toFixed(5)}°E ${device.lat.toFixed(5)}°N`)),
      );
      const unitOf = renderQuantities(type);
      const first = type?.quantity || [...latest.keys()][0];
      openStream();
      if (first) await showQuantity(first, unitOf(first));
      else chartNote.textContent = t('device.noData');
    } catch (err) {
      if (closed) return;
      const message = err instanceof ApiError && err.status === 404 ? t('device.notFound') : t('device.error', { message: err.message });
      meta.replaceChildren(h('p', { class: 'form-error' }, message));
      chartNote.textContent = '';
      setLive('closed', t('device.live.closed'));
    }
  })();

  return () => {
    closed = true;
    source?.close();
    resize?.disconnect();
    chart?.dispose();
    highlightDevice(ctx.map, null);
    delete body.dataset.device;
    delete body.dataset.deviceId;
  };
}
