// The rule editor (a dialog, for users with warning:write): the stored rules with an enable/disable switch,
// and the whole rule set as YAML (GET /warning-rules/export) to edit, validate (import with dry_run) and
// import. Each refusal is listed with its field and its line and column; a click puts the cursor there.

import { ApiError } from './api.js';
import { h } from './dom.js';
import { t, localized, onLangChange } from './i18n.js';

let dialog = null;
let ctx = null;
let yamlText = null; // kept across language switches

function ensureDialog() {
  if (dialog) return dialog;
  dialog = h('dialog', { id: 'rules-dialog', class: 'dialog dialog-rules', 'aria-labelledby': 'rules-title' });
  dialog.addEventListener('click', (e) => {
    if (e.target === dialog) dialog.close();
  });
  document.body.append(dialog);
  onLangChange(() => {
    if (!dialog.open) return;
    yamlText = dialog.querySelector('#rules-yaml')?.value ?? yamlText;
    render();
  });
  return dialog;
}

/** Open the editor. options = {api, can(permission)}. */
export function openRuleEditor(options) {
  ctx = options;
  yamlText = null;
  ensureDialog();
  render();
  if (!dialog.open) dialog.showModal();
}

function problemItems(err, textarea) {
  const errors = err instanceof ApiError ? err.problem?.errors || [] : [];
  if (!errors.length) return [h('li', {}, err.detail || err.message)];
  return errors.map((e) => {
    const at = /line (\d+), column (\d+)/.exec(e.message || '');
    const item = h('li', { dataset: at ? { line: at[1], column: at[2] } : {} },
      e.field ? h('span', { class: 'mono problem-field' }, e.field) : null, ' ', e.message);
    if (at) {
      item.classList.add('problem-at');
      item.tabIndex = 0;
      const jump = () => jumpTo(textarea, Number(at[1]), Number(at[2]));
      item.addEventListener('click', jump);
      item.addEventListener('keydown', (ev) => ev.key === 'Enter' && jump());
    }
    return item;
  });
}

function jumpTo(textarea, line, column) {
  const lines = textarea.value.split('\n');
  let pos = 0;
  for (let i = 0; i < Math.min(line - 1, lines.length); i += 1) pos += lines[i].length + 1;
  pos += Math.max(0, Math.min(column - 1, (lines[line - 1] || '').length));
  textarea.focus();
  textarea.setSelectionRange(pos, pos);
  const lineHeight = parseFloat(getComputedStyle(textarea).lineHeight) || 18;
  textarea.scrollTop = Math.max(0, (line - 3) * lineHeight);
}

function render() {
  const writable = ctx.can('warning:write');
  const tbody = h('tbody', {}, h('tr', {}, h('td', { colspan: '4', class: 'dialog-hint' }, t('rules.loading'))));
  const textarea = h('textarea', { id: 'rules-yaml', class: 'rules-yaml', spellcheck: 'false', rows: '16', wrap: 'off', 'aria-label': t('rules.yaml') });
  const problems = h('ul', { class: 'rule-problems', role: 'alert', hidden: true });
  const result = h('p', { class: 'form-ok', role: 'status', hidden: true });
  const say = (text, list = []) => {
    result.textContent = text || '';
    result.hidden = !text;
    problems.replaceChildren(...list);
    problems.hidden = !list.length;
  };

  async function loadRules() {
    try {
      const rules = await ctx.api.get('/api/v1/warning-rules');
      tbody.replaceChildren(...rules.map((r) => h('tr', { dataset: { key: r.key } },
        h('td', { class: 'mono' }, r.key),
        h('td', {}, localized(r) || r.key),
        h('td', { class: 'mono' }, `v${r.version}`),
        h('td', {}, h('label', { class: 'switch' },
          h('input', { type: 'checkbox', checked: r.enabled, disabled: !writable, 'aria-label': t('rules.enabled.toggle', { key: r.key }),
            onchange: (e) => toggle(r.key, e.currentTarget) }),
          h('span', {}, t(r.enabled ? 'rules.enabled' : 'rules.disabled')))))));
      if (!rules.length) tbody.replaceChildren(h('tr', {}, h('td', { colspan: '4', class: 'dialog-hint' }, t('rules.none'))));
    } catch (err) {
      tbody.replaceChildren(h('tr', {}, h('td', { colspan: '4', class: 'form-error' }, err.detail || err.message)));
    }
  }

  async function toggle(key, input) {
    input.disabled = true;
    try {
      const row = await ctx.api.patch(`/api/v1/warning-rules/${encodeURIComponent(key)}`, { enabled: input.checked });
      say(t(row.enabled ? 'rules.done.enabled' : 'rules.done.disabled', { key }));
      await loadRules();
    } catch (err) {
      input.checked = !input.checked;
      input.disabled = false;
      say('', problemItems(err, textarea));
    }
  }

  async function loadYaml() {
    say('');
    try {
      textarea.value = await ctx.api.get('/api/v1/warning-rules/export', { headers: { Accept: 'application/yaml' } });
    } catch (err) {
      say('', problemItems(err, textarea));
    }
  }

  async function submit(dryRun, button) {
    say('');
    if (!textarea.value.trim()) {
      say('', [h('li', {}, t('rules.empty'))]);
      return;
    }
    button.disabled = true;
    try {
      const res = await ctx.api.post('/api/v1/warning-rules/import', { yaml: textarea.value, dry_run: dryRun });
      const counts = { created: res.created.length, updated: res.updated.length };
      say(t(dryRun ? 'rules.done.valid' : 'rules.done.imported', counts));
      if (!dryRun) await loadRules();
    } catch (err) {
      say('', problemItems(err, textarea));
    } finally {
      button.disabled = false;
    }
  }

  const button = (key, action, fn, primary = false) => h('button', {
    type: 'button', class: `btn ${primary ? 'btn-primary' : 'btn-ghost'}`, dataset: { action }, hidden: !writable && action !== 'close',
    onclick: (e) => fn(e.currentTarget),
  }, t(key));

  dialog.replaceChildren(h('div', { class: 'dialog-form rules-editor' },
    h('h2', { id: 'rules-title', class: 'dialog-title' }, t('rules.title')),
    h('p', { class: 'dialog-hint' }, t(writable ? 'rules.hint' : 'rules.readOnly')),
    h('div', { class: 'rules-table-wrap' }, h('table', { class: 'rules-table' },
      h('thead', {}, h('tr', {}, ['rules.col.key', 'rules.col.name', 'rules.col.version', 'rules.col.enabled'].map((k) => h('th', { scope: 'col' }, t(k))))),
      tbody)),
    h('label', { for: 'rules-yaml', class: 'card-sub' }, t('rules.yaml')),
    textarea,
    problems,
    result,
    h('div', { class: 'dialog-actions' },
      button('rules.reload', 'reload', () => loadYaml()),
      button('rules.validate', 'validate', (b) => submit(true, b)),
      button('rules.import', 'import', (b) => submit(false, b), true),
      button('common.close', 'close', () => dialog.close()))));
  loadRules();
  if (yamlText !== null) textarea.value = yamlText;
  else loadYaml();
}
