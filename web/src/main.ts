// Parley's web demo: a chat client over the REST API and the event stream.
//
// Everything that comes from the server or from a user is rendered with
// textContent and createElement, never as HTML; the page's CSP forbids inline
// scripts and styles as a second line of defence.
import { api, ApiError, type Conversation, type Message, must, setToken, upload, whenUnauthorized } from './client';
import { $, clock, day, el, show, stamp } from './dom';
import { body, isTyping, preview, TYPING } from './messages';
import { openStream, type Stream } from './stream';

const PAGE = 30; // history page size
const MAX_LOG = 300; // developer log entries kept
const TYPING_SHOWN = 5000; // ms a typing notice stays up
const TYPING_EVERY = 2500; // ms between our own typing notices
const FALLBACK_LOCATION = { latitude: 48.8584, longitude: 2.2945 };

interface Session {
  token: string;
  clientId: string;
  sessionId: string;
  tag?: string;
}

interface Conv {
  conv: Conversation;
  unread: number;
  mentioned: boolean;
  gone?: string; // why we are no longer in it
}

const state = {
  session: null as Session | null,
  live: false, // our own event stream is connected: presence is known

  stream: null as Stream | null,
  convs: new Map<string, Conv>(),
  current: '' as string,
  shown: new Map<string, HTMLElement>(), // message id -> element, for the open conversation
  msgs: new Map<string, Message>(),
  oldest: '' as string,
  hasMore: false,
  loadingOlder: false,
  members: [] as { clientId: string; role?: string }[],
  presence: new Map<string, boolean>(),
  typing: new Map<string, number>(), // clientId -> timer
  lastTypingSent: 0,
  editing: null as Message | null,
  readTimer: 0,
  pane: 'list' as 'list' | 'chat' | 'details',
  roomCount: 0,
  started: false, // a hello was seen: later fresh (not resumed) streams resynchronise
};

const me = () => state.session?.clientId || '';
const cur = () => state.convs.get(state.current);

// ---- notices ---------------------------------------------------------------

let noticeTimer = 0;

function notice(text: string): void {
  $('notice-text').textContent = text;
  show($('notice'), true);
  clearTimeout(noticeTimer);
  noticeTimer = window.setTimeout(() => show($('notice'), false), 8000);
}

function fail(e: unknown): void {
  if (e instanceof ApiError) notice(e.code + ': ' + e.message);
  else notice(String((e as Error)?.message || e));
}

function banner(text: string): void {
  const b = $('banner');
  b.textContent = text;
  show(b, !!text);
}

// ---- session ---------------------------------------------------------------

const SESSION_KEY = 'parley.session';

async function login(clientId: string, tag: string): Promise<void> {
  const s = await must(api.POST('/v1/sessions', { body: tag ? { clientId, tag } : { clientId } }));
  state.session = { token: s.token, clientId: s.clientId, sessionId: s.sessionId, tag: s.tag };
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(state.session));
  start();
}

function start(): void {
  const s = state.session!;
  setToken(s.token);
  show($('login-screen'), false);
  show($('app'), true);
  $('me').textContent = s.clientId + (s.tag ? ' · ' + s.tag : '');
  document.title = 'Parley · ' + s.clientId;
  state.stream = openStream(s.token, {
    onEvent,
    onState: (st) => {
      state.live = st === 'live';
      banner(st === 'live' ? '' : st === 'reconnecting' ? 'Reconnecting…' : 'Disconnected');
      renderSub(); // presence is unknown while we are away
    },
    onRefused: () => checkSession(),
  });
  loadConversations().then(() => {
    const want = sessionStorage.getItem('parley.open');
    if (want && state.convs.has(want)) select(want, false);
  });
  setPane('list');
}

async function checkSession(): Promise<void> {
  try {
    await must(api.GET('/v1/unread'));
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return;
  }
  state.stream?.reconnect(); // refused for another reason: try again later
}

function endSession(why?: string): void {
  state.stream?.close();
  state.stream = null;
  state.session = null;
  state.started = false;
  setToken('');
  sessionStorage.removeItem(SESSION_KEY);
  sessionStorage.removeItem('parley.open');
  state.convs.clear();
  closeChat();
  listItems.clear();
  $('conv-list').replaceChildren();
  events.length = 0;
  $('event-log').replaceChildren();
  banner('');
  show($('app'), false);
  show($('login-screen'), true);
  document.title = 'Parley';
  if (why) notice(why);
}

whenUnauthorized((code) =>
  endSession(code === 'SESSION_CONFLICT' ? 'This session was replaced by a newer login with the same tag.' : 'Your session has ended: log in again.'),
);

// ---- events ----------------------------------------------------------------

// The developer log keeps the raw events in memory and puts them in the page
// only while its panel is open, so that closed it adds nothing to the page
// (nor to what a search of the page's text finds).
const events: { name: string; id: string; raw: string; at: number }[] = [];

function logEntry(e: (typeof events)[number]): HTMLElement {
  return el('li', {}, el('b', { text: e.name }), el('span', { class: 'muted', text: ' ' + clock(e.at) + (e.id ? ' · id ' + e.id : '') }), el('pre', { text: e.raw }));
}

function logEvent(name: string, id: string, raw: string): void {
  const e = { name, id, raw, at: Date.now() };
  events.push(e);
  if (events.length > MAX_LOG) events.shift();
  if (!($('devlog') as HTMLDetailsElement).open) return;
  const log = $('event-log');
  log.prepend(logEntry(e));
  while (log.childElementCount > MAX_LOG) log.lastElementChild!.remove();
}

function renderLog(): void {
  const open = ($('devlog') as HTMLDetailsElement).open;
  $('event-log').replaceChildren(...(open ? events.map(logEntry).reverse() : []));
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Data = any; // event data, as listed under x-parley-events in the OpenAPI document

function onEvent(name: string, id: string, raw: string): void {
  logEvent(name, id, raw);
  let d: Data;
  try {
    d = JSON.parse(raw);
  } catch {
    return;
  }
  switch (name) {
    case 'hello':
      if (!d.resumed && state.started) resync(false);
      state.started = true;
      break;
    case 'message':
      onMessage(d.conversationId, d.message, !!d.mentioned);
      break;
    case 'invited':
      refreshConversation(d.conversationId); // it shows up in the list
      break;
    case 'kicked': {
      const c = state.convs.get(d.conversationId);
      if (c) {
        c.gone = 'removed by ' + d.kickedBy;
        renderList();
        if (state.current === d.conversationId) renderChat();
      }
      notice(d.kickedBy + ' removed you from ' + (c ? title(c.conv) : 'a conversation') + '.');
      break;
    }
    case 'membersleft':
      // Our own quit (from this tab or another): the conversation is gone
      // from our list, not a conversation to show again as a non-member.
      if (d.members.includes(state.session?.clientId ?? '')) {
        forget(d.conversationId);
        state.convs.delete(d.conversationId);
        if (state.current === d.conversationId) closeChat();
        renderList();
        break;
      }
      refreshConversation(d.conversationId);
      break;
    case 'membersjoined':
    case 'infoupdated':
    case 'memberinfoupdated':
      refreshConversation(d.conversationId);
      break;
    case 'messagerecall':
    case 'messageupdate':
      if (d.conversationId === state.current) replaceMessage(d.message);
      touchPreview(d.conversationId, d.message);
      break;
    case 'lastdeliveredatupdate':
    case 'lastreadatupdate': {
      const c = state.convs.get(d.conversationId);
      if (!c) break;
      if (name === 'lastreadatupdate') c.conv.lastReadAt = Math.max(c.conv.lastReadAt || 0, d.lastReadAt);
      else c.conv.lastDeliveredAt = Math.max(c.conv.lastDeliveredAt || 0, d.lastDeliveredAt);
      if (d.conversationId === state.current) renderReceipts();
      break;
    }
    case 'unreadmessagescountupdate':
      for (const u of d.conversations || []) {
        const c = state.convs.get(u.conversationId);
        if (!c) {
          refreshConversation(u.conversationId);
          continue;
        }
        if (u.conversationId === state.current && visible()) {
          if (u.unreadMessagesCount) scheduleRead();
          continue;
        }
        c.unread = u.unreadMessagesCount;
        c.mentioned = !!u.mentioned && c.unread > 0;
        if (u.lastMessage) bump(c, u.lastMessage);
      }
      renderList();
      break;
    case 'presence':
      state.presence.set(d.clientId, !!d.online);
      if (state.current) {
        renderSub();
        renderMembers();
      }
      break;
    case 'conflict':
      endSession('You logged in elsewhere with the same tag, so this tab was signed out' + (d.reason ? ' (' + d.reason + ').' : '.'));
      break;
    case 'reset':
      notice('The server could not replay what this tab missed, so the page was resynchronised.');
      resync(true);
      break;
  }
}

// resync reloads the list and the open conversation's newest messages.
async function resync(quiet: boolean): Promise<void> {
  await loadConversations();
  if (state.current) {
    await loadHistory(true);
    if (!quiet) markRead();
  }
}

// ---- conversations ---------------------------------------------------------

const OPENED_KEY = () => 'parley.opened.' + me();

function remember(id: string): void {
  const ids = new Set<string>(JSON.parse(localStorage.getItem(OPENED_KEY()) || '[]'));
  ids.add(id);
  localStorage.setItem(OPENED_KEY(), JSON.stringify([...ids]));
}

function forget(id: string): void {
  const ids = new Set<string>(JSON.parse(localStorage.getItem(OPENED_KEY()) || '[]'));
  ids.delete(id);
  localStorage.setItem(OPENED_KEY(), JSON.stringify([...ids]));
}

async function loadConversations(): Promise<void> {
  try {
    const r = await must(
      api.GET('/v1/conversations', {
        params: { query: { where: JSON.stringify({ m: me() }), limit: 200, withLastMessage: true, sort: '-lastMessageAt' } },
      }),
    );
    for (const c of r.results || []) addConversation(c);
    const u = await must(api.GET('/v1/unread'));
    for (const e of u.conversations || []) {
      const c = state.convs.get(e.conversationId);
      if (c && e.conversationId !== state.current) {
        c.unread = e.unreadMessagesCount;
        c.mentioned = e.mentioned && e.unreadMessagesCount > 0;
      }
    }
  } catch (e) {
    fail(e);
  }
  // Chat rooms and temporary conversations are never listed: the ids this
  // client opened are kept in the browser.
  let ids: string[] = [];
  try {
    ids = JSON.parse(localStorage.getItem(OPENED_KEY()) || '[]');
  } catch {
    ids = [];
  }
  await Promise.all(ids.filter((id) => !state.convs.has(id)).map((id) => refreshConversation(id, true)));
  renderList();
}

function addConversation(conv: Conversation): Conv {
  let c = state.convs.get(conv.id);
  if (!c) {
    c = { conv, unread: 0, mentioned: false };
    state.convs.set(conv.id, c);
  }
  const keep = c.conv;
  c.conv = { ...conv, lastMessage: conv.lastMessage || keep.lastMessage };
  if (keep.lastReadAt && (!conv.lastReadAt || conv.lastReadAt < keep.lastReadAt)) c.conv.lastReadAt = keep.lastReadAt;
  if (keep.lastDeliveredAt && (!conv.lastDeliveredAt || conv.lastDeliveredAt < keep.lastDeliveredAt)) c.conv.lastDeliveredAt = keep.lastDeliveredAt;
  if (conv.unreadMessagesCount != null && conv.id !== state.current) c.unread = conv.unreadMessagesCount;
  if (conv.members && !conv.members.includes(me()) && conv.kind !== 'chatroom') c.gone = c.gone || 'not a member';
  else if (conv.members?.includes(me())) c.gone = undefined;
  return c;
}

async function refreshConversation(id: string, quiet = false): Promise<void> {
  try {
    addConversation(await must(api.GET('/v1/conversations/{id}', { params: { path: { id } } })));
  } catch (e) {
    if (e instanceof ApiError && e.code === 'CONVERSATION_NOT_FOUND') {
      forget(id);
      const c = state.convs.get(id);
      if (c) c.gone = 'expired or deleted';
    } else if (e instanceof ApiError && e.code === 'NOT_A_MEMBER') {
      const c = state.convs.get(id);
      if (c) c.gone = c.gone || 'not a member';
    } else if (!quiet) fail(e);
  }
  renderList();
  if (id === state.current) {
    renderChat();
    loadMembers();
  }
}

const oneToOne = (c: Conversation) => (c.kind === 'normal' || c.kind === 'temporary') && (c.members || []).length === 2;
const other = (c: Conversation) => (c.members || []).find((m) => m !== me()) || me();

function title(c: Conversation): string {
  if (c.name) return c.name;
  if (oneToOne(c)) return other(c);
  if (c.members?.length) return c.members.filter((m) => m !== me()).join(', ') || me();
  return c.id;
}

const activity = (c: Conv) => c.conv.lastMessageAt || c.conv.lastMessage?.timestamp || c.conv.createdAt || 0;

function bump(c: Conv, m: Message): void {
  if (!c.conv.lastMessage || m.timestamp >= (c.conv.lastMessage.timestamp || 0)) c.conv.lastMessage = m;
  c.conv.lastMessageAt = Math.max(c.conv.lastMessageAt || 0, m.timestamp);
}

function touchPreview(id: string, m: Message): void {
  const c = state.convs.get(id);
  if (c && c.conv.lastMessage?.id === m.id) {
    c.conv.lastMessage = m;
    renderList();
  }
}

const KIND_LABEL: Record<string, string> = { chatroom: 'Chat room', temporary: 'Temporary', system: 'System', normal: 'Group' };

// The list's items are keyed by conversation id and kept from one render to
// the next: only what changed is rewritten and items are moved, never
// re-created, so that a click (a press and a release, possibly apart on a slow
// machine) that straddles a re-render (a message, a read mark) still lands on
// the button it began on and opens what the user clicked.
const listItems = new Map<string, { li: HTMLLIElement; button: HTMLButtonElement; key: string }>();

function listItem(id: string): { li: HTMLLIElement; button: HTMLButtonElement; key: string } {
  let it = listItems.get(id);
  if (!it) {
    const button = el('button', { type: 'button', onclick: () => select(id) });
    it = { li: el('li', {}, button), button, key: '' };
    listItems.set(id, it);
  }
  return it;
}

function renderList(): void {
  const list = [...state.convs.values()].sort((a, b) => activity(b) - activity(a));
  show($('conv-empty'), list.length === 0);
  const ul = $('conv-list');
  for (const [id, it] of listItems) {
    if (!state.convs.has(id)) {
      it.li.remove();
      listItems.delete(id);
    }
  }
  list.forEach((c, i) => {
    const name = title(c.conv);
    const label = name + (c.unread ? ', ' + c.unread + ' unread' : '');
    const lm = c.conv.lastMessage;
    const who = lm ? (lm.from === me() ? 'You: ' : oneToOne(c.conv) ? '' : lm.from + ': ') : '';
    const kind = oneToOne(c.conv) ? '' : KIND_LABEL[c.conv.kind] || c.conv.kind;
    const selected = c.conv.id === state.current;
    const time = stamp(activity(c));
    const text = c.gone ? '(' + c.gone + ')' : lm ? who + preview(lm) : kind ? kind : 'No messages yet';
    const it = listItem(c.conv.id);
    const key = JSON.stringify([label, name, selected, !!c.gone, time, text, c.mentioned, c.unread]);
    if (it.key !== key) {
      it.key = key;
      it.li.className = 'conv' + (selected ? ' selected' : '') + (c.gone ? ' gone' : '');
      it.li.setAttribute('aria-label', label);
      it.button.setAttribute('aria-label', label);
      if (selected) it.button.setAttribute('aria-current', 'true');
      else it.button.removeAttribute('aria-current');
      it.button.replaceChildren(
        el('span', { class: 'avatar', 'aria-hidden': 'true', text: (name[0] || '?').toUpperCase() }),
        el(
          'span',
          { class: 'conv-main' },
          el('span', { class: 'conv-top' }, el('span', { class: 'conv-name', text: name }), el('span', { class: 'conv-time', text: time })),
          el(
            'span',
            { class: 'conv-bottom' },
            el('span', { class: 'conv-preview', text }),
            c.mentioned ? el('span', { class: 'mention-mark', title: 'You were mentioned', text: '@' }) : null,
            c.unread ? el('span', { class: 'badge', text: String(c.unread) }) : null,
          ),
        ),
      );
    }
    if (ul.children[i] !== it.li) ul.insertBefore(it.li, ul.children[i] || null);
  });
  const total = [...state.convs.values()].reduce((n, c) => n + c.unread, 0);
  document.title = (total ? '(' + total + ') ' : '') + 'Parley' + (me() ? ' · ' + me() : '');
}

async function createConversation(): Promise<void> {
  const members = ($('create-members') as HTMLInputElement).value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const name = ($('create-name') as HTMLInputElement).value.trim();
  const kind = ($('create-kind') as HTMLSelectElement).value as 'normal' | 'chatroom' | 'temporary';
  if (kind !== 'chatroom' && members.length === 0) {
    notice('Type at least one member’s client ID, e.g. Jerry.');
    return;
  }
  const conv = await must(
    api.POST('/v1/conversations', {
      body: {
        members: kind === 'chatroom' ? undefined : members,
        name: name || undefined,
        kind,
        unique: kind === 'normal' && members.length === 1 && !name ? true : undefined,
      },
    }),
  );
  if (kind !== 'normal') remember(conv.id);
  if (kind === 'chatroom') await must(api.POST('/v1/conversations/{id}/join', { params: { path: { id: conv.id } } })).catch(() => {});
  addConversation(conv);
  ($('create') as HTMLFormElement).reset();
  toggleCreate(false);
  renderList();
  select(conv.id);
}

// openById opens a conversation by its id, joining it first when needed (a
// chat room is always joined).
async function openById(id: string): Promise<void> {
  // A query finds chat rooms and conversations one is not in without a 403;
  // temporary conversations are never listed, so those are asked for by id.
  const found = await must(api.GET('/v1/conversations', { params: { query: { where: JSON.stringify({ id }), limit: 1 } } }));
  let conv: Conversation | null = found.results?.[0] || null;
  if (!conv) {
    try {
      conv = await must(api.GET('/v1/conversations/{id}', { params: { path: { id } } }));
    } catch (e) {
      if (!(e instanceof ApiError && (e.code === 'NOT_A_MEMBER' || e.code === 'FORBIDDEN'))) throw e;
    }
  }
  const member = conv?.members?.includes(me());
  if (!conv || conv.kind === 'chatroom' || conv.kind === 'system' || !member) {
    await must(api.POST('/v1/conversations/{id}/join', { params: { path: { id } } }));
    conv = await must(api.GET('/v1/conversations/{id}', { params: { path: { id } } }));
  }
  if (conv.kind !== 'normal') remember(id);
  addConversation(conv).gone = undefined;
  ($('open-id') as HTMLInputElement).value = '';
  renderList();
  await select(id);
}

// ---- the open conversation -------------------------------------------------

function closeChat(): void {
  state.current = '';
  state.shown.clear();
  state.msgs.clear();
  state.members = [];
  state.roomCount = 0;
  for (const t of state.typing.values()) clearTimeout(t);
  state.typing.clear();
  $('messages').replaceChildren();
  renderTyping();
  cancelEdit();
  show($('chat'), false);
  show($('chat-empty'), true);
  show($('details-pane'), false);
  setPane('list');
}

async function select(id: string, focus = true): Promise<void> {
  const c = state.convs.get(id);
  if (!c) return;
  const switching = state.current !== id;
  if (switching) {
    closeChat();
    state.current = id;
    sessionStorage.setItem('parley.open', id);
  }
  show($('chat-empty'), false);
  show($('chat'), true);
  setPane('chat');
  renderList();
  renderChat();
  // The composer is focused now, as the user clicks, not once the history
  // has loaded: by then (on a slow network) the user may be typing
  // somewhere else, and focus must not be taken from there.
  if (focus && matchMedia('(min-width: 700px)').matches) $('message').focus();
  if (c.conv.kind === 'chatroom' && !c.gone) {
    // Re-seat this session (a session is in one chat room at a time).
    await must(api.POST('/v1/conversations/{id}/join', { params: { path: { id } } })).catch(() => {});
  }
  if (state.current !== id) return;
  await Promise.all([loadHistory(true), loadMembers()]);
  if (state.current !== id) return;
  markRead();
}

function renderChat(): void {
  const c = cur();
  if (!c) return;
  $('chat-title').textContent = title(c.conv);
  renderSub();
  const gone = !!c.gone;
  for (const e of $('composer').querySelectorAll<HTMLInputElement | HTMLButtonElement>('input, button')) e.disabled = gone;
  ($('message') as HTMLInputElement).placeholder = gone ? 'You are no longer in this conversation (' + c.gone + ').' : 'Write a message — @ to mention';
  renderDetails();
}

function renderSub(): void {
  const c = cur();
  if (!c) return;
  const parts: string[] = [];
  if (oneToOne(c.conv)) {
    const o = other(c.conv);
    const on = state.live ? state.presence.get(o) : undefined;
    parts.push(on === undefined ? '' : on ? 'online' : 'offline');
    if (c.conv.kind === 'temporary') parts.push('temporary');
  } else if (c.conv.kind === 'chatroom') {
    parts.push('Chat room' + (state.roomCount ? ' · ' + state.roomCount + ' online here' : ''));
  } else {
    parts.push((KIND_LABEL[c.conv.kind] || c.conv.kind) + ' · ' + (c.conv.members || []).length + ' members');
  }
  const sub = $('chat-sub');
  sub.textContent = parts.filter(Boolean).join(' · ');
  sub.classList.toggle('online', state.live && oneToOne(c.conv) && !!state.presence.get(other(c.conv)));
}

// historyLoad numbers the loads of history: only the latest one, for the
// open conversation, may write the page (an earlier one, for a conversation
// the user has since left, is dropped when it answers).
let historyLoad = 0;

async function loadHistory(fresh: boolean): Promise<void> {
  const id = state.current;
  if (!id) return;
  if (!fresh && (state.loadingOlder || !state.hasMore)) return;
  const load = ++historyLoad;
  state.loadingOlder = true;
  try {
    const query: { limit: number; before?: string } = { limit: PAGE };
    if (!fresh && state.oldest) query.before = state.oldest;
    const page = await must(api.GET('/v1/conversations/{id}/messages', { params: { path: { id }, query } }));
    if (state.current !== id || load !== historyLoad) return;
    const log = $('log');
    if (fresh) {
      state.shown.clear();
      state.msgs.clear();
      $('messages').replaceChildren();
    }
    const before = log.scrollHeight - log.scrollTop;
    const msgs = page.messages || [];
    if (msgs.length) state.oldest = msgs[0].id;
    else if (fresh) state.oldest = '';
    state.hasMore = page.hasMore;
    for (const m of msgs) state.msgs.set(m.id, m);
    renderMessages();
    if (fresh) scrollDown(true);
    else log.scrollTop = log.scrollHeight - before;
    const last = msgs[msgs.length - 1];
    if (fresh && last && last.from !== me()) {
      api.POST('/v1/conversations/{id}/delivered', { params: { path: { id } }, body: { messageId: last.id } }).catch(() => {});
    }
  } catch (e) {
    if (e instanceof ApiError && (e.code === 'NOT_A_MEMBER' || e.code === 'CONVERSATION_NOT_FOUND')) {
      const c = state.convs.get(id);
      if (c) c.gone = e.code === 'NOT_A_MEMBER' ? 'not a member' : 'expired or deleted';
      renderList();
      if (state.current === id) renderChat();
    } else fail(e);
  } finally {
    if (load === historyLoad) state.loadingOlder = false;
  }
}

// renderMessages lays out the open conversation's messages in order, with a
// date line wherever the day changes. Existing elements are reused.
function renderMessages(): void {
  const sorted = [...state.msgs.values()].sort((a, b) => a.timestamp - b.timestamp || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const nodes: HTMLElement[] = [];
  let lastDay = '';
  let prev: Message | null = null;
  for (const m of sorted) {
    const d = day(m.timestamp);
    if (d !== lastDay) {
      nodes.push(el('div', { class: 'day', role: 'separator', text: d }));
      lastDay = d;
      prev = null;
    }
    let e = state.shown.get(m.id);
    if (!e) {
      e = renderMessage(m);
      state.shown.set(m.id, e);
    }
    e.classList.toggle('cont', !!prev && prev.from === m.from && m.timestamp - prev.timestamp < 5 * 60_000);
    nodes.push(e);
    prev = m;
  }
  $('messages').replaceChildren(...nodes);
  show($('older'), state.hasMore);
  show($('log-empty'), sorted.length === 0);
  renderReceipts();
}

function renderMessage(m: Message): HTMLElement {
  const mine = m.from === me();
  const c = cur();
  const art = el(
    'article',
    { class: 'msg' + (mine ? ' mine' : '') + (m.recalled ? ' recalled' : ''), 'data-id': m.id, tabindex: '-1' },
    el(
      'header',
      { class: 'meta' },
      el('span', { class: 'from', text: m.from }),
      el('time', { class: 'time', datetime: new Date(m.timestamp).toISOString(), title: new Date(m.timestamp).toLocaleString(), text: clock(m.timestamp) }),
      m.patchedAt && !m.recalled ? el('span', { class: 'edited', text: 'edited' }) : null,
    ),
  );
  art.setAttribute('aria-label', m.from); // the sender names the message
  art.append(body(m, () => scrollDown(false)));
  if (m.mentionAll || m.mentionList?.includes(me())) art.classList.add('mentions-me');
  if (mine && !m.recalled) {
    art.append(
      el(
        'div',
        { class: 'actions' },
        m.type === -1 ? el('button', { type: 'button', class: 'link', text: 'Edit', onclick: () => startEdit(m) }) : null,
        el('button', { type: 'button', class: 'link', text: 'Recall', onclick: () => recall(m) }),
      ),
    );
  }
  if (mine && c && oneToOne(c.conv) && !m.recalled) art.append(el('span', { class: 'receipt' }));
  return art;
}

// renderReceipts writes "Delivered" or "Read" into one's own messages of a
// one-to-one conversation.
function renderReceipts(): void {
  const c = cur();
  if (!c || !oneToOne(c.conv)) return;
  const read = c.conv.lastReadAt || 0;
  const delivered = Math.max(c.conv.lastDeliveredAt || 0, read);
  for (const [id, e] of state.shown) {
    const r = e.querySelector('.receipt');
    const m = state.msgs.get(id);
    if (!r || !m) continue;
    const word = m.timestamp <= read ? 'Read' : m.timestamp <= delivered ? 'Delivered' : 'Sent';
    if (r.textContent !== word) r.textContent = word;
    r.className = 'receipt ' + word.toLowerCase();
  }
}

function replaceMessage(m: Message): void {
  if (!state.msgs.has(m.id)) return;
  state.msgs.set(m.id, m);
  const old = state.shown.get(m.id);
  const e = renderMessage(m);
  state.shown.set(m.id, e);
  old?.replaceWith(e);
  renderMessages();
  if (state.editing?.id === m.id && m.recalled) cancelEdit();
}

function nearBottom(): boolean {
  const log = $('log');
  return log.scrollHeight - log.scrollTop - log.clientHeight < 120;
}

function scrollDown(force: boolean): void {
  const log = $('log');
  if (force || nearBottom()) log.scrollTop = log.scrollHeight;
}

function onMessage(convId: string, m: Message, mentioned: boolean): void {
  if (isTyping(m)) {
    if (convId === state.current && m.from !== me()) typing(m.from, m.fields?.[TYPING] === true);
    return;
  }
  let c = state.convs.get(convId);
  if (!c) {
    refreshConversation(convId).then(() => {
      const n = state.convs.get(convId);
      if (n && m.from !== me()) {
        n.unread++;
        n.mentioned ||= mentioned;
        bump(n, m);
        renderList();
      }
    });
    return;
  }
  if (!m.transient) bump(c, m);
  if (convId === state.current) {
    typing(m.from, false);
    const stick = nearBottom() || m.from === me();
    state.msgs.set(m.id, m);
    renderMessages();
    if (stick) scrollDown(true);
    if (m.from !== me()) {
      if (visible()) scheduleRead();
      else {
        c.unread++;
        c.mentioned ||= mentioned;
      }
    }
  } else if (m.from !== me() && !m.transient && c.conv.kind !== 'chatroom') {
    c.unread++;
    c.mentioned ||= mentioned;
  }
  c = state.convs.get(convId)!;
  renderList();
}

// ---- typing ----------------------------------------------------------------

function typing(who: string, on: boolean): void {
  clearTimeout(state.typing.get(who));
  if (on) state.typing.set(who, window.setTimeout(() => typing(who, false), TYPING_SHOWN));
  else state.typing.delete(who);
  renderTyping();
}

function renderTyping(): void {
  const who = [...state.typing.keys()];
  $('typing').textContent = who.length === 0 ? '' : who.length === 1 ? who[0] + ' is typing…' : who.join(', ') + ' are typing…';
}

function sendTyping(): void {
  const c = cur();
  if (!c || c.gone || Date.now() - state.lastTypingSent < TYPING_EVERY) return;
  state.lastTypingSent = Date.now();
  api
    .POST('/v1/conversations/{id}/messages', {
      params: { path: { id: c.conv.id } },
      body: { type: 101, fields: { [TYPING]: true }, transient: true },
    })
    .catch(() => {});
}

// ---- reading ---------------------------------------------------------------

const visible = () => document.visibilityState === 'visible';

function scheduleRead(): void {
  clearTimeout(state.readTimer);
  state.readTimer = window.setTimeout(markRead, 300);
}

function markRead(): void {
  const c = cur();
  if (!c || c.gone || !visible() || c.conv.kind === 'chatroom') return;
  c.unread = 0;
  c.mentioned = false;
  renderList();
  must(api.POST('/v1/conversations/{id}/read', { params: { path: { id: c.conv.id } }, body: {} })).catch(() => {});
}

// ---- sending ---------------------------------------------------------------

function mentionsIn(text: string): { mentionList?: string[]; mentionAll?: boolean } {
  const c = cur();
  const names = new Set(c?.conv.members || state.members.map((m) => m.clientId));
  const list = [...names].filter((n) => n !== me() && new RegExp('(^|\\s)@' + n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '(?=$|[\\s,.!?:;])').test(text));
  const out: { mentionList?: string[]; mentionAll?: boolean } = {};
  if (list.length) out.mentionList = list;
  if (/(^|\s)@all\b/.test(text)) out.mentionAll = true;
  return out;
}

async function send(body: Record<string, unknown>): Promise<void> {
  const c = cur();
  if (!c) return;
  const m = await must(
    api.POST('/v1/conversations/{id}/messages', {
      params: { path: { id: c.conv.id } },
      body: { ...body, receipt: oneToOne(c.conv) || undefined, clientMessageId: crypto.randomUUID() },
    }),
  );
  if (state.current === c.conv.id) onMessage(c.conv.id, m, false);
}

async function submitComposer(): Promise<void> {
  const input = $('message') as HTMLInputElement;
  const text = input.value;
  if (!text.trim()) return;
  const c = cur();
  if (!c) return;
  if (state.editing) {
    const m = state.editing;
    const updated = await must(
      api.PATCH('/v1/conversations/{id}/messages/{messageId}', {
        params: { path: { id: c.conv.id, messageId: m.id } },
        body: { type: -1, text, ...mentionsIn(text) },
      }),
    );
    cancelEdit();
    input.value = '';
    replaceMessage(updated);
    return;
  }
  input.value = '';
  hideMentions();
  state.lastTypingSent = 0; // the next keystroke announces typing again
  try {
    await send({ type: -1, text, ...mentionsIn(text) });
  } catch (e) {
    input.value = text;
    throw e;
  }
}

function startEdit(m: Message): void {
  state.editing = m;
  const input = $('message') as HTMLInputElement;
  input.value = m.text || '';
  show($('editing'), true);
  input.focus();
}

function cancelEdit(): void {
  if (state.editing) ($('message') as HTMLInputElement).value = '';
  state.editing = null;
  show($('editing'), false);
}

async function recall(m: Message): Promise<void> {
  const c = cur();
  if (!c) return;
  const r = await must(api.DELETE('/v1/conversations/{id}/messages/{messageId}', { params: { path: { id: c.conv.id, messageId: m.id } } }));
  replaceMessage(r && (r as Message).id ? (r as Message) : { ...m, recalled: true });
}

async function attach(file: File): Promise<void> {
  const slow = window.setTimeout(() => notice('Uploading ' + file.name + '…'), 400);
  let f;
  try {
    f = await upload(file);
  } finally {
    clearTimeout(slow);
  }
  const mt = f.mimeType || '';
  const type = mt.startsWith('image/') ? -2 : mt.startsWith('audio/') ? -3 : mt.startsWith('video/') ? -4 : -6;
  await send({ type, file: { url: f.url, name: f.name, mimeType: f.mimeType, size: f.size, metaData: f.metaData, objId: f.id } });
}

function shareLocation(): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = false;
    const go = (loc: { latitude: number; longitude: number }, text?: string) => {
      if (done) return;
      done = true;
      send({ type: -5, location: loc, text }).then(resolve, reject);
    };
    const fallback = () => go(FALLBACK_LOCATION, 'sample location');
    if (!navigator.geolocation) return fallback();
    setTimeout(fallback, 4000);
    navigator.geolocation.getCurrentPosition(
      (p) => go({ latitude: p.coords.latitude, longitude: p.coords.longitude }),
      fallback,
      { timeout: 3500, maximumAge: 60_000 },
    );
  });
}

// ---- @mention completion ---------------------------------------------------

let mentionIndex = 0;

function mentionQuery(): string | null {
  const input = $('message') as HTMLInputElement;
  const upto = input.value.slice(0, input.selectionStart ?? input.value.length);
  const m = /(^|\s)@([^\s@]*)$/.exec(upto);
  return m ? m[2] : null;
}

function candidates(q: string): string[] {
  const c = cur();
  const names = new Set([...(c?.conv.members || []), ...state.members.map((m) => m.clientId)]);
  names.delete(me());
  const all = [...names, 'all'];
  return all.filter((n) => n.toLowerCase().startsWith(q.toLowerCase())).slice(0, 8);
}

function updateMentions(): void {
  const q = mentionQuery();
  const list = q === null ? [] : candidates(q);
  if (!list.length) return hideMentions();
  mentionIndex = Math.min(mentionIndex, list.length - 1);
  $('mentions').replaceChildren(
    ...list.map((n, i) =>
      el('li', {
        role: 'option',
        id: 'mention-' + i,
        'aria-selected': i === mentionIndex ? 'true' : 'false',
        text: '@' + n,
        onmousedown: (ev: Event) => {
          ev.preventDefault();
          pickMention(n);
        },
      }),
    ),
  );
  show($('mentions'), true);
  $('message').setAttribute('aria-expanded', 'true');
  $('message').setAttribute('aria-activedescendant', 'mention-' + mentionIndex);
}

function hideMentions(): void {
  show($('mentions'), false);
  mentionIndex = 0;
  $('message').setAttribute('aria-expanded', 'false');
  $('message').removeAttribute('aria-activedescendant');
}

function pickMention(name: string): void {
  const input = $('message') as HTMLInputElement;
  const pos = input.selectionStart ?? input.value.length;
  const upto = input.value.slice(0, pos).replace(/@([^\s@]*)$/, '@' + name + ' ');
  input.value = upto + input.value.slice(pos);
  input.setSelectionRange(upto.length, upto.length);
  hideMentions();
  input.focus();
}

// ---- members and details ---------------------------------------------------

async function loadMembers(): Promise<void> {
  const c = cur();
  if (!c || c.gone) {
    state.members = [];
    renderMembers();
    return;
  }
  // Each answer is for the conversation asked about: once another one is
  // open (the user moved on while it loaded), it is dropped rather than
  // written over the open conversation's members.
  const id = c.conv.id;
  state.members = (c.conv.members || []).map((clientId) => ({ clientId, role: clientId === c.conv.creator ? 'owner' : undefined }));
  if (c.conv.kind === 'normal' || c.conv.kind === 'temporary') {
    // Roles (owner, manager) and silences, as the server keeps them.
    try {
      const r = await must(api.GET('/v1/conversations/{id}/members', { params: { path: { id } } }));
      if (state.current !== id) return;
      state.members = (r.members || []).map((m) => ({
        clientId: m.clientId,
        role: m.silencedUntil !== undefined ? (m.role === 'member' ? 'silenced' : m.role + ', silenced') : m.role,
      }));
    } catch {
      /* the list from the conversation will do */
    }
  }
  if (c.conv.kind === 'chatroom') {
    try {
      const r = await must(api.GET('/v1/conversations/{id}/members/count', { params: { path: { id } } }));
      if (state.current !== id) return;
      state.roomCount = r.count;
    } catch {
      if (state.current !== id) return;
      state.roomCount = 0;
    }
  }
  const others = state.members.map((m) => m.clientId).filter((m) => m !== me()).slice(0, 50);
  if (others.length && c.conv.kind !== 'chatroom') {
    api.POST('/v1/presence/subscribe', { body: { clientIds: others } }).catch(() => {});
    try {
      const on = await must(api.GET('/v1/clients/online', { params: { query: { ids: others.join(',') } } }));
      for (const [k, v] of Object.entries(on.online || {})) state.presence.set(k, !!v);
    } catch {
      /* presence is a nicety */
    }
  }
  if (state.current !== id) return;
  renderSub();
  renderMembers();
  // A completion asked for before the members were known shows now.
  if (document.activeElement === $('message')) updateMentions();
}

function renderMembers(): void {
  const c = cur();
  const canEdit = !!c && !c.gone && c.conv.kind !== 'chatroom' && c.conv.kind !== 'temporary' && c.conv.kind !== 'system';
  $('member-list').replaceChildren(
    ...state.members.map((m) => {
      const on = m.clientId === me() || state.presence.get(m.clientId);
      return el(
        'li',
        { class: 'member' },
        el('span', { class: 'dot' + (on ? ' on' : ''), title: on ? 'online' : 'offline', 'aria-hidden': 'true' }),
        el('span', { class: 'member-name', text: m.clientId + (m.clientId === me() ? ' (you)' : '') }),
        m.role && m.role !== 'member' ? el('span', { class: 'role', text: m.role }) : null,
        canEdit && m.clientId !== me()
          ? el('button', { type: 'button', class: 'link', text: 'Remove', 'aria-describedby': undefined, title: 'Remove ' + m.clientId, onclick: () => removeMember(m.clientId) })
          : null,
      );
    }),
  );
  show($('add-member'), canEdit);
  const room = c?.conv.kind === 'chatroom';
  show($('members-head'), !room);
  show($('room-count'), room);
  $('room-count').textContent = room ? state.roomCount + ' online in this room now' : '';
}

function renderDetails(): void {
  const c = cur();
  if (!c) return;
  $('d-id').textContent = c.conv.id;
  $('d-kind').textContent = oneToOne(c.conv) ? 'One-to-one' + (c.conv.kind === 'temporary' ? ' (temporary)' : '') : KIND_LABEL[c.conv.kind] || c.conv.kind;
  $('d-created').textContent = c.conv.createdAt ? day(c.conv.createdAt) + ' ' + clock(c.conv.createdAt) + (c.conv.creator ? ' by ' + c.conv.creator : '') : '';
  const editable = !c.gone && c.conv.kind !== 'temporary';
  show($('rename'), editable);
  show($('attrs'), editable);
  const rn = $('rename-name') as HTMLInputElement;
  if (document.activeElement !== rn) rn.value = c.conv.name || '';
  const at = $('attrs-json') as HTMLTextAreaElement;
  if (document.activeElement !== at) at.value = JSON.stringify(c.conv.attributes || {});
  show($('mute'), editable && c.conv.kind !== 'chatroom');
  $('mute').textContent = c.conv.muted ? 'Unmute' : 'Mute';
  show($('leave'), !c.gone);
  renderMembers();
}

async function removeMember(id: string): Promise<void> {
  await must(api.POST('/v1/conversations/{id}/members/remove', { params: { path: { id: state.current } }, body: { clientIds: [id] } }));
  await refreshConversation(state.current);
}

async function addMember(): Promise<void> {
  const input = $('add-member-id') as HTMLInputElement;
  const ids = input.value.split(',').map((s) => s.trim()).filter(Boolean);
  if (!ids.length) return;
  await must(api.POST('/v1/conversations/{id}/members', { params: { path: { id: state.current } }, body: { clientIds: ids } }));
  input.value = '';
  await refreshConversation(state.current);
}

async function leave(): Promise<void> {
  const id = state.current;
  await must(api.POST('/v1/conversations/{id}/quit', { params: { path: { id } } }));
  forget(id);
  state.convs.delete(id);
  closeChat();
  renderList();
}

async function rename(): Promise<void> {
  const name = ($('rename-name') as HTMLInputElement).value.trim();
  const c = addConversation(await must(api.PATCH('/v1/conversations/{id}', { params: { path: { id: state.current } }, body: { name } })));
  ($('rename-name') as HTMLInputElement).blur();
  renderList();
  if (c.conv.id === state.current) renderChat();
}

async function saveAttributes(): Promise<void> {
  let attributes: Record<string, unknown>;
  try {
    attributes = JSON.parse(($('attrs-json') as HTMLTextAreaElement).value || '{}');
  } catch {
    notice('Attributes must be a JSON object, e.g. {"topic": "lunch"}.');
    return;
  }
  addConversation(await must(api.PATCH('/v1/conversations/{id}', { params: { path: { id: state.current } }, body: { attributes } })));
  ($('attrs-json') as HTMLTextAreaElement).blur();
  renderChat();
}

async function toggleMute(): Promise<void> {
  const c = cur();
  if (!c) return;
  const path = c.conv.muted ? '/v1/conversations/{id}/unmute' : '/v1/conversations/{id}/mute';
  await must(api.POST(path, { params: { path: { id: c.conv.id } } }));
  await refreshConversation(c.conv.id);
}

// ---- layout ----------------------------------------------------------------

function setPane(p: 'list' | 'chat' | 'details'): void {
  state.pane = p;
  document.body.dataset.pane = p;
}

function toggleDetails(on?: boolean): void {
  const open = on ?? $('details-pane').hidden;
  show($('details-pane'), open);
  $('details-toggle').setAttribute('aria-expanded', String(open));
  setPane(open ? 'details' : 'chat');
  if (open) loadMembers();
}

function toggleCreate(on?: boolean): void {
  const open = on ?? $('create').hidden;
  show($('create'), open);
  $('new-toggle').setAttribute('aria-expanded', String(open));
  if (open) $('create-members').focus();
}

// ---- wiring ----------------------------------------------------------------

// guard runs an action, showing its error as a notice.
const guard =
  <A extends unknown[]>(f: (...a: A) => Promise<void> | void) =>
  (...a: A) => {
    Promise.resolve()
      .then(() => f(...a))
      .catch(fail);
  };

function onSubmit(id: string, f: () => Promise<void> | void): void {
  $(id).addEventListener('submit', (ev) => {
    ev.preventDefault();
    guard(f)();
  });
}

function wire(): void {
  onSubmit('login', async () => {
    const id = ($('login-client') as HTMLInputElement).value.trim();
    if (!id) return;
    show($('notice'), false);
    await login(id, ($('login-tag') as HTMLInputElement).value.trim());
  });
  $('logout').addEventListener(
    'click',
    guard(async () => {
      await api.DELETE('/v1/sessions/current').catch(() => {});
      endSession();
    }),
  );
  $('notice-close').addEventListener('click', () => show($('notice'), false));
  $('devlog').addEventListener('toggle', renderLog);
  $('new-toggle').addEventListener('click', () => toggleCreate());
  $('create-cancel').addEventListener('click', () => toggleCreate(false));
  onSubmit('create', createConversation);
  onSubmit('open', () => openById(($('open-id') as HTMLInputElement).value.trim()));
  onSubmit('composer', submitComposer);
  onSubmit('rename', rename);
  onSubmit('add-member', addMember);
  onSubmit('attrs', saveAttributes);
  $('leave').addEventListener('click', guard(leave));
  $('mute').addEventListener('click', guard(toggleMute));
  $('edit-cancel').addEventListener('click', cancelEdit);
  $('older').addEventListener('click', guard(() => loadHistory(false)));
  $('log').addEventListener('scroll', () => {
    if ($('log').scrollTop < 60 && state.hasMore && !state.loadingOlder) guard(() => loadHistory(false))();
  });
  $('attach').addEventListener(
    'change',
    guard(async () => {
      const input = $('attach') as HTMLInputElement;
      const files = [...(input.files || [])];
      input.value = '';
      for (const f of files) await attach(f);
    }),
  );
  $('share-location').addEventListener('click', guard(shareLocation));
  $('back').addEventListener('click', () => setPane('list'));
  $('details-toggle').addEventListener('click', () => toggleDetails());
  $('details-close').addEventListener('click', () => toggleDetails(false));
  $('details-back').addEventListener('click', () => toggleDetails(false));
  const input = $('message') as HTMLInputElement;
  input.addEventListener('input', () => {
    if (!state.editing && input.value) sendTyping();
    updateMentions();
  });
  input.addEventListener('keydown', (ev) => {
    const open = !$('mentions').hidden;
    if (open && (ev.key === 'ArrowDown' || ev.key === 'ArrowUp')) {
      ev.preventDefault();
      const n = $('mentions').childElementCount;
      mentionIndex = (mentionIndex + (ev.key === 'ArrowDown' ? 1 : n - 1)) % n;
      updateMentions();
    } else if (open && (ev.key === 'Enter' || ev.key === 'Tab')) {
      ev.preventDefault();
      const opt = $('mentions').children[mentionIndex];
      if (opt) pickMention((opt.textContent || '').slice(1));
    } else if (ev.key === 'Escape') {
      if (open) hideMentions();
      else if (state.editing) cancelEdit();
    }
  });
  // The completion closes a moment after the composer loses focus (a click
  // on an option lands first), unless the composer has it again by then: a
  // late timer from an earlier blur must not close a completion the user
  // has just opened.
  let blurTimer = 0;
  input.addEventListener('focus', () => clearTimeout(blurTimer));
  input.addEventListener('blur', () => {
    clearTimeout(blurTimer);
    blurTimer = window.setTimeout(() => {
      if (document.activeElement !== input) hideMentions();
    }, 150);
  });
  document.addEventListener('visibilitychange', () => {
    if (visible() && state.current) markRead();
  });
  window.addEventListener('focus', () => {
    if (state.current && cur()?.unread) markRead();
  });
}

function boot(): void {
  wire();
  const saved = sessionStorage.getItem(SESSION_KEY);
  if (saved) {
    try {
      state.session = JSON.parse(saved);
      start();
      return;
    } catch {
      sessionStorage.removeItem(SESSION_KEY);
    }
  }
  ($('login-client') as HTMLInputElement).focus();
}

boot();
