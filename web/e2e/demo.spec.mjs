// End-to-end test of the web demo (issue 17, item 4): Chromium driven by
// playwright-core, two users (Tom and Jerry, one browser context each) and
// a third, phone-sized context. Controls are found by role and exact
// accessible name, as Testing Library does (issue 17, item 2).
//
//   PARLEY_BASE=http://127.0.0.1:8080 node e2e/demo.spec.mjs      (in web/)
//
// The server must be fresh (a new database): the users are Tom and Jerry.
// The Go test integration/web_e2e_test.go (TestWebDemoInChromium) starts it
// and restarts it when asked: this script prints "PARLEY-E2E: STOP" and
// waits for the line "STOPPED" on stdin (the server is down), then prints
// "PARLEY-E2E: START" and waits for "STARTED" (the server is back, same
// address and database). Without a driver on stdin (a terminal), the
// restart step is skipped.
//
// Environment: PARLEY_BASE (required), CHROMIUM (default /usr/bin/chromium),
// PARLEY_SCREENSHOTS (where screenshots go; default a new temporary
// directory), PARLEY_E2E_HEADED=1 to watch.
//
// Each step prints "ok N - name" or "not ok N - name" and the reason (and
// screenshots every page as fail-<step>-<who>.png); the exit status is 1
// when any step failed. A failed step does not stop the later ones unless
// they depend on it.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const BASE = process.env.PARLEY_BASE;
if (!BASE) {
  console.error('PARLEY_BASE is not set (e.g. http://127.0.0.1:8080)');
  process.exit(2);
}
const SHOTS = process.env.PARLEY_SCREENSHOTS || fs.mkdtempSync(path.join(os.tmpdir(), 'parley-screenshots-'));
fs.mkdirSync(SHOTS, { recursive: true });
const PNG = path.join(here, 'cheese.png');

// WAIT bounds every wait for something the page owes us.
const WAIT = 8000;

// ---- driver protocol (stdin / stdout lines) ----

const stdinLines = [];
const stdinWaiters = [];
let stdinClosed = false;
if (!process.stdin.isTTY) {
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const w = stdinWaiters.shift();
    if (w) w.resolve(line.trim());
    else stdinLines.push(line.trim());
  });
  rl.on('close', () => {
    stdinClosed = true;
    for (const w of stdinWaiters.splice(0)) w.reject(new Error('stdin closed'));
  });
}

function readLine(timeout = 30000) {
  if (stdinLines.length) return Promise.resolve(stdinLines.shift());
  if (stdinClosed || process.stdin.isTTY) return Promise.reject(new Error('no driver on stdin'));
  return new Promise((resolve, reject) => {
    const w = { resolve, reject };
    stdinWaiters.push(w);
    setTimeout(() => {
      const i = stdinWaiters.indexOf(w);
      if (i >= 0) stdinWaiters.splice(i, 1);
      reject(new Error(`no answer on stdin in ${timeout} ms`));
    }, timeout);
  });
}

async function ask(command, answer) {
  console.log(`PARLEY-E2E: ${command}`);
  const line = await readLine();
  assert.equal(line, answer, `the driver answered ${JSON.stringify(line)} to ${command}`);
}

// ---- waiting ----

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// eventually polls check (which returns normally or throws) until it
// passes; after timeout it fails with the last reason.
async function eventually(what, check, timeout = WAIT) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}: not so after ${timeout} ms: ${last && last.message ? last.message.split('\n')[0] : last}`);
    }
    await sleep(100);
  }
}

// ---- the page, by role and accessible name ----

const exact = (name) => ({ name, exact: true });

const textbox = (page, name) => page.getByRole('textbox', exact(name));
const button = (page, name) => page.getByRole('button', exact(name));
const conversations = (page) => page.getByRole('list', exact('Conversations'));
const log = (page) => page.getByRole('log', exact('Messages'));
const articles = (page) => log(page).getByRole('article');
const message = (page, text) => articles(page).filter({ hasText: text });

// convItem is the conversation whose accessible name is label (a string,
// matched exactly, or a RegExp): a list item, or a button inside one.
function convItem(page, label) {
  const opts = typeof label === 'string' ? exact(label) : { name: label };
  const list = conversations(page);
  return list.getByRole('listitem', opts).or(list.getByRole('button', opts)).first();
}

// convLabels lists the accessible names in the conversation list, for
// failure messages.
async function convLabels(page) {
  return conversations(page).evaluate((list) =>
    [...list.querySelectorAll('[aria-label]')].map((e) => e.getAttribute('aria-label')),
  ).catch(() => '(no list named Conversations)');
}

async function expectConv(page, label, timeout = WAIT) {
  await eventually(`the list of ${page.who} has the item ${label}`, async () => {
    if ((await convItem(page, label).count()) === 0) {
      throw new Error(`items: ${JSON.stringify(await convLabels(page))}`);
    }
  }, timeout);
}

async function expectNoConv(page, label) {
  await eventually(`the list of ${page.who} has no item ${label}`, async () => {
    if ((await convItem(page, label).count()) !== 0) {
      throw new Error(`items: ${JSON.stringify(await convLabels(page))}`);
    }
  });
}

// openConv clicks a conversation and waits, as a user would, for its chat:
// the heading with its name (another chat's message log, shown already,
// says nothing about the click).
async function openConv(page, label) {
  await expectConv(page, label);
  const item = convItem(page, label);
  const name = (await item.getAttribute('aria-label')).replace(/, \d+ unread$/, '');
  await item.click();
  await page.getByRole('heading', exact(name)).first().waitFor();
  await log(page).waitFor();
}

async function expectMessage(page, text, timeout = WAIT) {
  await eventually(`${page.who} sees the message ${JSON.stringify(text)}`, async () => {
    if ((await message(page, text).count()) === 0) {
      throw new Error(`messages: ${JSON.stringify(await articles(page).allInnerTexts())}`);
    }
  }, timeout);
  return message(page, text).last();
}

async function expectNoMessage(page, text) {
  await eventually(`${page.who} no longer sees a message ${JSON.stringify(text)}`, async () => {
    if ((await message(page, text).count()) !== 0) {
      throw new Error(`messages: ${JSON.stringify(await articles(page).allInnerTexts())}`);
    }
  });
}

async function send(page, text) {
  await textbox(page, 'Message').fill(text);
  await button(page, 'Send').click();
  return expectMessage(page, text);
}

// mark is the delivery mark of a one-to-one message: "Read", "Delivered"
// or "" (neither word in it).
async function mark(article) {
  // Word by word in each text node outside buttons (textContent runs
  // "Recall" and "Read" together).
  const words = await article.evaluate((el) => {
    const out = [];
    const walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let t = walk.nextNode(); t; t = walk.nextNode()) {
      if (!t.parentElement.closest('button')) out.push(...t.data.split(/[^A-Za-z]+/));
    }
    return out;
  });
  if (words.includes('Read')) return 'Read';
  if (words.includes('Delivered')) return 'Delivered';
  return '';
}

async function expectMark(page, article, want) {
  await eventually(`${page.who}'s message shows "${want}"`, async () => {
    const got = await mark(article);
    if (got !== want) throw new Error(`it shows ${JSON.stringify(got || 'neither Delivered nor Read')}: ${JSON.stringify(await article.innerText())}`);
  });
}

// createConv fills the "New conversation" form and returns the new
// conversation's id (from the API's answer: the test needs it to join by
// id, and checks the page shows it).
async function createConv(page, { members, name, kind }) {
  if (!(await textbox(page, 'Members').isVisible())) {
    await button(page, 'New conversation').click();
  }
  await textbox(page, 'Members').fill(members);
  await textbox(page, 'Name').fill(name);
  const kindSelect = page.getByRole('combobox', exact('Kind'));
  const options = await kindSelect.locator('option').allTextContents();
  assert.deepEqual(options.map((o) => o.trim()), ['One-to-one or group', 'Chat room', 'Temporary'], 'the options of Kind');
  await kindSelect.selectOption({ label: kind });
  const created = page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/v1/conversations', { timeout: WAIT });
  await button(page, 'Create').click();
  const resp = await created;
  assert.ok(resp.ok(), `creating the conversation answered ${resp.status()} ${await resp.text()}`);
  const conv = await resp.json();
  assert.ok(conv.id, 'the created conversation has an id');
  return conv.id;
}

// showDetails makes sure the details panel (members, rename, the id) is
// shown: it may be part of the layout or open with a button "Details".
async function showDetails(page, shown = textbox(page, 'Add member')) {
  if (await shown.isVisible()) return;
  await button(page, 'Details').click();
  await shown.waitFor();
}

// The connection banner: role alert saying "Disconnected" or "Reconnecting…".
const banner = (page) => page.getByRole('alert').filter({ hasText: /Disconnected|Reconnecting…/ });

// noOverflow checks that the page does not scroll sideways.
async function noOverflow(page, where) {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  }));
  assert.ok(scrollWidth <= innerWidth, `${where}: the page is ${scrollWidth} px wide in a ${innerWidth} px viewport`);
}

async function withinViewport(page, locator, what) {
  await locator.waitFor();
  const box = await locator.boundingBox();
  const vp = page.viewportSize();
  assert.ok(box, `${what} has no box`);
  assert.ok(box.x >= 0 && box.x + box.width <= vp.width + 1 && box.y >= 0 && box.y + box.height <= vp.height + 1,
    `${what} is not within the ${vp.width}×${vp.height} viewport: ${JSON.stringify(box)}`);
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: false });
}

// apiSend sends a text message through the API as a new session of
// clientId (another device of that user).
async function apiSend(clientId, convId, text) {
  const login = await fetch(new URL('/v1/sessions', BASE), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ clientId }),
  });
  assert.equal(login.status, 201, `login ${clientId}: ${await login.clone().text()}`);
  const { token } = await login.json();
  const sent = await fetch(new URL(`/v1/conversations/${encodeURIComponent(convId)}/messages`, BASE), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify({ type: -1, text }),
  });
  assert.equal(sent.status, 201, `send: ${await sent.clone().text()}`);
}

// ---- the run ----

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: process.env.PARLEY_E2E_HEADED !== '1',
  args: ['--no-sandbox'],
});

const pages = [];
const pageErrors = [];
const httpErrors = [];

async function newUser(who, contextOptions = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...contextOptions });
  context.setDefaultTimeout(WAIT);
  const page = await context.newPage();
  page.who = who;
  // Confirmations (recall, remove, leave) are accepted; a prompt gets
  // page.promptAnswer.
  page.on('dialog', (d) => d.accept(d.type() === 'prompt' ? page.promptAnswer ?? d.defaultValue() : undefined).catch(() => {}));
  page.on('pageerror', (e) => pageErrors.push(`${who}: ${e.message}`));
  page.on('response', async (r) => {
    if (r.status() < 400) return;
    const h = { who, status: r.status(), method: r.request().method(), url: r.url(), at: Date.now(), body: '' };
    httpErrors.push(h);
    h.body = (await r.text().catch(() => '')).slice(0, 300);
  });
  pages.push(page);
  return page;
}

async function login(page, clientId) {
  await page.goto(BASE);
  await textbox(page, 'Client ID').fill(clientId);
  await button(page, 'Log in').click();
  await loggedIn(page);
}

// loggedIn waits for the page after login: the list of conversations (in
// the DOM: empty, it has no size) and the button "New conversation".
async function loggedIn(page) {
  await button(page, 'New conversation').waitFor();
  await conversations(page).waitFor({ state: 'attached' });
}

const results = [];
let n = 0;

async function step(name, fn, { critical = false, needs = [] } = {}) {
  n++;
  const missing = needs.filter((d) => !results.find((r) => r.name === d && r.ok));
  if (missing.length) {
    console.log(`not ok ${n} - ${name} # SKIP: needs ${missing.join(', ')}`);
    results.push({ name, ok: false, skipped: true });
    return;
  }
  const started = Date.now();
  try {
    await fn();
    console.log(`ok ${n} - ${name} (${Date.now() - started} ms)`);
    results.push({ name, ok: true });
  } catch (e) {
    console.log(`not ok ${n} - ${name} (${Date.now() - started} ms)`);
    console.log(`  ${String(e && e.stack || e).split('\n').slice(0, 6).join('\n  ')}`);
    for (const h of httpErrors.filter((h) => h.at >= started)) {
      console.log(`  # ${h.who}: ${h.method} ${h.url} answered ${h.status} ${h.body}`);
    }
    results.push({ name, ok: false });
    for (const p of pages) {
      await p.screenshot({ path: path.join(SHOTS, `fail-${n}-${p.who}.png`) }).catch(() => {});
    }
    if (critical) throw new Error(`stopping: "${name}" failed`);
  }
}

const tom = await newUser('Tom');
const jerry = await newUser('Jerry');
let direct; // the id of Tom and Jerry's one-to-one conversation
let room; // the id of the chat room

try {
  await step('log in', async () => {
    await tom.goto(BASE);
    assert.match(await tom.locator('meta[name=viewport]').getAttribute('content'), /width=device-width/, 'the mobile viewport tag');
    // The tag is optional: "Tag" or "Tag (optional)".
    await tom.getByRole('textbox', { name: /^Tag( \(optional\))?$/ }).waitFor();
    await shot(tom, 'login');
    await login(tom, 'Tom');
    await login(jerry, 'Jerry');
    const dev = tom.locator('details').filter({ has: tom.locator('summary', { hasText: 'Developer log' }) });
    assert.equal(await dev.count(), 1, 'one <details> with the summary "Developer log"');
    assert.equal(await dev.evaluate((d) => d.open), false, 'the developer log is closed by default');
    // A reload keeps the session (the token is kept for the tab).
    await jerry.reload();
    await loggedIn(jerry);
    assert.equal(await textbox(jerry, 'Client ID').isVisible(), false, 'after a reload Jerry is still logged in');
  }, { critical: true });

  await step('a one-to-one chat both ways, with delivered and read marks', async () => {
    direct = await createConv(tom, { members: 'Jerry', name: '', kind: 'One-to-one or group' });
    const hello = await send(tom, 'Hello Jerry');
    // Jerry is online, with no conversation open: delivered, not read.
    await expectConv(jerry, 'Tom, 1 unread');
    await expectMark(tom, hello, 'Delivered');
    await openConv(jerry, 'Tom, 1 unread');
    const got = await expectMessage(jerry, 'Hello Jerry');
    assert.match(await got.innerText(), /\bTom\b/, 'Jerry sees who sent it');
    await expectConv(jerry, 'Tom'); // read while it is open
    await expectMark(tom, hello, 'Read');
    // And back.
    const reply = await send(jerry, 'Hi Tom!');
    const back = await expectMessage(tom, 'Hi Tom!');
    assert.match(await back.innerText(), /\bJerry\b/, 'Tom sees who sent it');
    await expectConv(tom, 'Jerry'); // Tom has it open: nothing unread
    await expectMark(jerry, reply, 'Read');
  }, { critical: true });

  await step('what a user types is shown as text, never as markup', async () => {
    const evil = '<b>bold</b> <img src=x onerror="window.__xss=1">';
    await send(tom, evil);
    const got = await expectMessage(jerry, '<b>bold</b>');
    assert.equal(await got.locator('b, img[src=x]').count(), 0, 'no element made from the text');
    assert.equal(await jerry.evaluate(() => window.__xss), undefined, 'no script ran');
  }, { needs: ['a one-to-one chat both ways, with delivered and read marks'] });

  await step('typing: "Jerry is typing…" for Tom, never a message', async () => {
    await textbox(jerry, 'Message').fill('');
    const before = await articles(tom).count();
    const box = textbox(jerry, 'Message');
    await box.click();
    await box.pressSequentially('Are you th', { delay: 60 });
    const typing = tom.getByRole('status').filter({ hasText: 'Jerry is typing…' });
    await typing.waitFor();
    assert.equal(await message(tom, 'typing').count(), 0, 'no message bubble says typing');
    assert.equal(await articles(tom).count(), before, 'typing added no message');
    await box.pressSequentially('ere?', { delay: 20 });
    await button(jerry, 'Send').click();
    await expectMessage(tom, 'Are you there?');
    await eventually('the typing indicator goes once the message is there', async () => {
      assert.equal(await typing.isVisible(), false);
    });
    assert.equal(await articles(tom).count(), before + 1, 'exactly one new message');
  }, { needs: ['a one-to-one chat both ways, with delivered and read marks'] });

  await step('edit and recall one\'s own message', async () => {
    const typo = await send(tom, 'Thsi has a typo');
    await expectMessage(jerry, 'Thsi has a typo');
    await typo.hover();
    tom.promptAnswer = 'This is fixed';
    await typo.getByRole('button', exact('Edit')).click();
    // The natural reading: Edit opens a text box (focused, holding the
    // text) that Enter saves; a prompt() is answered by the dialog handler.
    await sleep(200);
    const focused = tom.locator(':focus');
    if ((await focused.count()) && await focused.evaluate((e) => e.matches('input, textarea, [contenteditable=""], [contenteditable=true]'))) {
      const value = await focused.evaluate((e) => ('value' in e ? e.value : e.textContent));
      assert.match(value, /Thsi has a typo/, 'the edit box holds the message');
      await focused.fill('This is fixed');
      await focused.press('Enter');
    }
    await expectMessage(tom, 'This is fixed');
    await expectMessage(jerry, 'This is fixed');
    await expectNoMessage(jerry, 'Thsi has a typo');
    await expectNoMessage(tom, 'Thsi has a typo');

    const oops = await send(tom, 'Recall me please');
    await expectMessage(jerry, 'Recall me please');
    await oops.hover();
    await oops.getByRole('button', exact('Recall')).click();
    await expectNoMessage(tom, 'Recall me please');
    await expectNoMessage(jerry, 'Recall me please');
    // Jerry's messages are Jerry's: no Edit or Recall on them for Tom.
    const theirs = await expectMessage(tom, 'Hi Tom!');
    await theirs.hover();
    assert.equal(await theirs.getByRole('button', exact('Edit')).count(), 0, 'no Edit on the other\'s message');
    assert.equal(await theirs.getByRole('button', exact('Recall')).count(), 0, 'no Recall on the other\'s message');
  }, { needs: ['a one-to-one chat both ways, with delivered and read marks'] });

  await step('an image upload with an inline preview', async () => {
    const withImage = (page) => articles(page).filter({ has: page.locator('img') });
    const before = await withImage(tom).count();
    await tom.getByLabel('Attach', { exact: true }).setInputFiles(PNG);
    // Choosing a file sends it, or Send does.
    const sentAlone = await eventually('', async () => assert.ok((await withImage(tom).count()) > before), 2500).then(() => true, () => false);
    if (!sentAlone) await button(tom, 'Send').click();
    for (const page of [tom, jerry]) {
      await eventually(`${page.who} sees the image, loaded`, async () => {
        const img = withImage(page).last().locator('img').first();
        const loaded = await img.evaluate((i) => i.complete && i.naturalWidth > 0);
        assert.ok(loaded, 'the <img> has not loaded');
      });
    }
    await shot(tom, 'chat');
  }, { needs: ['a one-to-one chat both ways, with delivered and read marks'] });

  await step('a group; a mention with @ completion, marked in the list', async () => {
    await textbox(jerry, 'Message').fill(''); // whatever an earlier step left
    await createConv(tom, { members: 'Jerry, Spike', name: 'Cheese Club', kind: 'One-to-one or group' });
    await expectConv(jerry, /^Cheese Club(, \d+ unread)?$/);
    // Tom looks at another chat while Jerry mentions him.
    await openConv(tom, 'Jerry');
    await openConv(jerry, /^Cheese Club(, \d+ unread)?$/);
    const box = textbox(jerry, 'Message');
    await box.click();
    await box.pressSequentially('@To', { delay: 40 });
    // The completion: the natural reading is a listbox of options (the
    // member ids); a button "@Tom" would do too.
    const option = jerry.getByRole('option', { name: /^@?Tom$/ }).or(jerry.getByRole('button', exact('@Tom'))).first();
    await option.click();
    await eventually('the completion put @Tom in the message', async () => assert.match(await box.inputValue(), /^@Tom\b/));
    await box.focus();
    await box.press('End');
    await box.pressSequentially(((await box.inputValue()).endsWith(' ') ? '' : ' ') + 'the cheese is here', { delay: 10 });
    await button(jerry, 'Send').click();
    await expectMessage(jerry, 'the cheese is here');
    await expectConv(tom, 'Cheese Club, 1 unread');
    await send(jerry, 'No mention in this one');
    await expectConv(tom, 'Cheese Club, 2 unread');
    // The last message has no @: an @ in the item is the mention marker.
    const item = convItem(tom, 'Cheese Club, 2 unread');
    assert.match(await item.innerText(), /@/, 'Tom\'s list shows the @ marker on Cheese Club');
    await item.click();
    const mention = await expectMessage(tom, 'the cheese is here');
    assert.match(await mention.innerText(), /@Tom the cheese is here/);
    await expectConv(tom, 'Cheese Club');
    await eventually('the @ marker goes once read', async () => assert.doesNotMatch(await convItem(tom, 'Cheese Club').innerText(), /@/));
  }, { needs: ['log in'] });

  await step('group members added, removed, renamed; a member leaves', async () => {
    // Tom has Cheese Club open.
    await showDetails(tom);
    // A member: a list item with the id and a button "Remove" (or
    // "Remove Spike").
    const member = (page, id) => page.getByRole('listitem').filter({ hasText: new RegExp(`(?<![A-Za-z0-9])${id}(?![a-z0-9])`) })
      .filter({ has: page.getByRole('button', { name: /^Remove\b/ }) });
    for (const id of ['Jerry', 'Spike']) {
      await eventually(`Tom's members panel lists ${id}`, async () => assert.equal(await member(tom, id).count(), 1));
    }
    await textbox(tom, 'Add member').fill('Tyke');
    await button(tom, 'Add').click();
    await eventually('Tyke is listed', async () => assert.equal(await member(tom, 'Tyke').count(), 1));
    await member(tom, 'Spike').getByRole('button', { name: /^Remove\b/ }).click();
    await eventually('Spike is gone', async () => assert.equal(await member(tom, 'Spike').count(), 0));
    // Jerry, with the group open, sees the same members.
    await showDetails(jerry);
    await eventually('Jerry\'s panel has Tyke and not Spike', async () => {
      const text = await jerry.locator('body').innerText();
      assert.match(text, /\bTyke\b/);
      assert.equal(await member(jerry, 'Spike').count(), 0);
    });
    await textbox(tom, 'Rename').fill('Cheese Lovers');
    await button(tom, 'Save').click();
    await expectConv(jerry, /^Cheese Lovers(, \d+ unread)?$/);
    await expectConv(tom, 'Cheese Lovers');
    await shot(tom, 'group-members');
    await button(jerry, 'Leave').click();
    await expectNoConv(jerry, /^Cheese Lovers/);
    await eventually('Jerry has left Tom\'s members panel', async () => assert.equal(await member(tom, 'Jerry').count(), 0));
  }, { needs: ['a group; a mention with @ completion, marked in the list'] });

  await step('a chat room created by Tom, joined by id by Jerry', async () => {
    room = await createConv(tom, { members: '', name: 'Lobby', kind: 'Chat room' });
    await tom.getByRole('heading', { name: /\bLobby\b/ }).first().waitFor();
    await showDetails(tom, tom.getByText(room, { exact: true }).first());
    const since = Date.now();
    await openConv(jerry, /^Tom(, \d+ unread)?$/); // something else open first
    await textbox(jerry, 'Conversation ID').fill(room);
    await button(jerry, 'Open').click();
    await jerry.getByRole('heading', { name: /\bLobby\b/ }).first().waitFor();
    await send(tom, 'Welcome to the lobby');
    await expectMessage(jerry, 'Welcome to the lobby');
    assert.equal(await message(jerry, 'Hello Jerry').count(), 0, 'the one-to-one chat\'s messages are not shown under the room');
    await send(jerry, 'Thanks for having me');
    await expectMessage(tom, 'Thanks for having me');
    const refused = httpErrors.filter((e) => e.who === 'Jerry' && e.at >= since);
    assert.deepEqual(refused, [], 'no request of Jerry\'s was refused');
    assert.equal(await jerry.getByRole('alert').filter({ hasText: /403|forbidden|not a member/i }).count(), 0, 'no error shown');
  }, { needs: ['log in'] });

  await step('the mobile layout (390 px wide)', async () => {
    const phone = await newUser('Tom-phone', { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    await phone.goto(BASE);
    await noOverflow(phone, 'the login screen');
    await login(phone, 'Tom');
    await expectConv(phone, /^Jerry(, \d+ unread)?$/);
    await withinViewport(phone, convItem(phone, /^Jerry(, \d+ unread)?$/), 'the conversation Jerry');
    await noOverflow(phone, 'the conversation list');
    await shot(phone, 'mobile-list');
    await convItem(phone, /^Jerry(, \d+ unread)?$/).click();
    await expectMessage(phone, 'This is fixed');
    await withinViewport(phone, textbox(phone, 'Message'), 'the Message box');
    await withinViewport(phone, button(phone, 'Send'), 'the Send button');
    await send(phone, 'Sent from my phone');
    await noOverflow(phone, 'the chat');
    await shot(phone, 'mobile-chat');
    await phone.context().close();
    pages.splice(pages.indexOf(phone), 1);
  }, { needs: ['a one-to-one chat both ways, with delivered and read marks'] });

  await step('the server restarts: the banner shows and clears, nothing is missed', async () => {
    if (process.stdin.isTTY) {
      console.log('  # no driver on stdin: not restarting');
      return;
    }
    await openConv(tom, /^Jerry(, \d+ unread)?$/);
    await openConv(jerry, /^Tom(, \d+ unread)?$/);
    await ask('STOP', 'STOPPED');
    for (const page of [tom, jerry]) {
      await banner(page).first().waitFor({ timeout: 10000 });
    }
    await shot(tom, 'disconnected');
    await ask('START', 'STARTED');
    // At once, before the pages are back: Jerry, on another device.
    await apiSend('Jerry', direct, 'Sent while Tom was away');
    for (const page of [tom, jerry]) {
      await eventually(`${page.who}'s banner clears`, async () => assert.equal(await banner(page).count(), 0), 20000);
    }
    await send(jerry, 'Back online');
    for (const page of [tom, jerry]) {
      for (const text of ['Sent while Tom was away', 'Back online']) {
        await expectMessage(page, text);
        assert.equal(await message(page, text).count(), 1, `${page.who} has "${text}" once`);
      }
      const all = await articles(page).allInnerTexts();
      const i = all.findIndex((t) => t.includes('Sent while Tom was away'));
      const j = all.findIndex((t) => t.includes('Back online'));
      assert.ok(i < j, `${page.who} has them in order: ${JSON.stringify(all.slice(-4))}`);
    }
    await expectConv(tom, 'Jerry');
  }, { needs: ['a one-to-one chat both ways, with delivered and read marks'] });
} catch (e) {
  console.log(`# ${e.message}`);
} finally {
  await browser.close().catch(() => {});
}

if (pageErrors.length) {
  console.log(`# uncaught errors in the pages:\n#   ${pageErrors.join('\n#   ')}`);
}
const failed = results.filter((r) => !r.ok);
console.log(`# ${results.length - failed.length} of ${n} steps passed; screenshots in ${SHOTS}`);
process.exit(failed.length || results.length < n ? 1 : 0);
