'use strict';
// A Parley client over HTTP (API.md): login, requests, and the event stream
// (GET /v1/events) read by hand from fetch's body stream.

class ParleyHTTP {
  constructor(base) {
    this.base = base.replace(/\/$/, '');
  }

  async request(method, path, { body, token, headers = {} } = {}) {
    const h = { ...headers };
    if (token) h.Authorization = `Bearer ${token}`;
    if (body !== undefined) h['Content-Type'] = 'application/json';
    const res = await fetch(this.base + path, {
      method,
      headers: h,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10000),
    });
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const detail = json && (json.code || json.detail) ? `${json.code} ${json.detail || json.title || ''}` : text.slice(0, 300);
      throw new Error(`HTTP ${method} ${path}: ${res.status} ${detail}`);
    }
    return json;
  }

  // login logs clientId in (POST /v1/sessions, the server's open auth mode).
  async login(clientId) {
    const r = await this.request('POST', '/v1/sessions', { body: { clientId } });
    return { clientId: r.clientId, token: r.token, sessionId: r.sessionId };
  }
}

// EventStream is one session's GET /v1/events, parsed as it comes:
// `id:`, `event:`, `data:` lines, a blank line ends an event, `:` lines are
// comments (heartbeats).
class EventStream {
  constructor(http, token) {
    this.http = http;
    this.token = token;
    this.events = []; // {id, event, data} not yet taken
    this.seen = []; // every event, for failure messages
    this._waiters = [];
    this._abort = new AbortController();
    this.ended = null;
  }

  // open connects and waits for `hello`.
  async open() {
    const res = await fetch(`${this.http.base}/v1/events`, {
      headers: { Authorization: `Bearer ${this.token}`, Accept: 'text/event-stream' },
      signal: this._abort.signal,
    });
    if (res.status !== 200) throw new Error(`GET /v1/events: ${res.status} ${await res.text()}`);
    const ct = res.headers.get('content-type') || '';
    if (!ct.startsWith('text/event-stream')) throw new Error(`GET /v1/events: Content-Type ${ct}`);
    this._read(res.body).catch(() => {});
    return this.next('hello', () => true, 'the stream to start with hello');
  }

  async _read(body) {
    const decoder = new TextDecoder();
    let buf = '';
    let ev = { data: [] };
    try {
      for await (const chunk of body) {
        buf += decoder.decode(chunk, { stream: true });
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          let line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.endsWith('\r')) line = line.slice(0, -1);
          if (line === '') {
            if (ev.event || ev.data.length) this._dispatch(ev);
            ev = { data: [] };
            continue;
          }
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          let value = colon < 0 ? '' : line.slice(colon + 1);
          if (value.startsWith(' ')) value = value.slice(1);
          if (field === 'data') ev.data.push(value);
          else if (field === 'event') ev.event = value;
          else if (field === 'id') ev.id = value;
        }
      }
      this.ended = 'EOF';
    } catch (e) {
      this.ended = e.name === 'AbortError' ? 'closed' : String(e);
    }
    for (const w of this._waiters.splice(0)) w.fail(new Error(`the event stream ended (${this.ended}) before ${w.what}`));
  }

  _dispatch(ev) {
    let data;
    const raw = ev.data.join('\n');
    try {
      data = raw ? JSON.parse(raw) : undefined;
    } catch {
      data = raw;
    }
    const e = { id: ev.id, event: ev.event || 'message', data };
    this.seen.push(e);
    for (const w of this._waiters) {
      if (w.name === e.event && w.match(e.data)) {
        this._waiters.splice(this._waiters.indexOf(w), 1);
        w.done(e.data);
        return;
      }
    }
    this.events.push(e);
  }

  // next takes the first event of that name whose data matches (already
  // received or to come), within timeout ms.
  next(name, match, what, timeout = 5000) {
    const i = this.events.findIndex((e) => e.event === name && match(e.data));
    if (i >= 0) return Promise.resolve(this.events.splice(i, 1)[0].data);
    if (this.ended) return Promise.reject(new Error(`the event stream ended (${this.ended}) before ${what}`));
    return new Promise((resolve, reject) => {
      const w = { name, match, what };
      const timer = setTimeout(() => {
        this._waiters.splice(this._waiters.indexOf(w), 1);
        const got = this.seen.slice(-10).map((e) => `${e.event} ${JSON.stringify(e.data)}`.slice(0, 300));
        reject(new Error(`timed out after ${timeout} ms waiting for ${what} (SSE event ${name}); last events:\n      ${got.join('\n      ') || '(none)'}`));
      }, timeout);
      w.done = (v) => { clearTimeout(timer); resolve(v); };
      w.fail = (e) => { clearTimeout(timer); reject(e); };
      this._waiters.push(w);
    });
  }

  close() {
    this._abort.abort();
  }
}

module.exports = { ParleyHTTP, EventStream };
