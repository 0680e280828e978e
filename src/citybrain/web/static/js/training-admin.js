// The training dialog: four tabs over /api/v1/training/… (docs/public-and-training.md).
//   课程 Courses        code, titles in both languages, audience, hours, refresher interval
//   培训场次 Sessions    when, where, trainer, capacity, enrolled (a course filter); a new-session form; a click on a
//                       session shows its attendance, and with training:write a form marks one person: a user, or an
//                       enterprise employee by name and ID number (the API stores only a keyed hash of the number)
//   证书 Certificates    number, holder, course, issued, expires, status; a "verify a certificate number" box
//   待复训 Overdue        whose latest certificate has expired or expires soon
// The API scopes the people (an enterprise officer: their own enterprise's) and refuses what a user may not do;
// the page only hides the write forms from users without training:write.

import { h } from './dom.js';
import { createPageDialog } from './page-dialog.js';
import { t, localized } from './i18n.js';
import { fmtDateTime, problemText } from './warning-page.js';

const TABS = ['courses', 'sessions', 'certificates', 'overdue'];
const TAB_KEYS = {
  courses: 'training.tab.courses', sessions: 'training.tab.sessions', certificates: 'training.tab.certificates',
  overdue: 'training.tab.overdue',
};
const AUDIENCE_KEYS = { staff: 'training.audience.staff', enterprise_safety_officer: 'training.audience.enterprise' };
const STATUS_KEYS = {
  valid: 'training.status.valid', expired: 'training.status.expired', expiring: 'training.status.expiring',
};
const PAST_DAYS = 180; // sessions listed from this long ago
const LIMIT = 200;
const SHANGHAI_OFFSET = '+08:00'; // Asia/Shanghai keeps no daylight saving: form times are read as Beijing time

let dialog = null;
let state = null;

function ensureDialog() {
  dialog ||= createPageDialog({ id: 'training-dialog', cls: 'dialog dialog-rules dialog-training', labelledBy: 'training-title',
    onClosed: () => {
      if (state) state.closed = true;
      state = null;
    },
    onLang: () => state?.courses && render() });
  return dialog;
}

const audienceName = (a) => (AUDIENCE_KEYS[a] ? t(AUDIENCE_KEYS[a]) : a);
const statusBadge = (status, text) => h('span', { class: `state-badge trn-status trn-status-${status}`, dataset: { status } },
  text || (STATUS_KEYS[status] ? t(STATUS_KEYS[status]) : status));
const when = (value) => fmtDateTime(value, state?.ctx.timezone || 'Asia/Shanghai', false);
const qs = (params) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
  return q.toString();
};

/**
 * Open the dialog on `tab` ('courses', 'sessions', 'certificates', 'overdue'); `options.course` filters by a course.
 * ctx = {api, timezone, user, canWrite, canReadUsers, onChange()}.
 */
export async function openTraining(ctx, tab = 'courses', options = {}) {
  ensureDialog();
  if (state) state.closed = true;
  state = {
    ctx, tab: TABS.includes(tab) ? tab : 'courses', course: options.course || '', courses: null, enterprises: new Map(), departments: new Map(),
    users: null, sessions: null, sessionId: options.session || null, attendance: null, certificates: null,
    certStatus: '', overdue: null, within: 30, verify: null, notice: null, error: null, form: {}, closed: false,
  };
  const mine = state;
  dialog.replaceChildren(h('div', { class: 'dialog-form' }, h('p', { class: 'dialog-hint' }, t('training.loading'))));
  if (!dialog.open) dialog.showModal();
  try {
    const [courses, enterprises, departments, users] = await Promise.all([
      ctx.api.get('/api/v1/training/courses'),
      ctx.api.get('/api/v1/departments').catch(() => []),
      ctx.api.get('/api/v1/enterprises?limit=500').then((p) => p.items, () => []),
      ctx.canWrite && ctx.canReadUsers ? ctx.api.get('/api/v1/users?limit=500').then((p) => p.items, () => null) : null,
    ]);
    if (mine.closed) return;
    mine.courses = courses;
    mine.enterprises = new Map(enterprises.map((e) => [e.id, e]));
    mine.users = users;
    mine.departments = new Map(departments.map((d) => [d.code, d]));
    await loadTab(mine);
  } catch (err) {
    if (mine.closed) return;
    dialog.replaceChildren(h('div', { class: 'dialog-form' },
      h('p', { class: 'form-error', role: 'alert' }, problemText(err)),
      h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'btn btn-primary', onclick: () => dialog.close() }, t('common.close')))));
  }
}

/** Read what the current tab shows, then draw. */
async function loadTab(mine) {
  const { api } = mine.ctx;
  try {
    if (mine.tab === 'sessions') {
      const since = new Date(Date.now() - PAST_DAYS * 86400000).toISOString();
      const page = await api.get(`/api/v1/training/sessions?${qs({ course: mine.course, since, limit: LIMIT })}`);
      if (mine.closed) return;
      mine.sessions = page.items;
      if (mine.sessionId && !page.items.some((s) => s.id === mine.sessionId)) {
        mine.sessions = [...page.items, await api.get(`/api/v1/training/sessions/${mine.sessionId}`)];
      }
      if (mine.sessionId) mine.attendance = await api.get(`/api/v1/training/sessions/${mine.sessionId}/attendance`);
    } else if (mine.tab === 'certificates') {
      const page = await api.get(`/api/v1/training/certificates?${qs({ course: mine.course, status: mine.certStatus, limit: LIMIT })}`);
      mine.certificates = page;
    } else if (mine.tab === 'overdue') {
      mine.overdue = await api.get(`/api/v1/training/overdue?${qs({ within_days: mine.within, course: mine.course })}`);
    }
    mine.error = null;
  } catch (err) {
    mine.error = err;
  }
  if (!mine.closed) render();
}

function switchTab(tab) {
  const mine = state;
  Object.assign(mine, { tab, notice: null, error: null });
  loadTab(mine);
}

function render() {
  const mine = state;
  if (!mine) return;
  const close = h('button', { type: 'button', class: 'icon-btn card-close', 'aria-label': t('common.close'), title: t('common.close'), onclick: () => dialog.close() },
    h('span', { class: 'close-x', 'aria-hidden': 'true' }));
  const tabs = h('div', { class: 'trn-tabs', role: 'tablist' }, TABS.map((tab) => h('button', {
    type: 'button', role: 'tab', class: 'trn-tab', id: `training-tab-${tab}`, dataset: { tab }, 'aria-selected': String(mine.tab === tab),
    onclick: () => switchTab(tab),
  }, t(TAB_KEYS[tab]))));
  const pane = { courses: coursesPane, sessions: sessionsPane, certificates: certificatesPane, overdue: overduePane }[mine.tab](mine);
  dialog.dataset.tab = mine.tab;
  dialog.dataset.writable = String(Boolean(mine.ctx.canWrite));
  const scope = mine.ctx.user?.enterprise_id !== null && mine.ctx.user?.enterprise_id !== undefined
    ? h('span', { class: 'trn-scope' }, t('training.card.enterpriseScope')) : null;
  dialog.replaceChildren(h('div', { class: 'dialog-form training-page' },
    h('header', { class: 'warning-head' }, h('h2', { id: 'training-title', class: 'dialog-title' }, t('training.title')), scope, close),
    tabs,
    mine.error ? h('p', { class: 'form-error', role: 'alert' }, problemText(mine.error)) : null,
    mine.notice ? h('p', { class: 'form-ok', role: 'status' }, mine.notice) : null,
    pane));
}

function table(cls, headKeys, rows, emptyKey) {
  return h('div', { class: 'rules-table-wrap trn-table-wrap' },
    h('table', { class: `rules-table trn-table ${cls}` },
      h('thead', {}, h('tr', {}, headKeys.map((k) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: String(headKeys.length), class: 'trn-empty' }, t(emptyKey))))));
}

function courseFilter(mine) {
  const select = h('select', { id: 'trn-course-filter', onchange: () => {
    mine.course = select.value;
    mine.sessionId = null;
    mine.attendance = null;
    loadTab(mine);
  } },
  h('option', { value: '' }, t('training.filter.allCourses')),
  mine.courses.map((c) => h('option', { value: c.code, selected: c.code === mine.course }, `${c.code} · ${localized(c, 'title')}`)));
  return h('label', { class: 'trn-filter', for: 'trn-course-filter' }, t('training.filter.course'), select);
}

// ---- courses -------------------------------------------------------------------------------

function coursesPane(mine) {
  const rows = mine.courses.map((c) => h('tr', { class: 'trn-course-row', dataset: { code: c.code } },
    h('td', { class: 'trn-code' }, c.code),
    h('td', {}, h('span', { class: 'trn-title-zh' }, c.title_zh), h('br'), h('span', { class: 'trn-title-en' }, c.title_en)),
    h('td', {}, audienceName(c.audience)),
    h('td', { class: 'trn-num' }, t('training.hours', { n: c.hours })),
    h('td', {}, c.refresher_days ? t('training.refresherDays', { n: c.refresher_days }) : t('training.noRefresher'))));
  return h('section', { class: 'trn-pane', dataset: { pane: 'courses' } },
    table('trn-courses-table', ['training.col.code', 'training.col.title', 'training.col.audience', 'training.col.hours',
      'training.col.refresher'], rows, 'training.empty.courses'));
}

// ---- sessions and attendance -----------------------------------------------------------------

function sessionsPane(mine) {
  const sessions = mine.sessions || [];
  const rows = sessions.map((s) => h('tr', {
    class: 'trn-session-row', dataset: { sessionId: String(s.id) }, 'aria-selected': String(s.id === mine.sessionId), tabindex: '0',
    onclick: () => selectSession(mine, s.id),
    onkeydown: (e) => { if (e.key === 'Enter') selectSession(mine, s.id); },
  },
  h('td', {}, when(s.starts_at), s.ends_at ? h('span', { class: 'trn-dim' }, ` – ${when(s.ends_at)}`) : null),
  h('td', { title: localized(s, 'course_title') }, s.course),
  h('td', {}, s.place || '–'),
  h('td', {}, s.trainer || '–'),
  h('td', { class: 'trn-num trn-enrolled' }, `${s.enrolled} / ${s.capacity}`),
  h('td', {}, s.department ? localized(mine.departments.get(s.department)) || s.department : '–')));
  const selected = sessions.find((s) => s.id === mine.sessionId);
  return h('section', { class: 'trn-pane', dataset: { pane: 'sessions' } },
    h('div', { class: 'trn-toolbar' }, courseFilter(mine), h('span', { class: 'trn-dim' }, t('training.sessions.since', { n: PAST_DAYS }))),
    table('trn-sessions-table', ['training.col.when', 'training.col.course', 'training.col.place', 'training.col.trainer',
      'training.col.enrolled', 'training.col.department'], rows, 'training.empty.sessions'),
    mine.ctx.canWrite ? newSessionForm(mine) : null,
    selected ? attendancePane(mine, selected) : h('p', { class: 'dialog-hint' }, t('training.sessions.pick')));
}

function selectSession(mine, id) {
  mine.sessionId = id;
  mine.attendance = null;
  mine.notice = null;
  mine.form = {};
  loadTab(mine);
}

/** "2025-06-01T09:00" typed in a datetime-local box, as Beijing time. */
function fromLocal(value) {
  return value ? `${value}:00${SHANGHAI_OFFSET}` : null;
}

function tomorrowAtNine() {
  const d = new Date(Date.now() + 86400000 + 8 * 3600000); // Beijing time, shifted into UTC fields
  return `${d.toISOString().slice(0, 10)}T09:00`;
}

function newSessionForm(mine) {
  const field = (id, label, input) => h('label', { class: 'trn-field', for: id }, h('span', {}, t(label)), input);
  const course = h('select', { id: 'trn-new-course', dataset: { fieldPath: 'body.course' } },
    mine.courses.map((c) => h('option', { value: c.code, selected: c.code === mine.course }, `${c.code} · ${localized(c, 'title')}`)));
  const starts = h('input', { type: 'datetime-local', id: 'trn-new-starts', value: tomorrowAtNine(), required: true });
  const ends = h('input', { type: 'datetime-local', id: 'trn-new-ends' });
  const place = h('input', { type: 'text', id: 'trn-new-place', maxlength: '300' });
  const trainer = h('input', { type: 'text', id: 'trn-new-trainer', maxlength: '120' });
  const capacity = h('input', { type: 'number', id: 'trn-new-capacity', min: '1', max: '5000', value: '50' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-small', dataset: { action: 'create-session' } }, t('training.sessions.create'));
  const form = h('form', { class: 'trn-form trn-new-session', onsubmit: async (e) => {
    e.preventDefault();
    submit.disabled = true;
    try {
      const created = await mine.ctx.api.post('/api/v1/training/sessions', {
        course: course.value, starts_at: fromLocal(starts.value), ends_at: fromLocal(ends.value), place: place.value.trim(),
        trainer: trainer.value.trim(), capacity: Number(capacity.value || 50),
      });
      if (mine.closed) return;
      Object.assign(mine, { sessionId: created.id, attendance: null, notice: t('training.sessions.created', { when: when(created.starts_at) }), error: null });
      mine.ctx.onChange?.();
      await loadTab(mine);
    } catch (err) {
      if (mine.closed) return;
      Object.assign(mine, { error: err, notice: null });
      render();
    }
  } },
  field('trn-new-course', 'training.col.course', course),
  field('trn-new-starts', 'training.sessions.starts', starts),
  field('trn-new-ends', 'training.sessions.ends', ends),
  field('trn-new-place', 'training.col.place', place),
  field('trn-new-trainer', 'training.col.trainer', trainer),
  field('trn-new-capacity', 'training.col.capacity', capacity),
  h('div', { class: 'trn-form-actions' }, submit));
  return h('details', { class: 'trn-details' }, h('summary', {}, t('training.sessions.new')), form);
}

function personLabel(mine, a) {
  const ent = a.enterprise_id ? mine.enterprises.get(a.enterprise_id) : null;
  return [h('span', { class: 'trn-person' }, a.person_name),
    ent ? h('span', { class: 'trn-dim' }, ` · ${ent.name}`) : a.enterprise_id ? h('span', { class: 'trn-dim' }, ` · #${a.enterprise_id}`) : null];
}

const yesNo = (v) => (v ? t('training.yes') : t('training.no'));

function attendancePane(mine, s) {
  const items = mine.attendance || [];
  const rows = items.map((a) => h('tr', {
    class: 'trn-attendance-row', dataset: { attendanceId: String(a.id), passed: String(a.passed), attended: String(a.attended) },
    onclick: mine.ctx.canWrite ? () => { mine.form = { ...a, prefill: true }; render(); } : undefined,
  },
  h('td', {}, personLabel(mine, a)),
  h('td', {}, yesNo(a.attended)),
  h('td', { class: 'trn-num' }, a.score ?? '–'),
  h('td', {}, a.passed ? statusBadge('valid', t('training.passed')) : yesNo(false)),
  h('td', { class: 'trn-cert' }, a.certificate || '–'),
  h('td', { class: 'trn-dim' }, a.marked_by || '', a.marked_at ? ` ${when(a.marked_at)}` : '')));
  return h('section', { class: 'trn-attendance', dataset: { sessionId: String(s.id) } },
    h('h3', { class: 'card-sub' }, t('training.attendance.title', { course: localized(s, 'course_title'), when: when(s.starts_at) })),
    mine.attendance === null ? h('p', { class: 'dialog-hint' }, t('training.loading'))
      : table('trn-attendance-table', ['training.col.person', 'training.col.attended', 'training.col.score', 'training.col.passed',
        'training.col.certificate', 'training.col.marked'], rows, 'training.empty.attendance'),
    mine.ctx.canWrite ? markForm(mine, s) : null);
}

/** Mark one person: a user, or an enterprise employee (name and ID number). A row click fills it in to correct. */
function markForm(mine, s) {
  const f = mine.form || {};
  const field = (id, label, input, extra = {}) => h('label', { class: 'trn-field', for: id, hidden: extra.hidden }, h('span', {}, t(label)), input);
  const kindStart = f.user_id ? 'user' : 'employee';
  const kind = h('select', { id: 'trn-mark-kind', onchange: () => toggle() },
    h('option', { value: 'employee', selected: kindStart === 'employee' }, t('training.mark.employee')),
    h('option', { value: 'user', selected: kindStart === 'user' }, t('training.mark.user')));
  const enterprises = [...mine.enterprises.values()];
  const enterprise = enterprises.length
    ? h('select', { id: 'trn-mark-enterprise' }, enterprises.map((e) => h('option', { value: String(e.id), selected: e.id === f.enterprise_id }, e.name)))
    : h('input', { type: 'number', id: 'trn-mark-enterprise', min: '1', value: f.enterprise_id ?? '' });
  const name = h('input', { type: 'text', id: 'trn-mark-name', maxlength: '100', value: f.person_name || '', autocomplete: 'off' });
  const idNumber = h('input', { type: 'text', id: 'trn-mark-id', maxlength: '40', autocomplete: 'off', spellcheck: 'false', value: f.id_number || '' }); // kept in memory only, to retry after a refusal
  const user = mine.users
    ? h('select', { id: 'trn-mark-user' }, mine.users.filter((u) => u.is_active !== false).map((u) => h('option', { value: String(u.id), selected: u.id === f.user_id },
      `${u.display_name || u.username} (${u.username})`)))
    : h('input', { type: 'number', id: 'trn-mark-user', min: '1', value: f.user_id ?? '' });
  const attended = h('input', { type: 'checkbox', id: 'trn-mark-attended', checked: f.prefill || f.retry ? f.attended : true });
  const score = h('input', { type: 'number', id: 'trn-mark-score', min: '0', max: '100', step: '0.5', value: f.score ?? '' });
  const passed = h('input', { type: 'checkbox', id: 'trn-mark-passed', checked: Boolean(f.passed) });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-small', dataset: { action: 'mark' } }, t('training.mark.submit'));
  const full = !f.prefill && s.enrolled >= s.capacity;
  const employeeFields = [
    field('trn-mark-enterprise', 'training.mark.enterprise', enterprise),
    field('trn-mark-name', 'training.mark.name', name),
    field('trn-mark-id', 'training.mark.idNumber', idNumber),
  ];
  const userField = field('trn-mark-user', 'training.mark.user', user);
  function toggle() {
    const employee = kind.value === 'employee';
    for (const el of employeeFields) el.hidden = !employee;
    userField.hidden = employee;
  }
  attended.addEventListener('change', () => { if (!attended.checked) passed.checked = false; });
  passed.addEventListener('change', () => { if (passed.checked) attended.checked = true; });

  const form = h('form', { class: 'trn-form trn-mark', onsubmit: async (e) => {
    e.preventDefault();
    const item = { attended: attended.checked, passed: passed.checked, score: score.value === '' ? null : Number(score.value) };
    if (kind.value === 'user') item.user_id = Number(user.value);
    else Object.assign(item, { enterprise_id: Number(enterprise.value), person_name: name.value.trim(), id_number: idNumber.value.trim() });
    submit.disabled = true;
    try {
      const [marked] = await mine.ctx.api.post(`/api/v1/training/sessions/${s.id}/attendance`, [item]);
      if (mine.closed) return;
      const notice = marked.certificate
        ? t('training.mark.certified', { name: marked.person_name, number: marked.certificate })
        : t('training.mark.done', { name: marked.person_name });
      Object.assign(mine, { notice, error: null, form: {} });
      mine.ctx.onChange?.();
      await loadTab(mine);
    } catch (err) {
      if (mine.closed) return;
      Object.assign(mine, { error: err, notice: null, form: { ...f, ...item, retry: true } }); // keep what was typed
      render();
    }
  } },
  h('h3', { class: 'card-sub' }, t(f.prefill ? 'training.mark.correct' : 'training.mark.title')),
  full ? h('p', { class: 'dialog-hint trn-full' }, t('training.mark.full')) : null,
  f.prefill && f.enterprise_id && !f.user_id ? h('p', { class: 'dialog-hint' }, t('training.mark.retypeId')) : null,
  h('div', { class: 'trn-form-grid' },
    field('trn-mark-kind', 'training.mark.kind', kind),
    ...employeeFields,
    userField,
    field('trn-mark-score', 'training.col.score', score),
    h('label', { class: 'switch', for: 'trn-mark-attended' }, attended, t('training.col.attended')),
    h('label', { class: 'switch', for: 'trn-mark-passed' }, passed, t('training.col.passed'))),
  h('p', { class: 'trn-dim trn-privacy' }, t('training.mark.privacy')),
  h('div', { class: 'trn-form-actions' },
    f.prefill ? h('button', { type: 'button', class: 'btn btn-small btn-ghost', onclick: () => { mine.form = {}; render(); } }, t('common.cancel')) : null,
    submit));
  toggle();
  return form;
}

// ---- certificates and verification -------------------------------------------------------------

function certificatesPane(mine) {
  const page = mine.certificates || { items: [], total: 0 };
  const status = h('select', { id: 'trn-cert-status', onchange: () => { mine.certStatus = status.value; loadTab(mine); } },
    h('option', { value: '', selected: mine.certStatus === '' }, t('training.filter.allStatuses')),
    h('option', { value: 'valid', selected: mine.certStatus === 'valid' }, t('training.status.valid')),
    h('option', { value: 'expired', selected: mine.certStatus === 'expired' }, t('training.status.expired')));
  const rows = page.items.map((c) => h('tr', { class: 'trn-cert-row', dataset: { number: c.number, status: c.status } },
    h('td', { class: 'trn-cert' }, h('button', { type: 'button', class: 'link-btn', title: t('training.verify.this'),
      onclick: () => verify(mine, c.number) }, c.number)),
    h('td', {}, personLabel(mine, c)),
    h('td', { title: localized(c, 'course_title') }, c.course),
    h('td', {}, when(c.issued_at)),
    h('td', {}, c.expires_at ? when(c.expires_at) : t('training.noExpiry')),
    h('td', {}, statusBadge(c.status))));
  return h('section', { class: 'trn-pane', dataset: { pane: 'certificates' } },
    verifyBox(mine),
    h('div', { class: 'trn-toolbar' }, courseFilter(mine),
      h('label', { class: 'trn-filter', for: 'trn-cert-status' }, t('training.filter.status'), status),
      h('span', { class: 'trn-dim' }, t('training.total', { shown: page.items.length, total: page.total }))),
    table('trn-certs-table', ['training.col.number', 'training.col.holder', 'training.col.course', 'training.col.issued',
      'training.col.expires', 'training.col.status'], rows, 'training.empty.certificates'));
}

function verifyBox(mine) {
  const input = h('input', { type: 'text', id: 'trn-verify-number', placeholder: 'CBT-20260101-0A1B2C3D', maxlength: '40',
    value: mine.verify?.number || '', autocomplete: 'off', spellcheck: 'false' });
  const form = h('form', { class: 'trn-verify', role: 'search', onsubmit: (e) => { e.preventDefault(); verify(mine, input.value); } },
    h('label', { for: 'trn-verify-number' }, t('training.verify.label')), input,
    h('button', { type: 'submit', class: 'btn btn-small', dataset: { action: 'verify' } }, t('training.verify.submit')));
  const v = mine.verify;
  let result = null;
  if (v?.result) {
    const r = v.result;
    result = h('div', { class: 'trn-verify-result', role: 'status', dataset: { status: r.status, number: r.number } },
      statusBadge(r.status, r.valid ? t('training.verify.valid') : t('training.verify.expired')),
      h('dl', { class: 'kv' },
        h('dt', {}, t('training.col.number')), h('dd', {}, r.number),
        h('dt', {}, t('training.col.holder')), h('dd', {}, r.holder),
        h('dt', {}, t('training.col.course')), h('dd', {}, `${r.course} · ${localized(r, 'course_title')}`),
        h('dt', {}, t('training.col.issued')), h('dd', {}, when(r.issued_at)),
        h('dt', {}, t('training.col.expires')), h('dd', {}, r.expires_at ? when(r.expires_at) : t('training.noExpiry'))));
  } else if (v?.missing) {
    result = h('div', { class: 'trn-verify-result', role: 'status', dataset: { status: 'missing' } },
      statusBadge('missing', t('training.verify.missing', { number: v.number })));
  } else if (v?.error) {
    result = h('p', { class: 'form-error', role: 'alert' }, problemText(v.error));
  }
  return h('div', { class: 'trn-verify-box' }, form, result);
}

async function verify(mine, raw) {
  const number = String(raw || '').trim().toUpperCase();
  if (!number) return;
  mine.verify = { number, pending: true };
  try {
    const result = await mine.ctx.api.get(`/api/v1/training/certificates/${encodeURIComponent(number)}`);
    if (mine.closed) return;
    mine.verify = { number, result };
  } catch (err) {
    if (mine.closed) return;
    mine.verify = err?.status === 404 ? { number, missing: true } : { number, error: err };
  }
  render();
}

// ---- overdue -------------------------------------------------------------------------------------

/** Whole days since `value` (the API's days_left is floored, so 35 days and a minute ago reads -36 there). */
function daysSince(value) {
  return Math.max(0, Math.floor((Date.now() - Date.parse(value)) / 86400000));
}

function overduePane(mine) {
  const within = h('select', { id: 'trn-overdue-within', onchange: () => { mine.within = Number(within.value); loadTab(mine); } },
    [0, 30, 90].map((n) => h('option', { value: String(n), selected: n === mine.within },
      n ? t('training.overdue.within', { n }) : t('training.overdue.expiredOnly'))));
  const rows = (mine.overdue || []).map((r) => h('tr', {
    class: 'trn-overdue-row', dataset: { certificate: r.certificate, status: r.status, course: r.course },
  },
  h('td', {}, personLabel(mine, r)),
  h('td', { title: localized(r, 'course_title') }, `${r.course} · ${localized(r, 'course_title')}`),
  h('td', {}, when(r.expires_at)),
  h('td', {}, statusBadge(r.status, r.status === 'expired'
    ? t('training.overdue.expiredAgo', { n: daysSince(r.expires_at) })
    : t('training.overdue.expiresIn', { n: r.days_left }))),
  h('td', { class: 'trn-cert trn-dim' }, r.certificate)));
  return h('section', { class: 'trn-pane', dataset: { pane: 'overdue' } },
    h('div', { class: 'trn-toolbar' }, courseFilter(mine),
      h('label', { class: 'trn-filter', for: 'trn-overdue-within' }, t('training.filter.show'), within)),
    table('trn-overdue-table', ['training.col.person', 'training.col.course', 'training.col.expires', 'training.col.status',
      'training.col.certificate'], rows, 'training.empty.overdue'));
}
