'use strict';

// nacos-naming 2.6.3 against Pulse: a registering client crashes (SIGKILL)
// and its instance turns unhealthy, then is removed, on time.

const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

const INTERVAL = 'preserved.heart.beat.interval';
const TIMEOUT = 'preserved.heart.beat.timeout';
const DELETE = 'preserved.ip.delete.timeout';
// How late a server-side transition may be seen: the server acts within
// milliseconds of the deadline, but the test sees it through a poll on a
// machine that may be busy running other tests.
const SLACK = 3000;

test('a crashed client turns unhealthy, then is removed', async t => {
  const srv = await h.startPulse(t);
  const svc = h.uniq('crash');
  const grouped = `DEFAULT_GROUP@@${svc}`;
  // A healthy neighbour keeps the healthy share above the protect threshold
  // (0), so the dead instance is served as unhealthy rather than healthy.
  const anchor = await h.newClient(t, srv);
  await anchor.registerInstance(svc, { ip: '127.0.0.1', port: 8301 });
  const seen = h.recorder();
  anchor.subscribe(svc, seen);

  const timeout = 2000;
  const deleteAfter = 4000;
  const meta = { [INTERVAL]: '500', [TIMEOUT]: String(timeout), [DELETE]: String(deleteAfter) };
  const child = await h.startChild(t, srv.addr, 'public', [
    { service: svc, instance: { ip: '127.0.0.1', port: 8302, metadata: meta } },
  ]);
  const detail = () => h.instanceDetail(srv, 'public', grouped, 'DEFAULT', '127.0.0.1', 8302);
  const registered = await detail();
  assert.ok(registered, 'child instance registered');

  // With timeouts shorter than the client's first 10 s, the instance expires
  // before that first beat, which then re-creates it from its body. From then
  // on the client beats every 500 ms, the interval the server answered.
  const beaten = await h.waitFor(async () => {
    const d = await detail();
    return d && d.healthy && d.lastBeat >= registered.lastBeat + 9000 && d;
  }, 15000);
  assert.ok(beaten, 'child instance beaten about 10 s after it registered');
  const kept = await h.waitFor(async () => {
    const d = await detail();
    return d && d.healthy && d.lastBeat >= beaten.lastBeat + timeout && d;
  }, timeout + 3000);
  assert.ok(kept, 'child instance kept alive by its beats past its heartbeat timeout');
  assert.deepEqual(kept.metadata, meta);

  await child.kill();
  const since = seen.calls.length;
  let unhealthyAt = 0;
  const dead = await h.waitFor(async () => {
    const d = await detail();
    unhealthyAt = Date.now();
    return d && !d.healthy && d;
  }, timeout + 5000);
  assert.ok(dead, 'child instance unhealthy after SIGKILL');
  const sinceBeat = unhealthyAt - dead.lastBeat;
  assert.ok(sinceBeat >= timeout && sinceBeat <= timeout + SLACK,
    `unhealthy ${sinceBeat} ms after the last beat, want ${timeout} (+${SLACK})`);
  // The subscribed client learns it by push (its next poll is up to 10 s
  // away).
  await seen.saw('listener after the heartbeat timeout', since, '8301:healthy 8302:unhealthy');
  let goneAt = 0;
  const gone = await h.waitFor(async () => {
    goneAt = Date.now();
    return (await detail()) === null;
  }, deleteAfter + 5000);
  assert.ok(gone, 'child instance removed after SIGKILL');
  const sinceBeat2 = goneAt - dead.lastBeat;
  assert.ok(sinceBeat2 >= deleteAfter && sinceBeat2 <= deleteAfter + SLACK,
    `removed ${sinceBeat2} ms after the last beat, want ${deleteAfter} (+${SLACK})`);
  assert.deepEqual(h.keys(await h.serverHosts(srv, 'public', grouped)), ['127.0.0.1:8301']);
  await h.eventually('listener after the delete timeout', h.PUSH_WAIT, '8301:healthy', seen.last);

  assert.deepEqual(child.problems(), []);
  h.assertQuiet(anchor);
});
