// Right-hand cards. Adding a card is one entry in PANELS:
//   id, titleKey, requiresAuth, render(body, ctx) -> fills `body` (called on show, on language change and on refresh).
// ctx = {user, api, t}. Later capabilities (warnings, incidents, hazards, reports) replace the placeholders.

import { h } from './dom.js';
import { t } from './i18n.js';

function placeholder(body, key) {
  body.replaceChildren(h('div', { class: 'empty-state' }, h('span', { class: 'empty-icon', 'aria-hidden': 'true' }), h('p', {}, t(key))));
}

export const PANELS = [
  {
    id: 'warnings',
    titleKey: 'panel.warnings',
    requiresAuth: true,
    accent: 'var(--level-orange)',
    render: (body) => placeholder(body, 'panel.warnings.empty'),
  },
  {
    id: 'incidents',
    titleKey: 'panel.incidents',
    requiresAuth: true,
    accent: 'var(--level-red)',
    render: (body) => placeholder(body, 'panel.incidents.empty'),
  },
];

/** Build the cards into `root`; returns {update(user)} which shows, hides and re-renders them. */
export function mountPanels(root, ctx) {
  const cards = PANELS.map((panel) => {
    const titleId = `panel-${panel.id}-title`;
    const body = h('div', { class: 'card-body' });
    const title = h('h2', { id: titleId, class: 'card-title', dataset: { i18n: panel.titleKey } }, t(panel.titleKey));
    const card = h(
      'section',
      { class: 'card', id: `panel-${panel.id}`, 'aria-labelledby': titleId, style: { '--card-accent': panel.accent || 'var(--accent)' } },
      h('header', { class: 'card-head' }, title),
      body,
    );
    root.append(card);
    return { panel, card, body };
  });

  function update(user) {
    let shown = 0;
    for (const { panel, card, body } of cards) {
      const visible = !panel.requiresAuth || Boolean(user);
      card.hidden = !visible;
      if (visible) {
        panel.render(body, { ...ctx, user });
        shown += 1;
      } else {
        body.replaceChildren();
      }
    }
    return shown;
  }

  return { update };
}
