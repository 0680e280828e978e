// Citizens in the loop (群防群治) on the dashboard: the case board card (counts by case status, overdue, the open
// cases with filters; a click opens the case page, case-page.js), the metrics dialog (reports per day by category
// and by district, time to first response, on-time close rate, duplicates, satisfaction, reopen rate) and, for
// users with report:write, the admin dialog (case-admin.js: routing table, time limits, moderation queue).
// All from /api/v1/cases, /reports/metrics and friends (docs/citizen-cases.md); the API scopes what a user sees.

import { api as defaultApi, ApiError } from './api.js';
import { h } from './dom.js';
import { t, intlLocale, onLangChange } from './i18n.js';
import { fmtDateTime } from './warning-page.js';
import { can, permissionsReady } from './warnings.js';
import { loadEcharts } from './chart.js';
import {
  BOARD_STATUSES, OPEN_STATUSES, caseStatusName, departmentName, districtName, dueText, fmtDuration, fmtNumber,
  loadRefs, openCase, problemText, serviceName, statusBadge,
} from './case-page.js';
import { openCaseAdmin } from './case-admin.js';

const POLL_MS = 30000;
const LIST_LIMIT = 100;

const board = {
  user: null, // the user the data below belongs to
  filter: { status: null, overdue: false, mine: false },
  counts: {}, overdue: 0, items: [], total: 0, status: 'off', error: null, refs: null, seq: 0,
};
const listeners = new Set();
let env = { api: defaultApi, timezone: 'Asia/Shanghai', user: null };

function emit() {
  for (const fn of listeners) fn();
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (Array.isArray(v)) for (const x of v) q.append(k, x);
    else if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
  }
  return q.toString();
}

/** Re-read the counts and the list (after an action, on the poll, when a filter changes). */
export async function refreshCases() {
  const user = env.user;
  if (!user) return;
  const seq = ++board.seq;
  const f = board.filter;
  const dept = f.mine && user.department ? user.department.code : null;
  try {
    const [refs, counts, overdue, page] = await Promise.all([
      loadRefs(env.api),
      Promise.all(BOARD_STATUSES.map((s) => env.api.get(`/api/v1/cases?${query({ case_status: s, department: dept, limit: 1 })}`)
        .then((p) => [s, p.total]))),
      env.api.get(`/api/v1/cases?${query({ overdue: true, department: dept, limit: 1 })}`).then((p) => p.total),
      env.api.get(`/api/v1/cases?${query({
        case_status: f.status ? [f.status] : OPEN_STATUSES, overdue: f.overdue ? true : null, department: dept, limit: LIST_LIMIT,
      })}`),
    ]);
    if (seq !== board.seq || env.user !== user) return;
    Object.assign(board, { refs, counts: Object.fromEntries(counts), overdue, items: page.items, total: page.total, status: 'ready', error: null });
  } catch (err) {
    if (seq !== board.seq || env.user !== user) return;
    board.error = err;
    board.status = err instanceof ApiError && err.status === 403 ? 'forbidden' : 'error';
  }
  emit();
}

/** Most urgent first: overdue, then the nearest due time, then the newest. */
function sorted(items) {
  const due = (c) => (Number.isFinite(c.seconds_left) ? c.seconds_left : Infinity);
  return [...items].sort((a, b) => Number(b.overdue) - Number(a.overdue) || due(a) - due(b)
    || Date.parse(b.requested_at) - Date.parse(a.requested_at));
}

function pageCtx() {
  return { api: env.api, timezone: env.timezone, user: env.user, onChange: () => refreshCases() };
}

/** Open a case page from anywhere (window.citybrain.openCase). */
export function showCase(id) {
  return openCase(id, pageCtx());
}

// ---- the card ------------------------------------------------------------------------------

/** Fill the case board card; returns the cleanup (stops the poll). */
export function renderCasesCard(body, ctx) {
  env = { api: ctx.api || defaultApi, timezone: ctx.timezone || 'Asia/Shanghai', user: ctx.user };
  if (window.citybrain) Object.assign(window.citybrain, { openCase: showCase, cases: board });
  if (board.user?.id !== ctx.user?.id) {
    Object.assign(board, { user: ctx.user, filter: { status: null, overdue: false, mine: false }, counts: {}, overdue: 0,
      items: [], total: 0, status: 'loading', error: null });
  }
  body.classList.add('warn-card', 'cases-card');

  const counts = h('div', { class: 'case-counts', role: 'group', 'aria-label': t('cases.counts') });
  const mine = h('input', { type: 'checkbox', id: 'cases-mine', checked: board.filter.mine,
    onchange: () => { board.filter.mine = mine.checked; refreshCases(); } });
  const overdueBox = h('input', { type: 'checkbox', id: 'cases-overdue', checked: board.filter.overdue,
    onchange: () => { board.filter.overdue = overdueBox.checked; draw(); refreshCases(); } });
  const filters = h('div', { class: 'case-filters' },
    h('label', { class: 'switch', for: 'cases-overdue' }, overdueBox, t('cases.filter.overdue')),
    ctx.user?.department ? h('label', { class: 'switch', for: 'cases-mine' }, mine, t('cases.filter.mine')) : null);
  const tools = h('div', { class: 'warn-bar case-tools' },
    filters,
    h('span', { class: 'case-links' },
      h('button', { type: 'button', class: 'link-btn warn-rules', dataset: { action: 'metrics' }, onclick: () => openMetrics() }, t('cases.metrics.open')),
      h('button', { type: 'button', class: 'link-btn warn-rules', dataset: { action: 'admin' }, hidden: true,
        onclick: () => openCaseAdmin({ api: env.api, timezone: env.timezone, onChange: () => refreshCases() }) }, t('cases.admin.open'))));
  const summary = h('p', { class: 'gaps-count case-summary' });
  const list = h('ul', { class: 'warn-list case-list', 'aria-label': t('cases.list') });
  body.replaceChildren(counts, tools, summary, list);

  function countButton(key, label, n, extra = {}) {
    return h('button', { type: 'button', class: `warn-count case-count ${extra.cls || ''}`, dataset: { key }, 'aria-pressed': String(Boolean(extra.pressed)),
      onclick: extra.onclick }, h('span', { class: 'warn-n' }, Number.isFinite(n) ? String(n) : '–'), h('span', {}, label));
  }

  function draw() {
    const refs = board.refs;
    const f = board.filter;
    tools.querySelector('[data-action=admin]').hidden = !can('report:write');
    body.dataset.status = board.status;
    counts.replaceChildren(
      ...BOARD_STATUSES.map((s) => countButton(s, caseStatusName(s), board.counts[s], {
        cls: `case-count-${s}`, pressed: f.status === s,
        onclick: () => { f.status = f.status === s ? null : s; draw(); refreshCases(); },
      })),
      countButton('overdue', t('cases.overdue'), board.overdue, {
        cls: `case-count-overdue${board.overdue ? ' has-overdue' : ''}`, pressed: f.overdue,
        onclick: () => { f.overdue = !f.overdue; overdueBox.checked = f.overdue; draw(); refreshCases(); },
      }));
    if (board.status === 'forbidden') {
      summary.textContent = '';
      list.replaceChildren(h('li', { class: 'empty-state' }, h('p', {}, t('cases.forbidden'))));
      return;
    }
    if (board.status === 'error' && !board.items.length) {
      summary.textContent = '';
      list.replaceChildren(h('li', { class: 'form-error' }, t('cases.error.load', { message: problemText(board.error) })));
      return;
    }
    summary.textContent = board.status === 'ready'
      ? t(f.status ? 'cases.summary.status' : 'cases.summary.open', { n: board.total, status: caseStatusName(f.status) }) : '';
    const items = sorted(board.items);
    if (!items.length) {
      list.replaceChildren(h('li', { class: 'empty-state' }, h('span', { class: 'empty-icon', 'aria-hidden': 'true' }),
        h('p', {}, t(board.status === 'loading' ? 'cases.loading' : 'cases.empty'))));
      return;
    }
    list.replaceChildren(...items.map((c) => {
      const due = dueText(c);
      return h('li', {}, h('button', {
        type: 'button', class: 'warn-item case-item',
        dataset: { id: String(c.id), status: c.case_status, overdue: String(Boolean(c.overdue)), number: c.service_request_id },
        onclick: () => showCase(c.id),
      },
      statusBadge(c.case_status),
      h('span', { class: 'warn-main' },
        h('span', { class: 'warn-summary' }, serviceName(refs, c.service_code),
          ' ', h('span', { class: 'mono case-sr' }, c.service_request_id)),
        h('span', { class: 'warn-sub' }, [districtName(refs, c.district), departmentName(refs, c.department) || t('cases.none'),
          h('time', { dateTime: c.requested_at, title: fmtDateTime(c.requested_at, env.timezone) }, fmtDateTime(c.requested_at, env.timezone, false))]
          .filter(Boolean).flatMap((x, i) => (i ? [' · ', x] : [x])))),
      h('span', { class: 'warn-badges' },
        due ? h('span', { class: `state-badge case-due${due.overdue ? ' case-overdue' : ''}`, title: c.due_at ? fmtDateTime(c.due_at, env.timezone) : '' }, due.text) : null,
        c.me_too_count ? h('span', { class: 'state-badge case-metoo', title: t('cases.meToo', { n: c.me_too_count }) }, `+${c.me_too_count}`) : null,
        c.dispatch_count > 1 ? h('span', { class: 'state-badge' }, t('cases.redispatched', { n: c.dispatch_count })) : null)));
    }));
  }

  listeners.add(draw);
  draw();
  let timer = null;
  let disposed = false;
  Promise.resolve(permissionsReady()).then(() => {
    if (disposed || env.user !== ctx.user) return;
    draw();
    if (!can('report:read') && !(ctx.user?.roles || []).includes('admin')) {
      board.status = 'forbidden';
      draw();
      return;
    }
    refreshCases();
    timer = setInterval(() => { if (!document.hidden) refreshCases(); }, POLL_MS);
  });
  return () => {
    disposed = true;
    listeners.delete(draw);
    clearInterval(timer);
  };
}

// ---- metrics -------------------------------------------------------------------------------

let metricsDialog = null;
let metrics = null; // {days, data, charts: [], closed}

function ensureMetricsDialog() {
  if (metricsDialog) return metricsDialog;
  metricsDialog = h('dialog', { id: 'case-metrics-dialog', class: 'dialog dialog-warning dialog-case-metrics', 'aria-labelledby': 'case-metrics-title' });
  metricsDialog.addEventListener('click', (e) => {
    if (e.target === metricsDialog) metricsDialog.close();
  });
  metricsDialog.addEventListener('close', disposeMetrics);
  document.body.append(metricsDialog);
  onLangChange(() => metricsDialog.open && metrics?.data && renderMetrics());
  return metricsDialog;
}

function disposeMetrics() {
  if (!metrics) return;
  metrics.closed = true;
  for (const c of metrics.charts) c.dispose();
  metrics.resize?.disconnect();
  metrics = null;
}

/** The metrics dialog over the last `days` days. */
export async function openMetrics(days = 30) {
  ensureMetricsDialog();
  disposeMetrics();
  metrics = { days, data: null, charts: [], closed: false };
  const mine = metrics;
  delete metricsDialog.dataset.charts;
  metricsDialog.replaceChildren(h('div', { class: 'dialog-form' }, h('p', { class: 'dialog-hint' }, t('cases.metrics.loading'))));
  if (!metricsDialog.open) metricsDialog.showModal();
  try {
    const until = new Date();
    const since = new Date(until.getTime() - days * 86400000);
    const [data, refs] = await Promise.all([
      env.api.get(`/api/v1/reports/metrics?${query({ since: since.toISOString(), until: until.toISOString() })}`),
      loadRefs(env.api),
    ]);
    if (mine.closed) return;
    Object.assign(mine, { data, refs });
    renderMetrics();
  } catch (err) {
    if (mine.closed) return;
    metricsDialog.replaceChildren(h('div', { class: 'dialog-form' },
      h('p', { class: 'form-error', role: 'alert' }, problemText(err)),
      h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'btn btn-primary', onclick: () => metricsDialog.close() }, t('common.close')))));
  }
}

const pct = (v) => (v === null || v === undefined ? '–' : new Intl.NumberFormat(intlLocale(), { style: 'percent', maximumFractionDigits: 1 }).format(v));

function tile(key, label, value, sub) {
  return h('div', { class: 'case-tile', dataset: { metric: key } },
    h('span', { class: 'case-tile-label' }, label),
    h('strong', { class: 'case-tile-value' }, value),
    sub ? h('span', { class: 'case-tile-sub' }, sub) : null);
}

/** Every Shanghai calendar day from `since` to `until`, as YYYY-MM-DD (the API's day keys). */
function daysBetween(since, until, timeZone) {
  const f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
  const out = [];
  const end = f.format(new Date(until));
  for (let ms = Date.parse(since); out.length < 400; ms += 86400000) {
    const day = f.format(new Date(ms));
    if (out[out.length - 1] !== day) out.push(day);
    if (day >= end) break;
  }
  return out;
}

function renderMetrics() {
  const mine = metrics;
  const { data: m, refs } = mine;
  for (const c of mine.charts) c.dispose();
  mine.charts = [];
  mine.resize?.disconnect();
  const tz = m.timezone || env.timezone;
  const close = h('button', { type: 'button', class: 'icon-btn card-close', 'aria-label': t('common.close'), title: t('common.close'), onclick: () => metricsDialog.close() },
    h('span', { class: 'close-x', 'aria-hidden': 'true' }));
  const period = h('select', { id: 'case-metrics-days', 'aria-label': t('cases.metrics.period'),
    onchange: () => openMetrics(Number(period.value)) },
  [7, 30, 90].map((d) => h('option', { value: String(d), selected: d === mine.days }, t('cases.metrics.days', { n: d }))));
  const fr = m.first_response || {};
  const ot = m.on_time || {};
  const sat = m.satisfaction || {};
  const re = m.reopen || {};
  const tiles = h('div', { class: 'case-tiles' },
    tile('reports', t('cases.metrics.reports'), String(m.reports)),
    tile('first_response', t('cases.metrics.firstResponse'),
      Number.isFinite(fr.median_s) ? fmtDuration(fr.median_s) : '–',
      Number.isFinite(fr.p90_s) ? t('cases.metrics.p90', { d: fmtDuration(fr.p90_s), n: fr.count }) : t('cases.metrics.noData')),
    tile('on_time', t('cases.metrics.onTime'), pct(ot.rate), t('cases.metrics.onTimeSub', { n: ot.on_time ?? 0, of: ot.with_time_limit ?? 0 })),
    tile('duplicates', t('cases.metrics.duplicates'), String(m.duplicates_merged ?? 0), t('cases.metrics.rejected', { n: m.rejected ?? 0 })),
    tile('satisfaction', t('cases.metrics.satisfaction'), Number.isFinite(sat.mean) ? `★ ${fmtNumber(sat.mean, 2)}` : '–',
      t('cases.metrics.satisfactionSub', { share: pct(sat.share_4_plus), n: sat.rated ?? 0 })),
    tile('reopen', t('cases.metrics.reopen'), pct(re.rate), t('cases.metrics.reopenSub', { n: re.reopened ?? 0, of: re.closed_ever ?? 0 })));
  const byDay = h('div', { class: 'case-chart', id: 'case-chart-days', role: 'img', 'aria-label': t('cases.metrics.perDay') });
  const byDistrict = h('div', { class: 'case-chart', id: 'case-chart-districts', role: 'img', 'aria-label': t('cases.metrics.perDistrict') });
  metricsDialog.replaceChildren(h('div', { class: 'dialog-form warning-page case-metrics' },
    h('header', { class: 'warning-head' }, h('h2', { id: 'case-metrics-title', class: 'dialog-title' }, t('cases.metrics.title')), period, close),
    h('p', { class: 'dialog-hint' }, t('cases.metrics.window', { since: fmtDateTime(m.since, tz, false), until: fmtDateTime(m.until, tz, false) })),
    tiles,
    h('div', { class: 'warning-cols' },
      h('section', {}, h('h3', { class: 'card-sub' }, t('cases.metrics.perDay')), byDay),
      h('section', {}, h('h3', { class: 'card-sub' }, t('cases.metrics.perDistrict')), byDistrict))));

  const days = daysBetween(m.since, m.until, tz);
  const codes = [...new Set(m.per_day_by_category.map((x) => x.service_code))];
  const districts = new Map();
  for (const x of m.per_day_by_district) districts.set(x.district ?? '', (districts.get(x.district ?? '') || 0) + x.count);
  const districtRows = [...districts.entries()].sort((a, b) => a[1] - b[1]);
  loadEcharts().then((echarts) => {
    if (mine.closed || metrics !== mine) return;
    const axis = { axisLabel: { color: '#9fb0c6', fontSize: 11 }, axisLine: { lineStyle: { color: 'rgba(120,160,210,0.35)' } } };
    const split = { splitLine: { lineStyle: { color: 'rgba(120,160,210,0.12)' } } };
    const base = { animation: false, backgroundColor: 'transparent', textStyle: { fontFamily: 'inherit', color: '#9fb0c6' },
      tooltip: { trigger: 'axis', backgroundColor: '#0f1b2f', borderColor: 'rgba(120,170,230,0.35)', textStyle: { color: '#e6edf7', fontSize: 12 } } };
    const dayChart = echarts.init(byDay, null, { renderer: 'canvas' });
    dayChart.setOption({
      ...base,
      grid: { left: 36, right: 12, top: 34, bottom: 24 },
      legend: { top: 0, type: 'scroll', textStyle: { color: '#9fb0c6', fontSize: 11 }, itemWidth: 12, itemHeight: 8 },
      xAxis: { type: 'category', data: days, ...axis, axisLabel: { ...axis.axisLabel, formatter: (d) => d.slice(5) } },
      yAxis: { type: 'value', minInterval: 1, ...axis, ...split },
      series: codes.map((code) => {
        const per = new Map(m.per_day_by_category.filter((x) => x.service_code === code).map((x) => [x.day, x.count]));
        return { name: serviceName(refs, code), type: 'bar', stack: 'reports', barMaxWidth: 18, data: days.map((d) => per.get(d) || 0) };
      }),
    });
    const districtChart = echarts.init(byDistrict, null, { renderer: 'canvas' });
    districtChart.setOption({
      ...base,
      tooltip: { ...base.tooltip, axisPointer: { type: 'shadow' } },
      grid: { left: 8, right: 16, top: 8, bottom: 20, containLabel: true },
      xAxis: { type: 'value', minInterval: 1, ...axis, ...split },
      yAxis: { type: 'category', data: districtRows.map(([code]) => districtName(refs, code) || t('cases.noDistrict')), ...axis },
      series: [{ name: t('cases.metrics.reports'), type: 'bar', barMaxWidth: 16, itemStyle: { color: '#22d3ee' }, data: districtRows.map(([, n]) => n) }],
    });
    mine.charts.push(dayChart, districtChart);
    mine.resize = new ResizeObserver(() => mine.charts.forEach((c) => c.resize()));
    mine.resize.observe(byDay);
    metricsDialog.dataset.charts = 'ready';
  }).catch((err) => {
    if (!mine.closed) byDay.replaceChildren(h('p', { class: 'dialog-hint' }, String(err.message || err)));
  });
}
