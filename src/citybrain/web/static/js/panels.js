// Right-hand cards. Adding a card is one entry in PANELS:
//   id, titleKey, requiresAuth, accent (CSS colour of its left edge)
//   shown(ctx)        optional: whether the card is shown at all (e.g. only while a device is selected)
//   render(body, ctx) fills `body` (on show, on language change, on refresh); may return a cleanup
//                     function, called before the next render and when the card is hidden (close streams)
//   onClose(ctx)      optional: the card gets a close button that calls it
// ctx = {user, api, t, map, timezone, select, getSelection}. Later capabilities replace the placeholders.

import { h } from './dom.js';
import { t } from './i18n.js';
import { renderDeviceCard } from './device-card.js';
import { renderGapsCard } from './gaps-card.js';
import { renderWarningsCard } from './warnings.js';
import { renderIncidentsCard } from './incidents.js';
import { renderHazardsCard } from './prevention.js';
import { renderCasesCard } from './citizens.js';
import { renderTrainingCard } from './training.js';
import { getSelection, select } from './store.js';

export const PANELS = [
  {
    id: 'device',
    titleKey: 'panel.device',
    requiresAuth: true,
    accent: 'var(--accent)',
    shown: () => Boolean(getSelection('device')),
    render: (body, ctx) => renderDeviceCard(body, ctx, getSelection('device')),
    onClose: () => select('device', null),
  },
  {
    id: 'warnings',
    titleKey: 'panel.warnings',
    requiresAuth: true,
    accent: 'var(--level-orange)',
    render: (body, ctx) => renderWarningsCard(body, ctx),
  },
  {
    id: 'incidents',
    titleKey: 'panel.incidents',
    requiresAuth: true,
    accent: 'var(--level-red)',
    render: (body, ctx) => renderIncidentsCard(body, ctx),
  },
  {
    id: 'hazards',
    titleKey: 'panel.hazards',
    requiresAuth: true,
    accent: 'var(--level-yellow)',
    render: (body, ctx) => renderHazardsCard(body, ctx),
  },
  {
    id: 'cases',
    titleKey: 'panel.cases',
    requiresAuth: true,
    accent: 'var(--accent)',
    render: (body, ctx) => renderCasesCard(body, ctx),
  },
  {
    id: 'training',
    titleKey: 'panel.training',
    requiresAuth: true,
    accent: 'var(--level-blue)',
    shown: (ctx) => Boolean(ctx.user),
    render: (body, ctx) => renderTrainingCard(body, ctx),
  },
  {
    id: 'gaps',
    titleKey: 'panel.gaps',
    requiresAuth: true,
    accent: 'var(--level-yellow)',
    render: (body, ctx) => renderGapsCard(body, ctx),
  },
];

/**
 * Build the cards into `root`; returns {update(user, only)} which shows, hides and re-renders them and
 * answers how many are shown. `only` (a list of ids) limits the re-rendering to those cards.
 */
export function mountPanels(root, ctx) {
  const cards = PANELS.map((panel) => {
    const titleId = `panel-${panel.id}-title`;
    const body = h('div', { class: 'card-body' });
    const title = h('h2', { id: titleId, class: 'card-title', dataset: { i18n: panel.titleKey } }, t(panel.titleKey));
    const head = h('header', { class: 'card-head' }, title);
    if (panel.onClose) {
      head.append(h('button', {
        type: 'button', class: 'icon-btn card-close', dataset: { i18nAttr: 'aria-label:common.close;title:common.close' },
        'aria-label': t('common.close'), title: t('common.close'), onclick: () => panel.onClose(ctx),
      }, h('span', { class: 'close-x', 'aria-hidden': 'true' })));
    }
    const card = h(
      'section',
      { class: 'card', id: `panel-${panel.id}`, 'aria-labelledby': titleId, hidden: true, style: { '--card-accent': panel.accent || 'var(--accent)' } },
      head,
      body,
    );
    root.append(card);
    return { panel, card, body, cleanup: null, visible: false };
  });

  function dispose(c) {
    if (typeof c.cleanup === 'function') {
      try {
        c.cleanup();
      } catch (err) {
        console.warn(`card ${c.panel.id}:`, err);
      }
    }
    c.cleanup = null;
  }

  function update(user, only = null) {
    let shown = 0;
    const full = { ...ctx, user };
    for (const c of cards) {
      const visible = (!c.panel.requiresAuth || Boolean(user)) && (!c.panel.shown || c.panel.shown(full));
      const rerender = visible && (!only || only.includes(c.panel.id) || !c.visible);
      c.card.hidden = !visible;
      if (rerender) {
        dispose(c);
        c.cleanup = c.panel.render(c.body, full) || null;
      } else if (!visible && c.visible) {
        dispose(c);
        c.body.replaceChildren();
      }
      c.visible = visible;
      if (visible) shown += 1;
    }
    return shown;
  }

  return { update };
}
