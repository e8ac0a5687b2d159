// Parley web demo: plain JavaScript, no build step, no dependencies.
//
// Everything that comes from the server or from a user is rendered with
// textContent and createElement, never as HTML, so no message, name or id can
// inject markup. The page's Content-Security-Policy forbids inline scripts
// and styles as a second line of defence.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const PAGE = 20; // history page size
  const MAX_LOG = 200; // event log entries kept on screen

  const state = {
    session: null, // {token, clientId, sessionId}
    es: null, // the EventSource
    convs: new Map(), // id -> {conv, unread, gone}
    pending: new Map(), // id -> Promise of an in-flight conversation fetch
    current: null, // id of the conversation on screen
    oldest: null, // id of the oldest message on screen
    shown: new Map(), // message id -> <li>, for the conversation on screen
  };

  // ---- DOM helpers -------------------------------------------------------

  // el builds an element; string children become text nodes, never HTML.
  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const c of children) {
      if (c == null || c === false) continue;
      e.append(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return e;
  }

  const clock = (ms) => (ms ? new Date(ms).toLocaleTimeString() : '');

  // ---- errors --------------------------------------------------------------

  function showError(err) {
    const code = (err && err.code) || 'ERROR';
    const detail = (err && (err.detail || err.title || err.message)) || String(err);
    $('error-code').textContent = code;
    $('error-detail').textContent = detail;
    $('error').hidden = false;
  }

  function clearError() {
    $('error').hidden = true;
  }

  // ---- REST ----------------------------------------------------------------

  // api calls the API and resolves to the decoded body, or rejects with the
  // problem document ({status, code, title, detail}).
  async function api(method, path, body) {
    const headers = {};
    if (state.session) headers.Authorization = 'Bearer ' + state.session.token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res;
    try {
      res = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw { code: 'NETWORK', detail: 'the server cannot be reached: ' + e.message };
    }
    if (res.status === 204) return null;
    const type = res.headers.get('Content-Type') || '';
    const data = type.includes('json') ? await res.json().catch(() => null) : null;
    if (res.ok) return data;
    const problem = data || { code: 'HTTP_' + res.status, detail: res.statusText };
    problem.status = res.status;
    if (state.session && (problem.code === 'UNAUTHORIZED' || problem.code === 'SESSION_CONFLICT')) {
      endSession();
    }
    throw problem;
  }

  const enc = encodeURIComponent;

  // ---- session -------------------------------------------------------------

  async function login(clientId, tag) {
    const body = { clientId };
    if (tag) body.tag = tag;
    const s = await api('POST', '/v1/sessions', body);
    state.session = { token: s.token, clientId: s.clientId, sessionId: s.sessionId };
    sessionStorage.setItem('parley.session', JSON.stringify(state.session));
    start();
  }

  function start() {
    $('login').hidden = true;
    $('me').hidden = false;
    $('app').hidden = false;
    $('me-client').textContent = state.session.clientId;
    openStream();
    loadConversations();
  }

  async function logout() {
    try {
      await api('DELETE', '/v1/sessions/current');
    } catch (e) {
      // The session may already be gone; log out locally anyway.
    }
    endSession();
  }

  // endSession forgets the session and goes back to the login form.
  function endSession() {
    if (state.es) state.es.close();
    state.es = null;
    state.session = null;
    sessionStorage.removeItem('parley.session');
    state.convs.clear();
    state.pending.clear();
    state.current = null;
    state.shown.clear();
    $('conv-list').replaceChildren();
    $('messages').replaceChildren();
    $('event-log').replaceChildren();
    $('chat-title').textContent = 'No conversation selected';
    $('chat-members').textContent = '';
    $('send').hidden = true;
    $('older').hidden = true;
    $('login').hidden = false;
    $('me').hidden = true;
    $('app').hidden = true;
    setStreamState('offline');
  }

  // ---- event stream --------------------------------------------------------

  const EVENTS = [
    'hello', 'message', 'invited', 'kicked', 'membersjoined', 'membersleft',
    'messagerecall', 'messageupdate', 'lastdeliveredatupdate', 'lastreadatupdate',
    'unreadmessagescountupdate', 'infoupdated', 'presence', 'conflict', 'reset',
  ];

  function setStreamState(s) {
    const st = $('stream-state');
    st.textContent = s;
    st.className = 'state ' + s;
  }

  // openStream opens the session's stream. EventSource reconnects by itself
  // and sends Last-Event-ID, so the server replays what was missed.
  function openStream() {
    if (state.es) state.es.close();
    const es = new EventSource('/v1/events?token=' + enc(state.session.token));
    state.es = es;
    setStreamState('connecting');
    es.onopen = () => setStreamState('live');
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) {
        // A 401 (or another refusal) ends an EventSource for good.
        setStreamState('closed');
        showError({ code: 'STREAM_CLOSED', detail: 'the event stream was refused; log in again' });
      } else {
        setStreamState('reconnecting');
      }
    };
    for (const name of EVENTS) {
      es.addEventListener(name, (ev) => {
        let data = null;
        try {
          data = JSON.parse(ev.data);
        } catch (e) {
          // Shown raw in the log below.
        }
        logEvent(name, ev.lastEventId, ev.data);
        if (data) onEvent(name, data);
      });
    }
  }

  function logEvent(name, id, raw) {
    const log = $('event-log');
    log.prepend(el('li', {},
      el('span', { class: 'ev-name', text: name }),
      el('span', { class: 'muted', text: ' ' + clock(Date.now()) + ' id ' + id }),
      el('pre', { text: raw })));
    while (log.childElementCount > MAX_LOG) log.lastElementChild.remove();
  }

  function onEvent(name, d) {
    switch (name) {
      case 'hello':
        // A fresh (not resumed) stream may have missed events: resync.
        if (!d.resumed && state.current) loadHistory();
        break;
      case 'message':
        onMessage(d);
        break;
      case 'invited':
        rememberConversation(d.conversationId);
        break;
      case 'kicked': {
        const c = state.convs.get(d.conversationId);
        if (c) {
          c.gone = true;
          renderConversations();
        }
        if (state.current === d.conversationId) {
          $('chat-members').textContent = 'You were removed by ' + d.kickedBy + '.';
          $('send').hidden = true;
        }
        break;
      }
      case 'membersjoined':
      case 'membersleft':
      case 'infoupdated':
        refreshConversation(d.conversationId);
        break;
      case 'messagerecall':
      case 'messageupdate':
        if (d.conversationId === state.current && state.shown.has(d.message.id)) {
          state.shown.get(d.message.id).replaceWith(renderMessage(d.message));
        }
        break;
      case 'unreadmessagescountupdate':
        for (const u of d.conversations || []) {
          const c = state.convs.get(u.conversationId);
          if (c && u.conversationId !== state.current) c.unread = u.unreadMessagesCount;
          else if (!c) rememberConversation(u.conversationId);
        }
        renderConversations();
        break;
      case 'conflict':
        endSession();
        showError({ code: 'SESSION_CONFLICT', detail: d.reason || 'a newer login replaced this session' });
        break;
      case 'reset':
        // The server could not replay what was missed: reload from REST.
        if (state.current) loadHistory();
        break;
    }
  }

  function onMessage(d) {
    if (d.conversationId === state.current) {
      appendMessage(d.message);
      return;
    }
    rememberConversation(d.conversationId).then(() => {
      const c = state.convs.get(d.conversationId);
      if (c) {
        c.unread = (c.unread || 0) + 1;
        renderConversations();
      }
    });
  }

  // ---- conversations -------------------------------------------------------

  const storeKey = () => 'parley.convs.' + state.session.clientId;

  function saveConversationIds() {
    if (!state.session) return;
    localStorage.setItem(storeKey(), JSON.stringify([...state.convs.keys()]));
  }

  async function loadConversations() {
    let ids = [];
    try {
      ids = JSON.parse(localStorage.getItem(storeKey()) || '[]');
    } catch (e) {
      ids = [];
    }
    // The query endpoint may not exist on this server version: then the
    // demo knows the conversations it created, opened or was invited to.
    try {
      const where = JSON.stringify({ m: state.session.clientId });
      const r = await api('GET', '/v1/conversations?limit=100&where=' + enc(where));
      for (const c of r.results || []) addConversation(c);
    } catch (e) {
      if (e.status !== 404 && e.status !== 405) showError(e);
    }
    await Promise.all(ids.map((id) => rememberConversation(id, true)));
  }

  function addConversation(conv) {
    const c = state.convs.get(conv.id) || { unread: 0 };
    c.conv = conv;
    c.gone = false;
    if (conv.unreadMessagesCount != null && conv.id !== state.current) c.unread = conv.unreadMessagesCount;
    state.convs.set(conv.id, c);
    saveConversationIds();
    renderConversations();
    if (conv.id === state.current) renderChatHeader();
  }

  // rememberConversation fetches a conversation not yet known. quiet drops
  // errors (a remembered conversation may have gone away).
  function rememberConversation(id, quiet) {
    if (state.convs.has(id)) return Promise.resolve();
    if (!state.pending.has(id)) {
      const p = api('GET', '/v1/conversations/' + enc(id))
        .then(addConversation)
        .catch((e) => { if (!quiet) showError(e); })
        .finally(() => state.pending.delete(id));
      state.pending.set(id, p);
    }
    return state.pending.get(id);
  }

  async function refreshConversation(id) {
    try {
      addConversation(await api('GET', '/v1/conversations/' + enc(id)));
    } catch (e) {
      if (e.code !== 'NOT_A_MEMBER' && e.code !== 'CONVERSATION_NOT_FOUND') showError(e);
    }
  }

  const title = (conv) => conv.name || (conv.members || []).join(', ') || conv.id;

  function renderConversations() {
    const list = [...state.convs.values()].filter((c) => c.conv);
    list.sort((a, b) => (b.conv.lastMessageAt || b.conv.createdAt) - (a.conv.lastMessageAt || a.conv.createdAt));
    $('conv-list').replaceChildren(...list.map((c) => {
      const li = el('li', { class: c.conv.id === state.current ? 'selected' : '' },
        el('button', { type: 'button', onclick: () => select(c.conv.id) },
          el('span', { class: 'conv-title', text: title(c.conv) }),
          c.unread ? el('span', { class: 'badge', text: String(c.unread) }) : null,
          c.gone ? el('span', { class: 'muted', text: ' (left)' }) : null));
      return li;
    }));
  }

  function renderChatHeader() {
    const c = state.convs.get(state.current);
    if (!c || !c.conv) return;
    $('chat-title').textContent = title(c.conv);
    const members = c.conv.members ? 'Members: ' + c.conv.members.join(', ') : '';
    $('chat-members').textContent = members + (members ? ' · ' : '') + 'id ' + c.conv.id;
  }

  async function select(id) {
    state.current = id;
    const c = state.convs.get(id);
    if (c) c.unread = 0;
    renderConversations();
    renderChatHeader();
    $('send').hidden = false;
    await loadHistory();
    $('send-text').focus();
  }

  // ---- messages ------------------------------------------------------------

  function describe(m) {
    if (m.recalled) return '(recalled)';
    switch (m.type) {
      case -1: return m.text || '';
      case -5: return '📍 ' + m.location.latitude + ', ' + m.location.longitude + (m.text ? ' ' + m.text : '');
      case undefined: case null: return m.data || '';
      default: {
        const kinds = { '-2': 'image', '-3': 'audio', '-4': 'video', '-6': 'file' };
        const kind = kinds[m.type] || 'type ' + m.type;
        return '[' + kind + '] ' + (m.text || (m.fields ? JSON.stringify(m.fields) : ''));
      }
    }
  }

  function renderMessage(m) {
    const mine = state.session && m.from === state.session.clientId;
    const li = el('li', { class: 'msg' + (mine ? ' mine' : '') + (m.recalled ? ' recalled' : '') },
      el('span', { class: 'from', text: m.from }),
      el('span', { class: 'time', text: clock(m.timestamp) + (m.patchedAt ? ' (edited)' : '') }),
      el('div', { class: 'text', text: describe(m) }));
    if (m.file && m.file.url && !m.recalled) {
      // Only http(s) links: a javascript: URL must never become clickable.
      const url = String(m.file.url);
      li.append(/^https?:\/\//i.test(url) || url.startsWith('/')
        ? el('a', { href: url, target: '_blank', rel: 'noopener noreferrer', text: m.file.name || url })
        : el('span', { text: url }));
    }
    li.dataset.id = m.id;
    state.shown.set(m.id, li);
    return li;
  }

  function appendMessage(m) {
    if (state.shown.has(m.id)) return;
    const list = $('messages');
    list.append(renderMessage(m));
    if (!state.oldest) state.oldest = m.id;
    list.lastElementChild.scrollIntoView({ block: 'nearest' });
  }

  async function loadHistory() {
    const id = state.current;
    try {
      const page = await api('GET', '/v1/conversations/' + enc(id) + '/messages?limit=' + PAGE);
      if (id !== state.current) return;
      state.shown.clear();
      $('messages').replaceChildren(...page.messages.map(renderMessage));
      state.oldest = page.messages.length ? page.messages[0].id : null;
      $('older').hidden = !page.hasMore;
      const last = $('messages').lastElementChild;
      if (last) last.scrollIntoView({ block: 'nearest' });
    } catch (e) {
      showError(e);
    }
  }

  async function loadOlder() {
    const id = state.current;
    if (!state.oldest) return;
    try {
      const page = await api('GET', '/v1/conversations/' + enc(id) + '/messages?limit=' + PAGE + '&before=' + enc(state.oldest));
      if (id !== state.current) return;
      const fresh = page.messages.filter((m) => !state.shown.has(m.id));
      $('messages').prepend(...fresh.map(renderMessage));
      if (page.messages.length) state.oldest = page.messages[0].id;
      $('older').hidden = !page.hasMore;
    } catch (e) {
      showError(e);
    }
  }

  function newClientMessageId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + '-' + Math.random().toString(36).slice(2);
  }

  async function send(text) {
    const id = state.current;
    const m = await api('POST', '/v1/conversations/' + enc(id) + '/messages',
      { type: -1, text, clientMessageId: newClientMessageId() });
    if (id === state.current) appendMessage(m);
  }

  // ---- forms ---------------------------------------------------------------

  // on wires a form's submit to an async action, showing its errors.
  function on(formId, action) {
    $(formId).addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearError();
      const button = ev.target.querySelector('button');
      if (button) button.disabled = true;
      try {
        await action(ev.target);
      } catch (e) {
        showError(e);
      } finally {
        if (button) button.disabled = false;
      }
    });
  }

  on('login', () => login($('login-client').value.trim(), $('login-tag').value.trim()));

  on('create', async (form) => {
    const members = $('create-members').value.split(',').map((s) => s.trim()).filter(Boolean);
    const body = { members, unique: $('create-unique').checked };
    const name = $('create-name').value.trim();
    if (name) body.name = name;
    const conv = await api('POST', '/v1/conversations', body);
    addConversation(conv);
    form.reset();
    $('create-unique').checked = true;
    await select(conv.id);
  });

  on('open', async (form) => {
    const id = $('open-id').value.trim();
    addConversation(await api('GET', '/v1/conversations/' + enc(id)));
    form.reset();
    await select(id);
  });

  on('send', async () => {
    const input = $('send-text');
    const text = input.value;
    if (!text.trim()) return;
    await send(text);
    input.value = '';
  });

  $('older').addEventListener('click', () => { clearError(); loadOlder(); });
  $('logout').addEventListener('click', logout);
  $('error-close').addEventListener('click', clearError);

  // Resume the session of this tab after a reload.
  try {
    state.session = JSON.parse(sessionStorage.getItem('parley.session'));
  } catch (e) {
    state.session = null;
  }
  if (state.session && state.session.token) start();
  else state.session = null;
})();
