// The drill launcher (应急演练; a dialog, for users with incident:write): the shipped scenarios
// (GET /drills/scenarios) with their incident type, level, number of injects and how long the script runs;
// "开始演练 Start drill" posts {scenario: key} to POST /drills, which opens an exercise incident at once (the
// warning host plays the injects as their time comes). The caller opens the new incident's page and turns
// on exercise mode.

import { h } from './dom.js';
import { t, getLang, intlLocale, onLangChange } from './i18n.js';
import { levelChip, problemText } from './warning-page.js';

let dialog = null;
let ctx = null;
let state = null; // {scenarios, error, busy, startError}

function ensureDialog() {
  if (dialog) return dialog;
  dialog = h('dialog', { id: 'drills-dialog', class: 'dialog dialog-wide dialog-drills', 'aria-labelledby': 'drills-title' });
  dialog.addEventListener('click', (e) => {
    if (e.target === dialog && !state?.busy) dialog.close();
  });
  document.body.append(dialog);
  onLangChange(() => dialog.open && render());
  return dialog;
}

/** Open the launcher. options = {api, can(permission), onStarted(incidentDetail)}. */
export function openDrillLauncher(options) {
  ctx = options;
  state = { scenarios: null, error: null, busy: null, startError: null };
  ensureDialog();
  render();
  if (!dialog.open) dialog.showModal();
  load(state);
}

async function load(mine) {
  try {
    mine.scenarios = await ctx.api.get('/api/v1/drills/scenarios');
  } catch (err) {
    mine.error = err;
  }
  if (mine === state && dialog.open) render();
}

/** Seconds of an inject offset: "90s", "2m", "1h30m", "1d" or ISO 8601 "PT4H"; NaN if unreadable. */
export function offsetSeconds(text) {
  const value = String(text ?? '').trim();
  const iso = /^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i.exec(value);
  if (iso && value.length > 1) {
    const [, d = 0, hh = 0, m = 0, s = 0] = iso;
    return Number(d) * 86400 + Number(hh) * 3600 + Number(m) * 60 + Number(s);
  }
  const unit = { d: 86400, h: 3600, m: 60, s: 1 };
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)\s*([dhms])/gi)];
  if (!parts.length || parts.map((p) => p[0]).join('').replace(/\s/g, '') !== value.replace(/\s/g, '')) return Number.NaN;
  return parts.reduce((sum, p) => sum + Number(p[1]) * unit[p[2].toLowerCase()], 0);
}

function duration(scenario) {
  const offsets = (scenario.injects || []).map((i) => offsetSeconds(i.at)).filter(Number.isFinite);
  const seconds = offsets.length ? Math.max(...offsets) : 0;
  return t('drills.minutes', { n: new Intl.NumberFormat(intlLocale(), { maximumFractionDigits: 1 }).format(seconds / 60) });
}

const nameOf = (s) => (getLang() === 'zh-CN' ? s.name?.zh || s.name?.en : s.name?.en || s.name?.zh) || s.key;

async function start(scenario) {
  state.busy = scenario.key;
  state.startError = null;
  render();
  try {
    const incident = await ctx.api.post('/api/v1/drills', { scenario: scenario.key });
    state.busy = null;
    dialog.close();
    ctx.onStarted?.(incident);
  } catch (err) {
    state.busy = null;
    state.startError = err;
    if (dialog.open) render();
  }
}

function scenarioItem(s) {
  const warnings = (s.injects || []).filter((i) => i.kind === 'warning').length;
  const notes = (s.injects || []).length - warnings;
  return h('li', { class: 'drill-item', dataset: { key: s.key, type: s.incident_type, level: s.level } },
    levelChip(s.level),
    h('span', { class: 'drill-main' },
      h('span', { class: 'drill-name' }, nameOf(s)),
      h('span', { class: 'drill-sub' },
        h('span', { class: 'mono' }, s.key), ' · ', h('span', { class: 'mono' }, s.incident_type), ' · ',
        `${Number(s.lon).toFixed(4)}°E ${Number(s.lat).toFixed(4)}°N`),
      h('span', { class: 'drill-sub drill-injects' },
        t('drills.injects', { n: (s.injects || []).length, warnings, notes }), ' · ', duration(s))),
    h('button', {
      type: 'button', class: 'btn btn-primary btn-small', dataset: { action: 'start-drill' },
      disabled: Boolean(state.busy) || !ctx.can('incident:write'), onclick: () => start(s),
    }, t(state.busy === s.key ? 'drills.starting' : 'drills.start')));
}

function render() {
  let body;
  if (state.error) body = h('p', { class: 'form-error', role: 'alert' }, problemText(state.error));
  else if (state.scenarios === null) body = h('p', { class: 'dialog-hint' }, t('drills.loading'));
  else if (!state.scenarios.length) body = h('p', { class: 'dialog-hint' }, t('drills.none'));
  else body = h('ul', { class: 'drill-list' }, state.scenarios.map(scenarioItem));
  dialog.replaceChildren(h('div', { class: 'dialog-form drills-launcher' },
    h('h2', { id: 'drills-title', class: 'dialog-title' }, t('drills.title')),
    h('p', { class: 'dialog-hint' }, t('drills.hint')),
    body,
    state.startError ? h('p', { class: 'form-error', role: 'alert' }, problemText(state.startError)) : null,
    h('div', { class: 'dialog-actions' },
      h('button', { type: 'button', class: 'btn btn-ghost', dataset: { action: 'close' }, onclick: () => dialog.close() }, t('common.close')))));
}
