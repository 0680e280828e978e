// The incident page (a dialog): summary, level, status, departments and commander; the plan's tasks with
// their deadlines and the task steps; the status steps (verify, respond, contain, close); recommended units
// with their ETA and a dispatch button (hovering one draws its route on the map); the timeline; a note box.
// Everything comes from /api/v1/incidents/{id}…; the API decides who may do what, the page only hides
// the actions from users without incident:act.

import { h } from './dom.js';
import { actionRunner, createPageDialog, showLoadError, showLoading } from './page-dialog.js';
import { t, has, getLang, intlLocale, localized } from './i18n.js';
import { LEVEL_COLOR, fmtDateTime, problemText } from './warning-page.js';

const lookup = (prefix, value) => (has(`${prefix}.${value}`) ? t(`${prefix}.${value}`) : String(value ?? ''));
export const incidentStatusName = (status) => lookup('incidents.status', status);
export const taskStatusName = (status) => lookup('incidents.task.status', status);
export const unitStatusName = (status) => lookup('incidents.unit.status', status);
export const unitKindName = (kind) => lookup('incidents.kind', kind);
export const typeName = (inc) => localized(inc, 'type_name') || inc.incident_type;
export const titleOf = (inc) => localized(inc, 'title') || typeName(inc);
/** "II 级事件 · 橙色": the level in words, as the chip of the incident page says it. */
const levelFull = (inc) => t('incidents.level.full', { roman: inc.level_roman, name: t(`warnings.level.${inc.level}`) });

/** Status steps offered from each status (the lifecycle's; the API refuses anything else with a 409). */
const STEPS = {
  reported: ['verify', 'respond'],
  verified: ['respond'],
  responding: ['contain'],
  contained: ['close'],
};
/** Task steps offered from each task status. */
const TASK_STEPS = {
  pending: ['accept', 'start', 'block'],
  accepted: ['start', 'complete', 'block'],
  in_progress: ['complete', 'block'],
  blocked: ['unblock'],
};
const OPEN_STATUSES = new Set(['reported', 'verified', 'responding', 'contained']);

let dialog = null;
let current = null; // {id, ctx, detail, timeline, recs, recError, closed, busy}

function ensureDialog() {
  dialog ||= createPageDialog({ id: 'incident-dialog', cls: 'dialog dialog-warning dialog-incident', labelledBy: 'incident-title',
    onClosed: dispose, onLang: () => current?.detail && render() });
  return dialog;
}

function dispose() {
  if (!current) return;
  current.closed = true;
  current.ctx.showRoute?.(null);
  current = null;
}

/**
 * Open the page for incident `id`.
 * ctx = {api, timezone, can(permission), onChange(incident), onOpen(incident), showRoute(lineString|null)}.
 */
export async function openIncident(id, ctx) {
  ensureDialog();
  dispose();
  current = { id: Number(id), ctx, detail: null, timeline: [], recs: [], recError: null, closed: false, busy: false };
  const mine = current;
  dialog.dataset.incidentId = String(id);
  showLoading(dialog, t('incidents.loading'));
  try {
    await load(mine);
    if (!mine.closed) ctx.onOpen?.(mine.detail); // e.g. just opened from a warning: the list need not wait for its poll
  } catch (err) {
    if (mine.closed) return;
    showLoadError(dialog, problemText(err));
  }
}

/** The incident changed elsewhere (poll): redraw its open page unless the user is typing or acting. */
export function refreshIncident(id) {
  const mine = current;
  if (!mine || mine.id !== Number(id) || !mine.detail || mine.busy) return;
  if (dialog.querySelector('#incident-note')?.value.trim()) return; // never wipe what the user is typing…
  if (dialog.querySelector('#incident-file')?.files?.length) return; // …or the file they chose
  load(mine).catch(() => {});
}

async function load(mine) {
  const { api } = mine.ctx;
  const base = `/api/v1/incidents/${mine.id}`;
  const [detail, timeline, recs] = await Promise.all([
    api.get(base),
    api.get(`${base}/timeline`).catch(() => []),
    api.get(`${base}/recommendations?k=3`).then((r) => ({ ok: r }), (err) => ({ err })),
  ]);
  if (mine.closed) return;
  Object.assign(mine, { detail, timeline, recs: recs.ok || [], recError: recs.err || null });
  render();
}

function kvRow(key, value) {
  return value === null || value === undefined || value === '' ? [] : [h('dt', {}, t(key)), h('dd', {}, value)];
}

function minutes(seconds) {
  return new Intl.NumberFormat(intlLocale(), { maximumFractionDigits: 1 }).format(seconds / 60);
}

function render() {
  const mine = current;
  const { ctx, detail: inc } = mine;
  const tz = ctx.timezone || 'Asia/Shanghai';
  const actor = ctx.can('incident:act');
  dialog.dataset.status = inc.status;
  const errorEl = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const okEl = h('p', { class: 'form-ok', role: 'status', hidden: true });
  const close = h('button', { type: 'button', class: 'icon-btn card-close', 'aria-label': t('common.close'), title: t('common.close'), onclick: () => dialog.close() },
    h('span', { class: 'close-x', 'aria-hidden': 'true' }));
  const parts = (inc.parts || []).map((p) => `${p.department}${p.lead ? ` (${t('incidents.lead')})` : ''}${p.acknowledged_at ? ' ✓' : ''}`);
  const meta = h('dl', { class: 'kv' },
    ...kvRow('incidents.field.type', typeName(inc)),
    ...kvRow('incidents.field.level', inc.peak_level !== inc.level
      ? t('incidents.peak', { level: levelFull(inc), peak: t(`warnings.level.${inc.peak_level}`) })
      : levelFull(inc)),
    ...kvRow('incidents.field.status', `${incidentStatusName(inc.status)} · ${fmtDateTime(inc.status_since, tz)}`),
    ...kvRow('incidents.field.lead', inc.lead_department),
    ...kvRow('incidents.field.participants', parts.join('、')),
    ...kvRow('incidents.field.commander', inc.commander || t('incidents.none')),
    ...kvRow('incidents.field.place', `${inc.lon.toFixed(5)}°E ${inc.lat.toFixed(5)}°N${inc.district ? ` · ${inc.district}` : ''}`),
    ...kvRow('incidents.field.reported', fmtDateTime(inc.reported_at, tz)),
    ...kvRow('incidents.field.plan', inc.plan_key && `${inc.plan_key} v${inc.plan_version}`),
    ...kvRow('incidents.field.description', inc.description),
  );
  const run = actionRunner({ dialog, page: '.incident-page', mine, errorEl, okEl, reload: () => load(mine),
    changed: () => ctx.onChange?.(mine.detail), errorText: problemText });
  const base = `/api/v1/incidents/${inc.id}`;
  const note = h('textarea', { id: 'incident-note', rows: '2', maxlength: '4000', placeholder: t('incidents.note.placeholder') });
  const text = () => note.value.trim();

  // Status steps.
  const steps = actor && inc.open ? h('div', { class: 'dialog-actions action-row incident-steps' },
    (STEPS[inc.status] || []).map((event) => h('button', {
      type: 'button', class: 'btn btn-ghost', dataset: { action: `transition-${event}` },
      onclick: () => run(() => ctx.api.post(`${base}/transition`, event === 'close' ? { event, note: text(), reason: text() } : { event, note: text() }),
        'incidents.done.transition', { status: incidentStatusName({ verify: 'verified', respond: 'responding', contain: 'contained', close: 'closed' }[event]) }),
    }, t(`incidents.step.${event}`)))) : null;

  // Tasks.
  const tasks = inc.tasks || [];
  const taskList = tasks.length ? h('ol', { class: 'incident-tasks' }, tasks.map((task) => {
    const open = ['pending', 'accepted', 'in_progress', 'blocked'].includes(task.status);
    const buttons = actor && inc.open ? (TASK_STEPS[task.status] || []).map((verb) => h('button', {
      type: 'button', class: `btn btn-ghost btn-small`, dataset: { action: `task-${verb}` },
      onclick: () => run(() => {
        if (verb === 'block' && !text()) throw new Error(t('incidents.block.reason'));
        return ctx.api.post(`${base}/tasks/${task.id}/${verb}`, verb === 'block' ? { reason: text() } : { note: text() });
      }, 'incidents.done.task', { step: t(`incidents.task.${verb}`) }),
    }, t(`incidents.task.${verb}`))) : [];
    return h('li', { class: `incident-task${task.overdue && open ? ' overdue' : ''}`, dataset: { taskId: String(task.id), status: task.status, key: task.key } },
      h('div', { class: 'task-head' },
        h('span', { class: 'task-title' }, localized(task, 'title') || task.key),
        h('span', { class: `state-badge task-status task-${task.status}` }, taskStatusName(task.status))),
      h('div', { class: 'task-sub' },
        [task.department || (task.role && lookup('incidents.role', task.role)),
          task.deadline ? h('time', { dateTime: task.deadline, class: task.overdue && open ? 'overdue-text' : '' },
            `${t('incidents.deadline')} ${fmtDateTime(task.deadline, tz, false)}${task.overdue && open ? ` · ${t('incidents.overdue')}` : ''}`) : null,
          task.blocked_reason ? t('incidents.blocked', { reason: task.blocked_reason }) : null,
        ].filter(Boolean).flatMap((x, i) => (i ? [' · ', x] : [x]))),
      buttons.length ? h('div', { class: 'task-actions' }, buttons) : null);
  })) : h('p', { class: 'dialog-hint' }, t('incidents.tasks.none'));

  // Dispatched units and recommendations.
  const dispatched = (inc.units || []).length ? h('ul', { class: 'incident-units' }, inc.units.map((d) => h('li', { dataset: { unitId: String(d.unit_id), status: d.status } },
    h('span', { class: 'unit-sq', style: { '--unit': UNIT_COLOR[d.status] || '#8b98a9' }, 'aria-hidden': 'true' }),
    h('span', { class: 'mono' }, d.unit), ` ${unitKindName(d.kind)} · ${unitStatusName(d.status)}`,
    Number.isFinite(d.eta_s) ? ` · ${t('incidents.eta', { n: minutes(d.eta_s) })}` : ''))) : null;
  let recList;
  if (mine.recError) recList = h('p', { class: 'dialog-hint' }, problemText(mine.recError));
  else if (!mine.recs.length) recList = h('p', { class: 'dialog-hint' }, t('incidents.recs.none'));
  else {
    recList = h('ol', { class: 'incident-recs' }, mine.recs.map((r) => h('li', {
      class: 'incident-rec', tabindex: '0', dataset: { unitId: String(r.unit.id) },
      onmouseenter: () => ctx.showRoute?.(r.route), onfocus: () => ctx.showRoute?.(r.route),
      onmouseleave: () => ctx.showRoute?.(null),
    },
    h('span', { class: 'unit-sq', style: { '--unit': UNIT_COLOR[r.unit.status] || '#8b98a9' }, 'aria-hidden': 'true' }),
    h('span', { class: 'rec-main' },
      h('span', { class: 'rec-name' }, r.unit.name || r.unit.key, ' ', h('span', { class: 'mono rec-key' }, r.unit.key)),
      h('span', { class: 'rec-sub' }, `${unitKindName(r.unit.kind)} · ${r.unit.department || ''}`)),
    h('span', { class: 'rec-eta mono', dataset: { etaS: String(r.eta_s) } },
      t('incidents.eta', { n: minutes(r.eta_s) }), h('small', {}, ` ${t('incidents.km', { n: new Intl.NumberFormat(intlLocale(), { maximumFractionDigits: 1 }).format(r.length_m / 1000) })}`)),
    actor && inc.open ? h('button', {
      type: 'button', class: 'btn btn-primary btn-small', dataset: { action: 'dispatch' },
      onclick: () => run(() => ctx.api.post(`${base}/dispatch`, { unit_id: r.unit.id }), 'incidents.done.dispatch', { unit: r.unit.key }),
    }, t('incidents.dispatch')) : null)));
  }

  const fileInput = h('input', { id: 'incident-file', type: 'file', accept: 'image/jpeg,image/png,image/webp,application/pdf' });
  const noteRow = actor ? h('section', { class: 'warning-actions incident-note' },
    h('label', { for: 'incident-note' }, t('incidents.note')), note,
    h('label', { for: 'incident-file', class: 'file-label' }, t('incidents.file')), fileInput,
    h('div', { class: 'dialog-actions action-row' },
      h('button', {
        type: 'button', class: 'btn btn-ghost', dataset: { action: 'upload' },
        onclick: () => run(() => {
          const file = fileInput.files?.[0];
          if (!file) throw new Error(t('incidents.file.none'));
          const form = new FormData();
          form.append('file', file, file.name);
          form.append('note', text());
          return ctx.api.upload(`${base}/files`, form);
        }, 'incidents.done.file'),
      }, t('incidents.file.add')),
      h('button', {
        type: 'button', class: 'btn btn-ghost', dataset: { action: 'note' },
        onclick: () => run(() => {
          if (!text()) throw new Error(t('incidents.note.empty'));
          return ctx.api.post(`${base}/notes`, { text: text() });
        }, 'incidents.done.note'),
      }, t('incidents.note.add'))),
    steps) : h('p', { class: 'dialog-hint' }, t('incidents.readOnly'));

  dialog.replaceChildren(h('div', { class: 'dialog-form warning-page incident-page' },
    h('header', { class: 'warning-head' }, h('span', { class: `level-chip level-${inc.level}`, dataset: { level: inc.level } }, levelFull(inc)),
      h('span', { class: `state-badge inc-status inc-${inc.status}` }, incidentStatusName(inc.status)),
      inc.exercise ? h('span', { class: 'state-badge state-exercise' }, t('incidents.exercise')) : null,
      close),
    h('h2', { id: 'incident-title', class: 'dialog-title' }, titleOf(inc)),
    getLang() === 'zh-CN' && inc.title_en ? h('p', { class: 'dialog-hint' }, inc.title_en) : null,
    h('p', { class: 'dialog-hint' }, h('a', {
      class: 'incident-report-link', href: `/api/v1/incidents/${inc.id}/report?lang=${getLang() === 'zh-CN' ? 'zh-CN' : 'en'}`,
      target: '_blank', rel: 'noopener',
    }, t('incidents.report')), ' · ', h('a', {
      class: 'incident-report-pdf', href: `/api/v1/incidents/${inc.id}/report?format=pdf&lang=${getLang() === 'zh-CN' ? 'zh-CN' : 'en'}`,
      target: '_blank', rel: 'noopener',
    }, t('incidents.report.pdf'))),
    h('div', { class: 'warning-cols' },
      h('section', {}, meta,
        h('h3', { class: 'card-sub' }, t('incidents.tasks', { n: tasks.length })), taskList),
      h('section', {},
        noteRow, errorEl, okEl,
        dispatched ? h('h3', { class: 'card-sub' }, t('incidents.units')) : null, dispatched,
        h('h3', { class: 'card-sub' }, t('incidents.recs')), recList,
        h('h3', { class: 'card-sub' }, t('incidents.timeline')), timeline(mine.timeline, tz)))));
}

export const UNIT_COLOR = {
  available: '#34d399', dispatched: '#f76b15', en_route: '#ffc53d', on_scene: '#e5484d', returning: '#3e8bff', out_of_service: '#6b7280',
};

function eventDetail(e, incidentId) {
  const d = e.detail || {};
  const parts = [];
  if (e.kind === 'file' && d.attachment) {
    const a = d.attachment;
    const href = a.key ? `/api/v1/incidents/${incidentId}/files/${e.id}` : a.url;
    const link = href ? h('a', { class: 'event-file', href, target: '_blank', rel: 'noopener' }, a.name || t('incidents.file')) : a.name;
    return [link, d.text ? h('q', { class: 'event-text' }, d.text) : null];
  }
  if (d.key) parts.push(String(d.key));
  if (d.unit) parts.push(String(d.unit));
  if (d.from_level && d.to_level) parts.push(`${d.from_level} → ${d.to_level}`);
  if (d.reason) parts.push(String(d.reason));
  const text = d.text || d.note;
  return [parts.join(' · '), text ? h('q', { class: 'event-text' }, text) : null];
}

function timeline(events, tz) {
  if (!events.length) return h('p', { class: 'dialog-hint' }, t('incidents.timeline.none'));
  return h('ol', { class: 'warning-history incident-timeline' }, [...events].reverse().map((e) => h('li', { dataset: { kind: e.kind } },
    h('span', { class: 'event-dot', style: { '--dot': LEVEL_COLOR[e.level] || '#8b98a9' }, 'aria-hidden': 'true' }),
    h('div', {},
      h('div', { class: 'event-head' }, h('strong', {}, lookup('incidents.event', e.kind)), h('time', { class: 'mono', dateTime: e.at }, fmtDateTime(e.at, tz)),
        e.actor ? h('span', { class: 'event-actor' }, e.actor) : null),
      h('div', { class: 'event-detail' }, ...eventDetail(e, e.incident_id ?? current?.id))))));
}

export function isOpen(inc) {
  return OPEN_STATUSES.has(inc.status);
}
