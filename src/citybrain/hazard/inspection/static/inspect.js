// The phone inspection form: pick a plan or checklist, answer pass / fail / na per item with notes and photos,
// take the GPS position, submit; shows the hazards the failed items opened. Same-origin cookie session; the CSRF
// token from GET /api/v1/auth/me (or the login answer) goes in X-CSRF-Token on every write.

const API = '/api/v1';
const LANG_KEY = 'citybrain.lang';
const MAX_UPLOAD = 1900 * 1024; // the API refuses bodies over 2 MB: larger photos are scaled down first

const T = {
  'zh-CN': {
    title: '隐患排查', login: '登录', username: '用户名', password: '密码', plan: '排查计划', no_plan: '（不按计划）',
    checklist: '排查清单', target: '排查对象', locate: '获取定位', no_location: '未定位', locating: '定位中…',
    located: '已定位', gps_failed: '无法定位：', note: '备注', submit: '提交排查记录', submitted: '已提交',
    again: '再填一份', pass: '合格', fail: '不合格', na: '不适用', item_note: '情况说明', photo: '拍照 / 选择照片',
    uploading: '照片上传中…', overdue: '已逾期', due: '应于', record: '排查记录', failed_n: '项不合格',
    hazards_opened: '已生成隐患：', hazard: '隐患', no_hazards: '全部合格，未生成隐患。', answer_all: '请逐项填写',
    self: '企业自查', lang: 'EN', sending: '提交中…', clause: '依据',
  },
  en: {
    title: 'Hazard inspection', login: 'Log in', username: 'Username', password: 'Password', plan: 'Inspection plan',
    no_plan: '(no plan)', checklist: 'Checklist', target: 'What is inspected', locate: 'Get location',
    no_location: 'No location', locating: 'Locating…', located: 'Located', gps_failed: 'No location: ',
    note: 'Note', submit: 'Submit inspection', submitted: 'Submitted', again: 'Start another', pass: 'Pass',
    fail: 'Fail', na: 'N/A', item_note: 'What did you find?', photo: 'Take / choose photo',
    uploading: 'Uploading photo…', overdue: 'overdue', due: 'due', record: 'Inspection', failed_n: 'failed item(s)',
    hazards_opened: 'Hazards opened:', hazard: 'Hazard', no_hazards: 'All passed; no hazard opened.',
    answer_all: 'Answer every item', self: 'self-inspection', lang: '中文', sending: 'Sending…', clause: 'Clause',
  },
};

const state = {
  lang: 'zh-CN', csrf: null, user: null, plans: [], checklists: [], checklist: null, position: null,
  answers: {}, uploads: 0,
};
const $ = (id) => document.getElementById(id);
const t = (key) => (T[state.lang] && T[state.lang][key]) || T['zh-CN'][key] || key;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c) node.append(c);
  return node;
}

// -- API -------------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

async function call(path, { method = 'GET', json, form } = {}) {
  const headers = { Accept: 'application/json, application/problem+json' };
  const init = { method, credentials: 'same-origin', headers };
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(json);
  } else if (form) {
    init.body = form;
  }
  if (method !== 'GET' && state.csrf) headers['X-CSRF-Token'] = state.csrf;
  const res = await fetch(API + path, init);
  const body = (res.headers.get('Content-Type') || '').includes('json') ? await res.json().catch(() => null) : null;
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

// -- messages --------------------------------------------------------------------------------------

function say(text, ok = false) {
  const m = $('message');
  m.textContent = text;
  m.className = ok ? 'message ok' : 'message';
  m.hidden = !text;
}

function sayError(err) {
  const lines = [err.message];
  for (const e of (err.problem && err.problem.errors) || []) {
    lines.push(`${e.field}: ${e.message}`);
    const m = /^body\.answers\.([^.[]+)/.exec(e.field || '');
    if (m) document.querySelector(`[data-item="${CSS.escape(m[1])}"]`)?.classList.add('bad');
  }
  say(lines.join('\n'));
}

// -- language --------------------------------------------------------------------------------------

function applyLang() {
  document.documentElement.lang = state.lang;
  document.querySelectorAll('[data-t]').forEach((n) => { n.textContent = t(n.dataset.t); });
  $('lang').textContent = t('lang');
  document.title = `${t('title')} · citybrain`;
  if (state.checklist) renderItems();
  renderPlans();
  renderChecklists();
}

function setLang(lang) {
  state.lang = lang;
  try { localStorage.setItem(LANG_KEY, lang); } catch { /* storage disabled */ }
  applyLang();
}

// -- login -----------------------------------------------------------------------------------------

async function login(ev) {
  ev.preventDefault();
  const data = new FormData(ev.target);
  try {
    const body = await call('/auth/login', { method: 'POST',
      json: { username: data.get('username'), password: data.get('password') } });
    state.csrf = body.csrf_token;
    await startForm();
  } catch (err) {
    sayError(err);
  }
}

// -- the form --------------------------------------------------------------------------------------

async function startForm() {
  let me;
  try {
    me = await call('/auth/me');
  } catch (err) {
    if (err.status === 401) return showLogin();
    throw err;
  }
  state.csrf = me.csrf_token || state.csrf;
  state.user = me.user;
  $('login').hidden = true;
  $('form').hidden = false;
  say('');
  $('who').textContent = `${me.user.display_name || me.user.username}`;
  const [plans, lists] = await Promise.all([call('/inspection-plans?mine=true&limit=200'), call('/checklists')]);
  state.plans = plans.items;
  state.checklists = lists;
  renderPlans();
  renderChecklists();
  selectChecklist(lists.length ? lists[0].key : null);
}

function showLogin() {
  $('form').hidden = true;
  $('login').hidden = false;
}

function name(obj) {
  return state.lang === 'en' ? obj.name_en || obj.name_zh : obj.name_zh || obj.name_en;
}

function renderPlans() {
  const sel = $('plan');
  const current = sel.value;
  sel.replaceChildren(el('option', { value: '', text: t('no_plan') }));
  for (const p of state.plans) {
    const due = new Date(p.next_due_at).toLocaleDateString(state.lang);
    const tag = p.overdue ? ` · ${t('overdue')}` : ` · ${t('due')} ${due}`;
    sel.append(el('option', { value: String(p.id), text: `${p.name}${p.self_inspection ? ` (${t('self')})` : ''}${tag}` }));
  }
  sel.value = current;
}

function renderChecklists() {
  const sel = $('checklist');
  const current = sel.value;
  sel.replaceChildren(...state.checklists.map((c) => el('option', { value: c.key, text: name(c) })));
  if (current) sel.value = current;
}

function selectChecklist(key) {
  state.checklist = state.checklists.find((c) => c.key === key) || null;
  $('checklist').value = key || '';
  state.answers = {};
  renderItems();
}

function answerOf(id) {
  if (!state.answers[id]) state.answers[id] = { result: null, note: '', photos: [], thumbs: [] };
  return state.answers[id];
}

function renderItems() {
  const list = $('items');
  list.replaceChildren();
  if (!state.checklist) return;
  for (const item of state.checklist.items) {
    const a = answerOf(item.id);
    const text = state.lang === 'en' ? item.text_en : item.text_zh;
    const choices = el('div', { class: 'choices', role: 'radiogroup' });
    for (const r of ['pass', 'fail', 'na']) {
      const input = el('input', { type: 'radio', name: `r-${item.id}`, value: r, checked: a.result === r });
      input.addEventListener('change', () => { a.result = r; li.classList.remove('bad'); extra.hidden = r !== 'fail' && !a.note; });
      choices.append(el('label', {}, input, el('span', { class: r, text: t(r) })));
    }
    const note = el('textarea', { rows: '2', maxlength: '2000', placeholder: t('item_note') });
    note.value = a.note;
    note.addEventListener('input', () => { a.note = note.value; });
    const thumbs = el('div', { class: 'thumbs' });
    for (const src of a.thumbs) thumbs.append(el('img', { src, alt: '' }));
    const file = el('input', { type: 'file', accept: 'image/*', capture: 'environment', multiple: true });
    file.addEventListener('change', () => uploadPhotos(file, a, thumbs));
    const extra = el('div', { class: 'extra' }, el('label', {}, el('span', { text: t('photo') }), file), thumbs, note);
    extra.hidden = a.result !== 'fail' && !a.note && !a.photos.length;
    const li = el('li', { class: 'item', 'data-item': item.id },
      el('p', { text: text }), item.clause ? el('p', { class: 'clause', text: `${t('clause')}: ${item.clause}` }) : null,
      choices, extra);
    list.append(li);
  }
}

// -- photos and position ---------------------------------------------------------------------------

async function shrink(file) {
  if (file.size <= MAX_UPLOAD) return file; // small enough: keep it whole (its EXIF position too)
  const img = await createImageBitmap(file);
  const scale = Math.min(1, 2048 / Math.max(img.width, img.height));
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(img.width * scale);
  canvas.height = Math.round(img.height * scale);
  canvas.getContext('2d').drawImage(img, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve) => canvas.toBlob((b) => resolve(b), 'image/jpeg', 0.85));
}

async function uploadPhotos(input, answer, thumbs) {
  const files = Array.from(input.files || []);
  input.value = '';
  for (const f of files) {
    state.uploads += 1;
    say(t('uploading'), true);
    try {
      const form = new FormData();
      form.append('file', await shrink(f), f.name || 'photo.jpg');
      const photo = await call('/inspections/photos', { method: 'POST', form });
      answer.photos.push(photo.key);
      const src = URL.createObjectURL(f);
      answer.thumbs.push(src);
      thumbs.append(el('img', { src, alt: '' }));
      if (!state.position && photo.lon != null) showPosition(`${t('located')} (EXIF)`);
      say('');
    } catch (err) {
      sayError(err);
    } finally {
      state.uploads -= 1;
    }
  }
}

function showPosition(text) {
  $('gps-status').textContent = text;
}

function locate() {
  if (!navigator.geolocation) return showPosition(`${t('gps_failed')}—`);
  showPosition(t('locating'));
  navigator.geolocation.getCurrentPosition(
    (pos) => {
      state.position = { lon: pos.coords.longitude, lat: pos.coords.latitude };
      showPosition(`${t('located')} ${state.position.lat.toFixed(5)}, ${state.position.lon.toFixed(5)}`);
    },
    (err) => showPosition(t('gps_failed') + err.message),
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
  );
}

// -- submit ----------------------------------------------------------------------------------------

async function submit() {
  if (!state.checklist) return;
  const missing = state.checklist.items.filter((i) => !answerOf(i.id).result);
  missing.forEach((i) => document.querySelector(`[data-item="${CSS.escape(i.id)}"]`)?.classList.add('bad'));
  if (missing.length) return say(`${t('answer_all')} (${missing.length})`);
  const answers = {};
  for (const item of state.checklist.items) {
    const a = answerOf(item.id);
    answers[item.id] = { result: a.result, note: a.note, photos: a.photos };
  }
  const planId = $('plan').value;
  const body = { checklist_key: state.checklist.key, answers, target: $('target').value.trim(), note: $('note').value };
  if (planId) body.plan_id = Number(planId);
  if (state.position) Object.assign(body, state.position);
  const button = $('submit');
  button.disabled = true;
  button.textContent = t('sending');
  try {
    const rec = await call('/inspections', { method: 'POST', json: body });
    showResult(rec);
  } catch (err) {
    sayError(err);
  } finally {
    button.disabled = false;
    button.textContent = t('submit');
  }
}

function showResult(rec) {
  $('form').hidden = true;
  $('result').hidden = false;
  say('');
  $('result-text').textContent = `${t('record')} #${rec.id} · ${rec.target} · ${rec.failed} ${t('failed_n')}`;
  const list = $('hazards');
  list.replaceChildren();
  if (!rec.hazard_ids.length) list.append(el('li', { text: t('no_hazards') }));
  else list.append(el('li', { text: t('hazards_opened') }));
  for (const id of rec.hazard_ids) list.append(el('li', { text: `${t('hazard')} #${id}` }));
}

function again() {
  $('result').hidden = true;
  $('form').hidden = false;
  $('target').value = '';
  $('note').value = '';
  selectChecklist(state.checklist ? state.checklist.key : null);
}

// -- start -----------------------------------------------------------------------------------------

function onPlan() {
  const plan = state.plans.find((p) => String(p.id) === $('plan').value);
  if (plan) {
    selectChecklist(plan.checklist_key);
    if (!$('target').value) $('target').value = plan.name;
  }
}

function init() {
  try {
    const stored = localStorage.getItem(LANG_KEY);
    if (stored && T[stored]) state.lang = stored;
  } catch { /* storage disabled */ }
  $('lang').addEventListener('click', () => setLang(state.lang === 'en' ? 'zh-CN' : 'en'));
  $('login-form').addEventListener('submit', login);
  $('checklist').addEventListener('change', (e) => selectChecklist(e.target.value));
  $('plan').addEventListener('change', onPlan);
  $('gps').addEventListener('click', locate);
  $('submit').addEventListener('click', submit);
  $('again').addEventListener('click', again);
  applyLang();
  if (document.body.dataset.mode === 'login') showLogin();
  else startForm().catch(sayError);
  locate();
}

init();
