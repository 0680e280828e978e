// Dual prevention (双重预防) on the dashboard: the hazard board card (隐患治理). Counts by status (a click lists
// that status), overdue and supervised (挂牌督办) highlighted, this quarter's on-time rectification rate, links to
// the quarterly report and the CSV export, filter chips (overdue, major, my to-do) and the open hazards; a click
// opens the hazard page (hazard-page.js). An enterprise safety officer gets "本企业隐患": only its own hazards
// (the API scopes them), what it must do next (plan, rectify, resubmit a returned one with the reasons) and the
// submission with photos. The risk-map layer is in riskmap-layer.js.

import { api, ApiError } from './api.js';
import { h } from './dom.js';
import { t, getLang, intlLocale } from './i18n.js';
import { fmtDateTime } from './warning-page.js';
import { can, permissionsReady } from './warnings.js';
import {
  NEXT_PART, OPEN_STATUSES, STATUSES, enterpriseLabel, gradeChip, hazardBadges, isEnterpriseUser, lastReturn,
  onHazardChange, openHazard, statusBadge, statusName,
} from './hazard-page.js';

const POLL_MS = 60000;
const LIMIT = 500;
const SHOW = 60;
const CITY_WIDE_ROLES = ['admin', 'duty_officer', 'analyst', 'data_steward'];
const FILTERS = ['overdue', 'major', 'mine'];

const fmt = (n, digits = 1) => new Intl.NumberFormat(intlLocale(), { maximumFractionDigits: digits }).format(n);
const pct = (x) => new Intl.NumberFormat(intlLocale(), { style: 'percent', maximumFractionDigits: 1 }).format(x);

/** This quarter in Shanghai time: {year, quarter}. */
function shanghaiQuarter(now = new Date()) {
  const [year, month] = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit' })
    .format(now).split('-').map(Number);
  return { year, quarter: Math.floor((month - 1) / 3) + 1 };
}

function cityWide(user) {
  return (user.roles || []).some((r) => CITY_WIDE_ROLES.includes(r)) || user.department?.code === 'ops';
}

/** Whether the next step of `hz` is the signed-in user's to take (an approximation of the API's parts). */
function mine(hz, user) {
  const next = NEXT_PART[hz.status];
  if (!next) return false;
  if (isEnterpriseUser(user)) return next === 'enterprise' && hz.enterprise_id === user.enterprise_id;
  if (!can('hazard:act')) return false;
  const ownDept = cityWide(user) || hz.supervising_department === user.department?.code;
  return ownDept && (next === 'department' || hz.enterprise_id == null);
}

/** Most urgent first: overdue (longest first), supervised, major, nearest deadline, newest. */
function urgency(a, b) {
  return (Number(b.overdue) - Number(a.overdue)) || (b.days_overdue - a.days_overdue)
    || (Number(b.supervised) - Number(a.supervised)) || (Number(b.grade === 'major') - Number(a.grade === 'major'))
    || ((a.deadline_at ? Date.parse(a.deadline_at) : Infinity) - (b.deadline_at ? Date.parse(b.deadline_at) : Infinity))
    || (b.id - a.id);
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const x of [].concat(v)) q.append(k, String(x));
  return `/api/v1/hazards?${q}`;
}

/** What an enterprise must do next about one of its hazards. */
function todoText(hz, reasons, tz) {
  const deadline = hz.deadline_at ? fmtDateTime(hz.deadline_at, tz, false) : '–';
  switch (hz.status) {
    case 'found':
    case 'registered': return t('hazards.todo.waitGrade');
    case 'graded': return t('hazards.todo.plan');
    case 'planned': return t('hazards.todo.start', { deadline });
    case 'rectifying': return hz.return_count > 0 ? t('hazards.todo.resubmit', { reasons: reasons || '–', deadline }) : t('hazards.todo.submit', { deadline });
    case 'submitted': return t('hazards.todo.waitVerify');
    case 'verified': return t('hazards.todo.waitClose');
    default: return statusName(hz.status);
  }
}

/** The hazard board card (panels.js). */
export function renderHazardsCard(body, ctx) {
  const user = ctx.user;
  const tz = ctx.timezone || 'Asia/Shanghai';
  const enterprise = isEnterpriseUser(user);
  const title = body.parentElement?.querySelector('.card-title');
  if (title) {
    title.dataset.i18n = enterprise ? 'panel.hazards.enterprise' : 'panel.hazards';
    title.textContent = t(title.dataset.i18n);
  }
  body.classList.add('warn-card', 'hz-card');
  body.dataset.view = enterprise ? 'enterprise' : 'department';

  const state = { open: [], closedTotal: 0, stats: null, status: null, statusItems: null, filters: new Set(), error: null, loading: true, forbidden: false, reasons: new Map() };
  const counts = h('div', { class: 'hz-counts', role: 'group', 'aria-label': t('hazards.counts') });
  const rate = h('div', { class: 'hz-rate' });
  const links = h('div', { class: 'hz-links' });
  const chips = h('div', { class: 'hz-filters', role: 'group', 'aria-label': t('hazards.filters') });
  const todo = h('ul', { class: 'hz-todo', hidden: true, 'aria-label': t('hazards.todo.title') });
  const list = h('ul', { class: 'warn-list hz-list', 'aria-label': t('panel.hazards') });
  const more = h('p', { class: 'gaps-more', hidden: true });
  body.replaceChildren(...[enterprise ? h('h3', { class: 'card-sub hz-todo-title' }, t('hazards.todo.title')) : null, todo, counts, rate, chips, list, more, links].filter(Boolean));
  let alive = true;

  async function refresh() {
    try {
      await permissionsReady();
      if (!alive) return;
      if (!can('hazard:read')) {
        state.forbidden = true;
        state.loading = false;
        draw();
        return;
      }
      const [open, closed, stats] = await Promise.all([
        api.get(query({ status: OPEN_STATUSES, limit: LIMIT })),
        api.get(query({ status: 'closed', limit: state.status === 'closed' ? 100 : 1 })),
        api.get('/api/v1/hazards/stats').catch(() => null),
      ]);
      if (!alive) return;
      Object.assign(state, { open: open.items, openTotal: open.total, closedTotal: closed.total, stats, error: null, loading: false });
      state.statusItems = state.status === 'closed' ? closed.items : null;
      if (open.total > open.items.length) state.exactCounts = await exactCounts();
      else state.exactCounts = null;
      if (enterprise) await loadReasons();
    } catch (err) {
      if (!alive) return;
      state.loading = false;
      state.error = err;
      if (err instanceof ApiError && err.status === 403) state.forbidden = true;
    }
    if (alive) draw();
  }

  async function exactCounts() {
    const totals = await Promise.all(OPEN_STATUSES.map((s) => api.get(query({ status: s, limit: 1 })).then((p) => p.total, () => null)));
    return Object.fromEntries(OPEN_STATUSES.map((s, i) => [s, totals[i]]));
  }

  /** The reasons of the latest return of each returned hazard (from its history; read once per return). */
  async function loadReasons() {
    const returned = state.open.filter((hz) => hz.status === 'rectifying' && hz.return_count > 0);
    await Promise.all(returned.map(async (hz) => {
      const key = `${hz.id}:${hz.return_count}`;
      if (state.reasons.has(key)) return;
      const events = await api.get(`/api/v1/hazards/${hz.id}/events`).catch(() => []);
      state.reasons.set(key, lastReturn(events));
    }));
  }

  function countOf(status) {
    if (status === 'closed') return state.closedTotal;
    if (state.exactCounts) return state.exactCounts[status] ?? 0;
    return state.open.filter((hz) => hz.status === status).length;
  }

  function pick(status) {
    state.status = state.status === status ? null : status;
    if (state.status === 'closed') refresh();
    else draw();
  }

  function drawCounts() {
    const overdue = state.open.filter((hz) => hz.overdue).length;
    const supervised = state.open.filter((hz) => hz.supervised).length;
    const returned = state.open.filter((hz) => hz.status === 'rectifying' && hz.return_count > 0).length;
    const cell = (status, n, extra = '') => h('button', {
      type: 'button', class: `hz-count${extra}`, dataset: { status }, 'aria-pressed': String(state.status === status),
      onclick: () => pick(status),
    }, h('span', { class: 'hz-n mono' }, String(n ?? '–')), h('span', { class: 'hz-count-name' }, statusName(status)));
    counts.replaceChildren(
      ...STATUSES.map((s) => cell(s, countOf(s))),
      h('span', { class: 'hz-count hz-count-flag', dataset: { flag: 'returned', n: String(returned) } }, h('span', { class: 'hz-n mono' }, String(returned)), h('span', { class: 'hz-count-name' }, t('hazards.count.returned'))),
      h('span', { class: `hz-count hz-count-flag${overdue ? ' hot' : ''}`, dataset: { flag: 'overdue', n: String(overdue) } }, h('span', { class: 'hz-n mono' }, String(overdue)), h('span', { class: 'hz-count-name' }, t('hazards.count.overdue'))),
      h('span', { class: `hz-count hz-count-flag${supervised ? ' warm' : ''}`, dataset: { flag: 'supervised', n: String(supervised) } }, h('span', { class: 'hz-n mono' }, String(supervised)), h('span', { class: 'hz-count-name' }, t('hazards.count.supervised'))));
  }

  function drawRate() {
    const total = state.stats?.total;
    if (!total) {
      rate.replaceChildren();
      return;
    }
    rate.dataset.rate = total.on_time_rate === null ? '' : String(total.on_time_rate);
    rate.replaceChildren(
      h('span', { class: 'hz-rate-label' }, t('hazards.rate.label')),
      h('strong', { class: 'hz-rate-value mono' }, total.on_time_rate === null ? '–' : pct(total.on_time_rate)),
      h('span', { class: 'hz-rate-sub' }, t('hazards.rate.sub', { onTime: total.closed_on_time, closed: total.closed, found: total.found, overdue: total.overdue_open })));
  }

  function drawLinks() {
    const { year, quarter } = shanghaiQuarter();
    const lang = getLang() === 'zh-CN' ? 'zh-CN' : 'en';
    links.replaceChildren(
      h('a', { class: 'hz-report-link', href: `/api/v1/hazards/reports/quarterly?year=${year}&quarter=${quarter}&lang=${lang}`, target: '_blank', rel: 'noopener' },
        t('hazards.report', { year, quarter })),
      ' (',
      h('a', { class: 'hz-report-pdf', href: `/api/v1/hazards/reports/quarterly?year=${year}&quarter=${quarter}&lang=${lang}&format=pdf`, target: '_blank', rel: 'noopener' },
        t('hazards.report.pdf')),
      ') · ',
      h('a', { class: 'hz-csv-link', href: '/api/v1/hazards/export.csv', download: '' }, t('hazards.csv')));
  }

  function drawChips() {
    chips.replaceChildren(...FILTERS.filter((f) => !(enterprise && f === 'mine')).map((f) => h('button', {
      type: 'button', class: 'hz-chip', dataset: { filter: f }, 'aria-pressed': String(state.filters.has(f)),
      onclick: () => {
        if (state.filters.has(f)) state.filters.delete(f);
        else state.filters.add(f);
        draw();
      },
    }, t(`hazards.filter.${f}`))));
  }

  function visible() {
    let items = state.status === 'closed' ? state.statusItems || [] : state.open;
    if (state.status && state.status !== 'closed') items = items.filter((hz) => hz.status === state.status);
    if (state.filters.has('overdue')) items = items.filter((hz) => hz.overdue);
    if (state.filters.has('major')) items = items.filter((hz) => hz.grade === 'major');
    if (state.filters.has('mine')) items = items.filter((hz) => mine(hz, user));
    return [...items].sort(state.status === 'closed' ? (a, b) => Date.parse(b.closed_at) - Date.parse(a.closed_at) : urgency);
  }

  function row(hz) {
    const deadline = hz.deadline_at ? h('time', { dateTime: hz.deadline_at, class: hz.overdue ? 'overdue-text' : '' },
      `${t('hazards.deadline')} ${fmtDateTime(hz.deadline_at, tz, false)}${hz.overdue ? ` · ${t('hazards.overdueDays', { n: fmt(hz.days_overdue) })}` : ''}`) : null;
    return h('li', {}, h('button', {
      type: 'button', class: 'warn-item hz-item',
      dataset: { id: String(hz.id), code: hz.code, status: hz.status, grade: hz.grade || 'none', overdue: String(hz.overdue), supervised: String(hz.supervised) },
      onclick: () => openHazard(hz.id),
    },
    gradeChip(hz),
    h('span', { class: 'warn-main' },
      h('span', { class: 'warn-summary' }, hz.title),
      h('span', { class: 'warn-sub' }, [h('span', { class: 'mono' }, hz.code),
        enterpriseLabel(hz),
        deadline].filter(Boolean).flatMap((x, i) => (i ? [' · ', x] : [x])))),
    h('span', { class: 'warn-badges' }, statusBadge(hz), ...hazardBadges(hz))));
  }

  function drawTodo() {
    if (!enterprise) {
      todo.hidden = true;
      return;
    }
    const items = state.open.filter((hz) => NEXT_PART[hz.status] === 'enterprise').sort(urgency);
    todo.hidden = false;
    if (!items.length) {
      todo.replaceChildren(h('li', { class: 'hz-todo-none' }, t('hazards.todo.none')));
      return;
    }
    todo.replaceChildren(...items.map((hz) => {
      const reasons = state.reasons.get(`${hz.id}:${hz.return_count}`);
      const focus = hz.status === 'rectifying' ? 'submit' : hz.status === 'graded' ? 'plan' : null;
      return h('li', { class: `hz-todo-item${hz.overdue ? ' overdue' : ''}`, dataset: { id: String(hz.id), status: hz.status } },
        h('button', { type: 'button', class: 'link-btn hz-todo-open', onclick: () => openHazard(hz.id, { focus }) },
          h('span', { class: 'mono' }, hz.code), ' ', hz.title),
        h('span', { class: `hz-todo-text${hz.return_count > 0 && hz.status === 'rectifying' ? ' returned' : ''}` }, todoText(hz, reasons, tz),
          hz.overdue ? ` · ${t('hazards.overdueDays', { n: fmt(hz.days_overdue) })}` : ''),
        hz.status === 'rectifying' ? h('button', { type: 'button', class: 'btn btn-primary btn-small', dataset: { action: 'open-submit' }, onclick: () => openHazard(hz.id, { focus: 'submit' }) }, t('hazards.act.submit'))
          : hz.status === 'graded' ? h('button', { type: 'button', class: 'btn btn-primary btn-small', dataset: { action: 'open-plan' }, onclick: () => openHazard(hz.id, { focus: 'plan' }) }, t('hazards.act.plan'))
            : null);
    }));
  }

  function draw() {
    if (state.forbidden) {
      body.replaceChildren(h('div', { class: 'empty-state' }, h('p', {}, t('hazards.forbidden'))));
      return;
    }
    drawCounts();
    drawRate();
    drawLinks();
    drawChips();
    drawTodo();
    const items = visible();
    body.dataset.count = String(items.length);
    body.dataset.loading = String(state.loading);
    if (state.error && !state.open.length) {
      list.replaceChildren(h('li', { class: 'form-error' }, t('hazards.error.load', { message: state.error.message })));
    } else if (!items.length) {
      list.replaceChildren(h('li', { class: 'empty-state' }, h('span', { class: 'empty-icon', 'aria-hidden': 'true' }),
        h('p', {}, t(state.loading ? 'hazards.loading' : state.status || state.filters.size ? 'hazards.empty.filtered' : 'hazards.empty'))));
    } else {
      list.replaceChildren(...items.slice(0, SHOW).map(row));
    }
    more.hidden = items.length <= SHOW;
    more.textContent = t('gaps.more', { n: items.length - SHOW });
  }

  draw();
  refresh();
  const timer = setInterval(refresh, POLL_MS);
  const offChange = onHazardChange(() => refresh());
  if (window.citybrain) window.citybrain.openHazard = (id, opts) => openHazard(id, opts);
  return () => {
    alive = false;
    clearInterval(timer);
    offChange();
  };
}
