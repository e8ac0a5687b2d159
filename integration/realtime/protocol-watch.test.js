'use strict';
// The protocol watch's exemptions fire for exactly what they describe, and
// the same lines otherwise stay protocol errors. Lines and commands are
// fed as the SDK logs them (the LC:* debug lines, the decoded commands the
// formatter hands over), without a server.
const test = require('node:test');
const assert = require('node:assert/strict');
const { ProtocolWatch } = require('./protocol-watch');

// LeanCloud's numbers (proto/message.proto).
const SESSION = 0, CONV = 1, UNREAD = 5, ERROR = 7;
const OPEN = 1, CLOSE = 4, OPENED = 5, CLOSED = 6, QUERY = 7, JOINED = 32, MEMBERS_JOINED = 33, RESULTS = 42;

function feed(w) {
  const line = (ns, text, cmd) => {
    w._pending = cmd ? [{ ns, v: cmd }] : [];
    w._debugLine(`2026-01-01T00:00:00.000Z ${ns} ${text}`);
  };
  return {
    sent: (cmd) => line('LC:Connection', '↑ … sent', cmd),
    received: (cmd) => line('LC:Connection', '↓ … received', cmd),
    client: (text) => line('LC:IMClient', text),
    unmatched: (cmd) => line('LC:IMPlugin', '[WARN] Unexpected message received without any live client match: …', cmd),
    warn: (text) => w._consoleLine('warn', text),
  };
}

const THROTTLED = 'Duplicated command [cmd:1 op:7] is throttled.';
const lookup = (i, peerId, cid) => ({ cmd: CONV, op: QUERY, i, peerId, convMessage: { where: { data: JSON.stringify({ objectId: cid }) } } });
const convPush = (op, peerId, cid) => ({ cmd: CONV, op, peerId, convMessage: { cid } });

test('a conversation looked up once per push naming it', () => {
  const w = new ProtocolWatch();
  const f = feed(w);
  f.received(convPush(JOINED, 'jerry', 'c1'));
  f.received(convPush(MEMBERS_JOINED, 'jerry', 'c1'));
  f.sent(lookup(6, 'jerry', 'c1'));
  f.warn(THROTTLED);
  assert.equal(w.problems.length, 0);
  f.received({ cmd: CONV, op: RESULTS, i: 6, peerId: 'jerry', convMessage: {} });
  // Answered: a later throttled lookup of it is a problem again.
  f.sent(lookup(7, 'jerry', 'c1'));
  f.warn(THROTTLED);
  assert.equal(w.problems.length, 1);
});

test('a throttled lookup after a single push, another query, another command', () => {
  const w = new ProtocolWatch();
  const f = feed(w);
  f.received(convPush(JOINED, 'jerry', 'c1'));
  f.sent(lookup(6, 'jerry', 'c1'));
  f.warn(THROTTLED); // one push: the SDK had no reason to look it up twice
  f.received(convPush(MEMBERS_JOINED, 'tom', 'c2'));
  f.received(convPush(MEMBERS_JOINED, 'tom', 'c2'));
  f.sent({ cmd: CONV, op: QUERY, i: 8, peerId: 'tom', convMessage: { where: { data: '{"objectId":"c2","tr":true}' } } });
  f.warn(THROTTLED); // not a lookup by objectId alone
  f.warn('Duplicated command [cmd:6 op:undefined] is throttled.');
  assert.equal(w.problems.length, 3);
});

test("4112 to a closed client's reopening with its closed session's token", () => {
  const w = new ProtocolWatch();
  const f = feed(w);
  f.received({ cmd: SESSION, op: OPENED, i: 2, peerId: 'jerry', sessionMessage: { st: 'old' } });
  f.sent({ cmd: SESSION, op: CLOSE, i: 21, peerId: 'jerry' });
  f.received({ cmd: SESSION, op: CLOSED, i: 21, peerId: 'jerry' });
  f.received({ cmd: SESSION, op: OPENED, i: 25, peerId: 'jerry', sessionMessage: { st: 'new' } });
  f.sent({ cmd: SESSION, op: OPEN, i: 46, peerId: 'jerry', sessionMessage: { r: true, st: 'old' } });
  f.sent({ cmd: SESSION, op: OPEN, i: 47, peerId: 'jerry', sessionMessage: { r: true, st: 'new' } });
  f.received({ cmd: ERROR, i: 46, peerId: 'jerry', errorMessage: { code: 4112, reason: 'expired' } });
  assert.equal(w.problems.length, 0);
  // The live session's token refused, or another code: problems.
  f.received({ cmd: ERROR, i: 47, peerId: 'jerry', errorMessage: { code: 4112, reason: 'expired' } });
  f.sent({ cmd: SESSION, op: OPEN, i: 48, peerId: 'jerry', sessionMessage: { r: true, st: 'old' } });
  f.received({ cmd: ERROR, i: 48, peerId: 'jerry', errorMessage: { code: 4200, reason: 'internal' } });
  assert.equal(w.problems.length, 2);
});

test('the unread push of a read racing close()', () => {
  const w = new ProtocolWatch();
  const f = feed(w);
  const unread = (n) => ({ cmd: UNREAD, peerId: 'tom', unreadMessage: { convs: [{ cid: 'c1', unread: n }] } });
  f.unmatched(unread(0)); // no close under way
  f.client('close session [tom]');
  f.unmatched(unread(0));
  assert.equal(w.problems.length, 1);
  f.unmatched(unread(1)); // a count that is no read's
  f.unmatched(convPush(MEMBERS_JOINED, 'tom', 'c1')); // another push
  f.client('close event emitted. [ { code: 0 } ] [tom]');
  f.unmatched(unread(0)); // the close is over
  assert.equal(w.problems.length, 4);
});
