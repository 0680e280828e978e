// fetch wrapper for the citybrain JSON API: same-origin cookies, CSRF header on writes,
// RFC 9457 problem+json errors turned into ApiError with a readable message.

let csrfToken = null;

export function setCsrfToken(token) {
  csrfToken = token || null;
}

export class ApiError extends Error {
  constructor(status, problem = {}) {
    super(problemMessage(status, problem));
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem;
    this.type = problem.type || 'about:blank';
    this.title = problem.title || '';
    this.detail = problem.detail || '';
  }
}

function problemMessage(status, problem) {
  if (typeof problem === 'string' && problem) return problem;
  if (problem && typeof problem === 'object') {
    if (typeof problem.detail === 'string' && problem.detail) return problem.detail;
    if (Array.isArray(problem.detail) && problem.detail.length) {
      return problem.detail.map((e) => e.msg || JSON.stringify(e)).join('; ');
    }
    if (problem.title) return problem.title;
  }
  return status ? `HTTP ${status}` : 'Network error';
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export async function request(path, { method = 'GET', json, form, headers = {}, signal } = {}) {
  const h = new Headers({ Accept: 'application/json, application/problem+json', ...headers });
  const init = { method, credentials: 'same-origin', headers: h, signal };
  if (json !== undefined) {
    h.set('Content-Type', 'application/json');
    init.body = JSON.stringify(json);
  } else if (form !== undefined) {
    init.body = form; // FormData: the browser sets the multipart boundary
  }
  if (!SAFE_METHODS.has(method) && csrfToken) h.set('X-CSRF-Token', csrfToken);

  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, { title: 'Network error', detail: err.message });
  }
  if (res.status === 204 || res.status === 205) return null;
  const type = res.headers.get('Content-Type') || '';
  const body = type.includes('json') ? await res.json().catch(() => null) : await res.text();
  if (!res.ok) throw new ApiError(res.status, body ?? {});
  return body;
}

export const api = {
  get: (path, opts) => request(path, { ...opts, method: 'GET' }),
  post: (path, json, opts) => request(path, { ...opts, method: 'POST', json }),
  upload: (path, form, opts) => request(path, { ...opts, method: 'POST', form }),
  put: (path, json, opts) => request(path, { ...opts, method: 'PUT', json }),
  patch: (path, json, opts) => request(path, { ...opts, method: 'PATCH', json }),
  delete: (path, opts) => request(path, { ...opts, method: 'DELETE' }),
};

/** Session endpoints; each successful call refreshes the CSRF token kept above. */
export const auth = {
  async me() {
    try {
      const body = await api.get('/api/v1/auth/me');
      setCsrfToken(body.csrf_token);
      return body.user;
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        setCsrfToken(null);
        return null;
      }
      throw err;
    }
  },
  async login(username, password) {
    const body = await api.post('/api/v1/auth/login', { username, password });
    setCsrfToken(body.csrf_token);
    return body.user;
  },
  async logout() {
    try {
      await api.post('/api/v1/auth/logout');
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) throw err; // an expired session is already logged out
    }
    setCsrfToken(null);
  },
};
