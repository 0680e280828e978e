// Citizens in the loop (群防群治) on the dashboard: the case board card, the routing table, the metrics.
// (Being built.)

import { h } from './dom.js';
import { t } from './i18n.js';

/** The case board card (panels.js). */
export function renderCasesCard(body, ctx) {
  body.replaceChildren(h('p', { class: 'card-hint' }, t('cases.loading')));
}
