// The tracking page: the case's status, the department's public reply, the public timeline and photos;
// 1–5 stars and a comment once closed; "not fixed? reopen" within 7 days of closing.

import { formatTime, getJSON, h, initLang, onLangChange, postJSON, t } from './common.js';

const $ = (id) => document.getElementById(id);
const code = decodeURIComponent(window.location.pathname.replace(/^\/track\//, '').replace(/\/$/, ''));
const base = `/api/v1/public/track/${encodeURIComponent(code)}`;
let data = null;
let stars = 0;

function setStatus(text, kind = '') {
  const el = $('status');
  el.textContent = text;
  el.dataset.kind = kind;
  el.hidden = !text;
}

function serviceName(d) {
  return (document.documentElement.lang === 'en' ? d.service_name_en : d.service_name_zh) || d.service_code;
}

function render() {
  const d = data;
  document.body.dataset.caseStatus = d.case_status;
  $('service-name').textContent = serviceName(d);
  $('case-status').textContent = t(`status.${d.case_status}`);
  $('case-status').dataset.status = d.case_status;
  $('number').textContent = d.service_request_id;
  const filed = $('filed');
  filed.textContent = formatTime(d.requested_at);
  filed.setAttribute('datetime', d.requested_at || '');
  $('description').textContent = d.description || '';
  $('photos').replaceChildren(...(d.photos || []).map((url, i) => h('img', { src: url, alt: `${i + 1}`, class: 'preview' })));
  $('summary').hidden = false;

  $('reply').textContent = d.public_reply || '';
  $('reply-box').hidden = !d.public_reply;

  const events = d.events || [];
  $('timeline').replaceChildren(...events.map((e) => h('li', { dataset: { kind: e.kind } },
    h('time', { datetime: e.at }, formatTime(e.at)),
    h('span', { class: 'event-kind' }, t(`event.${e.kind}`)),
    e.text ? h('p', { class: 'event-text' }, e.text) : null)));
  $('timeline-box').hidden = events.length === 0;

  $('rate-box').hidden = !d.can_rate;
  $('rated-box').hidden = !d.rating;
  $('rated').textContent = d.rating ? t('track.ratedText', { n: d.rating }) : '';
  renderStars();

  $('reopen-box').hidden = !d.can_reopen;
  $('reopen-deadline').textContent = d.reopen_deadline ? t('track.reopen.until', { at: formatTime(d.reopen_deadline) }) : '';
}

function renderStars() {
  $('stars').replaceChildren(...[1, 2, 3, 4, 5].map((n) => h('button', {
    type: 'button', class: 'star', role: 'radio', 'aria-checked': String(n === stars), 'aria-label': t('track.rate.star', { n }),
    dataset: { value: n, on: String(n <= stars) }, onclick: () => {
      stars = n;
      renderStars();
    },
  }, '★')));
}

async function load() {
  try {
    data = await getJSON(base);
    setStatus('');
    render();
  } catch (err) {
    setStatus(err.status === 404 ? t('track.notFound') : t('common.error', { msg: err.message }), 'error');
  }
  document.body.dataset.ready = 'true';
}

async function rate() {
  if (!stars) {
    setStatus(t('track.rate.need'), 'error');
    return;
  }
  $('rate').disabled = true;
  try {
    await postJSON(`${base}/rating`, { rating: stars, comment: $('rating-comment').value.trim() });
    await load();
  } catch (err) {
    setStatus(t('common.error', { msg: err.message }), 'error');
  } finally {
    $('rate').disabled = false;
  }
}

async function reopen() {
  const reason = $('reopen-reason').value.trim();
  if (!reason) {
    setStatus(t('track.reopen.need'), 'error');
    return;
  }
  $('reopen').disabled = true;
  try {
    await postJSON(`${base}/reopen`, { reason });
    $('reopen-reason').value = '';
    await load();
    setStatus(t('track.reopen.done'));
  } catch (err) {
    setStatus(t('common.error', { msg: err.message }), 'error');
  } finally {
    $('reopen').disabled = false;
  }
}

initLang();
onLangChange(() => data && render());
$('rate').addEventListener('click', rate);
$('reopen').addEventListener('click', reopen);
load();
