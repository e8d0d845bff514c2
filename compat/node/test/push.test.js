'use strict';

// nacos-naming 2.6.3 against Pulse: subscriptions get their changes by UDP
// push, acked, well before the client's next poll.

const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

test('subscribe: changes arrive by push', async t => {
  const srv = await h.startPulse(t);
  const counter = await h.startListCounter(t, srv);
  const reg = await h.newClient(t, srv);
  const sub = await h.newClient(t, { addr: counter.addr });
  const svc = h.uniq('push');
  const empty = h.uniq('push-empty');
  const clustered = h.uniq('push-c1');
  await reg.registerInstance(svc, { ip: '127.0.0.1', port: 8501 });
  await reg.registerInstance(clustered, { ip: '127.0.0.1', port: 8510, clusterName: 'c1' });

  // Without clusters the client asks for clusters=DEFAULT and files the
  // answer under that key: the server must echo it for the listener to fire.
  const all = h.recorder();
  const none = h.recorder();
  const c1 = h.recorder();
  sub.subscribe(svc, all);
  sub.subscribe(empty, none);
  sub.subscribe({ serviceName: clustered, clusters: 'c1' }, c1);
  await h.eventually('first call', 3000, '8501:healthy', all.last);
  await h.eventually('first call of cluster c1', 3000, '8510:healthy', c1.last);
  // The client queries at once and 1 s later, then every cacheMillis (10 s
  // when subscribed for push). Start once the second query is done.
  for (const name of [svc, empty, clustered]) {
    const two = await h.waitFor(() => counter.lists(`DEFAULT_GROUP@@${name}`) >= 2, 3000);
    assert.ok(two, `${name}: the client's first two list queries`);
  }

  const deliver = async (what, rec, name, want, change) => {
    const before = counter.lists(`DEFAULT_GROUP@@${name}`);
    const t0 = Date.now();
    await change();
    await h.eventually(what, h.PUSH_WAIT, want, rec.last);
    assert.equal(counter.lists(`DEFAULT_GROUP@@${name}`), before, `${what}: the client polled: not delivered by push`);
    t.diagnostic(`${what}: delivered ${Date.now() - t0} ms after the change`);
  };
  await deliver('register', all, svc, '8501:healthy 8502:healthy',
    () => reg.registerInstance(svc, { ip: '127.0.0.1', port: 8502 }));
  await deliver('deregister', all, svc, '8501:healthy',
    () => reg.deregisterInstance(svc, { ip: '127.0.0.1', port: 8502 }));
  await deliver('register unhealthy', all, svc, '8501:healthy 8503:unhealthy',
    () => reg.registerInstance(svc, { ip: '127.0.0.1', port: 8503, healthy: false, ephemeral: false }));
  // The client ignores empty lists, so the first call comes with the first
  // instance.
  assert.deepEqual(none.calls, []);
  await deliver('register in an empty service', none, empty, '8520:healthy',
    () => reg.registerInstance(empty, { ip: '127.0.0.1', port: 8520 }));
  await deliver('register in the subscribed cluster', c1, clustered, '8510:healthy 8511:healthy', async () => {
    await reg.registerInstance(clustered, { ip: '127.0.0.1', port: 8512, clusterName: 'c2' });
    await reg.registerInstance(clustered, { ip: '127.0.0.1', port: 8511, clusterName: 'c1' });
  });
  // A service whose answer is over 1 KB is pushed gzipped.
  const big = h.uniq('push-big');
  const bigRec = h.recorder();
  await reg.registerInstance(big, { ip: '127.0.0.1', port: 8600, ephemeral: false });
  sub.subscribe(big, bigRec);
  await h.eventually('first call of the big service', 3000, '8600:healthy', bigRec.last);
  assert.ok(await h.waitFor(() => counter.lists(`DEFAULT_GROUP@@${big}`) >= 2, 3000), 'big: first two list queries');
  const ports = Array.from({ length: 31 }, (_, i) => 8600 + i);
  await deliver('register 30 instances', bigRec, big, ports.map(p => `${p}:healthy`).join(' '), async () => {
    for (const port of ports.slice(1)) {
      await reg.registerInstance(big, {
        ip: '127.0.0.1', port, ephemeral: false, metadata: { zone: 'zone-a', version: 'v1.2.3', owner: 'team-compat' },
      });
    }
  });
  const bigList = await h.getJSON(`${srv.api}/v1/ns/instance/list?serviceName=DEFAULT_GROUP%40%40${big}&clusters=DEFAULT`);
  assert.ok(bigList.body.length > 1024, `big service: answer of ${bigList.body.length} bytes, want over 1024`);

  // The client acks right after it handled the push: let the last ack land.
  let ps;
  await h.waitFor(async () => {
    ps = (await h.getJSON(`${srv.api}/v1/ns/operator/push/state`)).json;
    return ps.waitingAck === 0;
  }, 2000);
  assert.ok(ps.total >= 6, `pushes: got ${ps.total}, want at least 6`);
  assert.equal(ps.tooLarge, 0, 'pushes too large for a datagram');
  // A push still unacked when a newer one for the same target goes out is
  // superseded: that one is acked instead.
  assert.equal(ps.succeed + ps.superseded, ps.total, `acked or superseded pushes of ${JSON.stringify(ps)}`);
  assert.equal(ps.failed, 0);
  h.assertQuiet(sub);
  h.assertQuiet(reg);
});
