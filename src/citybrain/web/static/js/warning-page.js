// The warning page (a dialog): what fired, where and when; the device's chart around the trigger with the
// rule's thresholds; the full history; and the duty actions (acknowledge, escalate, resolve, comment,
// silence, CAP download). Also the level chip and Shanghai-time formatting shared by the warning modules.

import { ApiError } from './api.js';
import { h } from './dom.js';
import { createPageDialog, say, showLoadError, showLoading } from './page-dialog.js';
import { t, has, getLang, intlLocale, localized } from './i18n.js';
import { loadEcharts, seriesOption } from './chart.js';

/** The four levels, most severe first; colours match the CSS variables --level-*. */
export const LEVELS = [
  { level: 'red', roman: 'I', color: '#e5484d' },
  { level: 'orange', roman: 'II', color: '#f76b15' },
  { level: 'yellow', roman: 'III', color: '#ffc53d' },
  { level: 'blue', roman: 'IV', color: '#3e8bff' },
];
export const LEVEL_COLOR = Object.fromEntries(LEVELS.map((l) => [l.level, l.color]));
const ROMAN = Object.fromEntries(LEVELS.map((l) => [l.level, l.roman]));
const BEFORE_MS = 3600 * 1000; // the chart starts an hour before the trigger
const SILENCE_HOURS = [1, 4, 24];
const lookup = (prefix, value) => (has(`${prefix}.${value}`) ? t(`${prefix}.${value}`) : String(value ?? ''));

export const levelName = (level) => lookup('warnings.level', level);
export const stateName = (state) => lookup('warnings.state', state);

/** A level chip: colour plus its Roman numeral and name, so the level is never told by colour alone. */
export function levelChip(level, { long = false } = {}) {
  const roman = ROMAN[level] || '?';
  const full = t('warnings.level.full', { roman, name: levelName(level) });
  return h('span', { class: `level-chip level-${level}`, dataset: { level }, title: full, 'aria-label': full },
    long ? full : `${roman} ${levelName(level)}`);
}

export function fmtDateTime(value, timeZone = 'Asia/Shanghai', seconds = true) {
  if (!value) return '–';
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return new Intl.DateTimeFormat(intlLocale(), {
    timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
    ...(seconds ? { second: '2-digit' } : {}), hour12: false,
  }).format(d);
}

export function summaryOf(w) {
  return localized(w, 'summary') || w.rule;
}

/** The API's words for a failure: problem+json detail and each field problem. */
export function problemText(err) {
  if (err instanceof ApiError && err.status === 403) return t('warnings.error.forbidden');
  const fields = (err?.problem?.errors || []).map((e) => `${e.field}: ${e.message}`);
  return [err?.detail || err?.message || String(err), ...fields].join('\n');
}

/** Threshold lines from a rule definition: the top-level threshold condition, or the first one inside any/all. */
function thresholdsOf(definition) {
  const find = (c) => {
    if (!c || typeof c !== 'object') return null;
    if (c.kind === 'threshold' && c.levels) return c.levels;
    for (const sub of c.conditions || []) {
      const found = find(sub);
      if (found) return found;
    }
    return null;
  };
  const levels = find(definition?.when) || {};
  return LEVELS.filter((l) => Number.isFinite(levels[l.level])).map((l) => ({ ...l, value: levels[l.level] }));
}

let dialog = null;
let current = null; // {id, ctx, detail, rule, chart, resize, closed}

function ensureDialog() {
  dialog ||= createPageDialog({ id: 'warning-dialog', cls: 'dialog dialog-warning', labelledBy: 'warning-title',
    onClosed: dispose, onLang: () => current?.detail && render() });
  return dialog;
}

function dispose() {
  if (!current) return;
  current.closed = true;
  current.resize?.disconnect();
  current.chart?.dispose();
  current = null;
}

/** Open the page for warning `id`. ctx = {api, timezone, can(permission), onChange(warning), placeOf(warning)}. */
export async function openWarning(id, ctx) {
  ensureDialog();
  dispose();
  current = { id: Number(id), ctx, detail: null, rule: null, chart: null, resize: null, closed: false };
  const mine = current;
  dialog.dataset.warningId = String(id);
  showLoading(dialog, t('warnings.loading'));
  try {
    await load(mine);
  } catch (err) {
    if (mine.closed) return;
    showLoadError(dialog, problemText(err));
  }
}

/** The warning changed elsewhere (stream): redraw its open page, unless the user is typing or acting. */
export function refreshWarning(id) {
  const mine = current;
  if (!mine || mine.id !== Number(id) || !mine.detail || mine.busy) return;
  if (dialog.querySelector('#warning-comment')?.value.trim()) return;
  load(mine).catch(() => {});
}

async function load(mine) {
  const { api } = mine.ctx;
  const detail = await api.get(`/api/v1/warnings/${mine.id}`);
  if (mine.closed) return;
  mine.detail = detail;
  if (!mine.rule || mine.rule.key !== detail.rule) {
    mine.rule = await api.get(`/api/v1/warning-rules/${encodeURIComponent(detail.rule)}`).catch(() => null);
  }
  if (mine.closed) return;
  render();
}

function kvRow(key, value) {
  return value === null || value === undefined || value === '' ? [] : [h('dt', {}, t(key)), h('dd', {}, value)];
}

function render() {
  const mine = current;
  const { ctx, detail: w, rule } = mine;
  const tz = ctx.timezone || 'Asia/Shanghai';
  mine.resize?.disconnect();
  mine.chart?.dispose();
  mine.chart = null;
  dialog.dataset.state = w.state;
  const labels = h('div', { class: 'chips' }, Object.entries(w.labels || {})
    .filter(([k]) => !['rule', 'level', 'department'].includes(k))
    .map(([k, v]) => h('span', { class: 'label-chip mono' }, `${k}=${v}`)));
  const ruleName = rule ? localized(rule) || rule.key : w.rule;
  const meta = h('dl', { class: 'kv' },
    ...kvRow('warnings.field.rule', `${ruleName} (${w.rule})`),
    ...kvRow('warnings.field.level', w.peak_level !== w.level ? t('warnings.peak', { level: levelName(w.level), peak: levelName(w.peak_level) }) : levelName(w.level)),
    ...kvRow('warnings.field.place', ctx.placeOf?.(w)),
    ...kvRow('warnings.field.department', w.department),
    ...kvRow('warnings.field.value', Number.isFinite(w.value) ? new Intl.NumberFormat(intlLocale(), { maximumFractionDigits: 3 }).format(w.value) : null),
    ...kvRow('warnings.field.starts', fmtDateTime(w.starts_at, tz)),
    ...kvRow('warnings.field.fired', w.fired_at && fmtDateTime(w.fired_at, tz)),
    ...kvRow('warnings.field.acknowledged', w.acknowledged_at && `${fmtDateTime(w.acknowledged_at, tz)} · ${w.acknowledged_by || ''}`),
    ...kvRow('warnings.field.assignee', w.assignee),
    ...kvRow('warnings.field.resolved', w.resolved_at && `${fmtDateTime(w.resolved_at, tz)} · ${w.resolved_by || ''}`),
    ...kvRow('warnings.field.escalation', w.escalation_step ? String(w.escalation_step) : null),
    ...kvRow('warnings.field.silenced', w.silenced_by),
    ...kvRow('warnings.field.inhibited', w.inhibited_by),
    ...kvRow('warnings.field.updated', fmtDateTime(w.updated_at, tz)),
  );
  const chartEl = h('div', { class: 'warning-chart', role: 'img', 'aria-label': t('warnings.chart') });
  const chartNote = h('p', { class: 'chart-note' }, t('warnings.loading'));
  const errorEl = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const okEl = h('p', { class: 'form-ok', role: 'status', hidden: true });
  const close = h('button', { type: 'button', class: 'icon-btn card-close', 'aria-label': t('common.close'), title: t('common.close'), onclick: () => dialog.close() },
    h('span', { class: 'close-x', 'aria-hidden': 'true' }));
  dialog.replaceChildren(h('div', { class: 'dialog-form warning-page' },
    h('header', { class: 'warning-head' }, levelChip(w.level, { long: true }),
      h('span', { class: `state-badge state-${w.state}` }, stateName(w.state)),
      w.suppressed ? h('span', { class: 'state-badge state-suppressed' }, t(w.silenced_by ? 'warnings.badge.silenced' : 'warnings.badge.inhibited')) : null,
      close),
    h('h2', { id: 'warning-title', class: 'dialog-title' }, summaryOf(w)),
    getLang() === 'zh-CN' && w.summary_en ? h('p', { class: 'dialog-hint' }, w.summary_en) : null,
    labels,
    h('div', { class: 'warning-cols' },
      h('section', {}, meta, h('h3', { class: 'card-sub' }, t('warnings.chart')), h('div', { class: 'chart-wrap' }, chartEl, chartNote)),
      h('section', {}, h('h3', { class: 'card-sub' }, t('warnings.history')), history(w, tz), actions(w, errorEl, okEl), errorEl, okEl))));
  drawChart(mine, chartEl, chartNote).catch((err) => {
    if (!mine.closed) chartNote.textContent = t('warnings.chart.error', { message: err.message });
  });
}

function eventDetail(e) {
  const d = e.detail || {};
  const parts = [];
  if (e.from_state && e.from_state !== e.to_state) parts.push(`${stateName(e.from_state)} → ${stateName(e.to_state)}`);
  if (d.assignee) parts.push(t('warnings.event.assignee', { name: d.assignee }));
  if (d.step) parts.push(t('warnings.event.step', { n: d.step }));
  if (Number.isFinite(d.value)) parts.push(t('warnings.event.value', { value: d.value }));
  if (d.source) parts.push(String(d.source));
  const text = d.text || d.comment;
  return [parts.join(' · '), text ? h('q', { class: 'event-text' }, text) : null];
}

function history(w, tz) {
  const events = w.history || [];
  if (!events.length) return h('p', { class: 'dialog-hint' }, t('warnings.history.none'));
  return h('ol', { class: 'warning-history' }, events.map((e) => h('li', { dataset: { kind: e.kind } },
    h('span', { class: 'event-dot', style: { '--dot': LEVEL_COLOR[e.level] || '#8b98a9' }, 'aria-hidden': 'true' }),
    h('div', {},
      h('div', { class: 'event-head' }, h('strong', {}, lookup('warnings.event', e.kind)), h('time', { class: 'mono', dateTime: e.at }, fmtDateTime(e.at, tz)),
        e.actor ? h('span', { class: 'event-actor' }, e.actor) : null),
      h('div', { class: 'event-detail' }, ...eventDetail(e))))));
}

async function drawChart(mine, el, note) {
  const w = mine.detail;
  if (!w.device_id) {
    note.textContent = t('warnings.chart.noDevice');
    return;
  }
  const start = Date.parse(w.starts_at) - BEFORE_MS;
  const end = w.resolved_at ? Date.parse(w.resolved_at) + 10 * 60 * 1000 : Date.now();
  const def = mine.rule?.definition || {};
  const quantity = w.labels?.quantity || (def.quantity && def.quantity !== '*' ? def.quantity : null);
  const q = quantity ? `quantity=${encodeURIComponent(quantity)}&` : '';
  const [series, echarts] = await Promise.all([
    mine.ctx.api.get(`/api/v1/devices/${w.device_id}/series?${q}start=${new Date(start).toISOString()}&end=${new Date(end).toISOString()}&points=240`),
    loadEcharts(),
  ]);
  if (mine.closed || mine.detail !== w) return;
  const points = (series.points || []).map((p) => ({ t: Date.parse(p.t), min: p.min, max: p.max, avg: p.avg, last: p.last }));
  const option = seriesOption(points, { unit: series.unit || '', timeZone: mine.ctx.timezone, start, end });
  // Thresholds up to one level beyond the warning's peak, so the axis is not stretched by far-off levels.
  const peak = LEVELS.findIndex((l) => l.level === w.peak_level);
  const lines = thresholdsOf(def).filter((l) => LEVELS.findIndex((x) => x.level === l.level) >= peak - 1);
  option.grid.top = 40; // room for the trigger's label under the legend
  const mean = option.series.find((s) => s.id === 'mean');
  mean.markLine = {
    symbol: 'none', silent: true, animation: false,
    data: [
      { xAxis: Date.parse(w.starts_at), lineStyle: { color: '#f1f5f9', type: 'solid', width: 1.5 },
        label: { formatter: t('warnings.chart.trigger'), color: '#f1f5f9', position: 'end', rotate: 0 } },
      ...lines.map((l) => ({ yAxis: l.value, lineStyle: { color: l.color, type: 'dashed', width: 1.2 },
        label: { formatter: `${l.roman} ${l.value}`, color: l.color, position: 'insideStartTop' } })),
    ],
  };
  const values = lines.map((l) => l.value);
  if (values.length) {
    option.yAxis.min = (v) => Math.min(v.min, ...values);
    option.yAxis.max = (v) => Math.max(v.max, ...values);
  }
  el.dataset.thresholds = values.join(',');
  mine.chart = echarts.init(el, null, { renderer: 'canvas' });
  mine.chart.setOption(option, { notMerge: true });
  mine.resize = new ResizeObserver(() => mine.chart?.resize());
  mine.resize.observe(el);
  note.hidden = points.length > 0;
  note.textContent = t('warnings.chart.noData');
}

function actions(w, errorEl, okEl) {
  const { ctx } = current;
  const cap = h('a', { class: 'btn btn-ghost', href: `/api/v1/warnings/${w.id}/cap`, download: `warning-${w.id}.cap.xml` }, t('warnings.action.cap'));
  // 立案: open (or join) the incident this warning points to, then show the incident page.
  const incident = ctx.can('incident:act') && ctx.openIncident ? h('button', {
    type: 'button', class: 'btn btn-danger', dataset: { action: 'create-incident' },
    onclick: async (e) => {
      const b = e.currentTarget;
      b.disabled = true;
      errorEl.hidden = true;
      try {
        const inc = await ctx.api.post(`/api/v1/incidents/from-warning/${w.id}`, {});
        dialog.close();
        ctx.openIncident(inc.id);
      } catch (err) {
        b.disabled = false;
        errorEl.textContent = problemText(err);
        errorEl.hidden = false;
      }
    },
  }, t('warnings.action.incident')) : null;
  if (!ctx.can('warning:act')) {
    return h('section', { class: 'warning-actions' }, h('p', { class: 'dialog-hint' }, t('warnings.actions.readOnly')), h('div', { class: 'dialog-actions' }, incident, cap));
  }
  const open = w.state !== 'resolved';
  const comment = h('textarea', { id: 'warning-comment', rows: '2', maxlength: '2000', placeholder: t('warnings.comment.placeholder') });
  const assignee = h('input', { id: 'warning-assignee', type: 'text', maxlength: '80', value: w.assignee || '', autocomplete: 'off' });
  const run = async (button, fn, okKey) => {
    say(errorEl, '');
    say(okEl, '');
    const buttons = dialog.querySelectorAll('.warning-actions button');
    for (const b of buttons) b.disabled = true;
    const mine = current;
    mine.busy = true;
    try {
      const result = await fn();
      if (mine.closed) return;
      await load(mine);
      ctx.onChange?.(mine.detail);
      say(dialog.querySelector('.form-ok'), t(okKey, result || {}));
    } catch (err) {
      if (mine.closed) return;
      for (const b of buttons) b.disabled = false;
      say(errorEl, problemText(err));
    } finally {
      mine.busy = false;
    }
  };
  const post = (verb, body) => ctx.api.post(`/api/v1/warnings/${w.id}/${verb}`, body);
  const text = () => comment.value.trim();
  const button = (key, verb, enabled, fn, okKey, primary = false) => h('button', {
    type: 'button', class: `btn ${primary ? 'btn-primary' : 'btn-ghost'}`, dataset: { action: verb }, disabled: !enabled,
    onclick: (e) => run(e.currentTarget, fn, okKey),
  }, t(key));

  // Silence: matchers from the warning's own labels, the subject pre-ticked; 1 h / 4 h / 24 h.
  const labels = w.labels || {};
  const subject = labels.scope === 'device' && labels.device ? 'device' : labels.asset ? 'asset' : null;
  const matchers = ['rule', 'device', 'asset', 'district'].filter((k) => labels[k] || (k === 'rule' && w.rule))
    .map((k) => ({ text: `${k}=${labels[k] || w.rule}`, checked: k === subject || k === 'rule' }));
  const matcherBoxes = matchers.map((m) => h('label', { class: 'matcher' },
    h('input', { type: 'checkbox', value: m.text, checked: m.checked }), h('span', { class: 'mono' }, m.text)));
  const hours = h('select', { id: 'silence-hours', 'aria-label': t('warnings.silence.duration') },
    SILENCE_HOURS.map((n) => h('option', { value: String(n) }, t('warnings.silence.hours', { n }))));
  const silence = async () => {
    const chosen = matcherBoxes.map((l) => l.querySelector('input')).filter((i) => i.checked).map((i) => i.value);
    if (!chosen.length) throw new Error(t('warnings.silence.noMatcher'));
    const ends = new Date(Date.now() + Number(hours.value) * 3600 * 1000);
    await ctx.api.post('/api/v1/silences', { matchers: chosen, ends_at: ends.toISOString(), comment: text() || t('warnings.silence.defaultComment') });
    return { until: fmtDateTime(ends, ctx.timezone, false) };
  };

  return h('section', { class: 'warning-actions' },
    h('h3', { class: 'card-sub' }, t('warnings.actions')),
    h('div', { class: 'action-fields' },
      h('label', { for: 'warning-comment' }, t('warnings.comment')), comment,
      h('label', { for: 'warning-assignee' }, t('warnings.assignee')), assignee),
    h('div', { class: 'dialog-actions action-row' },
      button('warnings.action.acknowledge', 'acknowledge', w.state === 'firing' || w.state === 'acknowledged',
        () => post('acknowledge', { comment: text(), assignee: assignee.value.trim() || null }), 'warnings.done.acknowledge', true),
      button('warnings.action.escalate', 'escalate', open && w.state !== 'pending', () => post('escalate', { comment: text() }), 'warnings.done.escalate'),
      button('warnings.action.resolve', 'resolve', open, () => post('resolve', { comment: text() }), 'warnings.done.resolve'),
      button('warnings.action.comment', 'comments', true, () => {
        if (!text()) throw new Error(t('warnings.comment.empty'));
        return post('comments', { text: text() });
      }, 'warnings.done.comment'),
      incident),
    h('div', { class: 'silence-row' },
      h('span', { class: 'silence-title' }, t('warnings.silence')), ...matcherBoxes, hours,
      button('warnings.action.silence', 'silence', open, silence, 'warnings.done.silence'),
      cap));
}
