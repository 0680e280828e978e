// The citizen-case admin (a dialog, for users with report:write): the routing table (category × district →
// department; rows edited, added and removed, saved with PUT /case-routes, every refusal listed with its field and
// the row's cell marked), the time limit per category (PUT /case-time-limits: the categories whose hours differ from
// the catalogue's default are the overrides), and the moderation queue (GET /moderation; approve, reject, merge).

import { h } from './dom.js';
import { createPageDialog } from './page-dialog.js';
import { t, has, localized } from './i18n.js';
import { fmtDateTime } from './warning-page.js';
import { fmtNumber, loadRefs, problemText, serviceName } from './case-page.js';

const TABS = ['routes', 'limits', 'moderation'];
const lookup = (prefix, value) => (has(`${prefix}.${value}`) ? t(`${prefix}.${value}`) : String(value ?? ''));

let dialog = null;
let state = null; // {ctx, tab, refs, routes (draft rows), limits, flags, errors, message, closed}

function ensureDialog() {
  dialog ||= createPageDialog({ id: 'case-admin-dialog', cls: 'dialog dialog-rules dialog-case-admin', labelledBy: 'case-admin-title',
    onClosed: () => {
      if (state) state.closed = true;
      state = null;
    },
    onLang: () => state?.refs && render() });
  return dialog;
}

/** ctx = {api, timezone, onChange()}. */
export async function openCaseAdmin(ctx, tab = 'routes') {
  ensureDialog();
  if (state) state.closed = true;
  state = { ctx, tab, refs: null, routes: [], limits: [], flags: [], errors: [], message: null, closed: false, loading: true };
  const mine = state;
  dialog.replaceChildren(h('div', { class: 'dialog-form' }, h('p', { class: 'dialog-hint' }, t('cases.admin.loading'))));
  if (!dialog.open) dialog.showModal();
  try {
    const [refs, routes, limits, flags] = await Promise.all([
      loadRefs(ctx.api),
      ctx.api.get('/api/v1/case-routes'),
      ctx.api.get('/api/v1/case-time-limits'),
      ctx.api.get('/api/v1/moderation?limit=200').catch((err) => ({ error: err })),
    ]);
    if (mine.closed) return;
    Object.assign(mine, { refs, routes: routes.map(draftRoute), limits: limits.map(draftLimit), loading: false });
    setFlags(mine, flags);
    render();
  } catch (err) {
    if (mine.closed) return;
    dialog.replaceChildren(h('div', { class: 'dialog-form' },
      h('p', { class: 'form-error', role: 'alert' }, problemText(err)),
      h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'btn btn-primary', onclick: () => dialog.close() }, t('common.close')))));
  }
}

const draftRoute = (r) => ({ service_code: r.service_code, district_code: r.district_code || '', department: r.department || '', priority: String(r.priority ?? 100) });
const draftLimit = (l) => ({ ...l, value: String(l.hours) });

function setFlags(mine, flags) {
  mine.flags = flags && !flags.error ? flags.items : [];
  mine.flagsError = flags?.error || null;
}

function render() {
  const mine = state;
  const close = h('button', { type: 'button', class: 'icon-btn card-close', 'aria-label': t('common.close'), title: t('common.close'), onclick: () => dialog.close() },
    h('span', { class: 'close-x', 'aria-hidden': 'true' }));
  const tabs = h('div', { class: 'case-tabs', role: 'tablist' }, TABS.map((tab) => h('button', {
    type: 'button', role: 'tab', class: 'case-tab', id: `case-admin-tab-${tab}`, dataset: { tab }, 'aria-selected': String(mine.tab === tab),
    onclick: () => {
      mine.tab = tab;
      mine.errors = [];
      mine.message = null;
      render();
    },
  }, tab === 'moderation' ? t('cases.admin.tab.moderationN', { n: mine.flags.length }) : t(`cases.admin.tab.${tab}`))));
  const body = mine.tab === 'routes' ? routesPane(mine) : mine.tab === 'limits' ? limitsPane(mine) : moderationPane(mine);
  dialog.dataset.tab = mine.tab;
  dialog.replaceChildren(h('div', { class: 'dialog-form case-admin' },
    h('header', { class: 'warning-head' }, h('h2', { id: 'case-admin-title', class: 'dialog-title' }, t('cases.admin.title')), close),
    tabs, body));
  dialog.querySelector('[aria-invalid="true"]')?.scrollIntoView({ block: 'nearest' }); // the first refused cell
}

/** The refusal: the message, then each field problem as "row N · column: message", clickable to the cell. */
function problemsList(mine, labelFor) {
  if (mine.message) return h('p', { class: 'form-ok', role: 'status' }, mine.message);
  if (!mine.errors.length && !mine.errorText) return null;
  return h('div', { class: 'rule-problems case-problems', role: 'alert' },
    mine.errorText ? h('p', { class: 'case-problem-text' }, mine.errorText) : null,
    h('ul', {}, mine.errors.map((e) => {
      const at = /^body\[(\d+)\]\.(\w+)/.exec(e.field || '');
      const label = at ? labelFor(Number(at[1]), at[2]) : e.field;
      return h('li', { dataset: { field: e.field } },
        h('button', { type: 'button', class: 'link-btn problem-at', onclick: () => dialog.querySelector(`[data-field-path="${e.field}"]`)?.focus() },
          h('span', { class: 'problem-field' }, label)), `: ${e.message}`);
    })));
}

async function save(mine, fn, okKey) {
  mine.errors = [];
  mine.errorText = '';
  mine.message = null;
  for (const b of dialog.querySelectorAll('.case-admin button[data-action]')) b.disabled = true;
  try {
    const n = await fn();
    if (mine.closed) return;
    mine.message = t(okKey, { n });
    mine.ctx.onChange?.();
  } catch (err) {
    if (mine.closed) return;
    mine.errors = err?.problem?.errors || [];
    mine.errorText = err?.detail || err?.message || String(err);
    if (!mine.errors.length) mine.errorText = problemText(err);
  }
  render();
}

// ---- routing table -------------------------------------------------------------------------

function routesPane(mine) {
  const { refs } = mine;
  const fieldError = (i, col) => mine.errors.find((e) => e.field === `body[${i}].${col}`);
  const mark = (i, col) => {
    const err = fieldError(i, col);
    return { 'aria-invalid': err ? 'true' : null, title: err ? err.message : null, class: err ? 'cell-error' : null,
      dataset: { fieldPath: `body[${i}].${col}` } };
  };
  const services = [...refs.services.values()];
  const rows = mine.routes.map((r, i) => h('tr', { dataset: { row: String(i) }, class: mine.errors.some((e) => e.field?.startsWith(`body[${i}].`)) ? 'row-error' : null },
    h('td', {}, h('select', { ...mark(i, 'service_code'), 'aria-label': t('cases.route.category'), onchange: (e) => { r.service_code = e.target.value; } },
      h('option', { value: '*', selected: r.service_code === '*' }, t('cases.route.any')),
      services.map((s) => h('option', { value: s.code, selected: s.code === r.service_code }, localized(s))),
      r.service_code !== '*' && !refs.services.has(r.service_code) ? h('option', { value: r.service_code, selected: true }, r.service_code) : null)),
    h('td', {}, h('select', { ...mark(i, 'district_code'), 'aria-label': t('cases.route.district'), onchange: (e) => { r.district_code = e.target.value; } },
      h('option', { value: '', selected: !r.district_code }, t('cases.route.anywhere')),
      [...refs.districts.entries()].map(([code, p]) => h('option', { value: code, selected: code === r.district_code }, localized(p) || code)),
      r.district_code && !refs.districts.has(r.district_code) ? h('option', { value: r.district_code, selected: true }, r.district_code) : null)),
    h('td', {}, h('select', { ...mark(i, 'department'), 'aria-label': t('cases.route.department'), onchange: (e) => { r.department = e.target.value; } },
      r.department ? null : h('option', { value: '', selected: true }, t('cases.route.pick')),
      [...refs.departments.values()].map((d) => h('option', { value: d.code, selected: d.code === r.department }, localized(d))))),
    h('td', { class: 'num' }, h('input', { ...mark(i, 'priority'), type: 'number', step: '1', value: r.priority, class: `case-priority ${fieldError(i, 'priority') ? 'cell-error' : ''}`,
      'aria-label': t('cases.route.priority'), oninput: (e) => { r.priority = e.target.value; } })),
    h('td', {}, h('button', { type: 'button', class: 'btn btn-ghost btn-small', dataset: { action: 'remove-row' }, 'aria-label': t('cases.route.remove'),
      onclick: () => {
        mine.routes.splice(i, 1);
        mine.errors = [];
        render();
      } }, t('cases.route.remove')))));
  const columnName = (col) => ({ service_code: t('cases.route.category'), district_code: t('cases.route.district'),
    department: t('cases.route.department'), priority: t('cases.route.priority') }[col] || col);
  return h('section', { class: 'case-pane case-routes' },
    h('p', { class: 'dialog-hint' }, t('cases.route.hint')),
    h('div', { class: 'rules-table-wrap case-table-wrap' }, h('table', { class: 'rules-table case-routes-table' },
      h('thead', {}, h('tr', {}, h('th', {}, t('cases.route.category')), h('th', {}, t('cases.route.district')),
        h('th', {}, t('cases.route.department')), h('th', {}, t('cases.route.priority')), h('th', {}, ''))),
      h('tbody', {}, rows))),
    problemsList(mine, (i, col) => t('cases.admin.problemAt', { row: i + 1, column: columnName(col) })),
    h('div', { class: 'dialog-actions action-row' },
      h('button', { type: 'button', class: 'btn btn-ghost', dataset: { action: 'add-row' }, onclick: () => {
        mine.routes.push({ service_code: '*', district_code: '', department: '', priority: '100' });
        mine.message = null;
        render();
        dialog.querySelector('.case-routes-table tbody tr:last-child select')?.focus();
      } }, t('cases.route.add')),
      h('button', { type: 'button', class: 'btn btn-primary', dataset: { action: 'save-routes' }, onclick: () => save(mine, async () => {
        const body = mine.routes.map((r) => {
          const item = { service_code: r.service_code, department: r.department, priority: r.priority === '' ? 100 : Number(r.priority) };
          if (r.district_code) item.district_code = r.district_code;
          return item;
        });
        const saved = await mine.ctx.api.put('/api/v1/case-routes', body);
        mine.routes = saved.map(draftRoute);
        return saved.length;
      }, 'cases.route.saved') }, t('cases.admin.save'))));
}

// ---- time limits ---------------------------------------------------------------------------

function limitsPane(mine) {
  const { refs } = mine;
  // mine.sentCodes: index in the last PUT body -> service code, to put each refusal on its row
  const rows = mine.limits.map((l) => {
    const idx = mine.sentCodes ? mine.sentCodes.indexOf(l.service_code) : -1;
    const err = idx >= 0 ? mine.errors.find((e) => e.field === `body[${idx}].hours`) : null;
    return h('tr', { dataset: { code: l.service_code }, class: err ? 'row-error' : null },
      h('td', {}, serviceName(refs, l.service_code)),
      h('td', { class: 'num' }, fmtNumber(l.default_hours)),
      h('td', { class: 'num' }, h('input', { type: 'number', min: '0', step: '0.5', value: l.value, class: `case-hours${err ? ' cell-error' : ''}`,
        'aria-label': t('cases.limit.hours'), 'aria-invalid': err ? 'true' : null, title: err ? err.message : null,
        dataset: { fieldPath: idx >= 0 ? `body[${idx}].hours` : '' }, oninput: (e) => { l.value = e.target.value; } })),
      h('td', {}, l.overridden ? h('span', { class: 'state-badge' }, t('cases.limit.overridden')) : ''),
      h('td', { class: 'case-updated' }, l.updated_by ? `${l.updated_by} · ${fmtDateTime(l.updated_at, mine.ctx.timezone, false)}` : ''));
  });
  return h('section', { class: 'case-pane case-limits' },
    h('p', { class: 'dialog-hint' }, t('cases.limit.hint')),
    h('div', { class: 'rules-table-wrap case-table-wrap' }, h('table', { class: 'rules-table case-limits-table' },
      h('thead', {}, h('tr', {}, h('th', {}, t('cases.route.category')), h('th', {}, t('cases.limit.default')),
        h('th', {}, t('cases.limit.hours')), h('th', {}, ''), h('th', {}, t('cases.limit.updated')))),
      h('tbody', {}, rows))),
    problemsList(mine, (i, col) => `${serviceName(refs, mine.sentCodes?.[i]) || i + 1} · ${col === 'hours' ? t('cases.limit.hours') : col}`),
    h('div', { class: 'dialog-actions action-row' },
      h('button', { type: 'button', class: 'btn btn-primary', dataset: { action: 'save-limits' }, onclick: () => save(mine, async () => {
        const changed = mine.limits.filter((l) => l.value !== '' && Number(l.value) !== l.default_hours);
        mine.sentCodes = changed.map((l) => l.service_code);
        const saved = await mine.ctx.api.put('/api/v1/case-time-limits',
          changed.map((l) => ({ service_code: l.service_code, hours: Number(l.value) })));
        mine.limits = saved.map(draftLimit);
        mine.sentCodes = null;
        return saved.filter((l) => l.overridden).length;
      }, 'cases.limit.saved') }, t('cases.admin.save'))));
}

// ---- moderation ----------------------------------------------------------------------------

function moderationPane(mine) {
  const { refs, ctx } = mine;
  if (mine.flagsError) return h('p', { class: 'form-error' }, problemText(mine.flagsError));
  const errorEl = h('p', { class: 'form-error', role: 'alert', hidden: !mine.errorText }, mine.errorText || '');
  const okEl = mine.message ? h('p', { class: 'form-ok', role: 'status' }, mine.message) : null;
  const act = (flag, action, note) => save(mine, async () => {
    await ctx.api.post(`/api/v1/moderation/${flag.id}`, { action, note: note.value.trim() });
    setFlags(mine, await ctx.api.get('/api/v1/moderation?limit=200'));
    return flag.service_request_id;
  }, `cases.mod.done.${action}`);
  const items = mine.flags.map((f) => {
    const note = h('input', { type: 'text', maxlength: '2000', class: 'case-mod-note', placeholder: t('cases.mod.note'), 'aria-label': t('cases.mod.note') });
    const d = f.detail || {};
    const detail = f.reason === 'possible_duplicate'
      ? t('cases.mod.candidate', { sr: d.candidate || `#${d.candidate_id}`, p: fmtNumber((d.confidence || 0) * 100, 0) })
      : d.matched ? t('cases.mod.matched', { text: d.matched }) : '';
    return h('li', { class: 'case-mod-item', dataset: { flagId: String(f.id), reason: f.reason } },
      h('div', { class: 'task-head' },
        h('span', { class: 'task-title' }, `${serviceName(refs, f.service_code)} `, h('span', { class: 'mono case-sr' }, f.service_request_id)),
        h('span', { class: 'state-badge case-flag' }, lookup('cases.mod.reason', f.reason))),
      h('div', { class: 'task-sub' }, fmtDateTime(f.at, ctx.timezone), detail ? ` · ${detail}` : ''),
      f.description ? h('q', { class: 'event-text' }, f.description) : null,
      h('div', { class: 'task-actions' }, note,
        h('button', { type: 'button', class: 'btn btn-ghost btn-small', dataset: { action: 'approve' }, onclick: () => act(f, 'approve', note) }, t('cases.mod.approve')),
        h('button', { type: 'button', class: 'btn btn-ghost btn-small', dataset: { action: 'reject' }, onclick: () => act(f, 'reject', note) }, t('cases.mod.reject')),
        f.reason === 'possible_duplicate'
          ? h('button', { type: 'button', class: 'btn btn-primary btn-small', dataset: { action: 'merge' }, onclick: () => act(f, 'merge', note) }, t('cases.mod.merge'))
          : null));
  });
  return h('section', { class: 'case-pane case-moderation' },
    h('p', { class: 'dialog-hint' }, t('cases.mod.hint')),
    items.length ? h('ul', { class: 'incident-tasks case-mod-list' }, items) : h('p', { class: 'empty-state' }, t('cases.mod.empty')),
    errorEl, okEl);
}
