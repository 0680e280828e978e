// One dictionary for every UI string, merged from the files in MESSAGE_FILES, each {"zh-CN": {...}, "en": {...}}
// (messages.json for the core dashboard; one file per later area, so areas can be edited independently).
// Markup carries only keys: data-i18n="key" sets textContent, data-i18n-attr="aria-label:key;title:key" sets attributes.

export const LANGS = ['zh-CN', 'en'];
export const DEFAULT_LANG = 'zh-CN';
const STORAGE_KEY = 'citybrain.lang';

let messages = { 'zh-CN': {}, en: {} };
let lang = DEFAULT_LANG;
const listeners = new Set();

export const MESSAGE_FILES = ['messages.json', 'messages-prevention.json', 'messages-citizens.json', 'messages-training.json'];

export async function initI18n(base = '/static/i18n/') {
  const parts = await Promise.all(MESSAGE_FILES.map(async (name) => {
    const res = await fetch(base + name, { credentials: 'same-origin' });
    if (!res.ok) throw new Error(`i18n ${name}: ${res.status}`);
    return res.json();
  }));
  messages = { 'zh-CN': {}, en: {} };
  for (const part of parts) for (const l of LANGS) Object.assign(messages[l], part[l] || {});
  lang = storedLang() || DEFAULT_LANG;
  applyLang();
}

function storedLang() {
  try {
    const value = localStorage.getItem(STORAGE_KEY);
    return LANGS.includes(value) ? value : null;
  } catch {
    return null; // storage disabled: fall back to the default
  }
}

export function getLang() {
  return lang;
}

export function setLang(next) {
  if (!LANGS.includes(next) || next === lang) return;
  lang = next;
  try {
    localStorage.setItem(STORAGE_KEY, next);
  } catch {
    /* storage disabled: the choice lasts for this page only */
  }
  applyLang();
  for (const fn of listeners) fn(lang);
}

export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Translate `key`, filling `{name}` placeholders from `params`; unknown keys show as themselves. */
export function t(key, params) {
  let text = messages[lang]?.[key] ?? messages[DEFAULT_LANG]?.[key] ?? key;
  if (params) text = text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
  return text;
}

/** Whether `key` has a translation in the current language. */
export function has(key) {
  return typeof messages[lang]?.[key] === 'string';
}

/** Pick `obj[base + '_zh']` or `obj[base + '_en']` for the current language, falling back to the other. */
export function localized(obj, base = 'name') {
  if (!obj) return '';
  const zh = obj[`${base}_zh`];
  const en = obj[`${base}_en`];
  return (lang === 'zh-CN' ? zh || en : en || zh) || '';
}

/** The locale to hand to Intl formatters. */
export function intlLocale() {
  return lang === 'zh-CN' ? 'zh-CN' : 'en-GB';
}

export function translate(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of el.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':').map((s) => s.trim());
      if (attr && key) el.setAttribute(attr, t(key));
    }
  }
}

function applyLang() {
  document.documentElement.lang = lang;
  translate(document);
}
