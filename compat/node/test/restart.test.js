'use strict';

// nacos-naming 2.6.3 against Pulse: the server restarts and the clients'
// beats bring their instances back. The Node client beats for the first time
// about 10 s after it starts, so this takes a little over 10 s.

const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

const INTERVAL = 'preserved.heart.beat.interval';
// Values that break naive parameter parsing; they travel inside the beat.
const TRICKY = {
  url: 'http://h/p?a=1&b=2', expr: 'a+b=c', pct: '100%25%', space: 'a b',
  quote: 'say "hi"', brace: '}{][', semi: 'a;b', uni: 'ünï', empty: '',
};

// A request that found no server: what a client sees while its server
// restarts.
const connError = line => /ECONNREFUSED|ECONNRESET|socket hang up/.test(line);

test('a restarted server gets the instances back from the beats', async t => {
  const srv = await h.startPulse(t);
  const ns = h.uniq('ns-restart');
  const svcA = h.uniq('restart-a');
  const svcB = h.uniq('restart-b');
  const a = await h.startChild(t, srv.addr, 'public', [{
    service: svcA, group: 'G-r',
    instance: { ip: '127.0.0.1', port: 8401, clusterName: 'c1', weight: 3, metadata: { [INTERVAL]: '500', role: 'a', ...TRICKY } },
  }]);
  const b = await h.startChild(t, srv.addr, ns, [{
    service: svcB,
    instance: { ip: '127.0.0.1', port: 8402, weight: 2, metadata: { [INTERVAL]: '500', role: 'b' } },
  }]);
  const describe = async (s, namespace, grouped) => (await h.serverHosts(s, namespace, grouped)).map(x =>
    `${x.ip}:${x.port} cluster=${x.clusterName} weight=${x.weight} healthy=${x.healthy} ephemeral=${x.ephemeral} role=${x.metadata.role}`);
  const wantA = ['127.0.0.1:8401 cluster=c1 weight=3 healthy=true ephemeral=true role=a'];
  const wantB = ['127.0.0.1:8402 cluster=DEFAULT weight=2 healthy=true ephemeral=true role=b'];
  await h.eventually('A before the restart', 3000, wantA, () => describe(srv, 'public', `G-r@@${svcA}`));
  await h.eventually('B before the restart', 3000, wantB, () => describe(srv, ns, `DEFAULT_GROUP@@${svcB}`));

  // Wait for both clients' first beats (about 10 s after they started).
  for (const [namespace, grouped, cluster, port] of [[ 'public', `G-r@@${svcA}`, 'c1', 8401 ], [ ns, `DEFAULT_GROUP@@${svcB}`, 'DEFAULT', 8402 ]]) {
    const first = await h.instanceDetail(srv, namespace, grouped, cluster, '127.0.0.1', port);
    const beaten = await h.waitFor(async () => {
      const d = await h.instanceDetail(srv, namespace, grouped, cluster, '127.0.0.1', port);
      return d && d.lastBeat > first.lastBeat;
    }, 15000);
    assert.ok(beaten, `${grouped}: beaten before the restart`);
  }

  const st = await srv.stop();
  assert.equal(st.code, 0, `pulse exit after SIGTERM: ${JSON.stringify(st)}`);
  const srv2 = await h.startPulse(t, srv.addr);
  // The new process starts empty; only the beats, which carry the whole
  // instance, can bring the instances back: the client never re-registers.
  await h.eventually('A after the restart', 3000, wantA, () => describe(srv2, 'public', `G-r@@${svcA}`));
  await h.eventually('B after the restart', 3000, wantB, () => describe(srv2, ns, `DEFAULT_GROUP@@${svcB}`));
  const [restored] = await h.serverHosts(srv2, 'public', `G-r@@${svcA}`);
  assert.deepEqual(restored.metadata, { [INTERVAL]: '500', role: 'a', ...TRICKY });
  const m = (await h.getJSON(`${srv2.api}/v1/ns/operator/metrics`)).json;
  assert.equal(m.registerCount, 0, 'registrations on the restarted server');
  assert.equal(m.instanceCount, 2, 'instances on the restarted server');

  await a.kill();
  await b.kill();
  assert.deepEqual(a.problems().filter(l => !connError(l)), []);
  assert.deepEqual(b.problems().filter(l => !connError(l)), []);
});
