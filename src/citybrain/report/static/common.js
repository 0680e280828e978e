// Shared by the citizen pages: the strings in both languages, the language toggle, JSON/form requests that
// turn RFC 9457 problems into readable errors, times in Asia/Shanghai, and the proof-of-work solver.

const STORAGE_KEY = 'citybrain.lang';
export const LANGS = ['zh-CN', 'en'];

const MESSAGES = {
  'zh-CN': {
    'common.loading': '加载中…',
    'common.error': '出错了：{msg}',
    'common.network': '网络异常，请稍后再试',
    'report.title': '随手拍 · 安全隐患报告',
    'report.lead': '发现身边的安全隐患？拍照上报，相关部门会处理并回复您。紧急情况请直接拨打 110 / 119 / 120。',
    'report.step.category': '选择类别',
    'report.step.place': '位置',
    'report.step.details': '照片和描述',
    'report.locate': '使用我的当前位置',
    'report.locating': '正在定位…',
    'report.locateFailed': '无法获取位置，请在地图上点选或选择所在区',
    'report.mapHint': '也可以在地图上点击或拖动标记选择位置。',
    'report.mapUnavailable': '地图无法显示，请选择所在区并填写地址。',
    'report.district': '所在区（无法定位时选择）',
    'report.districtNone': '—',
    'report.address': '地址或地标（可选）',
    'report.noPlace': '尚未选择位置',
    'report.place': '已选位置：{lon}, {lat}',
    'report.nearby.title': '附近已有相同的报告',
    'report.nearby.hint': '如果是同一件事，点“我也遇到了”即可，不必重复提交。',
    'report.nearby.distance': '约 {m} 米',
    'report.nearby.meToo': '我也遇到了',
    'report.nearby.count': '{n} 人也遇到了',
    'report.nearby.thanks': '已记录，谢谢！共 {n} 人遇到',
    'report.photos': '照片（最多 3 张）',
    'report.photosTooMany': '最多只能上传 3 张照片',
    'report.description': '描述',
    'report.anonymous': '匿名提交（不留联系方式）',
    'report.contact': '联系方式（可选，仅处理人员可见）',
    'report.contactName': '称呼',
    'report.contactPhone': '手机号',
    'report.contactEmail': '电子邮箱',
    'report.submit': '提交报告',
    'report.needCategory': '请选择类别',
    'report.needPlace': '请选择位置',
    'report.needDescription': '请简单描述情况',
    'report.solving': '正在进行安全校验…',
    'report.sending': '正在提交…',
    'report.done.title': '已收到您的报告，谢谢！',
    'report.done.number': '报告编号',
    'report.done.keep': '请保存下面的链接，随时查看处理进度：',
    'report.done.again': '再报告一件',
    'report.done.duplicate': '附近已有相同报告，已为您合并，处理进度与之一致。',
    'track.title': '报告处理进度',
    'track.number': '报告编号',
    'track.filed': '提交时间',
    'track.reply': '部门回复',
    'track.timeline': '处理记录',
    'track.notFound': '没有找到这份报告，请检查链接。',
    'track.rate.title': '对处理结果满意吗？',
    'track.rate.comment': '意见（可选）',
    'track.rate.submit': '提交评价',
    'track.rate.need': '请选择 1–5 星',
    'track.rate.star': '{n} 星',
    'track.rated': '您的评价',
    'track.ratedText': '{n} 星，谢谢您的评价！',
    'track.reopen.title': '问题没有解决？',
    'track.reopen.reason': '请说明还存在什么问题',
    'track.reopen.submit': '重新打开',
    'track.reopen.need': '请说明还存在什么问题',
    'track.reopen.until': '结案后 7 天内可重新打开（截至 {at}）',
    'track.reopen.done': '已重新打开，将再次派遣处理',
    'track.newReport': '报告新的隐患',
    'status.submitted': '已提交', 'status.registered': '已立案', 'status.dispatched': '已派遣',
    'status.handling': '处置中', 'status.responded': '已反馈', 'status.checking': '已核查', 'status.closed': '已结案',
    'status.rejected': '不予受理', 'status.merged': '已合并（重复报告）',
    'event.submitted': '提交报告', 'event.registered': '立案', 'event.dispatched': '派遣至处理部门',
    'event.redispatched': '重新派遣', 'event.accepted': '部门已接收', 'event.responded': '部门回复',
    'event.check_passed': '核查通过', 'event.check_failed': '核查未通过，重新处理', 'event.closed': '结案',
    'event.rejected': '不予受理', 'event.merged': '合并为重复报告', 'event.reopened': '重新打开',
    'event.rated': '评价', 'event.me_too': '又有人遇到', 'event.to_hazard': '转为隐患整改',
    'event.to_incident': '转应急事件处置', 'event.approved': '审核通过',
  },
  en: {
    'common.loading': 'Loading…',
    'common.error': 'Something went wrong: {msg}',
    'common.network': 'Network problem, please try again',
    'report.title': 'Report a safety hazard',
    'report.lead': 'Seen a safety hazard? Take a photo and report it: the responsible department will deal with it and reply. In an emergency call 110 / 119 / 120.',
    'report.step.category': 'Choose a category',
    'report.step.place': 'Place',
    'report.step.details': 'Photos and description',
    'report.locate': 'Use my current location',
    'report.locating': 'Locating…',
    'report.locateFailed': 'Could not get your location: tap the map or choose the district',
    'report.mapHint': 'You can also tap the map or drag the marker.',
    'report.mapUnavailable': 'The map cannot be shown: choose the district and give an address.',
    'report.district': 'District (if location is unavailable)',
    'report.districtNone': '—',
    'report.address': 'Address or landmark (optional)',
    'report.noPlace': 'No place chosen yet',
    'report.place': 'Place: {lon}, {lat}',
    'report.nearby.title': 'Already reported nearby',
    'report.nearby.hint': 'If it is the same thing, tap "Me too" instead of filing it again.',
    'report.nearby.distance': 'about {m} m away',
    'report.nearby.meToo': 'Me too',
    'report.nearby.count': '{n} others saw it too',
    'report.nearby.thanks': 'Noted, thank you! {n} people so far',
    'report.photos': 'Photos (up to 3)',
    'report.photosTooMany': 'At most 3 photos',
    'report.description': 'Description',
    'report.anonymous': 'Report anonymously (no contact details)',
    'report.contact': 'Contact (optional, seen only by the officer handling it)',
    'report.contactName': 'Name',
    'report.contactPhone': 'Mobile phone',
    'report.contactEmail': 'Email',
    'report.submit': 'Send report',
    'report.needCategory': 'Choose a category',
    'report.needPlace': 'Choose the place',
    'report.needDescription': 'Describe what you saw',
    'report.solving': 'Running a security check…',
    'report.sending': 'Sending…',
    'report.done.title': 'Thank you, your report has arrived!',
    'report.done.number': 'Report number',
    'report.done.keep': 'Keep this link to follow its progress:',
    'report.done.again': 'Report something else',
    'report.done.duplicate': 'The same thing was already reported nearby: yours was joined to it.',
    'track.title': 'Report progress',
    'track.number': 'Report number',
    'track.filed': 'Filed',
    'track.reply': 'Reply from the department',
    'track.timeline': 'What has happened',
    'track.notFound': 'No report found: check the link.',
    'track.rate.title': 'Are you satisfied with the result?',
    'track.rate.comment': 'Comment (optional)',
    'track.rate.submit': 'Send rating',
    'track.rate.need': 'Choose 1 to 5 stars',
    'track.rate.star': '{n} stars',
    'track.rated': 'Your rating',
    'track.ratedText': '{n} stars, thank you!',
    'track.reopen.title': 'Not fixed?',
    'track.reopen.reason': 'What is still wrong?',
    'track.reopen.submit': 'Reopen',
    'track.reopen.need': 'Say what is still wrong',
    'track.reopen.until': 'You can reopen within 7 days of closing (until {at})',
    'track.reopen.done': 'Reopened: it will be dispatched again',
    'track.newReport': 'Report another hazard',
    'status.submitted': 'Submitted', 'status.registered': 'Registered', 'status.dispatched': 'Dispatched',
    'status.handling': 'Being handled', 'status.responded': 'Responded', 'status.checking': 'Checked',
    'status.closed': 'Closed', 'status.rejected': 'Rejected', 'status.merged': 'Merged (duplicate)',
    'event.submitted': 'Report filed', 'event.registered': 'Registered', 'event.dispatched': 'Sent to the department',
    'event.redispatched': 'Sent back for more work', 'event.accepted': 'Taken on by the department',
    'event.responded': 'Department replied', 'event.check_passed': 'Checked on site',
    'event.check_failed': 'Check failed: sent back', 'event.closed': 'Closed', 'event.rejected': 'Rejected',
    'event.merged': 'Joined to an earlier report', 'event.reopened': 'Reopened', 'event.rated': 'Rated',
    'event.me_too': 'Someone else saw it too', 'event.to_hazard': 'Registered as a hazard to fix',
    'event.to_incident': 'Handed to emergency response', 'event.approved': 'Approved',
  },
};

let lang = storedLang() || 'zh-CN';
const listeners = new Set();

function storedLang() {
  try {
    const v = localStorage.getItem(STORAGE_KEY);
    return LANGS.includes(v) ? v : null;
  } catch {
    return null;
  }
}

export function getLang() {
  return lang;
}

export function t(key, params) {
  let text = MESSAGES[lang][key] ?? MESSAGES['zh-CN'][key] ?? key;
  if (params) text = text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
  return text;
}

/** A category's or district's name in the current language. */
export function localized(obj) {
  return (lang === 'en' ? obj.name_en || obj.name_zh : obj.name_zh || obj.name_en) || obj.code || '';
}

export function onLangChange(fn) {
  listeners.add(fn);
}

function applyLang() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const b of document.querySelectorAll('.lang [data-lang]')) b.setAttribute('aria-pressed', String(b.dataset.lang === lang));
  document.title = t(document.body.dataset.page === 'track' ? 'track.title' : 'report.title');
}

export function initLang() {
  for (const b of document.querySelectorAll('.lang [data-lang]')) {
    b.addEventListener('click', () => {
      lang = b.dataset.lang;
      try {
        localStorage.setItem(STORAGE_KEY, lang);
      } catch {
        /* storage disabled */
      }
      applyLang();
      for (const fn of listeners) fn(lang);
    });
  }
  applyLang();
}

// -- DOM -----------------------------------------------------------------------------------------

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

export function formatTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return new Intl.DateTimeFormat(lang, {
    timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
  }).format(d);
}

// -- requests ------------------------------------------------------------------------------------

export class RequestError extends Error {
  constructor(status, problem) {
    const fields = Array.isArray(problem?.errors) ? problem.errors : [];
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
    this.fields = fields;
  }
}

async function send(path, init) {
  let res;
  try {
    res = await fetch(path, { credentials: 'omit', ...init, headers: { Accept: 'application/json, application/problem+json', ...(init.headers || {}) } });
  } catch {
    throw new RequestError(0, { detail: t('common.network') });
  }
  const type = res.headers.get('Content-Type') || '';
  const body = type.includes('json') ? await res.json().catch(() => null) : null;
  if (!res.ok) throw new RequestError(res.status, body);
  return body;
}

export const getJSON = (path) => send(path, { method: 'GET' });
export const postJSON = (path, data) => send(path, { method: 'POST', body: JSON.stringify(data), headers: { 'Content-Type': 'application/json' } });
export const postForm = (path, form) => send(path, { method: 'POST', body: form });

// -- proof of work -------------------------------------------------------------------------------
// The server's challenge is accepted with a nonce such that sha256(challenge + ":" + nonce) starts with
// `difficulty` zero bits. WebCrypto is used where the page is a secure context; otherwise a plain SHA-256.

function leadingZeroBits(bytes) {
  let bits = 0;
  for (const b of bytes) {
    if (b === 0) {
      bits += 8;
      continue;
    }
    bits += Math.clz32(b) - 24;
    break;
  }
  return bits;
}

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
  0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
  0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
  0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** SHA-256 of `bytes` (a Uint8Array), for pages that are not a secure context (no WebCrypto). */
export function sha256(bytes) {
  const len = bytes.length;
  const total = Math.ceil((len + 9) / 64) * 64;
  const buf = new Uint8Array(total);
  buf.set(bytes);
  buf[len] = 0x80;
  const view = new DataView(buf.buffer);
  view.setUint32(total - 8, Math.floor((len * 8) / 0x100000000));
  view.setUint32(total - 4, (len * 8) >>> 0);
  const H = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const W = new Uint32Array(64);
  const rotr = (x, n) => (x >>> n) | (x << (32 - n));
  for (let off = 0; off < total; off += 64) {
    for (let i = 0; i < 16; i++) W[i] = view.getUint32(off + i * 4);
    for (let i = 16; i < 64; i++) {
      const s0 = rotr(W[i - 15], 7) ^ rotr(W[i - 15], 18) ^ (W[i - 15] >>> 3);
      const s1 = rotr(W[i - 2], 17) ^ rotr(W[i - 2], 19) ^ (W[i - 2] >>> 10);
      W[i] = (W[i - 16] + s0 + W[i - 7] + s1) >>> 0;
    }
    let [a, b, c, d, e, f, g, hh] = H;
    for (let i = 0; i < 64; i++) {
      const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + W[i]) >>> 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
      hh = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
    }
    H[0] += a; H[1] += b; H[2] += c; H[3] += d; H[4] += e; H[5] += f; H[6] += g; H[7] += hh;
  }
  const out = new Uint8Array(32);
  const ov = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) ov.setUint32(i * 4, H[i]);
  return out;
}

export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Fetch a challenge and find its nonce; returns {challenge, nonce}. */
export async function solveChallenge() {
  const { challenge, difficulty } = await getJSON('/api/v1/public/challenge');
  const enc = new TextEncoder();
  const subtle = globalThis.crypto && globalThis.crypto.subtle;
  for (let nonce = 0; ; nonce++) {
    const data = enc.encode(`${challenge}:${nonce}`);
    const digest = subtle ? new Uint8Array(await subtle.digest('SHA-256', data)) : sha256(data);
    if (leadingZeroBits(digest) >= difficulty) return { challenge, nonce: String(nonce) };
    if (!subtle && nonce % 5000 === 4999) await new Promise((r) => setTimeout(r, 0)); // keep the page responsive
  }
}
