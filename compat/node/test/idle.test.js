'use strict';

// nacos-naming 2.6.3 against Pulse: the client refreshes its push
// registration only by polling (every cacheMillis, 10 s); the server drops a
// target that has not refreshed for its zombie timeout (25 s). A subscription
// that outlives that timeout must still get its changes by push.

const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

const ZOMBIE_TIMEOUT = 25000; // Pulse's default

test('push still arrives after the zombie timeout', async t => {
  const srv = await h.startPulse(t);
  const counter = await h.startListCounter(t, srv);
  const reg = await h.newClient(t, srv);
  const sub = await h.newClient(t, { addr: counter.addr });
  const svc = h.uniq('idle');
  const grouped = `DEFAULT_GROUP@@${svc}`;
  await reg.registerInstance(svc, { ip: '127.0.0.1', port: 8701 });
  const rec = h.recorder();
  sub.subscribe(svc, rec);
  const subscribed = Date.now();
  await h.eventually('first call', 3000, '8701:healthy', rec.last);
  const idle = await h.waitFor(() => Date.now() - subscribed > ZOMBIE_TIMEOUT + 1000 && counter.lists(grouped) >= 4,
    ZOMBIE_TIMEOUT + 15000);
  assert.ok(idle, `after ${Date.now() - subscribed} ms: ${counter.lists(grouped)} list queries, want the first and three polls`);
  const subs = (await h.getJSON(`${srv.api}/v1/ns/service/subscribers?serviceName=${encodeURIComponent(grouped)}`)).json;
  assert.equal(subs.count, 1, `subscribers: ${JSON.stringify(subs)}`);
  assert.match(subs.subscribers[0].agent, /^Nacos-Java-Client/);

  // Polls that bring nothing new must not call the listener: hosts are
  // compared field by field, so a volatile field would.
  assert.deepEqual(rec.calls, ['8701:healthy'], 'listener calls before any change');
  const before = counter.lists(grouped);
  await reg.registerInstance(svc, { ip: '127.0.0.1', port: 8702 });
  await h.eventually('call after the zombie timeout', h.PUSH_WAIT, '8701:healthy 8702:healthy', rec.last);
  assert.equal(counter.lists(grouped), before, 'the client polled: not delivered by push');
  h.assertQuiet(sub);
  h.assertQuiet(reg);
});
