'use strict';
// What the SDK says about the protocol, and the protocol errors in it.
//
// The SDK logs through the `debug` package (namespaces LC:*) and console.warn.
// This module enables LC:* and captures both, and records as a protocol
// error (a `problem`) each of these:
//
//   received commands (the LC:Connection "↓ … received" lines, decoded):
//     - an `error` command, answering a request (i set) or unsolicited;
//     - an `ack` carrying a code (a refused send);
//     - an unsolicited `session/closed` (the server ended a session) and a
//       `goaway`.
//   LC:* debug lines:
//     - LC:Connection "✗ … timeout" (a request the server never answered)
//       and "ping failed";
//     - LC:Realtime "[WARN] Unexpected message received" (a push for no
//       service the SDK knows);
//     - every LC:IMPlugin line: "[WARN] Unexpected message received without
//       any live client match" (a push whose peerId is no client on the
//       connection) or the error that handling a push threw (a failing
//       conv/query for an unknown cid, content the parser refused…: the SDK
//       catches these into this debug namespace, so they are no unhandled
//       rejections);
//     - LC:IMClient "send ack failed", "send read failed";
//     - LC:request "Error:" (a REST call of the SDK, /1.1/…, failed).
//   console.warn / console.error: every line, but those starting with
//     "DEPRECATION" and those a variant allows (allow: regexps), e.g.
//     "Decode message failed" (a frame that is no GenericCommand),
//     "Unexpected command received with serialId" (an answer to nothing),
//     "parsing a valid message content error", "Syncing notifications
//     failed" (GET /1.1/rtm/notifications after a reconnect), "Unexpected
//     session opened without peerId", "should not be called when the
//     connection is …", "websocket ping error".
//   process events: unhandledRejection, uncaughtException (the SDK's push
//     handlers are promises nobody awaits: a failing conv/query while
//     handling a push surfaces here).
//   IMClient events, through watchClient: UNHANDLED_MESSAGE (a push the
//     client could not dispatch), CONFLICT, CLOSE with a non-zero code (the
//     server closed the session), RECONNECT_ERROR; Realtime DISCONNECT when
//     the test did not pause it.
//
// Three things the SDK logs are no protocol error, each exempted as exactly
// as the wire allows (the comments where each is decided say why):
//   - 5.0.0-rc.8's "Duplicated command [cmd:1 op:7] is throttled." when it
//     looks up a conversation it does not know once per push naming it
//     (_lookupOncePerPush);
//   - a 4112 answering the session/open with which a client the app had
//     closed reopens after a reconnect (5.0.0-rc.8; in _received);
//   - an `unread` push saying "read" (every count 0) for a client whose
//     close() is under way, which the SDK has already dropped
//     (_readWhileClosing).
//
// Every line is also kept (wire()) so that a failing step can show the
// commands it exchanged.

const util = require('node:util');
const path = require('node:path');
const createDebug = require('debug');

// LeanCloud's CommandType and OpType (proto/message.proto).
const CMD = {
  0: 'session', 1: 'conv', 2: 'direct', 3: 'ack', 4: 'rcp', 5: 'unread', 6: 'logs', 7: 'error',
  8: 'login', 9: 'data', 10: 'room', 11: 'read', 12: 'presence', 13: 'report', 14: 'echo',
  15: 'loggedin', 16: 'logout', 17: 'loggedout', 18: 'patch', 19: 'pubsub', 20: 'blacklist', 21: 'goaway',
};
const OP = {
  1: 'open', 2: 'add', 3: 'remove', 4: 'close', 5: 'opened', 6: 'closed', 7: 'query', 8: 'query_result',
  9: 'conflict', 10: 'added', 11: 'removed', 12: 'refresh', 13: 'refreshed', 30: 'start', 31: 'started',
  32: 'joined', 33: 'members_joined', 39: 'left', 40: 'members_left', 42: 'results', 43: 'count',
  44: 'result', 45: 'update', 46: 'updated', 47: 'mute', 48: 'unmute', 49: 'status', 50: 'members',
  51: 'max_read', 52: 'is_member', 53: 'member_info_update', 54: 'member_info_updated',
  55: 'member_info_changed', 80: 'join', 81: 'invite', 82: 'leave', 83: 'kick', 84: 'reject',
  85: 'invited', 86: 'kicked', 100: 'upload', 101: 'uploaded', 120: 'subscribe', 121: 'subscribed',
  122: 'unsubscribe', 123: 'unsubscribed', 124: 'is_subscribed', 150: 'modify', 151: 'modified',
  170: 'block', 171: 'unblock', 172: 'blocked', 173: 'unblocked', 174: 'members_blocked',
  175: 'members_unblocked', 176: 'check_block', 177: 'check_result', 180: 'add_shutup',
  181: 'remove_shutup', 182: 'query_shutup', 183: 'shutup_added', 184: 'shutup_removed',
  185: 'shutup_result', 186: 'shutuped', 187: 'unshutuped', 188: 'members_shutuped',
  189: 'members_unshutuped', 190: 'check_shutup',
};

// commandName is "cmd" or "cmd/op" of a decoded command.
function commandName(c) {
  const cmd = CMD[c.cmd] ?? c.cmd;
  return c.op == null ? String(cmd) : `${cmd}/${OP[c.op] ?? c.op}`;
}

// longs turns protobufjs's {low, high} into numbers, for reading.
function longs(v) {
  if (Array.isArray(v)) return v.map(longs);
  if (v && typeof v === 'object') {
    const keys = Object.keys(v);
    if (keys.length === 3 && 'low' in v && 'high' in v && 'unsigned' in v) {
      return v.high * 2 ** 32 + (v.low >>> 0);
    }
    const o = {};
    for (const k of keys) o[k] = longs(v[k]);
    return o;
  }
  return v;
}

// short renders a command on one line: "session/opened i=1 {…}".
function short(c) {
  const { cmd, op, i, ...rest } = longs(c);
  const name = commandName({ cmd, op });
  return `${name}${i != null ? ` i=${i}` : ''} ${util.inspect(rest, { depth: 5, breakLength: Infinity, compact: true, maxStringLength: 300 })}`;
}

class ProtocolWatch {
  // allow: regexps of console lines this variant expects (documented where
  // the variant is defined).
  constructor({ allow = [] } = {}) {
    this.allow = allow;
    this.problems = []; // {at, what}
    this.lines = []; // every captured line, in order
    this.paused = false; // the test paused a connection: its drop is expected
    this._pending = [];
    // What the exemptions need to know of the wire (peerIds as commands
    // carry them; '' when the SDK omits it, one client on a connection).
    this._tokens = new Map(); // peerId → st of its latest session/opened
    this._closedTokens = new Set(); // the st of sessions their clients closed (session/close answered)
    this._reopened = new Set(); // `${peerId} ${i}`: session/open requests presenting a closed session's st
    this._lookups = new Map(); // `${peerId} ${i}` → cid: conv/query {"objectId": cid} requests not answered yet
    this._convPushes = new Map(); // `${peerId} ${cid}` → conv pushes naming cid since the last lookup of it was answered
    this._closing = new Set(); // peerIds whose client.close() is under way (LC:IMClient "close session" until its close event)
  }

  install() {
    checkOneDebug();
    const watch = this;
    const format = function format(v) {
      watch._pending.push({ ns: this.namespace, v });
      if (v && typeof v === 'object' && 'cmd' in v) return short(v);
      return util.inspect(v, { depth: 4, breakLength: Infinity, compact: true, maxStringLength: 300 });
    };
    createDebug.formatters.O = format;
    createDebug.formatters.o = format;
    createDebug.log = (...args) => this._debugLine(util.format(...args));
    createDebug.enable('LC:*');
    for (const level of ['warn', 'error']) {
      console[level] = (...args) => this._consoleLine(level, args.map(oneLine).join(' '));
    }
    process.on('unhandledRejection', (reason) => this.problem(`unhandled rejection: ${describe(reason)}`));
    process.on('uncaughtException', (err) => this.problem(`uncaught exception: ${describe(err)}`));
  }

  problem(what) {
    what = clip(what, 500);
    this.problems.push({ at: this.lines.length, what });
    this.lines.push(`!! ${what}`);
  }

  _debugLine(line) {
    const pending = this._pending;
    this._pending = [];
    this.lines.push(line);
    const ns = (line.match(/\bLC:[A-Za-z]+/) || [''])[0];
    if (ns === 'LC:Connection') {
      if (line.includes('↓')) {
        for (const { v } of pending) if (v && typeof v === 'object' && 'cmd' in v) this._received(v);
      }
      if (line.includes('↑')) {
        for (const { v } of pending) if (v && typeof v === 'object' && 'cmd' in v) this._sent(v);
      }
      if (/✗ .* timeout/.test(line)) this.problem(`a request timed out: ${line.slice(line.indexOf('✗'))}`);
      if (line.includes('ping failed')) this.problem(`echo failed: ${line}`);
    }
    if (ns === 'LC:IMClient') {
      // IMClient#close() logs "close session [id]" first, then emits
      // beforeclose (the SDK drops the client), sends session/close, and
      // once answered logs its close event ("close event emitted. … [id]").
      const id = (line.match(/\[([^\]]*)\]\s*$/) || [])[1];
      if (id != null && /LC:IMClient close session \[/.test(line)) this._closing.add(id);
      if (id != null && /LC:IMClient close event emitted\./.test(line)) this._closing.delete(id);
    }
    if (ns === 'LC:IMPlugin') {
      // Its only lines: a push for no client on the connection, and the
      // error that handling a push threw (the SDK catches it into debug).
      const text = line.slice(line.indexOf('LC:IMPlugin') + 'LC:IMPlugin'.length).trim().split('\n').slice(0, 2).join(' | ');
      const cmd = pending.map(({ v }) => v).find((v) => v && typeof v === 'object' && 'cmd' in v);
      if (!(line.includes('without any live client match') && cmd && this._readWhileClosing(longs(cmd)))) {
        this.problem(`a push the SDK could not handle: ${text}`);
      }
    }
    if (ns === 'LC:Realtime' && line.includes('[WARN] Unexpected message received')) {
      this.problem(`unexpected push (no client took it): ${line.slice(line.indexOf('[WARN]'))}`);
    }
    if (ns === 'LC:IMClient' && /send (ack|read) failed/.test(line)) this.problem(line.slice(line.indexOf('send')));
    if (ns === 'LC:request' && line.includes('Error:')) this.problem(`a REST call failed: ${line.slice(line.indexOf('Error:'))}`);
  }

  // _sent notes the requests the exemptions need.
  _sent(raw) {
    const c = longs(raw);
    const name = commandName(c);
    const peer = c.peerId || '';
    if (name === 'session/open' && c.sessionMessage && this._closedTokens.has(c.sessionMessage.st)) {
      this._reopened.add(`${peer} ${c.i}`);
    }
    if (name === 'conv/query' && c.i != null) {
      const cid = objectIdLookup(c);
      if (cid) this._lookups.set(`${peer} ${c.i}`, cid);
    }
  }

  _received(raw) {
    const c = longs(raw);
    const name = commandName(c);
    const peer = c.peerId || '';
    if (name === 'session/opened' && c.sessionMessage && c.sessionMessage.st) this._tokens.set(peer, c.sessionMessage.st);
    if (name === 'session/closed' && c.i != null && this._tokens.has(peer)) this._closedTokens.add(this._tokens.get(peer));
    if (CMD[c.cmd] === 'conv' && c.i == null && c.convMessage && c.convMessage.cid) {
      const key = `${peer} ${c.convMessage.cid}`;
      this._convPushes.set(key, (this._convPushes.get(key) || 0) + 1);
    }
    if (c.i != null && this._lookups.has(`${peer} ${c.i}`)) {
      this._convPushes.delete(`${peer} ${this._lookups.get(`${peer} ${c.i}`)}`);
      this._lookups.delete(`${peer} ${c.i}`);
    }
    if (CMD[c.cmd] === 'error') {
      const e = c.errorMessage || {};
      // A client the app closed still listens for its Realtime's reconnect
      // in 5.0.0-rc.8 (createIMClient's connection.on(RECONNECT, …) in
      // dist/im.js is never removed by IMClient#close), so after
      // realtime.pause()/resume() it reopens the session it had closed,
      // with that session's token (session/open r:true st). The server
      // refuses the token of a session that was logged out (4112, as it
      // must: a logout ends the session for good), and the SDK then opens
      // one without it ("Session token expired, reopening", IMClient#_open
      // in dist/im.js), which the server answers: this 4112 is the SDK's
      // own fallback at work. Exempt exactly it: 4112 answering a
      // session/open that presented the token of a session its client
      // closed. (The closed client's RECONNECT_ERROR is still watched.)
      if (e.code === 4112 && this._reopened.delete(`${peer} ${c.i}`)) return;
      this.problem(`error command ${c.i != null ? `answering request i=${c.i}` : '(unsolicited)'}: code ${e.code} ${e.reason || ''}${e.detail ? ` (${e.detail})` : ''}`);
    } else if (CMD[c.cmd] === 'ack' && c.ackMessage && c.ackMessage.code != null) {
      const a = c.ackMessage;
      this.problem(`ack with code ${a.code} ${a.reason || ''}${a.appCode != null ? ` appCode ${a.appCode}` : ''}`);
    } else if (name === 'session/closed' && c.i == null) {
      const s = c.sessionMessage || {};
      this.problem(`the server closed the session of ${c.peerId}: code ${s.code} ${s.reason || ''}`);
    } else if (name === 'goaway') {
      this.problem('goaway');
    }
  }

  _consoleLine(level, line) {
    this.lines.push(`console.${level}: ${line}`);
    if (/^DEPRECATION/.test(line)) return;
    if (this.allow.some((re) => re.test(line))) return;
    if (level === 'warn' && line === 'Duplicated command [cmd:1 op:7] is throttled.' && this._lookupOncePerPush()) return;
    this.problem(`console.${level}: ${line}`);
  }

  // _lookupOncePerPush tells whether a conv/query the SDK throttled is its
  // lookup of a conversation it does not know, made once per push naming
  // it. A client invited to a conversation gets conv/joined and then
  // conv/members_joined for it (LeanCloud's order too: the invitee hears
  // invitedByClientId, then membersAdded with everyone else); handling
  // each, the SDK fetches the unknown conversation with the same
  // conv/query {"objectId": cid}, and 5.0.0-rc.8 answers the second from
  // the first, in flight ("Duplicated command … is throttled": Connection
  // #send in dist/core.js, isIdempotentCommand and equalBuffer). Exempt
  // exactly that: a lookup of cid in flight for a client that received
  // more than one conv push naming cid since its last lookup was answered.
  _lookupOncePerPush() {
    for (const [key, cid] of this._lookups) {
      const peer = key.slice(0, key.lastIndexOf(' '));
      if ((this._convPushes.get(`${peer} ${cid}`) || 0) > 1) return true;
    }
    return false;
  }

  // _readWhileClosing tells whether a push no live client matched is the
  // race of read() and close(): read() is fire-and-forget (a read command,
  // no answer), and the server tells the client's sessions the new counts
  // (an unread push, every count 0); an app that calls close() right after
  // may get that push after close() has dropped the client (beforeclose,
  // IMClient#close in dist/im.js) but before session/closed, and the SDK
  // logs it as matching no client. LeanCloud would race the same way; the
  // server writes nothing after session/closed. Exempt exactly that: an
  // unread push of counts 0 for a client whose close() is under way.
  _readWhileClosing(c) {
    if (CMD[c.cmd] !== 'unread' || !this._closing.has(c.peerId)) return false;
    const convs = (c.unreadMessage && c.unreadMessage.convs) || [];
    return convs.length > 0 && convs.every((t) => !t.unread);
  }

  // watchClient records the IMClient events that are protocol errors.
  watchClient(client, Event, label) {
    client.on(Event.UNHANDLED_MESSAGE, (cmd) => this.problem(`${label}: unhandled push ${cmd && 'cmd' in cmd ? short(cmd) : util.inspect(cmd)}`));
    client.on(Event.CONFLICT, (p) => this.problem(`${label}: session conflict ${util.inspect(p)}`));
    client.on(Event.CLOSE, (p) => {
      if (p && p.code) this.problem(`${label}: the server closed the session: code ${p.code} ${p.reason || ''}`);
    });
    client.on(Event.RECONNECT_ERROR, (e) => this.problem(`${label}: reopening the session after a reconnect failed: ${describe(e)}`));
  }

  // watchRealtime records disconnections the test did not cause.
  watchRealtime(realtime, Event, label) {
    realtime.on(Event.DISCONNECT, () => {
      if (!this.paused) this.problem(`${label}: the connection dropped`);
    });
  }

  mark() {
    return { lines: this.lines.length, problems: this.problems.length };
  }

  // since renders what happened after a mark: the wire and the problems.
  since(mark, max = 40) {
    const wire = this.lines.slice(mark.lines).filter((l) => /[↑↓✗]|^!!|^console/.test(l));
    const shown = wire.length > max ? [`… ${wire.length - max} earlier lines`, ...wire.slice(-max)] : wire;
    return shown.map((l) => `    ${clip(l.replace(/^\S+ (LC:)/, '$1'), 400)}`).join('\n');
  }
}

// objectIdLookup is the cid a conv/query looks up by {"objectId": cid}
// alone (how the SDK fetches a conversation it does not know), or ''.
function objectIdLookup(c) {
  const data = c.convMessage && c.convMessage.where && c.convMessage.where.data;
  if (!data) return '';
  try {
    const where = JSON.parse(data);
    const keys = Object.keys(where);
    return keys.length === 1 && keys[0] === 'objectId' && typeof where.objectId === 'string' ? where.objectId : '';
  } catch {
    return '';
  }
}

// oneLine renders a console argument on one line (an error as describe
// does, without its stack).
function oneLine(v) {
  if (typeof v === 'string') return v;
  if (v instanceof Error) return describe(v);
  return util.inspect(v, { depth: 4, breakLength: Infinity, compact: true, maxStringLength: 300 });
}

function clip(s, n) {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

// describe renders an SDK error: its code, name, message and detail.
function describe(e) {
  if (!(e instanceof Error) && !(e && typeof e === 'object')) return String(e);
  const parts = [];
  if (e.code != null) parts.push(`code ${e.code}`);
  if (e.name && e.name !== 'Error' && e.name !== e.message) parts.push(e.name);
  parts.push(e.message || util.inspect(e, { breakLength: Infinity }));
  if (e.detail) parts.push(`detail: ${e.detail}`);
  if (e.appCode != null) parts.push(`appCode ${e.appCode}`);
  return parts.join(' ');
}

// checkOneDebug makes sure both SDKs log through the debug module this file
// hooks (the hoisted node_modules/debug), else nothing would be captured.
function checkOneDebug() {
  const ours = require.resolve('debug');
  for (const sdk of ['leancloud-realtime', 'leancloud-realtime-v5']) {
    const theirs = require.resolve('debug', { paths: [path.dirname(require.resolve(sdk))] });
    if (theirs !== ours) {
      throw new Error(`${sdk} logs through ${theirs}, not ${ours}: the protocol watch would miss its lines`);
    }
  }
}

module.exports = { ProtocolWatch, describe, short, commandName };
