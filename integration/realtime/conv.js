// LeanCloud's realtime JS SDK against Parley's gateway: the conversation
// commands, as an app calls them. Usage: node conv.js v4|v5 <ws url>
// [noBinary] (v4: leancloud-realtime 4.3.1, v5: 5.0.0-rc.8 as
// leancloud-realtime-v5; noBinary: the Base64 subprotocol,
// lc.proto2base64.3). Prints one line per check ("ok  …" or "FAIL …") and
// exits non-zero when any failed (integration/realtime_sdk_test.go runs it).
const { Realtime, ConversationMemberRole } = require(process.argv[2] === 'v4' ? 'leancloud-realtime' : 'leancloud-realtime-v5');
const url = process.argv[3];
const noBinary = process.argv[4] === 'noBinary';

let failed = false;
const check = (ok, what) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failed = true;
};
// rejects runs f and checks that it is refused with LeanCloud's code.
const rejects = async (f, code, what) => {
  try {
    await f();
    check(false, `${what}: no error`);
  } catch (e) {
    check(e.code === code, `${what} → ${e.code}`);
  }
};

(async () => {
  // One Realtime carries every client (v5 allows one per app id); server
  // is never called: RTMServers skips the router.
  const realtime = new Realtime({
    appId: 'parley-sdk-test-MdYXbMMI', appKey: 'unused', RTMServers: [url], server: 'http://127.0.0.1:1', noBinary,
  });
  const tom = await realtime.createIMClient('Tom');
  const jerry = await realtime.createIMClient('Jerry');
  const stranger = await realtime.createIMClient('Stranger');

  // Create (custom attributes beside name), read back by another client.
  const conv = await tom.createConversation({ members: ['Jerry'], name: 'Tom & Jerry', topic: 'cheese', unique: false });
  check(conv.id && conv.get('topic') === 'cheese' && conv.createdAt instanceof Date, 'createConversation');
  const seen = await jerry.getConversation(conv.id);
  check(seen && seen.name === 'Tom & Jerry' && seen.get('topic') === 'cheese' && seen.members.length === 2 && seen.creator === 'Tom',
    'getConversation by another member');
  const a = await tom.createConversation({ members: ['Jerry'], unique: true });
  const b = await tom.createConversation({ members: ['Jerry'], unique: true });
  check(a.id === b.id, 'a unique conversation is found again');
  const both = await jerry.getConversations([conv.id, a.id]);
  check(both.length === 2 && both.every(Boolean), 'getConversations (objectId $in)');
  check(await jerry.getConversation('no-such-id') === null, 'an unknown conversation is null');

  // Queries.
  const found = await jerry.getQuery().containsMembers(['Tom']).equalTo('topic', 'cheese').withLastMessagesRefreshed().find();
  check(found.length === 1 && found[0].id === conv.id, 'containsMembers and an attribute');
  const exact = await tom.getQuery().withMembers(['Jerry'], true).find();
  check(exact.length === 2 && exact.every(c => c.members.length === 2), 'withMembers');
  const prefix = await jerry.getQuery().startsWith('name', 'Tom &').compact(true).find();
  check(prefix.length === 1 && prefix[0].id === conv.id, 'startsWith, compact');

  // Attributes, mute.
  conv.set('topic', 'mice');
  conv.name = 'renamed';
  await conv.save();
  check(conv.updatedAt instanceof Date && !isNaN(conv.updatedAt), 'save');
  const fresh = await jerry.getConversation(conv.id, true);
  check(fresh.get('topic') === 'mice' && fresh.name === 'renamed', 'saved attributes read back');
  await conv.mute();
  await conv.unmute();
  check(true, 'mute, unmute');

  // Members.
  const added = await conv.add(['Mary', 'Bob']);
  check(added.successfulClientIds.length === 2 && added.failures.length === 0, 'add');
  check(await conv.count() === 4, 'count');
  const removed = await conv.remove('Bob');
  check(removed.successfulClientIds[0] === 'Bob', 'remove');
  await seen.quit();
  await seen.join();
  check(true, 'quit, join');
  await rejects(async () => (await stranger.getConversation(conv.id)).add('Eve'), 4317, 'a stranger adding');
  await conv.fetchReceiptTimestamps();
  check(true, 'fetchReceiptTimestamps');

  // Roles, muted and blocked members.
  await conv.updateMemberRole('Jerry', ConversationMemberRole.MANAGER);
  check(true, 'updateMemberRole');
  await rejects(() => seen.updateMemberRole('Mary', ConversationMemberRole.MANAGER), 4320, 'a manager setting roles');
  const muted = await conv.muteMembers(['Mary']);
  check(muted.successfulClientIds[0] === 'Mary', 'muteMembers');
  check((await conv.queryMutedMembers({ limit: 10 })).results.join() === 'Mary', 'queryMutedMembers');
  await conv.unmuteMembers(['Mary']);
  check((await conv.queryMutedMembers()).results.length === 0, 'unmuteMembers');
  const blocked = await conv.blockMembers(['Mary']);
  check(blocked.successfulClientIds[0] === 'Mary', 'blockMembers');
  check((await conv.queryBlockedMembers({ limit: 10 })).results.join() === 'Mary', 'queryBlockedMembers');
  const refused = await conv.add(['Mary']);
  check(refused.failures.length === 1 && refused.failures[0].code === 4548 && refused.failures[0].clientIds[0] === 'Mary',
    'adding a blocked client fails for it');
  await conv.unblockMembers(['Mary']);
  check((await conv.queryBlockedMembers()).results.length === 0, 'unblockMembers');

  // Chat rooms and temporary conversations.
  const room = await tom.createChatRoom({ name: 'lobby' });
  check(room.transient, 'createChatRoom');
  const inRoom = await jerry.getConversation(room.id);
  await inRoom.join();
  await inRoom.quit();
  check(true, 'chat room join, quit');
  const temp = await tom.createTemporaryConversation({ members: ['Jerry'], ttl: 3600 });
  check(temp.id.startsWith('_tmp:') && temp.expiredAt > new Date(), 'createTemporaryConversation');
  const tempSeen = await jerry.getConversation(temp.id);
  check(tempSeen && tempSeen.id === temp.id && tempSeen.expiredAt > new Date(), 'getConversation of a temporary one');

  await Promise.all([tom.close(), jerry.close(), stranger.close()]);
  process.exit(failed ? 1 : 0);
})().catch((e) => {
  console.log('FAIL', e && e.stack, e && e.code);
  process.exit(1);
});
