// Dual prevention (双重预防) on the dashboard: the hazard board card, the hazard page, the enterprise view and
// the dynamic risk-map layer with its per-cell explanation. (Being built.)

import { h } from './dom.js';
import { t } from './i18n.js';

/** The hazard board card (panels.js). */
export function renderHazardsCard(body, ctx) {
  body.replaceChildren(h('p', { class: 'card-hint' }, t('hazards.loading')));
}
