// Safety training on the dashboard: the "安全培训 / Safety training" card — one line per course with its upcoming
// sessions and how many people are overdue for refresher training (red when any), and a 查看 / Open button for
// the training dialog (training-admin.js: courses, sessions, attendance, certificates and their verification,
// the overdue list). Everything comes from /api/v1/training/… (docs/public-and-training.md), which scopes the
// people: an enterprise officer sees only their own enterprise's. The card re-reads every minute while shown.

import { api as defaultApi, ApiError } from './api.js';
import { h } from './dom.js';
import { t, localized } from './i18n.js';
import { problemText } from './warning-page.js';
import { can, permissionsReady } from './warnings.js';
import { openTraining } from './training-admin.js';

const POLL_MS = 60000;
const DUE_DAYS = 30; // "expiring soon" horizon, as the API's default
const SESSION_LIMIT = 500;

const store = {
  user: null, courses: [], upcoming: {}, expired: {}, expiring: {}, status: 'off', error: null, seq: 0,
};
const listeners = new Set();
let env = { api: defaultApi, timezone: 'Asia/Shanghai', user: null };

function emit() {
  for (const fn of listeners) fn();
}

function countBy(items, key, pick = () => true) {
  const out = {};
  for (const item of items) if (pick(item)) out[item[key]] = (out[item[key]] || 0) + 1;
  return out;
}

/** Re-read courses, upcoming sessions and who is due (on the poll, after a change in the dialog). */
export async function refreshTraining() {
  const user = env.user;
  if (!user) return;
  const seq = ++store.seq;
  try {
    await permissionsReady();
    if (seq !== store.seq || env.user !== user) return;
    const since = new URLSearchParams({ since: new Date().toISOString(), limit: String(SESSION_LIMIT) });
    const [courses, sessions, overdue] = await Promise.all([
      env.api.get('/api/v1/training/courses'),
      env.api.get(`/api/v1/training/sessions?${since}`),
      env.api.get(`/api/v1/training/overdue?within_days=${DUE_DAYS}`),
    ]);
    if (seq !== store.seq || env.user !== user) return;
    Object.assign(store, {
      courses,
      upcoming: countBy(sessions.items, 'course'),
      expired: countBy(overdue, 'course', (r) => r.status === 'expired'),
      expiring: countBy(overdue, 'course', (r) => r.status === 'expiring'),
      status: 'ready',
      error: null,
    });
  } catch (err) {
    if (seq !== store.seq || env.user !== user) return;
    store.error = err;
    store.status = err instanceof ApiError && err.status === 403 ? 'forbidden' : 'error';
  }
  emit();
}

/** The lines of the card: an enterprise account sees its audience's courses and any course its people are due in. */
function visibleCourses() {
  const enterprise = env.user?.enterprise_id !== null && env.user?.enterprise_id !== undefined;
  const due = (c) => (store.expired[c.code] || 0) + (store.expiring[c.code] || 0);
  return store.courses
    .filter((c) => !enterprise || c.audience === 'enterprise_safety_officer' || due(c) > 0)
    .sort((a, b) => (store.expired[b.code] || 0) - (store.expired[a.code] || 0)
      || due(b) - due(a) || (store.upcoming[b.code] || 0) - (store.upcoming[a.code] || 0) || a.code.localeCompare(b.code));
}

function dialogCtx() {
  return {
    api: env.api, timezone: env.timezone, user: env.user, canWrite: can('training:write'), canReadUsers: can('user:read'),
    onChange: () => refreshTraining(),
  };
}

/** Open the training dialog from anywhere (window.citybrain.openTraining('overdue')). */
export function showTraining(tab = 'courses', options = {}) {
  return openTraining(dialogCtx(), tab, options);
}

/** The training card (panels.js); returns the cleanup (stops the poll). */
export function renderTrainingCard(body, ctx) {
  env = { api: ctx.api || defaultApi, timezone: ctx.timezone || 'Asia/Shanghai', user: ctx.user };
  if (window.citybrain) Object.assign(window.citybrain, { openTraining: showTraining, training: store });
  if (store.user?.id !== ctx.user?.id) {
    Object.assign(store, { user: ctx.user, courses: [], upcoming: {}, expired: {}, expiring: {}, status: 'loading', error: null });
  }
  body.classList.add('trn-card');

  const summary = h('span', { class: 'trn-summary' });
  const open = h('button', { type: 'button', class: 'btn btn-small trn-open', dataset: { action: 'open-training' },
    onclick: () => showTraining('courses') }, t('training.open'));
  const scope = ctx.user?.enterprise_id !== null && ctx.user?.enterprise_id !== undefined
    ? h('p', { class: 'trn-scope' }, t('training.card.enterpriseScope')) : null;
  const list = h('ul', { class: 'trn-courses', 'aria-label': t('training.card.list') });
  const message = h('p', { class: 'card-hint trn-message' });
  body.replaceChildren(...[h('div', { class: 'warn-bar trn-bar' }, summary, open), scope, list, message].filter(Boolean));

  function draw() {
    body.dataset.status = store.status;
    message.hidden = store.status === 'ready';
    if (store.status === 'loading') message.textContent = t('training.loading');
    else if (store.status === 'forbidden') message.textContent = t('training.forbidden');
    else if (store.status === 'error') message.textContent = problemText(store.error);
    open.hidden = store.status === 'forbidden';
    if (store.status !== 'ready') {
      summary.textContent = '';
      list.replaceChildren();
      return;
    }
    const courses = visibleCourses();
    const overdue = courses.reduce((n, c) => n + (store.expired[c.code] || 0), 0);
    summary.textContent = t('training.card.summary', { courses: courses.length, overdue });
    summary.classList.toggle('is-due', overdue > 0);
    list.replaceChildren(...courses.map((c) => {
      const expired = store.expired[c.code] || 0;
      const expiring = store.expiring[c.code] || 0;
      const upcoming = store.upcoming[c.code] || 0;
      return h('li', {},
        h('button', {
          type: 'button', class: 'trn-course', dataset: { code: c.code, overdue: String(expired), upcoming: String(upcoming) },
          title: `${c.code} · ${localized(c, 'title')}`,
          onclick: () => showTraining(expired || expiring ? 'overdue' : 'sessions', { course: c.code }),
        },
        h('span', { class: 'trn-title' }, localized(c, 'title')),
        h('span', { class: 'trn-counts' },
          h('span', { class: 'trn-upcoming' }, t('training.card.upcoming', { n: upcoming })),
          h('span', { class: `trn-overdue${expired ? ' is-due' : ''}` }, t('training.card.overdue', { n: expired })),
          expiring ? h('span', { class: 'trn-expiring' }, t('training.card.expiring', { n: expiring })) : null)));
    }));
    if (!courses.length) {
      message.hidden = false;
      message.textContent = t('training.card.none');
    }
  }

  listeners.add(draw);
  draw();
  refreshTraining();
  const timer = setInterval(() => {
    if (!document.hidden) refreshTraining();
  }, POLL_MS);
  return () => {
    clearInterval(timer);
    listeners.delete(draw);
  };
}
