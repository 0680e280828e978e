// The case page (a dialog) of one citizen report: what was reported, where and when, the photos, the citizen's
// contact (masked unless the API shows it), the time limit, the history (public and internal entries) and the
// steps the workflow offers to the signed-in user: register, dispatch to a department, accept, respond (public reply
// + internal note), check (pass / fail with a reason), close, reject, and onward to a hazard or an incident.
// Everything comes from /api/v1/cases/{id}, /reports/{id} and /reports/{id}/events; the API decides in the end
// (a role it refuses is a 403, a step out of order a 409) and its refusal is shown here.
// Also the reference data the citizens modules share (categories, departments, districts, roles) and the
// small formatters (status names, durations, the time-limit text).

import { h } from './dom.js';
import { actionRunner, createPageDialog, showLoadError, showLoading } from './page-dialog.js';
import { t, has, getLang, intlLocale, localized } from './i18n.js';
import { fmtDateTime } from './warning-page.js';
import { can } from './warnings.js';

export const OPEN_STATUSES = ['submitted', 'registered', 'dispatched', 'handling', 'responded', 'checking'];
/** The board's columns, in workflow order (立案 派遣 处置 反馈 核查 结案). */
export const BOARD_STATUSES = ['registered', 'dispatched', 'handling', 'responded', 'checking', 'closed'];
/** Incident types a report can be handed to (incident/taxonomy.py; the API has no list endpoint). */
const INCIDENT_TYPES = ['gas_leak', 'fire', 'structural_danger', 'road_collapse', 'waterlogging', 'hazmat_release',
  'crowd_crush', 'public_security', 'utility_outage', 'metro_disruption', 'metro_construction_collapse'];
const INCIDENT_LEVELS = ['I', 'II', 'III', 'IV'];

const lookup = (prefix, value) => (has(`${prefix}.${value}`) ? t(`${prefix}.${value}`) : String(value ?? ''));
export const caseStatusName = (status) => lookup('cases.status', status);
export const eventName = (kind) => lookup('cases.event', kind);

// ---- reference data ------------------------------------------------------------------------

let refsPromise = null;

/** Categories, departments, districts and roles, read once per page (again after a failed read). */
export function loadRefs(api) {
  if (!refsPromise) {
    let failed = false;
    const soft = (p, empty) => p.catch(() => {
      failed = true;
      return empty;
    });
    refsPromise = Promise.all([
      soft(api.get('/api/v1/public/report-services'), []),
      soft(api.get('/api/v1/departments'), []),
      soft(api.get('/api/v1/geo/layers/districts'), { features: [] }),
      soft(api.get('/api/v1/auth/roles'), []),
    ]).then(([services, departments, districts, roles]) => {
      if (failed) refsPromise = null; // keep what we have for now, try again next time
      return {
        services: new Map((services || []).map((s) => [s.code, s])),
        departments: new Map((departments || []).map((d) => [d.code, d])),
        districts: new Map(((districts && districts.features) || []).map((f) => [String(f.properties.code), f.properties])),
        roles: new Map((roles || []).map((r) => [r.key, r])),
      };
    });
  }
  return refsPromise;
}

export function serviceName(refs, code) {
  if (code === '*') return t('cases.route.any');
  return localized(refs?.services.get(code)) || code || '';
}

export function departmentName(refs, code) {
  return code ? localized(refs?.departments.get(code)) || code : '';
}

export function districtName(refs, code) {
  return code ? localized(refs?.districts.get(String(code))) || String(code) : '';
}

/** Sees every department's cases: a city-wide role or a city-wide department (the operations centre). */
export function isCityWide(user, refs) {
  if (!user) return false;
  if ((user.roles || []).some((r) => refs?.roles.get(r)?.city_wide)) return true;
  return Boolean(user.department && refs?.departments.get(user.department.code)?.city_wide);
}

// ---- formatting ----------------------------------------------------------------------------

/** The API's own words for a refusal (problem+json detail, then each field problem), whatever the status. */
export function problemText(err) {
  const fields = (err?.problem?.errors || []).map((e) => `${e.field}: ${e.message}`);
  return [err?.detail || err?.message || String(err), ...fields].join('\n');
}

/** "2小时15分" / "2 h 15 min" from seconds. */
export function fmtDuration(seconds) {
  const s = Math.abs(Math.round(Number(seconds) || 0));
  const d = Math.floor(s / 86400);
  const hh = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return t('cases.dur.dh', { d, h: hh });
  if (hh) return t('cases.dur.hm', { h: hh, m });
  return t('cases.dur.m', { m: Math.max(m, s ? 1 : 0) });
}

/** Where a case stands against its time limit: {text, overdue} (null without one). */
export function dueText(c) {
  if (c.case_status === 'closed' && c.on_time !== null && c.on_time !== undefined) {
    return { text: t(c.on_time ? 'cases.due.onTime' : 'cases.due.late'), overdue: !c.on_time };
  }
  if (!Number.isFinite(c.seconds_left)) return null;
  return c.seconds_left < 0
    ? { text: t('cases.due.over', { d: fmtDuration(c.seconds_left) }), overdue: true }
    : { text: t('cases.due.left', { d: fmtDuration(c.seconds_left) }), overdue: false };
}

export function statusBadge(status) {
  return h('span', { class: `state-badge case-st case-st-${status}`, dataset: { status } }, caseStatusName(status));
}

// ---- the page ------------------------------------------------------------------------------

let dialog = null;
let current = null; // {id, ctx, c, report, events, refs, closed, busy}
const userNames = new Map(); // user id -> Promise<name>

function ensureDialog() {
  dialog ||= createPageDialog({ id: 'case-dialog', cls: 'dialog dialog-warning dialog-case', labelledBy: 'case-title',
    onClosed: () => {
      if (current) current.closed = true;
      current = null;
    },
    onLang: () => current?.c && render() });
  return dialog;
}

/**
 * Open the page for case (report) `id`.
 * ctx = {api, timezone, user, onChange(case)}.
 */
export async function openCase(id, ctx) {
  ensureDialog();
  if (current) current.closed = true;
  current = { id: Number(id), ctx, c: null, report: null, events: [], refs: null, closed: false, busy: false };
  const mine = current;
  dialog.dataset.caseId = String(id);
  delete dialog.dataset.status;
  showLoading(dialog, t('cases.loading.one'));
  try {
    await load(mine);
  } catch (err) {
    if (mine.closed) return;
    showLoadError(dialog, problemText(err));
  }
}

async function load(mine) {
  const { api } = mine.ctx;
  const [c, report, events, refs] = await Promise.all([
    api.get(`/api/v1/cases/${mine.id}`),
    api.get(`/api/v1/reports/${mine.id}`),
    api.get(`/api/v1/reports/${mine.id}/events`).catch(() => []),
    loadRefs(api),
  ]);
  if (mine.closed) return;
  Object.assign(mine, { c, report, events, refs });
  render();
  resolveActors(mine);
}

/** Who made each history entry: the user's name where the caller may read users, else "#id". */
function resolveActors(mine) {
  const { api } = mine.ctx;
  for (const id of new Set(mine.events.map((e) => e.actor_user_id).filter((x) => x !== null && x !== undefined))) {
    if (!userNames.has(id)) {
      userNames.set(id, api.get(`/api/v1/users/${id}`).then((u) => u.display_name || u.username, () => null));
    }
    userNames.get(id).then((name) => {
      if (!name || mine.closed) return;
      for (const el of dialog.querySelectorAll(`.case-timeline .event-actor[data-user-id="${id}"]`)) el.textContent = name;
    });
  }
}

function kvRow(key, value, attrs = {}) {
  return value === null || value === undefined || value === '' ? [] : [h('dt', {}, t(key)), h('dd', attrs, value)];
}

/** The case roles the signed-in user holds on this case (as report/case_service.roles_of; the API re-checks). */
function rolesOn(c, user, refs) {
  const admin = (user?.roles || []).includes('admin');
  const acts = admin || can('report:act');
  const ops = admin || (acts && isCityWide(user, refs));
  const department = admin || (acts && Boolean(user?.department) && user.department.code === c.department);
  const handler = user && c.assigned_user_id !== null && c.assigned_user_id === user.id;
  // The workflow lets a grid inspector check too, but every case endpoint needs report:act (case_views.py).
  const checker = acts && (ops || can('inspection:act')) && !handler;
  return { ops, department, checker, acts };
}

function render() {
  const mine = current;
  const { ctx, c, report, refs } = mine;
  const tz = ctx.timezone || 'Asia/Shanghai';
  dialog.dataset.status = c.case_status;
  dialog.dataset.overdue = String(Boolean(c.overdue));
  const errorEl = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const okEl = h('p', { class: 'form-ok', role: 'status', hidden: true });
  const close = h('button', { type: 'button', class: 'icon-btn card-close', 'aria-label': t('common.close'), title: t('common.close'), onclick: () => dialog.close() },
    h('span', { class: 'close-x', 'aria-hidden': 'true' }));
  const due = dueText(c);

  const run = actionRunner({ dialog, page: '.case-page', mine, errorEl, okEl, reload: () => load(mine),
    changed: () => ctx.onChange?.(mine.c), errorText: problemText });

  const position = Number.isFinite(report.lon) && Number.isFinite(report.lat)
    ? `${report.lon.toFixed(5)}°E ${report.lat.toFixed(5)}°N` : '';
  const meta = h('dl', { class: 'kv case-meta' },
    ...kvRow('cases.field.category', serviceName(refs, c.service_code)),
    ...kvRow('cases.field.number', h('span', { class: 'mono' }, c.service_request_id)),
    ...kvRow('cases.field.status', caseStatusName(c.case_status)),
    ...kvRow('cases.field.department', departmentName(refs, c.department) || t('cases.none')),
    ...kvRow('cases.field.district', districtName(refs, c.district)),
    ...kvRow('cases.field.address', report.address),
    ...kvRow('cases.field.position', position),
    ...kvRow('cases.field.requested', fmtDateTime(c.requested_at, tz)),
    ...kvRow('cases.field.due', c.due_at ? `${fmtDateTime(c.due_at, tz, false)}${due ? ` · ${due.text}` : ''}` : '',
      { class: `case-due${due?.overdue ? ' overdue-text' : ''}` }),
    ...kvRow('cases.field.firstResponse', c.first_response_at && fmtDateTime(c.first_response_at, tz)),
    ...kvRow('cases.field.closed', c.closed_at && fmtDateTime(c.closed_at, tz)),
    ...kvRow('cases.field.dispatches', c.dispatch_count ? String(c.dispatch_count) : '', { class: 'case-dispatches' }),
    ...kvRow('cases.field.reopens', c.reopen_count ? String(c.reopen_count) : ''),
    ...kvRow('cases.field.meToo', c.me_too_count ? t('cases.meToo', { n: c.me_too_count }) : ''),
    ...kvRow('cases.field.rating', c.rating ? `${'★'.repeat(c.rating)}${'☆'.repeat(5 - c.rating)}${report.rating_comment ? ` ${report.rating_comment}` : ''}` : ''),
    ...kvRow('cases.field.hazard', c.hazard_id ? `#${c.hazard_id}` : ''),
    ...kvRow('cases.field.incident', c.incident_id ? incidentLink(c.incident_id) : ''),
    ...kvRow('cases.field.duplicateOf', c.duplicate_of_id ? `#${c.duplicate_of_id}` : ''),
    ...kvRow('cases.field.reply', c.public_reply),
  );

  const contact = report.anonymous
    ? h('p', { class: 'dialog-hint case-contact', dataset: { visible: 'false' } }, t('cases.contact.anonymous'))
    : h('dl', { class: 'kv case-contact', dataset: { visible: String(Boolean(report.contact_visible)) } },
      ...kvRow('cases.contact.name', report.contact_name),
      ...kvRow('cases.contact.phone', report.contact_phone && h('span', { class: 'mono case-phone' }, report.contact_phone)),
      ...kvRow('cases.contact.email', report.contact_email && h('span', { class: 'mono' }, report.contact_email)),
      h('dd', { class: 'case-contact-note' }, t(report.contact_visible ? 'cases.contact.shown' : 'cases.contact.masked')));

  const photos = report.photo_count ? h('div', { class: 'case-photos' },
    Array.from({ length: report.photo_count }, (_, i) => {
      const src = `/api/v1/reports/${c.id}/photos/${i + 1}`;
      return h('a', { href: src, target: '_blank', rel: 'noopener', class: 'case-photo' },
        h('img', { src, alt: t('cases.photo', { n: i + 1 }), loading: 'lazy' }));
    })) : h('p', { class: 'dialog-hint' }, t('cases.photos.none'));

  const actions = renderActions(mine, run, errorEl, okEl);

  dialog.replaceChildren(h('div', { class: 'dialog-form warning-page case-page' },
    h('header', { class: 'warning-head' }, statusBadge(c.case_status),
      c.overdue ? h('span', { class: 'state-badge case-overdue' }, t('cases.overdue')) : null,
      h('span', { class: 'mono case-number' }, c.service_request_id),
      close),
    h('h2', { id: 'case-title', class: 'dialog-title' }, serviceName(refs, c.service_code)),
    getLang() === 'zh-CN' && refs.services.get(c.service_code)?.name_en
      ? h('p', { class: 'dialog-hint' }, refs.services.get(c.service_code).name_en) : null,
    h('div', { class: 'warning-cols' },
      h('section', {},
        c.description ? h('p', { class: 'case-description' }, c.description) : null,
        meta,
        h('h3', { class: 'card-sub' }, t('cases.contact')), contact,
        h('h3', { class: 'card-sub' }, t('cases.photos', { n: report.photo_count || 0 })), photos),
      h('section', {},
        actions, errorEl, okEl,
        h('h3', { class: 'card-sub' }, t('cases.timeline')), timeline(mine.events, refs, tz)))));
}

function incidentLink(id) {
  if (typeof window.citybrain?.openIncident !== 'function') return `#${id}`;
  return h('button', { type: 'button', class: 'link-btn', onclick: () => {
    dialog.close();
    window.citybrain.openIncident(id);
  } }, `#${id}`);
}

function renderActions(mine, run, errorEl, okEl) {
  const { ctx, c, report, refs } = mine;
  const roles = rolesOn(c, ctx.user, refs);
  const base = `/api/v1/cases/${c.id}`;
  const s = c.case_status;
  const note = h('textarea', { id: 'case-note', rows: '2', maxlength: '2000', placeholder: t('cases.note.placeholder') });
  const text = () => note.value.trim();
  const btn = (action, key, onclick, cls = 'btn-ghost') => h('button', { type: 'button', class: `btn ${cls}`, dataset: { action }, onclick }, t(key));
  const blocks = [];

  if (roles.ops && s === 'submitted') {
    const hours = h('input', { id: 'case-hours', type: 'number', min: '0.5', step: '0.5', placeholder: t('cases.hours.default'), class: 'case-hours' });
    blocks.push(h('div', { class: 'case-action-row' },
      h('label', { for: 'case-hours' }, t('cases.hours')), hours,
      btn('register', 'cases.act.register', () => run(() => ctx.api.post(`${base}/register`,
        hours.value ? { hours: Number(hours.value) } : {}), 'cases.done.register'))));
  }
  if (roles.ops && ['registered', 'dispatched', 'handling'].includes(s)) {
    const select = h('select', { id: 'case-department' },
      h('option', { value: '' }, t('cases.dispatch.byTable')),
      [...refs.departments.values()].map((d) => h('option', { value: d.code, selected: d.code === c.department }, `${localized(d)} (${d.code})`)));
    const redispatch = s !== 'registered';
    blocks.push(h('div', { class: 'case-action-row' },
      h('label', { for: 'case-department' }, t('cases.dispatch.to')), select,
      btn('dispatch', redispatch ? 'cases.act.redispatch' : 'cases.act.dispatch', () => run(() => ctx.api.post(`${base}/dispatch`,
        { department: select.value || null, note: text() }), 'cases.done.dispatch',
      { department: select.value ? departmentName(refs, select.value) : t('cases.dispatch.byTable') }), 'btn-primary')));
  }
  if (roles.department && s === 'dispatched') {
    blocks.push(h('div', { class: 'case-action-row' },
      btn('accept', 'cases.act.accept', () => run(() => ctx.api.post(`${base}/accept`, { note: text() }), 'cases.done.accept'), 'btn-primary')));
  }
  if (roles.department && s === 'handling') {
    const reply = h('textarea', { id: 'case-reply', rows: '3', maxlength: '2000', placeholder: t('cases.reply.placeholder') });
    blocks.push(h('div', { class: 'case-action-col' },
      h('label', { for: 'case-reply' }, t('cases.reply')), reply,
      h('div', { class: 'case-action-row' },
        btn('respond', 'cases.act.respond', () => run(() => ctx.api.post(`${base}/respond`,
          { reply: reply.value.trim(), note: text() }), 'cases.done.respond'), 'btn-primary'))));
  }
  if (roles.checker && s === 'responded') {
    blocks.push(h('div', { class: 'case-action-row' },
      btn('check-pass', 'cases.act.checkPass', () => run(() => ctx.api.post(`${base}/check`, { passed: true, reason: text() }), 'cases.done.checkPass'), 'btn-primary'),
      btn('check-fail', 'cases.act.checkFail', () => run(() => ctx.api.post(`${base}/check`, { passed: false, reason: text() }), 'cases.done.checkFail'))));
  }
  if (roles.ops && s === 'checking') {
    blocks.push(h('div', { class: 'case-action-row' },
      btn('close', 'cases.act.close', () => run(() => ctx.api.post(`${base}/close`, { note: text() }), 'cases.done.close'), 'btn-primary')));
  }
  if (roles.ops && ['submitted', 'registered', 'dispatched', 'handling'].includes(s)) {
    blocks.push(h('div', { class: 'case-action-row' },
      btn('reject', 'cases.act.reject', () => run(() => ctx.api.post(`${base}/reject`, { reason: text() }), 'cases.done.reject'), 'btn-danger')));
  }

  // Onward: a hazard to rectify (隐患), an emergency (事件).
  const placed = Number.isFinite(report.lon) && Number.isFinite(report.lat);
  const onward = [];
  if (roles.acts && placed && !c.hazard_id) {
    onward.push(btn('to-hazard', 'cases.act.toHazard', () => run(() => ctx.api.post(`/api/v1/reports/${c.id}/to-hazard`), 'cases.done.toHazard')));
  }
  if (can('incident:act') && placed && !c.incident_id) {
    const itype = h('select', { id: 'case-incident-type', 'aria-label': t('cases.incident.type') },
      h('option', { value: '' }, t('cases.incident.typeDefault')),
      INCIDENT_TYPES.map((k) => h('option', { value: k }, lookup('cases.itype', k))));
    const level = h('select', { id: 'case-incident-level', 'aria-label': t('cases.incident.level') },
      h('option', { value: '' }, t('cases.incident.levelDefault')),
      INCIDENT_LEVELS.map((l) => h('option', { value: l }, t('cases.incident.levelN', { roman: l }))));
    onward.push(itype, level, btn('to-incident', 'cases.act.toIncident', () => run(async () => {
      const body = {};
      if (itype.value) body.incident_type = itype.value;
      if (level.value) body.level = level.value;
      await ctx.api.post(`/api/v1/reports/${c.id}/to-incident`, body);
    }, 'cases.done.toIncident')));
  }
  if (onward.length) blocks.push(h('div', { class: 'case-action-row case-onward' }, ...onward));

  if (!blocks.length) {
    return h('p', { class: 'dialog-hint case-no-actions' }, t(OPEN_STATUSES.includes(s) ? 'cases.noActions' : 'cases.final'));
  }
  return h('section', { class: 'warning-actions case-actions' },
    h('label', { for: 'case-note' }, t('cases.note')), note, ...blocks);
}

function eventDetail(e, refs) {
  const d = e.data || {};
  const parts = [];
  if (d.department_id !== undefined && d.department_id !== null) {
    const dept = [...refs.departments.values()].find((x) => x.id === d.department_id);
    if (dept) parts.push(localized(dept));
  }
  if (d.rating) parts.push('★'.repeat(d.rating));
  if (d.hazard_id) parts.push(t('cases.event.hazardRef', { id: d.hazard_id }));
  if (d.incident_id) parts.push(t('cases.event.incidentRef', { id: d.incident_id }));
  if (d.candidate) parts.push(String(d.candidate));
  return parts.join(' · ');
}

function timeline(events, refs, tz) {
  if (!events.length) return h('p', { class: 'dialog-hint' }, t('cases.timeline.none'));
  return h('ol', { class: 'warning-history case-timeline' }, [...events].reverse().map((e) => {
    const detail = eventDetail(e, refs);
    return h('li', { dataset: { kind: e.kind, public: String(e.public) } },
      h('span', { class: 'event-dot', style: { '--dot': e.public ? '#22d3ee' : '#8b98a9' }, 'aria-hidden': 'true' }),
      h('div', {},
        h('div', { class: 'event-head' },
          h('strong', {}, eventName(e.kind)),
          h('span', { class: `state-badge case-vis case-vis-${e.public ? 'public' : 'internal'}` }, t(e.public ? 'cases.public' : 'cases.internal')),
          h('time', { class: 'mono', dateTime: e.at }, fmtDateTime(e.at, tz)),
          e.actor_user_id !== null && e.actor_user_id !== undefined
            ? h('span', { class: 'event-actor', dataset: { userId: String(e.actor_user_id) } }, `#${e.actor_user_id}`)
            : h('span', { class: 'event-actor' }, t('cases.actor.system'))),
        detail ? h('div', { class: 'event-detail' }, detail) : null,
        e.text ? h('q', { class: 'event-text' }, e.text) : null));
  }));
}

/** Shown for durations in Intl where a number reads better than words (metrics). */
export function fmtNumber(v, digits = 1) {
  return Number.isFinite(v) ? new Intl.NumberFormat(intlLocale(), { maximumFractionDigits: digits }).format(v) : '–';
}
