'use strict';
// A LeanEngine app, written as one would for LeanCloud, whose IM hooks
// Parley calls in integration/hooks_leanengine_test.go. It is started with
// LEANCLOUD_APP_ID, LEANCLOUD_APP_KEY, LEANCLOUD_APP_MASTER_KEY,
// LEANCLOUD_APP_HOOK_KEY (as leanengine reads them) and
// LEANCLOUD_APP_PORT, and listens on 127.0.0.1 only. Every hook call is
// recorded; GET /calls (a plain express route) answers them to the test.
const AV = require('leanengine');
const express = require('express');

AV.init({
  appId: process.env.LEANCLOUD_APP_ID,
  appKey: process.env.LEANCLOUD_APP_KEY,
  masterKey: process.env.LEANCLOUD_APP_MASTER_KEY,
  hookKey: process.env.LEANCLOUD_APP_HOOK_KEY,
  // Never called: cloud functions here touch no LeanCloud storage.
  serverURLs: 'http://127.0.0.1:9',
});

const calls = [];
const record = (hook, request) => {
  const params = Object.assign({}, request.params);
  delete params.__sign;
  calls.push({hook, params});
};

const textOf = (content) => {
  try {
    return JSON.parse(content)._lctext || '';
  } catch (e) {
    return '';
  }
};

// The SDK's IM API…
AV.Cloud.onIMMessageReceived((request) => {
  record('_messageReceived', request);
  const text = textOf(request.params.content);
  if (text.includes('forbidden')) {
    return {drop: true, code: 4401, detail: 'no forbidden words here'};
  }
  if (text.includes('rewrite')) {
    const content = JSON.parse(request.params.content);
    content._lctext = text.toUpperCase();
    return {content: JSON.stringify(content)};
  }
  if (text.includes('whisper')) {
    return {toPeers: request.params.toPeers.filter((p) => p === 'Jerry')};
  }
  return {};
});

AV.Cloud.onIMConversationStart((request) => {
  record('_conversationStart', request);
  const attr = request.params.attr || {};
  if (attr.name === 'forbidden') {
    return {reject: true, code: 4305, detail: 'no groups of that name'};
  }
  return {};
});

// … and plain cloud functions of the hooks' names, as older apps defined them.
for (const hook of ['_messageSent', '_messageUpdate', '_conversationStarted', '_conversationAdd',
  '_conversationAdded', '_conversationRemove', '_conversationRemoved', '_conversationUpdate']) {
  AV.Cloud.define(hook, (request) => {
    record(hook, request);
    return {};
  });
}
AV.Cloud.onIMClientOnline((request) => { record('_clientOnline', request); });
AV.Cloud.onIMClientOffline((request) => { record('_clientOffline', request); });

const app = express();
app.use(AV.express());
app.get('/calls', (req, res) => res.json(calls));

const port = parseInt(process.env.LEANCLOUD_APP_PORT, 10);
app.listen(port, '127.0.0.1', () => {
  console.log('leanengine test app listening on 127.0.0.1:' + port);
});
