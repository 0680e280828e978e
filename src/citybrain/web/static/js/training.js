// Safety training on the dashboard: courses, sessions, attendance, certificates, who is overdue. (Being built.)

import { h } from './dom.js';
import { t } from './i18n.js';

/** The training card (panels.js). */
export function renderTrainingCard(body, ctx) {
  body.replaceChildren(h('p', { class: 'card-hint' }, t('training.loading')));
}
