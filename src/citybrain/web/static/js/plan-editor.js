// The response-plan editor (预案; a dialog, for users with incident:write): the latest version of every plan
// (GET /plans), a plan's YAML (GET /plans/{key}) in a text area to edit, validate (POST /plans/import with
// dry_run) and save as a new version (the same without dry_run), and "new" from a copy of an existing plan.
// Each refusal is listed with its field and its line and column; a click puts the cursor there.
//
// The API refuses a version that exists or is lower than the latest (409), so before validating or saving
// the editor raises the top-level `version:` line to one above the latest stored version of that key (a
// line replaced in place: the line numbers of the API's problems stay right).

import { ApiError } from './api.js';
import { h } from './dom.js';
import { t, localized, onLangChange } from './i18n.js';

const YAML_ACCEPT = { Accept: 'application/yaml, text/yaml, application/problem+json' };

let dialog = null;
let ctx = null;
/** What survives a re-render (language switch): the plans, the one being edited, the text, the messages. */
let state = null;

function freshState() {
  return { plans: null, loadError: null, selected: null, yaml: '', message: '', problems: null };
}

function ensureDialog() {
  if (dialog) return dialog;
  dialog = h('dialog', { id: 'plans-dialog', class: 'dialog dialog-rules dialog-plans', 'aria-labelledby': 'plans-title' });
  dialog.addEventListener('click', (e) => {
    if (e.target === dialog) dialog.close();
  });
  document.body.append(dialog);
  onLangChange(() => {
    if (!dialog.open) return;
    state.yaml = dialog.querySelector('#plans-yaml')?.value ?? state.yaml;
    render();
  });
  return dialog;
}

/** Open the editor. options = {api, can(permission)}. */
export function openPlanEditor(options) {
  ctx = options;
  state = freshState();
  ensureDialog();
  render();
  if (!dialog.open) dialog.showModal();
  loadPlans();
}

// ---- YAML top-level fields (the editor only ever touches `key:` and `version:`) -----------------

/** The value of a top-level `name: value` line, or null. */
export function topField(text, name) {
  const m = new RegExp(`^${name}:[ \\t]*(.*?)[ \\t]*(?:#.*)?$`, 'm').exec(text);
  return m ? m[1].replace(/^(['"])(.*)\1$/, '$2') : null;
}

/** `text` with the top-level `name:` line set to `value` (the line is replaced in place). */
export function setTopField(text, name, value) {
  const re = new RegExp(`^${name}:.*$`, 'm');
  return re.test(text) ? text.replace(re, `${name}: ${value}`) : text;
}

/** 1-based line of the top-level `name:` line, or 0. */
function topFieldLine(text, name) {
  const index = text.split('\n').findIndex((line) => line.startsWith(`${name}:`));
  return index + 1;
}

// ---- the dialog ----------------------------------------------------------------------------

function latestVersion(key) {
  return (state.plans || []).find((p) => p.key === key)?.version;
}

async function loadPlans() {
  const mine = state;
  try {
    const plans = await ctx.api.get('/api/v1/plans');
    if (mine !== state) return;
    state.plans = plans;
    state.loadError = null;
  } catch (err) {
    if (mine !== state) return;
    state.loadError = err;
  }
  if (dialog.open) keepText() && render();
}

/** Copy the text area into the state before a redraw; returns true so it can lead an && chain. */
function keepText() {
  const area = dialog.querySelector('#plans-yaml');
  if (area) state.yaml = area.value;
  return true;
}

async function loadPlan(key) {
  keepText();
  Object.assign(state, { selected: key, message: '', problems: null });
  render();
  try {
    const text = await ctx.api.get(`/api/v1/plans/${encodeURIComponent(key)}`, { headers: YAML_ACCEPT });
    if (state.selected !== key) return;
    state.yaml = text;
    state.message = t('plans.done.loaded', { key, version: latestVersion(key) ?? topField(text, 'version') });
  } catch (err) {
    state.problems = err;
  }
  render();
}

/** A new plan: a copy of the selected (or the first) plan under a free key, version 1. */
async function newPlan() {
  keepText();
  const source = state.selected || state.plans?.[0]?.key;
  if (!source) return;
  try {
    const text = await ctx.api.get(`/api/v1/plans/${encodeURIComponent(source)}`, { headers: YAML_ACCEPT });
    const taken = new Set((state.plans || []).map((p) => p.key));
    let key = `${source}.copy`;
    for (let n = 2; taken.has(key); n += 1) key = `${source}.copy${n}`;
    state.yaml = setTopField(setTopField(text, 'key', key), 'version', 1);
    Object.assign(state, { selected: null, problems: null, message: t('plans.done.template', { source, key }) });
  } catch (err) {
    state.problems = err;
  }
  render();
  const area = dialog.querySelector('#plans-yaml');
  const line = topFieldLine(area.value, 'key');
  if (line) jumpTo(area, line, 6);
}

async function submit(dryRun, button) {
  const area = dialog.querySelector('#plans-yaml');
  Object.assign(state, { message: '', problems: null });
  let text = area.value;
  if (!text.trim()) {
    state.problems = new Error(t('plans.empty'));
    keepText() && render();
    return;
  }
  // Save as a *new* version: one above the latest stored version of this key.
  const key = topField(text, 'key');
  const latest = key ? latestVersion(key) : undefined;
  const version = Number.parseInt(topField(text, 'version') ?? '', 10);
  let bumped = null;
  if (latest !== undefined && !(version > latest)) {
    bumped = latest + 1;
    text = setTopField(text, 'version', bumped);
    area.value = text;
  }
  button.disabled = true;
  try {
    const plan = await ctx.api.post('/api/v1/plans/import', { yaml: text, dry_run: dryRun });
    const params = { key: plan.key, version: plan.version, steps: plan.steps };
    state.message = [bumped !== null ? t('plans.done.bumped', { version: bumped }) : '',
      t(dryRun ? 'plans.done.valid' : 'plans.done.saved', params)].filter(Boolean).join(' ');
    if (!dryRun) {
      state.selected = plan.key;
      keepText();
      await loadPlans();
      return;
    }
  } catch (err) {
    state.problems = err;
  } finally {
    button.disabled = false;
  }
  keepText() && render();
}

function jumpTo(textarea, line, column) {
  const lines = textarea.value.split('\n');
  let pos = 0;
  for (let i = 0; i < Math.min(line - 1, lines.length); i += 1) pos += lines[i].length + 1;
  pos += Math.max(0, Math.min(column - 1, (lines[line - 1] || '').length));
  textarea.focus();
  textarea.setSelectionRange(pos, pos);
  const lineHeight = parseFloat(getComputedStyle(textarea).lineHeight) || 18;
  textarea.scrollTop = Math.max(0, (line - 3) * lineHeight);
}

/** Where a refusal points: the API's problems[] (path, line, column), else "line L, column C" in the message,
 *  else the top-level line its field names (e.g. `body.yaml.version` for a version conflict). */
function positionOf(error, index, err, text) {
  const problem = err.problem?.problems?.[index];
  if (problem?.line) return { line: problem.line, column: problem.column || 1 };
  const at = /line (\d+), column (\d+)/.exec(error.message || '');
  if (at) return { line: Number(at[1]), column: Number(at[2]) };
  const top = /^body\.yaml\.(\w+)$/.exec(error.field || '');
  const line = top ? topFieldLine(text, top[1]) : 0;
  return line ? { line, column: top[1].length + 3 } : null;
}

function problemItems(err, textarea) {
  if (err instanceof ApiError && err.status === 403) return [h('li', {}, t('plans.error.forbidden'))];
  const errors = err instanceof ApiError ? err.problem?.errors || [] : [];
  if (!errors.length) return [h('li', {}, err.detail || err.message)];
  return errors.map((e, i) => {
    const at = positionOf(e, i, err, textarea.value);
    const field = (e.field || '').replace(/^body\.yaml\.?/, '') || e.field;
    const item = h('li', { dataset: { field: e.field || '', ...(at ? { line: String(at.line), column: String(at.column) } : {}) } },
      field ? h('span', { class: 'mono problem-field' }, field) : null, ' ', e.message);
    if (at) {
      item.classList.add('problem-at');
      item.tabIndex = 0;
      item.title = t('plans.problem.jump', { line: at.line, column: at.column });
      const jump = () => jumpTo(textarea, at.line, at.column);
      item.addEventListener('click', jump);
      item.addEventListener('keydown', (ev) => ev.key === 'Enter' && jump());
    }
    return item;
  });
}

function planRows() {
  if (state.loadError) return [h('tr', {}, h('td', { colspan: '6', class: 'form-error' }, state.loadError.detail || state.loadError.message))];
  if (state.plans === null) return [h('tr', {}, h('td', { colspan: '6', class: 'dialog-hint' }, t('plans.loading')))];
  if (!state.plans.length) return [h('tr', {}, h('td', { colspan: '6', class: 'dialog-hint' }, t('plans.none')))];
  return state.plans.map((p) => h('tr', {
    class: 'plan-row', dataset: { key: p.key, version: String(p.version), type: p.incident_type },
    'aria-selected': String(p.key === state.selected),
  },
  h('td', {}, h('button', {
    type: 'button', class: 'link-btn mono plan-open', title: t('plans.open.one', { key: p.key }), onclick: () => loadPlan(p.key),
  }, p.key)),
  h('td', {}, localized(p) || p.key),
  h('td', { class: 'mono' }, p.incident_type),
  h('td', {}, (p.levels || []).join(' ')),
  h('td', { class: 'num' }, String(p.steps)),
  h('td', { class: 'mono plan-version' }, `v${p.version}`)));
}

function render() {
  const writable = ctx.can('incident:write');
  const textarea = h('textarea', {
    id: 'plans-yaml', class: 'rules-yaml plans-yaml', spellcheck: 'false', rows: '16', wrap: 'off', 'aria-label': t('plans.yaml'),
    placeholder: t('plans.yaml.placeholder'), readonly: !writable,
  });
  textarea.value = state.yaml;
  const problems = h('ul', { class: 'rule-problems plan-problems', role: 'alert', hidden: !state.problems });
  if (state.problems) problems.replaceChildren(...problemItems(state.problems, textarea));
  const result = h('p', { class: 'form-ok', role: 'status', hidden: !state.message }, state.message);
  const button = (key, action, fn, { primary = false, disabled = false } = {}) => h('button', {
    type: 'button', class: `btn ${primary ? 'btn-primary' : 'btn-ghost'}`, dataset: { action }, disabled,
    hidden: !writable && action !== 'close', onclick: (e) => fn(e.currentTarget),
  }, t(key));
  const editing = state.selected ? `${state.selected} · v${latestVersion(state.selected) ?? '?'}` : topField(state.yaml, 'key');

  dialog.replaceChildren(h('div', { class: 'dialog-form rules-editor plans-editor' },
    h('h2', { id: 'plans-title', class: 'dialog-title' }, t('plans.title')),
    h('p', { class: 'dialog-hint' }, t(writable ? 'plans.hint' : 'plans.readOnly')),
    h('div', { class: 'rules-table-wrap' }, h('table', { class: 'rules-table plans-table' },
      h('thead', {}, h('tr', {}, ['plans.col.key', 'plans.col.name', 'plans.col.type', 'plans.col.levels', 'plans.col.steps', 'plans.col.version']
        .map((k) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', {}, planRows()))),
    h('label', { for: 'plans-yaml', class: 'card-sub' }, t('plans.yaml'),
      editing ? h('span', { class: 'mono plans-editing' }, ` · ${editing}`) : null),
    textarea,
    problems,
    result,
    h('div', { class: 'dialog-actions' },
      button('plans.new', 'new', () => newPlan(), { disabled: !state.plans?.length }),
      button('plans.validate', 'validate', (b) => submit(true, b)),
      button('plans.save', 'save', (b) => submit(false, b), { primary: true }),
      button('common.close', 'close', () => dialog.close()))));
}
