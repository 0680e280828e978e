// The reporting page: category, place (phone location, a pin on the bundled base map, or a district),
// photos, description and contact; nearby duplicates offered as "me too"; proof of work; the tracking link.

import { formatTime, getJSON, getLang, h, initLang, localized, onLangChange, postForm, solveChallenge, t } from './common.js';

const MAX_PHOTOS = 3;
const SHANGHAI = [121.4737, 31.2304];
const state = { services: [], code: null, lon: null, lat: null, files: [], districts: [], map: null, marker: null, nearbyKey: null };
const $ = (id) => document.getElementById(id);

function setStatus(text, kind = '') {
  const el = $('status');
  el.textContent = text;
  el.dataset.kind = kind;
}

function fieldError(name, text) {
  const el = $(`error-${name}`);
  if (!el) return false;
  el.textContent = text || '';
  el.hidden = !text;
  return true;
}

function clearErrors() {
  for (const el of document.querySelectorAll('.field-error')) {
    el.textContent = '';
    el.hidden = true;
  }
}

// -- categories ----------------------------------------------------------------------------------

function icon(code) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('class', 'icon');
  svg.setAttribute('aria-hidden', 'true');
  const use = document.createElementNS(ns, 'use');
  use.setAttribute('href', `/report/static/icons.svg#${code}`);
  svg.append(use);
  return svg;
}

function renderCategories() {
  const box = $('categories');
  box.replaceChildren(...state.services.map((s) => h('button', {
    type: 'button', class: 'category', role: 'radio', 'aria-checked': String(s.code === state.code),
    dataset: { code: s.code }, onclick: () => chooseCategory(s.code),
  }, icon(s.code), h('span', { class: 'category-name' }, localized(s)))));
}

function chooseCategory(code) {
  state.code = code;
  fieldError('service_code', '');
  for (const b of document.querySelectorAll('.category')) b.setAttribute('aria-checked', String(b.dataset.code === code));
  refreshNearby();
}

// -- place ---------------------------------------------------------------------------------------

function setPlace(lon, lat, source) {
  state.lon = Math.round(lon * 1e6) / 1e6;
  state.lat = Math.round(lat * 1e6) / 1e6;
  const el = $('place-status');
  el.dataset.state = source;
  el.textContent = t('report.place', { lon: state.lon.toFixed(5), lat: state.lat.toFixed(5) });
  fieldError('location', '');
  if (state.map) {
    if (!state.marker) {
      state.marker = new window.maplibregl.Marker({ draggable: true, color: '#d9480f' });
      state.marker.on('dragend', () => {
        const p = state.marker.getLngLat();
        setPlace(p.lng, p.lat, 'map');
      });
    }
    state.marker.setLngLat([state.lon, state.lat]).addTo(state.map);
    if (source !== 'map') state.map.jumpTo({ center: [state.lon, state.lat], zoom: Math.max(state.map.getZoom(), 15) });
  }
  refreshNearby();
}

function locate() {
  if (!navigator.geolocation) {
    setStatus(t('report.locateFailed'), 'error');
    return;
  }
  setStatus(t('report.locating'));
  navigator.geolocation.getCurrentPosition(
    (pos) => {
      setStatus('');
      setPlace(pos.coords.longitude, pos.coords.latitude, 'gps');
    },
    () => setStatus(t('report.locateFailed'), 'error'),
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
  );
}

function bboxCentre(geometry) {
  let [minX, minY, maxX, maxY] = [Infinity, Infinity, -Infinity, -Infinity];
  const walk = (c) => {
    if (typeof c[0] === 'number') {
      minX = Math.min(minX, c[0]); maxX = Math.max(maxX, c[0]);
      minY = Math.min(minY, c[1]); maxY = Math.max(maxY, c[1]);
    } else c.forEach(walk);
  };
  walk(geometry.coordinates);
  return [(minX + maxX) / 2, (minY + maxY) / 2];
}

function renderDistricts() {
  const select = $('district');
  const keep = select.value;
  const sorted = [...state.districts].sort((a, b) => String(a.code).localeCompare(String(b.code)));
  select.replaceChildren(h('option', { value: '' }, t('report.districtNone')),
    ...sorted.map((d) => h('option', { value: d.code }, localized(d))));
  select.value = keep;
}

function onDistrict() {
  const d = state.districts.find((x) => x.code === $('district').value);
  if (d) setPlace(d.centre[0], d.centre[1], 'district');
}

function useDistricts(collection) {
  state.districts = (collection.features || []).filter((f) => f.geometry).map((f) => ({
    code: String(f.properties.code ?? f.id ?? ''), name_zh: f.properties.name_zh, name_en: f.properties.name_en,
    centre: bboxCentre(f.geometry),
  }));
  renderDistricts();
}

function initMap() {
  const maplibregl = window.maplibregl;
  if (!maplibregl) return false;
  try {
    const map = new maplibregl.Map({
      container: 'map',
      style: { version: 8, sources: {}, layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#eef1f4' } }] },
      center: SHANGHAI, zoom: 9, minZoom: 6, maxZoom: 19, attributionControl: false, dragRotate: false, pitchWithRotate: false,
    });
    map.touchZoomRotate.disableRotation();
    map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
    map.on('load', async () => {
      const districts = await getJSON('/api/v1/geo/layers/districts');
      useDistricts(districts);
      map.addSource('districts', { type: 'geojson', data: districts });
      map.addLayer({ id: 'districts-fill', type: 'fill', source: 'districts', paint: { 'fill-color': '#ffffff', 'fill-opacity': 0.7 } });
      map.addLayer({ id: 'districts-line', type: 'line', source: 'districts', paint: { 'line-color': '#8796a8', 'line-width': 1 } });
      document.body.dataset.map = 'ready';
      const roads = await getJSON('/api/v1/geo/layers/roads').catch(() => null);
      if (roads) {
        map.addSource('roads', { type: 'geojson', data: roads });
        map.addLayer({ id: 'roads-line', type: 'line', source: 'roads', paint: { 'line-color': '#c4ccd6', 'line-width': ['interpolate', ['linear'], ['zoom'], 10, 0.5, 16, 4] } }, 'districts-line');
      }
    });
    map.on('click', (e) => setPlace(e.lngLat.lng, e.lngLat.lat, 'map'));
    state.map = map;
    return true;
  } catch (err) {
    console.warn('map unavailable:', err);
    return false;
  }
}

// -- nearby duplicates ---------------------------------------------------------------------------

async function refreshNearby() {
  if (!state.code || state.lon === null) return;
  const key = `${state.code}|${state.lon}|${state.lat}`;
  state.nearbyKey = key;
  const q = new URLSearchParams({ service_code: state.code, lon: state.lon, lat: state.lat });
  let items = [];
  try {
    items = await getJSON(`/api/v1/public/reports/nearby?${q}`);
  } catch {
    items = [];
  }
  if (state.nearbyKey !== key) return; // a newer place or category was chosen meanwhile
  const list = $('nearby-list');
  list.replaceChildren(...items.map(nearbyItem));
  $('nearby').hidden = items.length === 0;
}

function nearbyItem(r) {
  const count = h('span', { class: 'me-too-count' }, t('report.nearby.count', { n: r.me_too_count || 0 }));
  const button = h('button', { type: 'button', class: 'secondary me-too', dataset: { id: r.service_request_id } }, t('report.nearby.meToo'));
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      setStatus(t('report.solving'));
      const { challenge, nonce } = await solveChallenge();
      const form = new FormData();
      form.set('challenge', challenge);
      form.set('nonce', nonce);
      const out = await postForm(`/api/v1/public/reports/${encodeURIComponent(r.service_request_id)}/me-too`, form);
      count.textContent = t('report.nearby.thanks', { n: out.me_too_count });
      button.closest('li').dataset.done = 'true';
      setStatus('');
    } catch (err) {
      button.disabled = false;
      setStatus(t('common.error', { msg: err.message }), 'error');
    }
  });
  return h('li', { class: 'nearby-item', dataset: { id: r.service_request_id } },
    h('p', { class: 'nearby-text' }, r.description || ''),
    h('p', { class: 'nearby-meta' }, `${t('report.nearby.distance', { m: Math.round(r.distance_m) })} · ${formatTime(r.requested_at)}`),
    h('div', { class: 'nearby-actions' }, count, button));
}

// -- photos --------------------------------------------------------------------------------------

function onPhotos() {
  const input = $('photos');
  const files = Array.from(input.files || []);
  fieldError('photos', files.length > MAX_PHOTOS ? t('report.photosTooMany') : '');
  state.files = files.slice(0, MAX_PHOTOS);
  for (const img of $('previews').querySelectorAll('img')) URL.revokeObjectURL(img.src);
  $('previews').replaceChildren(...state.files.map((f) => h('img', { src: URL.createObjectURL(f), alt: f.name, class: 'preview' })));
}

// -- submit --------------------------------------------------------------------------------------

function showFieldErrors(err) {
  let shown = false;
  for (const e of err.fields) {
    const name = String(e.field || '').split('.').pop().replace(/\[\d+\]$/, '');
    const target = ['lon', 'lat'].includes(name) ? 'location' : name;
    shown = fieldError(target, e.message) || shown;
  }
  return shown;
}

async function submit(event) {
  event.preventDefault();
  clearErrors();
  const description = $('description').value.trim();
  let bad = false;
  for (const [missing, field, key] of [[!state.code, 'service_code', 'report.needCategory'],
    [state.lon === null, 'location', 'report.needPlace'], [!description, 'description', 'report.needDescription']]) {
    if (!missing) continue;
    fieldError(field, t(key));
    bad = true;
  }
  if (bad) return;
  const button = $('submit');
  button.disabled = true;
  try {
    setStatus(t('report.solving'));
    const { challenge, nonce } = await solveChallenge();
    setStatus(t('report.sending'));
    const anonymous = $('anonymous').checked;
    const form = new FormData();
    form.set('service_code', state.code);
    form.set('description', description);
    form.set('lon', String(state.lon));
    form.set('lat', String(state.lat));
    const address = $('address').value.trim();
    if (address) form.set('address', address);
    if (!anonymous) {
      for (const name of ['contact_name', 'contact_phone', 'contact_email']) {
        const v = $(name).value.trim();
        if (v) form.set(name, v);
      }
    }
    form.set('anonymous', anonymous ? 'true' : 'false');
    form.set('challenge', challenge);
    form.set('nonce', nonce);
    for (const f of state.files) form.append('photos', f, f.name);
    const out = await postForm('/api/v1/public/reports', form);
    setStatus('');
    showDone(out);
  } catch (err) {
    if (!(err.fields && err.fields.length && showFieldErrors(err))) setStatus(t('common.error', { msg: err.message }), 'error');
    else setStatus('');
  } finally {
    button.disabled = false;
  }
}

function showDone(out) {
  const url = new URL(out.tracking_url || `/track/${out.tracking_code}`, window.location.origin).href;
  $('done-number').textContent = out.service_request_id;
  const link = $('tracking-link');
  link.href = url;
  link.textContent = url;
  const note = $('done').querySelector('.duplicate-note');
  if (note) note.remove();
  if (out.duplicate_of) $('done').insertBefore(h('p', { class: 'duplicate-note' }, t('report.done.duplicate')), $('tracking-link').parentElement);
  $('report-form').hidden = true;
  $('done').hidden = false;
  try {
    const mine = JSON.parse(localStorage.getItem('citybrain.myReports') || '[]');
    mine.unshift({ id: out.service_request_id, url, at: new Date().toISOString() });
    localStorage.setItem('citybrain.myReports', JSON.stringify(mine.slice(0, 20)));
  } catch {
    /* storage disabled */
  }
  window.scrollTo(0, 0);
}

function again() {
  window.location.assign('/report');
}

// -- start ---------------------------------------------------------------------------------------

async function main() {
  initLang();
  $('locate').addEventListener('click', locate);
  $('district').addEventListener('change', onDistrict);
  $('photos').addEventListener('change', onPhotos);
  $('anonymous').addEventListener('change', () => {
    $('contact').hidden = $('anonymous').checked;
  });
  $('report-form').addEventListener('submit', submit);
  $('again').addEventListener('click', again);
  onLangChange(() => {
    renderCategories();
    renderDistricts();
    if (state.lon !== null) setPlace(state.lon, state.lat, $('place-status').dataset.state);
  });
  if (!initMap()) {
    $('map').hidden = true;
    setStatus(t('report.mapUnavailable'));
    getJSON('/api/v1/geo/layers/districts').then(useDistricts).catch(() => {});
  }
  try {
    state.services = await getJSON('/api/v1/public/report-services');
    renderCategories();
  } catch (err) {
    setStatus(t('common.error', { msg: err.message }), 'error');
  }
  document.body.dataset.ready = 'true';
  document.body.dataset.lang = getLang();
}

main();
