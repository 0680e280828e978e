// The hazard page (a dialog): details, the rectification plan, evidence photos by round, cited clauses, the full
// history, and the lifecycle steps for the part the signed-in user plays (the API's `allowed`): the supervising
// department registers, grades, verifies (accept or return with reasons), closes and supervises (挂牌督办); the
// enterprise plans, starts and submits its rectification with photos. The API decides in the end: its 403 (the
// part needed), 409 (the status does not allow it) and 422 (the field) are shown in the dialog.
// Also the small lookups shared with the hazard card: department and enterprise names, status and grade labels.

import { api, ApiError } from './api.js';
import { h } from './dom.js';
import { actionRunner, createPageDialog, showLoadError, showLoading } from './page-dialog.js';
import { t, has, getLang, intlLocale, localized } from './i18n.js';
import { fmtDateTime } from './warning-page.js';
import { can } from './warnings.js';

export const STATUSES = ['found', 'registered', 'graded', 'planned', 'rectifying', 'submitted', 'verified', 'closed'];
export const OPEN_STATUSES = STATUSES.slice(0, -1);
/** Whose step comes next in each status (the lifecycle's table, hazard/lifecycle.py). */
export const NEXT_PART = {
  found: 'department', registered: 'department', graded: 'enterprise', planned: 'enterprise',
  rectifying: 'enterprise', submitted: 'department', verified: 'department',
};
const MAX_PHOTOS = 9;
const UPLOAD_BUDGET = 1.8 * 1024 * 1024; // the API refuses bodies over 2 MB (CITYBRAIN_MAX_BODY_BYTES)
const PLAN_DEFAULT_DAYS = 14;
const SHANGHAI_OFFSET = '+08:00'; // Asia/Shanghai has no daylight saving time

const lookup = (prefix, value) => (has(`${prefix}.${value}`) ? t(`${prefix}.${value}`) : String(value ?? ''));
export const statusName = (status) => lookup('hazards.status', status);
export const gradeName = (hz) => (hz.grade ? localized(hz, 'grade') : t('hazards.grade.none'));
export const categoryName = (hz) => localized(hz, 'category') || hz.category;
const fmtNumber = (n, digits = 1) => new Intl.NumberFormat(intlLocale(), { maximumFractionDigits: digits }).format(n);

/** The grade as a chip: 重大 in red, 一般 in yellow, ungraded grey; the word is always there, not only the colour. */
export function gradeChip(hz) {
  const grade = hz.grade || 'none';
  const short = hz.grade === 'major' ? t('hazards.grade.major') : hz.grade === 'general' ? t('hazards.grade.general') : t('hazards.grade.none');
  return h('span', { class: `hz-grade hz-grade-${grade}`, dataset: { grade }, title: gradeName(hz) }, short);
}

export function statusBadge(hz) {
  return h('span', { class: `state-badge hz-status hz-${hz.status}`, dataset: { status: hz.status } }, statusName(hz.status));
}

/** Badges for what needs attention: overdue, supervised (挂牌督办), returned, exercise. */
export function hazardBadges(hz) {
  return [
    hz.overdue ? h('span', { class: 'state-badge hz-overdue' }, t('hazards.overdueDays', { n: fmtNumber(hz.days_overdue) })) : null,
    hz.supervised && hz.status !== 'closed' ? h('span', { class: 'state-badge hz-supervised' }, t('hazards.supervised')) : null,
    hz.return_count > 0 && hz.status !== 'closed' ? h('span', { class: 'state-badge hz-returned' }, t('hazards.returned', { n: hz.return_count })) : null,
    hz.exercise ? h('span', { class: 'state-badge state-exercise' }, t('hazards.exercise')) : null,
  ].filter(Boolean);
}

/** An enterprise safety officer (the enterprise view): bound to an enterprise, or holding the role. */
export function isEnterpriseUser(user) {
  return Boolean(user && (user.enterprise_id != null || (user.roles || []).includes('enterprise_officer')));
}

/** The API's words for a refusal: its detail (403 names the part needed, 409 the reason) and each field problem. */
export function refusalText(err) {
  const fields = (err?.problem?.errors || []).map((e) => `${e.field}: ${e.message}`);
  const head = err instanceof ApiError && err.status === 403 ? t('hazards.error.forbidden') : null;
  return [head, err?.detail || err?.message || String(err), ...fields].filter(Boolean).join('\n');
}

// ---- names (cached per page load) ------------------------------------------------------------

let departments = null; // Promise<Map(code -> department)>
const enterprises = new Map(); // id -> Promise<name | null>

function departmentMap() {
  if (!departments) {
    departments = api.get('/api/v1/departments')
      .then((rows) => new Map((rows || []).map((d) => [d.code, d])))
      .catch(() => { departments = null; return new Map(); });
  }
  return departments;
}

export async function departmentName(code) {
  if (!code) return '';
  const d = (await departmentMap()).get(code);
  return d ? localized(d) || code : code;
}

/** The hazard's enterprise as a node: the name the API sent along, else read once (org:read) and filled in. */
export function enterpriseLabel(hz) {
  if (hz.enterprise_id == null) return t('hazards.publicPlace');
  return hz.enterprise_name || lateText(enterpriseName(hz.enterprise_id), `#${hz.enterprise_id}`);
}

/** The enterprise's name (org:read; an enterprise user reads its own); null when it cannot be read. */
export function enterpriseName(id) {
  if (id === null || id === undefined) return Promise.resolve(null);
  if (!enterprises.has(id)) {
    enterprises.set(id, api.get(`/api/v1/enterprises/${id}`).then((e) => e.name, () => null));
  }
  return enterprises.get(id);
}

/** Fill a text node later, once a name has been read. */
export function lateText(promise, fallback = '') {
  const span = h('span', {}, fallback);
  Promise.resolve(promise).then((text) => { if (text) span.textContent = text; });
  return span;
}

// ---- change listeners (the card re-reads after an action taken here) ------------------------

const listeners = new Set();
export function onHazardChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
function changed(hz) {
  for (const fn of listeners) {
    try {
      fn(hz);
    } catch (err) {
      console.warn('hazard listener:', err);
    }
  }
}

// ---- Shanghai local time in datetime-local inputs ----------------------------------------------

function toLocalInput(date, timeZone = 'Asia/Shanghai') {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-CA', {
    timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false,
  }).formatToParts(date).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour === '24' ? '00' : parts.hour}:${parts.minute}`;
}

function fromLocalInput(value) {
  return value ? `${value}:00${SHANGHAI_OFFSET}` : null;
}

// ---- photos: keep one submission under the API's body limit -----------------------------------

async function shrink(file, maxSide) {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, maxSide / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close?.();
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.85));
  return blob ? new File([blob], file.name.replace(/\.\w+$/, '') + '.jpg', { type: 'image/jpeg' }) : file;
}

/** The photos as given when they fit in one request; otherwise scaled down in the browser (which drops EXIF). */
export async function fitPhotos(files) {
  let out = [...files];
  for (const side of [2048, 1280, 800]) {
    if (out.reduce((n, f) => n + f.size, 0) <= UPLOAD_BUDGET) return out;
    const share = UPLOAD_BUDGET / out.length;
    out = await Promise.all(files.map((f) => (f.size > share ? shrink(f, side).catch(() => f) : f)));
  }
  return out;
}

// ---- the dialog --------------------------------------------------------------------------------

let dialog = null;
let current = null; // {id, detail, events, closed, busy, focus}

function ensureDialog() {
  dialog ||= createPageDialog({ id: 'hazard-dialog', cls: 'dialog dialog-warning dialog-hazard', labelledBy: 'hazard-title',
    onClosed: () => {
      if (current) current.closed = true;
      current = null;
    },
    onLang: () => current?.detail && render() });
  return dialog;
}

function env() {
  const state = window.citybrain?.state || {};
  return { user: state.user || null, timezone: state.meta?.timezone || 'Asia/Shanghai' };
}

/** Open the page of hazard `id`; `focus` ('submit', 'verify' …) scrolls to that action once loaded. */
export async function openHazard(id, { focus = null } = {}) {
  ensureDialog();
  if (current) current.closed = true;
  current = { id: Number(id), detail: null, events: [], closed: false, busy: false, focus };
  const mine = current;
  dialog.dataset.hazardId = String(id);
  delete dialog.dataset.status;
  showLoading(dialog, t('hazards.loading.one'));
  try {
    await load(mine);
  } catch (err) {
    if (mine.closed) return;
    showLoadError(dialog, refusalText(err));
  }
}

async function load(mine) {
  const base = `/api/v1/hazards/${mine.id}`;
  const [detail, events] = await Promise.all([api.get(base), api.get(`${base}/events`).catch(() => [])]);
  if (mine.closed) return;
  Object.assign(mine, { detail, events });
  render();
}

function kvRow(key, value) {
  return value === null || value === undefined || value === '' ? [] : [h('dt', {}, t(key)), h('dd', {}, value)];
}

function deadlineText(hz, tz) {
  if (!hz.deadline_at) return null;
  const when = fmtDateTime(hz.deadline_at, tz, false);
  return hz.overdue
    ? h('span', { class: 'overdue-text' }, `${when} · ${t('hazards.overdueDays', { n: fmtNumber(hz.days_overdue) })}`)
    : when;
}

function planSection(plan, tz) {
  if (!plan) return h('p', { class: 'dialog-hint' }, t('hazards.plan.none'));
  const money = plan.funds === null || plan.funds === undefined ? null
    : t('hazards.plan.yuan', { n: new Intl.NumberFormat(intlLocale(), { maximumFractionDigits: 2 }).format(plan.funds) });
  return h('dl', { class: 'kv hz-plan', dataset: { version: String(plan.version) } },
    ...kvRow('hazards.plan.version', `v${plan.version} · ${fmtDateTime(plan.created_at, tz, false)}${plan.created_by ? ` · ${plan.created_by}` : ''}`),
    ...kvRow('hazards.plan.measures', plan.measures ? h('span', { class: 'pre' }, plan.measures) : null),
    ...kvRow('hazards.plan.funds', money),
    ...kvRow('hazards.plan.responsible', [plan.responsible_person, plan.responsible_phone].filter(Boolean).join(' · ')),
    ...kvRow('hazards.field.deadline', fmtDateTime(plan.deadline_at, tz, false)),
    ...kvRow('hazards.plan.interim', plan.interim_measures ? h('span', { class: 'pre' }, plan.interim_measures) : null));
}

function evidenceSection(photos, tz) {
  if (!photos.length) return h('p', { class: 'dialog-hint' }, t('hazards.evidence.none'));
  const rounds = new Map();
  for (const p of photos) rounds.set(p.round, [...(rounds.get(p.round) || []), p]);
  return h('div', { class: 'hz-evidence' }, [...rounds.entries()].sort((a, b) => a[0] - b[0]).map(([round, list]) => h('figure', { class: 'hz-round', dataset: { round: String(round) } },
    h('figcaption', {}, t('hazards.evidence.round', { n: round }), ' · ', fmtDateTime(list[0].at, tz, false), list[0].note ? h('q', { class: 'event-text' }, list[0].note) : null),
    h('div', { class: 'hz-thumbs' }, list.map((p) => h('a', { href: p.url, target: '_blank', rel: 'noopener', class: 'hz-thumb', title: p.gps_lon != null ? `${p.gps_lon.toFixed(5)}°E ${p.gps_lat.toFixed(5)}°N` : '' },
      h('img', { src: p.url, alt: t('hazards.evidence.photo', { n: p.id }), loading: 'lazy', width: '96', height: '72', dataset: { evidenceId: String(p.id) } })))))));
}

function clauseSection(clauses) {
  if (!clauses.length) return h('p', { class: 'dialog-hint' }, t('hazards.clauses.none'));
  return h('ul', { class: 'hz-clauses' }, clauses.map((c) => h('li', { dataset: { clauseId: String(c.id) } },
    h('strong', {}, `${localized(c, 'regulation_title') || c.regulation_code || ''} ${c.number}`),
    c.text_zh && getLang() === 'zh-CN' ? h('span', { class: 'hz-clause-text' }, c.text_zh)
      : c.summary_en ? h('span', { class: 'hz-clause-text' }, c.summary_en) : null)));
}

function eventText(e) {
  const d = e.data || {};
  const parts = [];
  if (d.grade) parts.push(t(`hazards.grade.${d.grade}`));
  if (e.kind === 'planned' || e.kind === 'replanned') {
    if (d.deadline_at) parts.push(t('hazards.event.deadline', { at: fmtDateTime(d.deadline_at, env().timezone, false) }));
    if (d.responsible_person) parts.push(d.responsible_person);
  }
  if (e.kind === 'submitted' && Array.isArray(d.evidence_ids)) parts.push(t('hazards.event.photos', { n: d.evidence_ids.length }));
  if (e.kind === 'closed' && d.on_time !== undefined) parts.push(t(d.on_time ? 'hazards.event.onTime' : 'hazards.event.late'));
  const note = (e.kind === 'reminder' || e.kind === 'escalation') && getLang() !== 'zh-CN' && d.message_en ? d.message_en : e.note;
  return [parts.join(' · '), note ? h('q', { class: 'event-text' }, note) : null];
}

const EVENT_COLOR = { returned: '#e5484d', escalation: '#e5484d', reminder: '#ffc53d', supervised: '#f76b15', accepted: '#34d399', closed: '#34d399' };

function historySection(events, tz) {
  if (!events.length) return h('p', { class: 'dialog-hint' }, t('hazards.history.none'));
  return h('ol', { class: 'warning-history hz-history' }, [...events].reverse().map((e) => h('li', { dataset: { kind: e.kind } },
    h('span', { class: 'event-dot', style: { '--dot': EVENT_COLOR[e.kind] || '#8b98a9' }, 'aria-hidden': 'true' }),
    h('div', {},
      h('div', { class: 'event-head' }, h('strong', {}, lookup('hazards.event', e.kind)), h('time', { class: 'mono', dateTime: e.at }, fmtDateTime(e.at, tz)),
        e.actor ? h('span', { class: 'event-actor' }, `${e.actor} · ${lookup('hazards.actor', e.actor_kind)}`) : null),
      h('div', { class: 'event-detail' }, ...eventText(e))))));
}

function planForm(hz, tz) {
  const plan = hz.plan;
  const deadline = plan?.deadline_at ? new Date(plan.deadline_at) : new Date(Date.now() + PLAN_DEFAULT_DAYS * 86400000);
  const field = (id, key, input) => [h('label', { for: id }, t(key)), input];
  const form = h('div', { class: 'action-fields hz-plan-form' },
    ...field('hz-plan-measures', 'hazards.plan.measures', h('textarea', { id: 'hz-plan-measures', rows: '3', maxlength: '20000' }, plan?.measures || '')),
    ...field('hz-plan-responsible', 'hazards.plan.person', h('input', { id: 'hz-plan-responsible', type: 'text', maxlength: '80', value: plan?.responsible_person || '' })),
    ...field('hz-plan-phone', 'hazards.plan.phone', h('input', { id: 'hz-plan-phone', type: 'text', maxlength: '40', value: plan?.responsible_phone || '' })),
    ...field('hz-plan-deadline', 'hazards.plan.deadline', h('input', { id: 'hz-plan-deadline', type: 'datetime-local', value: toLocalInput(deadline, tz) })),
    ...field('hz-plan-funds', 'hazards.plan.fundsYuan', h('input', { id: 'hz-plan-funds', type: 'number', min: '0', step: '100', value: plan?.funds ?? '' })),
    ...field('hz-plan-interim', 'hazards.plan.interim', h('textarea', { id: 'hz-plan-interim', rows: '2', maxlength: '20000' }, plan?.interim_measures || '')));
  return form;
}

function planBody() {
  const val = (id) => dialog.querySelector(`#${id}`)?.value ?? '';
  const funds = val('hz-plan-funds').trim();
  return {
    measures: val('hz-plan-measures').trim(),
    responsible_person: val('hz-plan-responsible').trim(),
    responsible_phone: val('hz-plan-phone').trim() || null,
    deadline_at: fromLocalInput(val('hz-plan-deadline')),
    funds: funds === '' ? null : Number(funds),
    interim_measures: val('hz-plan-interim').trim(),
  };
}

function render() {
  const mine = current;
  const hz = mine.detail;
  const { timezone: tz, user } = env();
  const allowed = new Set(hz.allowed || []);
  const dept = allowed.has('department');
  const ent = allowed.has('enterprise') || (hz.enterprise_id == null && dept); // a public place: the department rectifies
  const open = hz.status !== 'closed';
  dialog.dataset.status = hz.status;
  dialog.dataset.parts = [...allowed].sort().join(' ');

  const errorEl = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const okEl = h('p', { class: 'form-ok', role: 'status', hidden: true });
  const note = h('textarea', { id: 'hazard-note', rows: '2', maxlength: '4000', placeholder: t('hazards.note.placeholder') });
  const text = () => note.value.trim();
  const base = `/api/v1/hazards/${hz.id}`;

  const run = actionRunner({ dialog, page: '.hazard-page', mine, errorEl, okEl, reload: () => load(mine),
    changed: () => changed(mine.detail), errorText: refusalText });
  const button = (action, key, onclick, cls = 'btn-ghost') => h('button', { type: 'button', class: `btn ${cls}`, dataset: { action }, onclick }, t(key));

  // The steps this user may take now (the API checks again).
  const steps = [];
  if (dept && hz.status === 'found') {
    steps.push(button('register', 'hazards.act.register', () => run(() => api.post(`${base}/register`, { note: text() }), 'hazards.done.register'), 'btn-primary'));
  }
  if (dept && (hz.status === 'registered' || hz.status === 'graded')) {
    const select = h('select', { id: 'hz-grade', 'aria-label': t('hazards.field.grade') },
      h('option', { value: 'general', selected: hz.grade !== 'major' }, t('hazards.grade.general.long')),
      h('option', { value: 'major', selected: hz.grade === 'major' }, t('hazards.grade.major.long')));
    steps.push(h('span', { class: 'hz-inline' }, select,
      button('grade', hz.status === 'graded' ? 'hazards.act.regrade' : 'hazards.act.grade',
        () => run(() => api.post(`${base}/grade`, { grade: select.value, note: text() }), 'hazards.done.grade'), hz.status === 'registered' ? 'btn-primary' : 'btn-ghost')));
  }
  if (ent && hz.status === 'planned') {
    steps.push(button('start', 'hazards.act.start', () => run(() => api.post(`${base}/start`, { note: text() }), 'hazards.done.start'), 'btn-primary'));
  }
  if (dept && hz.status === 'submitted') {
    steps.push(button('accept', 'hazards.act.accept', () => run(() => api.post(`${base}/verify`, { decision: 'accept', reasons: text() }), 'hazards.done.accept'), 'btn-primary'));
    steps.push(button('return', 'hazards.act.return', () => run(() => {
      if (!text()) throw new Error(t('hazards.return.reason'));
      return api.post(`${base}/verify`, { decision: 'return', reasons: text() });
    }, 'hazards.done.return'), 'btn-danger'));
  }
  if (dept && hz.status === 'verified') {
    steps.push(button('close', 'hazards.act.close', () => run(() => api.post(`${base}/close`, { note: text() }), 'hazards.done.close'), 'btn-primary'));
  }
  if (dept && open && hz.status !== 'found') {
    if (!hz.supervised) {
      steps.push(button('supervise', 'hazards.act.supervise', () => run(() => api.post(`${base}/supervise`, { on: true, note: text() }), 'hazards.done.supervise')));
    } else if (hz.grade !== 'major') {
      steps.push(button('unsupervise', 'hazards.act.unsupervise', () => run(() => api.post(`${base}/supervise`, { on: false, note: text() }), 'hazards.done.unsupervise')));
    }
  }
  const mayComment = dept || ent || can('hazard:act');
  if (mayComment) {
    steps.push(button('comment', 'hazards.act.comment', () => run(() => {
      if (!text()) throw new Error(t('hazards.note.empty'));
      return api.post(`${base}/comments`, { text: text() });
    }, 'hazards.done.comment')));
  }

  // The enterprise's plan (or its revision) and the submission of its rectification.
  let planBlock = null;
  if (ent && ['graded', 'planned', 'rectifying'].includes(hz.status)) {
    const form = planForm(hz, tz);
    const save = button('plan', hz.plan ? 'hazards.act.replan' : 'hazards.act.plan', () => run(() => api.post(`${base}/plan`, planBody()), 'hazards.done.plan'),
      hz.status === 'graded' ? 'btn-primary' : 'btn-ghost');
    const inner = [form, h('div', { class: 'dialog-actions action-row' }, save)];
    planBlock = hz.status === 'graded'
      ? h('section', { class: 'warning-actions hz-plan-edit', id: 'hz-plan-edit' }, h('h3', { class: 'card-sub' }, t('hazards.plan.write')), ...inner)
      : h('details', { class: 'warning-actions hz-plan-edit', id: 'hz-plan-edit' }, h('summary', {}, t('hazards.plan.revise')), ...inner);
  }
  let submitBlock = null;
  if (ent && hz.status === 'rectifying') {
    const files = h('input', { id: 'hz-photos', type: 'file', multiple: true, accept: 'image/jpeg,image/png,image/webp' });
    const submitNote = h('textarea', { id: 'hz-submit-note', rows: '2', maxlength: '4000', placeholder: t('hazards.submit.placeholder') });
    submitBlock = h('section', { class: 'warning-actions hz-submit', id: 'hz-submit' },
      h('h3', { class: 'card-sub' }, t('hazards.submit.title')),
      hz.return_count > 0 ? h('p', { class: 'hz-return-reason' }, t('hazards.submit.returned', { reasons: lastReturn(mine.events) || '–' })) : null,
      h('label', { for: 'hz-submit-note' }, t('hazards.submit.note')), submitNote,
      h('label', { for: 'hz-photos', class: 'file-label' }, t('hazards.submit.photos', { n: MAX_PHOTOS })), files,
      h('div', { class: 'dialog-actions action-row' }, button('submit', 'hazards.act.submit', () => run(async () => {
        const chosen = [...(files.files || [])];
        if (!chosen.length) throw new Error(t('hazards.submit.none'));
        if (chosen.length > MAX_PHOTOS) throw new Error(t('hazards.submit.tooMany', { n: MAX_PHOTOS }));
        const form = new FormData();
        form.append('note', submitNote.value.trim());
        for (const f of await fitPhotos(chosen)) form.append('photos', f, f.name);
        return api.upload(`${base}/submit`, form);
      }, 'hazards.done.submit'), 'btn-primary')));
  }

  const actions = steps.length || planBlock || submitBlock
    ? h('section', { class: 'warning-actions hz-actions' },
      steps.length ? [h('label', { for: 'hazard-note' }, t(dept && hz.status === 'submitted' ? 'hazards.note.reasons' : 'hazards.note')), note,
        h('div', { class: 'dialog-actions action-row hz-steps' }, steps)] : null,
      planBlock, submitBlock)
    : h('p', { class: 'dialog-hint hz-readonly' }, t(open ? 'hazards.readOnly' : 'hazards.closedHint'));

  const close = h('button', { type: 'button', class: 'icon-btn card-close', 'aria-label': t('common.close'), title: t('common.close'), onclick: () => dialog.close() },
    h('span', { class: 'close-x', 'aria-hidden': 'true' }));
  const meta = h('dl', { class: 'kv' },
    ...kvRow('hazards.field.category', categoryName(hz)),
    ...kvRow('hazards.field.grade', gradeName(hz)),
    ...kvRow('hazards.field.status', statusName(hz.status)),
    ...kvRow('hazards.field.enterprise', enterpriseLabel(hz)),
    ...kvRow('hazards.field.department', lateText(departmentName(hz.supervising_department), hz.supervising_department || '')),
    ...kvRow('hazards.field.place', `${hz.lon.toFixed(5)}°E ${hz.lat.toFixed(5)}°N${hz.district_code ? ` · ${hz.district_code}` : ''}`),
    ...kvRow('hazards.field.source', lookup('hazards.source', hz.source)),
    ...kvRow('hazards.field.found', fmtDateTime(hz.found_at, tz)),
    ...kvRow('hazards.field.deadline', deadlineText(hz, tz)),
    ...kvRow('hazards.field.returns', hz.return_count ? String(hz.return_count) : null),
    ...kvRow('hazards.field.escalation', hz.escalation_level ? lookup('hazards.escalation', hz.escalation_level) : null),
    ...kvRow('hazards.field.closed', hz.closed_at ? fmtDateTime(hz.closed_at, tz) : null),
    ...kvRow('hazards.field.description', hz.description ? h('span', { class: 'pre' }, hz.description) : null));

  dialog.replaceChildren(h('div', { class: 'dialog-form warning-page hazard-page' },
    h('header', { class: 'warning-head' }, gradeChip(hz), statusBadge(hz), ...hazardBadges(hz), close),
    h('h2', { id: 'hazard-title', class: 'dialog-title' }, hz.title),
    h('p', { class: 'dialog-hint mono' }, hz.code),
    h('div', { class: 'warning-cols' },
      h('section', {}, meta,
        h('h3', { class: 'card-sub' }, t('hazards.plan.title')), planSection(hz.plan, tz),
        h('h3', { class: 'card-sub' }, t('hazards.evidence.title', { n: (hz.evidence || []).length })), evidenceSection(hz.evidence || [], tz),
        h('h3', { class: 'card-sub' }, t('hazards.clauses.title')), clauseSection(hz.clauses || [])),
      h('section', {}, actions, errorEl, okEl,
        h('h3', { class: 'card-sub' }, t('hazards.history.title')), historySection(mine.events, tz)))));
  if (user && mine.focus) {
    const target = dialog.querySelector(mine.focus === 'submit' ? '#hz-submit' : mine.focus === 'plan' ? '#hz-plan-edit' : '.hz-steps');
    if (target) {
      if (target.tagName === 'DETAILS') target.open = true;
      target.scrollIntoView({ block: 'nearest' });
    }
    mine.focus = null;
  }
}

/** The reasons of the latest return (验收退回), from the history. */
export function lastReturn(events) {
  const returned = (events || []).filter((e) => e.kind === 'returned');
  return returned.length ? returned[returned.length - 1].note : '';
}
