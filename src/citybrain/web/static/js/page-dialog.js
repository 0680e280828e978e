// What every page dialog (warning, incident, hazard, case) shares: the modal itself, its loading and
// load-error states, and the runner of an action (disable the buttons, call the API, re-read, say the result).

import { h } from './dom.js';
import { t, onLangChange } from './i18n.js';

/**
 * A modal page appended to <body>: a click on the backdrop closes it; `onClosed()` runs when it has really
 * closed ('close' is queued: if the page was opened again before it ran, it belongs to the view already
 * replaced and is ignored); `onLang()` redraws it on a language switch while it is open.
 */
export function createPageDialog({ id, cls, labelledBy, onClosed, onLang }) {
  const dialog = h('dialog', { id, class: cls, 'aria-labelledby': labelledBy });
  dialog.addEventListener('click', (e) => {
    if (e.target === dialog) dialog.close();
  });
  dialog.addEventListener('close', () => dialog.open || onClosed());
  document.body.append(dialog);
  onLangChange(() => dialog.open && onLang());
  return dialog;
}

/** Show `text` while the page loads, opening the dialog if it is closed. */
export function showLoading(dialog, text) {
  dialog.replaceChildren(h('div', { class: 'dialog-form' }, h('p', { class: 'dialog-hint' }, text)));
  if (!dialog.open) dialog.showModal();
}

/** The page could not be read: say why, with a button that closes it. */
export function showLoadError(dialog, message) {
  dialog.replaceChildren(h('div', { class: 'dialog-form' },
    h('p', { class: 'form-error', role: 'alert' }, message),
    h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'btn btn-primary', onclick: () => dialog.close() }, t('common.close')))));
}

/** Put `text` in a message element, hiding it when empty. */
export function say(el, text) {
  el.textContent = text;
  el.hidden = !text;
}

/**
 * `run(fn, okKey, params)` for one drawn page (`page` is its root selector, e.g. '.hazard-page'): disables the
 * page's action buttons, awaits `fn()`, then `reload()` and `changed()`, and says `okKey`; a refusal re-enables
 * the buttons and shows `errorText(err)` in `errorEl`. `mine` is the page's state ({closed, busy}).
 */
export function actionRunner({ dialog, page, mine, errorEl, okEl, reload, changed = () => {}, errorText }) {
  return async (fn, okKey, params = {}) => {
    say(errorEl, '');
    say(okEl, '');
    const buttons = [...dialog.querySelectorAll(`${page} button[data-action]`)];
    for (const b of buttons) b.disabled = true;
    mine.busy = true;
    try {
      await fn();
      if (mine.closed) return;
      await reload();
      changed();
      say(dialog.querySelector(`${page} .form-ok`), t(okKey, params));
    } catch (err) {
      if (mine.closed) return;
      for (const b of buttons) b.disabled = false;
      say(errorEl, errorText(err));
    } finally {
      mine.busy = false;
    }
  };
}
