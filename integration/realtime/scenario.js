'use strict';
// The scenario every variant runs: LeanCloud's realtime SDK used the way an
// app uses it (its README's public API), against a real Parley server.
//
// The server comes from the environment (integration/realtime_sdk_test.go
// starts one and sets these):
//   PARLEY_URL         http://127.0.0.1:PORT (the HTTP API, /v1/route, /rtm, /1.1)
//   PARLEY_APP_ID      the server's app id
//   PARLEY_APP_KEY     its app key (the SDK sends it as X-LC-Key to /1.1/…)
//
// Each step is a subtest. A step that fails names the SDK call that failed
// with the SDK error's code and message, and shows the commands exchanged
// meanwhile; the steps that need it are skipped. The last step fails when
// the SDK logged a protocol error anywhere in the run (protocol-watch.js).

const test = require('node:test');
const assert = require('node:assert/strict');
const { ProtocolWatch, describe } = require('./protocol-watch');
const { ParleyHTTP, EventStream } = require('./parley-http');

const WAIT = 5000; // ms for anything the server owes us

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests through integration/realtime_sdk_test.go (go test ./integration -run Realtime), which starts a server`);
  return v;
}

// CALL bounds an SDK call: the SDK itself waits 20 s for an answer
// (COMMAND_TIMEOUT), too long for a test that runs every step.
const CALL = 8000;

// call awaits an SDK call and names it when it fails.
async function call(what, promise) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CALL} ms`)), CALL);
  });
  try {
    return await Promise.race([promise, late]);
  } catch (e) {
    throw new Error(`${what} failed: ${describe(e)}`);
  } finally {
    clearTimeout(timer);
  }
}

// expect listens for an event now and returns a promise of its arguments,
// the first time match(...args) holds.
function expect(emitter, event, match, what, timeout = WAIT) {
  let listener;
  let timer;
  const p = new Promise((resolve, reject) => {
    listener = (...args) => {
      let ok = false;
      try {
        ok = match(...args);
      } catch {
        ok = false;
      }
      if (!ok) return;
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(args);
    };
    timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`timed out after ${timeout} ms waiting for ${what} (event ${event})`));
    }, timeout);
    emitter.on(event, listener);
  });
  p.catch(() => {}); // awaited later; a step that throws first must not leave it unhandled
  return p;
}

// eventually polls cond until it holds; what (or what()) says what it waits for.
async function eventually(cond, what, timeout = WAIT) {
  const end = Date.now() + timeout;
  for (;;) {
    let last;
    try {
      if (await cond()) return;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      throw new Error(`timed out after ${timeout} ms waiting until ${typeof what === 'function' ? what() : what}${last ? `: ${describe(last)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

const ms = (d) => (d instanceof Date ? d.getTime() : typeof d === 'number' ? d : NaN);
const sorted = (a) => [...a].sort();

// Steps runs subtests in order; one whose needs did not pass is skipped.
class Steps {
  constructor(t, watch) {
    this.t = t;
    this.watch = watch;
    this.status = new Map();
  }

  async run(key, name, needs, fn) {
    const missing = needs.filter((n) => this.status.get(n) !== 'ok');
    if (missing.length) {
      this.status.set(key, 'skipped');
      await this.t.test(name, { skip: `needs: ${missing.join(', ')}` }, () => {});
      return;
    }
    const mark = this.watch.mark();
    let ok = false;
    await this.t.test(name, async () => {
      try {
        await fn();
        ok = true;
      } catch (e) {
        // One readable error: the failure, where in this file, and the
        // commands exchanged meanwhile (no stack through the SDK's promises).
        let msg = e instanceof Error ? e.message : String(e);
        const frame = (e && e.stack ? e.stack.split('\n') : []).find((l) => /scenario\.js:\d+/.test(l) && !/at (call|expect|eventually|Steps\.run|TestContext|Timeout\._onTimeout)\b/.test(l));
        if (frame) msg += `\n  at ${frame.trim().replace(/^at (async )?/, '').replace(/^.*\//, '')}`;
        const wire = this.watch.since(mark);
        if (wire) msg += `\n  the SDK's wire and warnings during this step:\n${wire}`;
        if (!wire.includes('↓')) msg += '\n  (the SDK received no command during this step)';
        const err = new Error(msg);
        err.stack = `Error: ${msg}`;
        throw err;
      }
    });
    this.status.set(key, ok ? 'ok' : 'failed');
  }
}

// messageClasses defines the app's typed messages on one SDK's classes.
function messageClasses(AV) {
  const { TypedMessage, messageType, messageField } = AV;
  // A custom type with fields of its own, as an app registers one.
  class CardMessage extends TypedMessage {
    constructor(title, score) {
      super();
      this.title = title;
      this.score = score;
    }
  }
  messageType(1)(CardMessage);
  messageField(['title', 'score'])(CardMessage);
  // LeanCloud's location type (-5, `_lcloc`). The SDK's own LocationMessage
  // lives in leancloud-realtime-plugin-typed-messages (which needs
  // leancloud-storage); this is the same content with a plain object.
  class GeoMessage extends TypedMessage {
    constructor(latitude, longitude) {
      super();
      this._lcloc = latitude === undefined ? undefined : { latitude, longitude };
    }
  }
  messageType(-5)(GeoMessage);
  messageField(['_lcloc'])(GeoMessage);
  return { CardMessage, GeoMessage };
}

// define declares the whole scenario as one test for a variant:
//   name      the test's name
//   sdk       'v4' (leancloud-realtime 4.3.1) or 'v5' (5.0.0-rc.8)
//   noBinary  lc.proto2base64.3 instead of lc.protobuf2.3
//   allow     regexps of console lines the variant expects (see below)
function define(variant) {
  const AV = variant.sdk === 'v4' ? require('leancloud-realtime') : require('leancloud-realtime-v5');
  const { Event, TextMessage, RecalledMessage, MessageStatus, MessageQueryDirection } = AV;
  const { CardMessage, GeoMessage } = messageClasses(AV);
  const watch = new ProtocolWatch({ allow: variant.allow });
  watch.install();

  test(variant.name, { timeout: 180000 }, async (t) => {
    const base = env('PARLEY_URL').replace(/\/$/, '');
    const appId = env('PARLEY_APP_ID');
    const appKey = env('PARLEY_APP_KEY');
    const host = new URL(base).host;
    const http = new ParleyHTTP(base);
    const run = `${variant.sdk}${variant.noBinary ? 'b64' : 'bin'}-${Date.now().toString(36)}-${process.pid}`;
    const ids = { tom: `tom-${run}`, jerry: `jerry-${run}`, spike: `spike-${run}`, sue: `sue-${run}`, nobody: `nobody-${run}` };

    // v4: RTMServers (its router and REST calls are https-only); server too,
    // so that those REST calls stay on this host. One Realtime per client,
    // as on separate devices: each client has its own connection.
    // v5: server, through GET {server}/v1/route; one Realtime per app id
    // (v5 refuses a second one in a process): every client multiplexed on
    // one connection, peerId on every command.
    const realtimes = new Map();
    let shared;
    const realtimeFor = (who) => {
      if (variant.sdk === 'v5') {
        if (!shared) {
          shared = new AV.Realtime({ appId, appKey, server: base, noBinary: variant.noBinary });
          shared.register([CardMessage, GeoMessage]);
          watch.watchRealtime(shared, Event, 'the Realtime');
        }
        return shared;
      }
      if (!realtimes.has(who)) {
        const rt = new AV.Realtime({ appId, appKey, RTMServers: [`ws://${host}/rtm`], server: host, noBinary: variant.noBinary });
        rt.register([CardMessage, GeoMessage]);
        watch.watchRealtime(rt, Event, `${who}'s Realtime`);
        realtimes.set(who, rt);
      }
      return realtimes.get(who);
    };
    const login = async (who) => {
      const client = await call(`${who}: realtime.createIMClient('${ids[who]}')`, realtimeFor(who).createIMClient(ids[who]));
      watch.watchClient(client, Event, who);
      assert.equal(client.id, ids[who]);
      return client;
    };
    // A message sent on conv (the sender's conversation object) that the
    // client `to` receives: returns [sent, received, receiversConversation].
    const exchange = async (what, conv, to, message, options) => {
      const from = conv === jconv ? ids.jerry : ids.tom;
      const text = message.getText();
      const got = expect(to, Event.MESSAGE, (m, c) => c.id === conv.id && m.getText() === text && m.constructor === message.constructor, `the receiver's Event.MESSAGE for ${what}`);
      const sent = await call(`conversation.send(${what})`, conv.send(message, options));
      assert.ok(sent.id, 'the sent message has an id (ack uid)');
      assert.ok(ms(sent.timestamp) > 0, 'the sent message has a timestamp (ack t)');
      const [received, rconv] = await got;
      assert.equal(received.id, sent.id, 'the same id on both sides');
      assert.equal(ms(received.timestamp), ms(sent.timestamp), 'the same timestamp on both sides');
      assert.equal(received.from, from);
      assert.equal(rconv.id, conv.id);
      assert.equal(received.cid, conv.id);
      return [sent, received, rconv];
    };

    const s = new Steps(t, watch);
    const c = {}; // clients
    let sue; // the SSE client: its session, its event stream, its conversation with Tom
    let sueEvents;
    let sconv;
    t.after(() => {
      // Whatever failed, leave nothing open: pause() drops a connection for good.
      watch.paused = true;
      for (const rt of [...realtimes.values(), shared]) if (rt) rt.pause();
      if (sueEvents) sueEvents.close();
    });
    let conv; // Tom's conversation with Jerry
    let jconv; // Jerry's view of it
    const history = []; // what was sent in conv, in order: {id, text}

    await s.run('login', 'Tom and Jerry log in (createIMClient)', [], async () => {
      c.tom = await login('tom');
      c.jerry = await login('jerry');
    });

    await s.run('ping', 'client.ping tells who is online', ['login'], async () => {
      const online = await call('tom.ping([jerry, nobody])', c.tom.ping([ids.jerry, ids.nobody]));
      assert.deepEqual(sorted(online), [ids.jerry]);
    });

    await s.run('create', 'Tom creates a conversation with Jerry, custom attributes included', ['login'], async () => {
      const invited = expect(c.jerry, Event.INVITED, (p, cv) => p.invitedBy === ids.tom, "Jerry's Event.INVITED");
      const options = { members: [ids.jerry], name: 'Tom & Jerry', topic: 'cheese', level: 3 };
      if (variant.sdk === 'v4') options.unique = true; // v5's default
      conv = await call('tom.createConversation', c.tom.createConversation(options));
      assert.ok(conv.id, 'conv/started carries cid');
      assert.deepEqual(sorted(conv.members), sorted([ids.tom, ids.jerry]));
      assert.ok(ms(conv.createdAt) > 0, 'conv/started carries cdate');
      const [payload, jc] = await invited;
      jconv = jc;
      assert.equal(jconv.id, conv.id);
      assert.equal(payload.invitedBy, ids.tom);
      // Jerry's SDK fetched it (conv/query): what the server keeps.
      assert.equal(jconv.name, 'Tom & Jerry');
      assert.equal(jconv.get('topic'), 'cheese', 'custom attribute topic');
      assert.equal(jconv.get('level'), 3, 'custom attribute level');
      assert.equal(jconv.creator, ids.tom);
      assert.deepEqual(sorted(jconv.members), sorted([ids.tom, ids.jerry]));
    });

    await s.run('unique', 'creating it again (unique) gives the same conversation', ['create'], async () => {
      const options = { members: [ids.jerry], name: 'Tom & Jerry again' };
      if (variant.sdk === 'v4') options.unique = true;
      const again = await call('tom.createConversation (unique, same members)', c.tom.createConversation(options));
      assert.equal(again.id, conv.id);
    });

    await s.run('query', 'Jerry finds it by a query on a custom attribute, and fetches it', ['create'], async () => {
      const found = await call("jerry.getQuery().equalTo('topic', 'cheese').containsMembers([tom]).find()",
        c.jerry.getQuery().equalTo('topic', 'cheese').containsMembers([ids.tom]).find());
      assert.deepEqual(found.map((x) => x.id), [conv.id]);
      const fetched = await call('jerry.getConversation(id, true)', c.jerry.getConversation(conv.id, true));
      assert.equal(fetched.get('topic'), 'cheese');
      assert.equal(fetched.name, 'Tom & Jerry');
    });

    await s.run('text', 'text messages both ways (TextMessage, Event.MESSAGE)', ['create'], async () => {
      const [sent, got] = await exchange('TextMessage from Tom', conv, c.jerry, new TextMessage('Hello Jerry'));
      assert.ok(got instanceof TextMessage);
      assert.equal(got.getText(), 'Hello Jerry');
      assert.equal(got.from, ids.tom);
      assert.equal(sent.status, MessageStatus.SENT);
      history.push({ id: sent.id, text: 'Hello Jerry' });
      const [back, gotBack] = await exchange('TextMessage from Jerry', jconv, c.tom, new TextMessage('Hi Tom'));
      assert.equal(gotBack.from, ids.jerry);
      assert.equal(gotBack.getText(), 'Hi Tom');
      history.push({ id: back.id, text: 'Hi Tom' });
    });

    await s.run('typed', 'typed messages: a custom type with fields, a location', ['create'], async () => {
      const card = new CardMessage('Swiss', 42).setText('a card').setAttributes({ color: 'yellow', holes: [1, 2] });
      const [sentCard, gotCard] = await exchange('CardMessage (type 1)', conv, c.jerry, card);
      assert.ok(gotCard instanceof CardMessage, `received a ${gotCard.constructor.name}`);
      assert.equal(gotCard.title, 'Swiss');
      assert.equal(gotCard.score, 42);
      assert.deepEqual(gotCard.getAttributes(), { color: 'yellow', holes: [1, 2] });
      history.push({ id: sentCard.id, text: 'a card' });
      const geo = new GeoMessage(48.8584, 2.2945).setText('the tower');
      const [sentGeo, gotGeo] = await exchange('GeoMessage (type -5)', conv, c.jerry, geo);
      assert.ok(gotGeo instanceof GeoMessage, `received a ${gotGeo.constructor.name}`);
      assert.deepEqual(gotGeo._lcloc, { latitude: 48.8584, longitude: 2.2945 });
      history.push({ id: sentGeo.id, text: 'the tower' });
    });

    await s.run('history', 'history: queryMessages with a limit, by type, and paging with createMessagesIterator', ['text', 'typed'], async () => {
      const last2 = await call('jerry conversation.queryMessages({limit: 2})', jconv.queryMessages({ limit: 2 }));
      assert.deepEqual(last2.map((m) => m.id), history.slice(-2).map((h) => h.id), 'the newest 2, oldest first');
      assert.ok(last2[1] instanceof GeoMessage && last2[0] instanceof CardMessage);
      assert.equal(last2[0].score, 42);
      const cards = await call('queryMessages({type: CardMessage.TYPE})', jconv.queryMessages({ type: CardMessage.TYPE }));
      assert.deepEqual(cards.map((m) => m.id), [history[2].id]);
      const it = jconv.createMessagesIterator({ limit: 3 });
      const pages = [];
      for (let n = 0; n < 5; n++) {
        const page = await call(`messagesIterator.next() #${n + 1}`, it.next());
        pages.unshift(page.value);
        if (page.done) break;
      }
      assert.deepEqual(pages.flat().map((m) => m.id), history.map((h) => h.id), 'the pages together are the whole history');
      assert.deepEqual(pages.flat().map((m) => m.getText()), history.map((h) => h.text));
      const first = pages.flat()[0];
      const forward = await call('queryMessages({startTime, startMessageId, startClosed, direction: OLD_TO_NEW, limit: 2})',
        jconv.queryMessages({ startTime: first.timestamp, startMessageId: first.id, startClosed: true, direction: MessageQueryDirection.OLD_TO_NEW, limit: 2 }));
      assert.deepEqual(forward.map((m) => m.id), history.slice(0, 2).map((h) => h.id));
    });

    await s.run('receipts', 'receipts: delivered and read (receipt: true, read(), fetchReceiptTimestamps)', ['create'], async () => {
      const delivered = expect(conv, Event.LAST_DELIVERED_AT_UPDATE, () => true, "Tom's Event.LAST_DELIVERED_AT_UPDATE");
      const [sent] = await exchange('TextMessage with {receipt: true}', conv, c.jerry, new TextMessage('did you get this?'), { receipt: true });
      history.push({ id: sent.id, text: 'did you get this?' });
      await delivered;
      await eventually(() => sent.deliveredAt && sent.status === MessageStatus.DELIVERED, 'the message is DELIVERED with deliveredAt');
      assert.ok(ms(conv.lastDeliveredAt) >= ms(sent.timestamp), 'lastDeliveredAt');
      const read = expect(conv, Event.LAST_READ_AT_UPDATE, () => true, "Tom's Event.LAST_READ_AT_UPDATE");
      await call('jerry conversation.read()', jconv.read());
      await read;
      assert.ok(ms(conv.lastReadAt) >= ms(sent.timestamp), 'lastReadAt');
      await call('tom conversation.fetchReceiptTimestamps()', conv.fetchReceiptTimestamps());
      assert.ok(ms(conv.lastReadAt) >= ms(sent.timestamp), 'lastReadAt after fetchReceiptTimestamps');
      assert.ok(ms(conv.lastDeliveredAt) >= ms(sent.timestamp), 'lastDeliveredAt after fetchReceiptTimestamps');
    });

    // The server's unread count of conversation id for a client, read
    // through Parley's HTTP API in a session of its own (logged out after).
    const withSession = async (who, fn) => {
      const session = await call(`POST /v1/sessions (${who} over HTTP)`, http.login(ids[who]));
      try {
        return await fn(session.token);
      } finally {
        await http.request('DELETE', '/v1/sessions/current', { token: session.token }).catch(() => {});
      }
    };
    const unreadOf = async (token, id) => {
      const u = await call('GET /v1/unread', http.request('GET', '/v1/unread', { token }));
      const mine = (u.conversations || []).find((x) => x.conversationId === id);
      return mine ? mine.unreadMessagesCount : 0;
    };
    const serverUnread = (who, id) => withSession(who, (token) => unreadOf(token, id));
    const serverUnreadIs = (who, id, want, what) => withSession(who, async (token) => {
      let got;
      await eventually(async () => (got = await unreadOf(token, id)) === want,
        () => `${what}: the server's unread count for ${who} is ${want} (GET /v1/unread says ${got})`);
    });

    await s.run('unread', 'unread counts after Jerry logs in again, then read() sets them to 0', ['create'], async () => {
      // Start from nothing unread, whatever the steps before left. (Only
      // when needed: the SDK throttles read() to one a second and would send
      // a second one late, for a client already closed.)
      if ((await serverUnread('jerry', conv.id)) !== 0) {
        await call('jerry conversation.read()', jconv.read());
        await serverUnreadIs('jerry', conv.id, 0, "Jerry's read() before he leaves");
      }
      await call('jerry.close()', c.jerry.close());
      const online = await call('tom.ping([jerry])', c.tom.ping([ids.jerry]));
      assert.deepEqual(online, [], 'Jerry is offline');
      for (const text of ['one', 'two']) {
        const m = await call(`conversation.send('${text}') while Jerry is away`, conv.send(new TextMessage(text)));
        history.push({ id: m.id, text });
      }
      c.jerry = await login('jerry');
      let updated = false;
      c.jerry.on(Event.UNREAD_MESSAGES_COUNT_UPDATE, (convs) => {
        if (convs.some((x) => x.id === conv.id)) updated = true;
      });
      // The unread command may come before createIMClient resolves (and the
      // event with it): the cached conversation holds the count either way.
      jconv = await call('jerry.getConversation(id)', c.jerry.getConversation(conv.id));
      await eventually(() => jconv.unreadMessagesCount === 2,
        () => `Jerry's unreadMessagesCount is 2 (it is ${jconv.unreadMessagesCount}; Event.UNREAD_MESSAGES_COUNT_UPDATE seen: ${updated})`);
      assert.ok(jconv.lastMessage, 'the unread command carries the last message');
      assert.equal(jconv.lastMessage.getText(), 'two');
      assert.equal(jconv.lastMessage.id, history.at(-1).id);
      await call('jerry conversation.read()', jconv.read());
      assert.equal(jconv.unreadMessagesCount, 0);
      await serverUnreadIs('jerry', conv.id, 0, "Jerry's read()");
    });

    await s.run('patch', 'edit (conversation.update) and recall (conversation.recall)', ['create'], async () => {
      const [sent] = await exchange('a message to edit', conv, c.jerry, new TextMessage('a typo mesage'));
      const updated = expect(c.jerry, Event.MESSAGE_UPDATE, (m) => m.id === sent.id, "Jerry's Event.MESSAGE_UPDATE");
      const edited = await call('tom conversation.update(message, newMessage)', conv.update(sent, new TextMessage('a typo message (edited)')));
      assert.equal(edited.id, sent.id);
      const [m, mc] = await updated;
      assert.ok(m instanceof TextMessage);
      assert.equal(m.getText(), 'a typo message (edited)');
      assert.equal(mc.id, conv.id);
      assert.ok(ms(m.updatedAt) > 0, 'the patch carries patchTimestamp');
      const recalledEv = expect(c.jerry, Event.MESSAGE_RECALL, (r) => r.id === sent.id, "Jerry's Event.MESSAGE_RECALL");
      const recalled = await call('tom conversation.recall(message)', conv.recall(edited));
      assert.ok(recalled instanceof RecalledMessage);
      const [r] = await recalledEv;
      assert.ok(r instanceof RecalledMessage, `Jerry got a ${r.constructor.name}`);
      const [last] = await call('jerry conversation.queryMessages({limit: 1})', jconv.queryMessages({ limit: 1 }));
      assert.equal(last.id, sent.id);
      assert.ok(last instanceof RecalledMessage, `history holds a ${last.constructor.name}`);
    });

    await s.run('members', 'members: add a third client, remove him, Jerry quits (count, events)', ['create'], async () => {
      c.spike = await login('spike');
      const online = await call('tom.ping([jerry, spike])', c.tom.ping([ids.jerry, ids.spike]));
      assert.deepEqual(sorted(online), sorted([ids.jerry, ids.spike]));
      const joined = expect(c.jerry, Event.MEMBERS_JOINED, (p, cv) => cv.id === conv.id && p.members.includes(ids.spike), "Jerry's Event.MEMBERS_JOINED");
      const invited = expect(c.spike, Event.INVITED, (p, cv) => cv.id === conv.id, "Spike's Event.INVITED");
      const added = await call('tom conversation.add([spike])', conv.add([ids.spike]));
      assert.deepEqual(added.successfulClientIds, [ids.spike]);
      assert.deepEqual(added.failures, []);
      const [jp] = await joined;
      assert.equal(jp.invitedBy, ids.tom);
      const [sp] = await invited;
      assert.equal(sp.invitedBy, ids.tom);
      assert.ok(conv.members.includes(ids.spike));
      assert.equal(await call('conversation.count()', conv.count()), 3);
      const left = expect(c.jerry, Event.MEMBERS_LEFT, (p, cv) => cv.id === conv.id && p.members.includes(ids.spike), "Jerry's Event.MEMBERS_LEFT");
      const kicked = expect(c.spike, Event.KICKED, (p, cv) => cv.id === conv.id, "Spike's Event.KICKED");
      const removed = await call('tom conversation.remove([spike])', conv.remove([ids.spike]));
      assert.deepEqual(removed.successfulClientIds, [ids.spike]);
      const [lp] = await left;
      assert.equal(lp.kickedBy, ids.tom);
      const [kp] = await kicked;
      assert.equal(kp.kickedBy, ids.tom);
      assert.ok(!conv.members.includes(ids.spike));
      const quit = expect(c.tom, Event.MEMBERS_LEFT, (p, cv) => cv.id === conv.id && p.members.includes(ids.jerry), "Tom's Event.MEMBERS_LEFT when Jerry quits");
      await call('jerry conversation.quit()', jconv.quit());
      const [qp] = await quit;
      assert.equal(qp.kickedBy, ids.jerry);
      assert.deepEqual(conv.members, [ids.tom]);
    });

    // The same conversation seen by an SDK client (LeanCloud content) and
    // an SSE client of Parley's HTTP API (Parley's typed fields).
    await s.run('sse', 'a conversation shared by an SDK client and an SSE client, messages both ways', ['login'], async () => {
      sue = await call('POST /v1/sessions (Sue)', http.login(ids.sue));
      sueEvents = new EventStream(http, sue.token);
      await call('GET /v1/events (Sue)', sueEvents.open());
      // Sue creates it over HTTP; Tom's SDK is invited (conv/joined, then
      // conv/query for what it does not know yet).
      const invited = expect(c.tom, Event.INVITED, (p) => p.invitedBy === ids.sue, "Tom's Event.INVITED by the SSE client");
      const created = await call('POST /v1/conversations (Sue, with Tom)', http.request('POST', '/v1/conversations',
        { token: sue.token, body: { members: [ids.tom], name: 'SDK and SSE', attributes: { topic: 'mixed' } } }));
      const [, tc] = await invited;
      sconv = tc;
      assert.equal(sconv.id, created.id);
      assert.equal(sconv.name, 'SDK and SSE');
      assert.equal(sconv.get('topic'), 'mixed', 'the custom attribute, as the SDK reads it');
      assert.equal(sconv.creator, ids.sue);
      assert.deepEqual(sorted(sconv.members), sorted([ids.sue, ids.tom]));

      const sseMessage = async (what, message) => {
        const wait = sueEvents.next('message', (d) => d.conversationId === sconv.id && d.message.text === message.getText(), `Sue's message event for ${what}`);
        const sent = await call(`conversation.send(${what}) to the SSE client`, sconv.send(message));
        const d = await wait;
        assert.equal(d.message.id, sent.id);
        assert.equal(d.message.from, ids.tom);
        assert.equal(d.message.timestamp, ms(sent.timestamp));
        return d.message;
      };
      const text = await sseMessage('TextMessage', new TextMessage('Hello Sue'));
      assert.equal(text.type, -1);
      assert.equal(text.text, 'Hello Sue');
      const card = await sseMessage('CardMessage', new CardMessage('Gouda', 7).setText('a card for Sue').setAttributes({ color: 'orange' }));
      assert.equal(card.type, 1);
      assert.deepEqual(card.fields, { title: 'Gouda', score: 7 });
      assert.deepEqual(card.attributes, { color: 'orange' });
      const geo = await sseMessage('GeoMessage', new GeoMessage(-33.8568, 151.2153).setText('the opera'));
      assert.equal(geo.type, -5);
      assert.deepEqual(geo.location, { latitude: -33.8568, longitude: 151.2153 });

      const fromSue = async (what, body, match) => {
        const got = expect(c.tom, Event.MESSAGE, (m, cv) => cv.id === sconv.id && match(m), `Tom's Event.MESSAGE for ${what} from the SSE client`);
        const sent = await call(`POST /v1/conversations/{id}/messages (${what})`, http.request('POST', `/v1/conversations/${sconv.id}/messages`, { token: sue.token, body }));
        const [m] = await got;
        assert.equal(m.id, sent.id);
        assert.equal(m.from, ids.sue);
        assert.equal(ms(m.timestamp), sent.timestamp);
        return m;
      };
      const t1 = await fromSue('text', { type: -1, text: 'Hi Tom, from HTTP' }, (m) => m.getText && m.getText() === 'Hi Tom, from HTTP');
      assert.ok(t1 instanceof TextMessage);
      const c1 = await fromSue('type 1 with fields', { type: 1, text: 'a card from HTTP', fields: { title: 'Brie', score: 9 }, attributes: { soft: true } },
        (m) => m instanceof CardMessage);
      assert.equal(c1.title, 'Brie');
      assert.equal(c1.score, 9);
      assert.equal(c1.getText(), 'a card from HTTP');
      assert.deepEqual(c1.getAttributes(), { soft: true });
      const g1 = await fromSue('location', { type: -5, location: { latitude: 35.6586, longitude: 139.7454 } }, (m) => m instanceof GeoMessage);
      assert.deepEqual(g1._lcloc, { latitude: 35.6586, longitude: 139.7454 });
      // Tom reads it all: the SSE client hears of it.
      const readAt = sueEvents.next('lastreadatupdate', (d) => d.conversationId === sconv.id && d.clientId === ids.tom, "Sue's lastreadatupdate after Tom's read()");
      await call('tom conversation.read()', sconv.read());
      const r = await readAt;
      assert.ok(r.lastReadAt >= ms(g1.timestamp), 'lastReadAt covers the last message');
    });

    // unique: false, or v5 (unique by default) would get Sue's conversation back.
    await s.run('sse-create', 'an SDK client creates a conversation with an SSE client, who is invited', ['sse'], async () => {
      const other = await call('tom.createConversation with the SSE client', c.tom.createConversation({ members: [ids.sue], name: 'from the SDK', mood: 'sunny', unique: false }));
      const inv = await sueEvents.next('invited', (d) => d.conversationId === other.id, 'Sue invited');
      assert.equal(inv.invitedBy, ids.tom);
      const got = await call('GET /v1/conversations/{id} (Sue)', http.request('GET', `/v1/conversations/${other.id}`, { token: sue.token }));
      assert.equal(got.name, 'from the SDK');
      assert.deepEqual(got.attributes, { mood: 'sunny' });
      assert.deepEqual(sorted(got.members), sorted([ids.sue, ids.tom]));
    });

    // The network drops and comes back: the SDK reopens the session with its
    // token (session/open r=true st=…) and gets the unread count of what it
    // missed.
    let away; // what Sue sent while Tom was away
    await s.run('reconnect', "the connection drops and comes back (realtime.pause/resume): the session reopens with its token", ['login'], async () => {
      const rt = realtimeFor('tom');
      const back = expect(c.tom, Event.RECONNECT, () => true, "Tom's IMClient Event.RECONNECT (session reopened)");
      watch.paused = true;
      try {
        const down = expect(rt, Event.DISCONNECT, () => true, 'Event.DISCONNECT');
        rt.pause();
        await down;
        if (sconv) {
          away = await call('POST /v1/conversations/{id}/messages while Tom is away', http.request('POST', `/v1/conversations/${sconv.id}/messages`,
            { token: sue.token, body: { type: -1, text: 'while you were away' } }));
        }
        rt.resume();
        await back;
      } finally {
        watch.paused = false;
      }
    });

    await s.run('reconnect-unread', 'after the reconnect: the unread count of what was missed, and read() reaches the SSE client', ['sse', 'reconnect'], async () => {
      const mine = await call('tom.getConversation(id)', c.tom.getConversation(sconv.id));
      await eventually(() => mine.unreadMessagesCount === 1, () => `Tom's unreadMessagesCount is 1 (it is ${mine.unreadMessagesCount})`);
      assert.ok(mine.lastMessage, 'the unread command carries the last message');
      assert.equal(mine.lastMessage.id, away.id);
      assert.equal(mine.lastMessage.getText(), 'while you were away');
      const readAt = sueEvents.next('lastreadatupdate', (d) => d.conversationId === sconv.id && d.clientId === ids.tom && d.lastReadAt >= away.timestamp,
        "Sue's lastreadatupdate covering what she sent while Tom was away");
      await call('tom conversation.read()', mine.read());
      await readAt;
    });

    await s.run('close', 'clients close (client.close)', ['login'], async () => {
      for (const who of Object.keys(c)) await call(`${who}.close()`, c[who].close());
      if (sueEvents) sueEvents.close();
      if (sue) await http.request('DELETE', '/v1/sessions/current', { token: sue.token }).catch(() => {});
    });

    await t.test('the SDK logged no protocol error', () => {
      if (sueEvents) sueEvents.close();
      // PARLEY_SDK_WIRE=dir keeps every line the watch captured (the
      // commands both ways, the SDK's debug lines) in dir/<run>.log.
      if (process.env.PARLEY_SDK_WIRE) {
        require('node:fs').writeFileSync(require('node:path').join(process.env.PARLEY_SDK_WIRE, `${run}.log`), `${watch.lines.join('\n')}\n`);
      }
      if (watch.problems.length) {
        const msg = `${watch.problems.length} protocol errors (protocol-watch.js says what counts):\n${watch.problems.map((p) => `  - ${p.what}`).join('\n')}`;
        const err = new Error(msg);
        err.stack = `Error: ${msg}`;
        throw err;
      }
    });
  });
}

module.exports = { define };
