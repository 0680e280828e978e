// "Sensing gaps": high-risk assets without healthy sensing, from /api/v1/coverage/gaps; a click flies the
// map to the asset. Accepts a GeoJSON FeatureCollection or {items: [...]} (each with lon/lat or geometry).

import { ApiError } from './api.js';
import { h } from './dom.js';
import { t, has, localized } from './i18n.js';
import { assetClassLabel } from './sensing-layers.js';

const SHOW = 30;

function empty(body, key, params) {
  body.replaceChildren(h('div', { class: 'empty-state' }, h('span', { class: 'empty-icon', 'aria-hidden': 'true' }), h('p', {}, t(key, params))));
}

function normalise(data) {
  const list = Array.isArray(data) ? data : data?.features || data?.items || [];
  return list.map((x) => {
    const p = x.properties || x;
    const coords = x.geometry?.type === 'Point' ? x.geometry.coordinates
      : Number.isFinite(p.lon) && Number.isFinite(p.lat) ? [p.lon, p.lat] : null;
    return { p, coords };
  });
}

function reasonText(p) {
  const reason = p.reason || p.problem || (Array.isArray(p.problems) ? p.problems[0] : null);
  if (!reason) return null;
  return has(`gaps.reason.${reason}`) ? t(`gaps.reason.${reason}`) : String(reason);
}

/** Fill the card; returns a cleanup that ignores a late answer. */
export function renderGapsCard(body, ctx) {
  let closed = false;
  empty(body, 'gaps.loading');
  ctx.api.get('/api/v1/coverage/gaps').then((data) => {
    if (closed) return;
    const gaps = normalise(data);
    if (!gaps.length) return empty(body, 'gaps.none');
    const items = gaps.slice(0, SHOW).map(({ p, coords }) => {
      const name = localized(p) || p.name || p.key || p.asset_key || '';
      const sub = [assetClassLabel(p.asset_class), p.risk_level && (has(`risk.${p.risk_level}`) ? t(`risk.${p.risk_level}`) : p.risk_level), reasonText(p)].filter(Boolean).join(' · ');
      return h('li', {},
        h('button', {
          type: 'button', class: 'gap-item', disabled: !coords, dataset: { key: p.key || p.asset_key || '' },
          onclick: () => coords && ctx.map?.flyTo({ center: coords, zoom: Math.max(ctx.map.getZoom(), 15) }),
        }, h('span', { class: 'gap-name' }, name), h('span', { class: 'gap-sub' }, sub)));
    });
    body.replaceChildren(
      h('p', { class: 'gaps-count' }, t('gaps.count', { n: gaps.length })),
      h('ul', { class: 'gap-list' }, items),
      gaps.length > SHOW ? h('p', { class: 'gaps-more' }, t('gaps.more', { n: gaps.length - SHOW })) : null,
    );
  }).catch((err) => {
    if (closed) return;
    if (err instanceof ApiError && err.status === 404) empty(body, 'gaps.unavailable');
    else empty(body, 'gaps.error', { message: err.message });
  });
  return () => {
    closed = true;
  };
}
