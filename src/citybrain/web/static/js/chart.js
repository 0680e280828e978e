// Time-series charts with the vendored Apache ECharts, loaded on first use by a same-origin <script src>
// (the CSP allows scripts from 'self' only). Times are shown in the platform's zone (Asia/Shanghai).

import { t, intlLocale } from './i18n.js';

const ECHARTS_SRC = '/static/vendor/echarts/echarts.min.js';
let loading = null;

/** window.echarts, loading the vendored file once. */
export function loadEcharts() {
  if (window.echarts) return Promise.resolve(window.echarts);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.src = ECHARTS_SRC;
      script.async = true;
      script.onload = () => (window.echarts ? resolve(window.echarts) : reject(new Error('echarts did not load')));
      script.onerror = () => {
        loading = null;
        script.remove();
        reject(new Error(`cannot load ${ECHARTS_SRC}`));
      };
      document.head.append(script);
    });
  }
  return loading;
}

export function timeFormatter(timeZone, withDate = false) {
  const f = new Intl.DateTimeFormat(intlLocale(), {
    timeZone, hour: '2-digit', minute: '2-digit', hour12: false, ...(withDate ? { month: '2-digit', day: '2-digit', second: '2-digit' } : {}),
  });
  return (ms) => f.format(new Date(ms));
}

const number = (v) => (Number.isFinite(v) ? new Intl.NumberFormat(intlLocale(), { maximumFractionDigits: 3 }).format(v) : '–');

/**
 * The option for one quantity: a min-max band (two stacked lines, the upper one filled), the mean line,
 * and the last value per step as a faint line. `points` are /series points ({t: ms, min, max, avg, last}).
 */
export function seriesOption(points, { unit = '', timeZone = 'Asia/Shanghai', start, end } = {}) {
  const axisTime = timeFormatter(timeZone);
  const tipTime = timeFormatter(timeZone, true);
  const low = points.map((p) => [p.t, p.min]);
  const span = points.map((p) => [p.t, p.max - p.min]);
  const mean = points.map((p) => [p.t, p.avg]);
  const last = points.map((p) => [p.t, p.last]);
  const byTime = new Map(points.map((p) => [p.t, p]));
  return {
    animation: false,
    backgroundColor: 'transparent',
    textStyle: { fontFamily: 'inherit', color: '#9fb0c6' },
    grid: { left: 44, right: 12, top: 26, bottom: 24 },
    legend: { top: 0, right: 0, itemWidth: 14, itemHeight: 8, textStyle: { color: '#9fb0c6', fontSize: 11 },
      data: [t('chart.mean'), t('chart.range'), t('chart.last')] },
    tooltip: {
      trigger: 'axis',
      backgroundColor: '#0f1b2f',
      borderColor: 'rgba(120,170,230,0.35)',
      textStyle: { color: '#e6edf7', fontSize: 12 },
      formatter(items) {
        const p = byTime.get(items[0]?.value?.[0]);
        if (!p) return '';
        const u = unit ? ` ${unit}` : '';
        return [tipTime(p.t), `${t('chart.mean')}: ${number(p.avg)}${u}`, `${t('chart.range')}: ${number(p.min)} – ${number(p.max)}${u}`,
          `${t('chart.last')}: ${number(p.last)}${u}`].join('<br>');
      },
    },
    xAxis: {
      type: 'time', min: start, max: end,
      axisLabel: { formatter: (v) => axisTime(v), color: '#9fb0c6', fontSize: 11, hideOverlap: true },
      axisLine: { lineStyle: { color: 'rgba(120,160,210,0.35)' } },
      splitLine: { show: false },
    },
    yAxis: {
      type: 'value', scale: true, name: unit, nameTextStyle: { color: '#6f8199', fontSize: 11, align: 'left' },
      axisLabel: { color: '#9fb0c6', fontSize: 11 },
      splitLine: { lineStyle: { color: 'rgba(120,160,210,0.12)' } },
    },
    series: [
      { id: 'low', name: t('chart.range'), type: 'line', stack: 'band', data: low, symbol: 'none', lineStyle: { opacity: 0 }, silent: true, tooltip: { show: false } },
      { id: 'band', name: t('chart.range'), type: 'line', stack: 'band', data: span, symbol: 'none', lineStyle: { opacity: 0 },
        areaStyle: { color: 'rgba(34, 211, 238, 0.22)' }, itemStyle: { color: 'rgba(34, 211, 238, 0.5)' } },
      { id: 'mean', name: t('chart.mean'), type: 'line', data: mean, symbol: points.length < 40 ? 'circle' : 'none', symbolSize: 4,
        lineStyle: { width: 1.6, color: '#22d3ee' }, itemStyle: { color: '#22d3ee' } },
      { id: 'last', name: t('chart.last'), type: 'line', data: last, symbol: 'none', lineStyle: { width: 1, type: 'dashed', color: '#f1f5f9', opacity: 0.5 },
        itemStyle: { color: '#f1f5f9' } },
    ],
  };
}
