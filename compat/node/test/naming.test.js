'use strict';

// nacos-naming 2.6.3 against Pulse: registration, queries, deregistration,
// namespaces and groups. The client has no update call.

const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

test('register, getAllInstances and selectInstances', async t => {
  const srv = await h.startPulse(t);
  // Through the proxy, to see what the client really sends.
  const counter = await h.startListCounter(t, srv);
  const client = await h.newClient(t, { addr: counter.addr });
  const svc = h.uniq('select');
  const group = 'G-sel';
  const reg = (port, extra) => client.registerInstance(svc, { ip: '127.0.0.1', port, ...extra }, group);
  await reg(8001, { clusterName: 'c1', weight: 2, metadata: { version: '1', zone: 'a' } });
  // Values that break naive parameter parsing.
  const tricky = { version: '2', url: 'http://h/p?a=1&b=2', expr: 'a+b=c', pct: '100%25%', space: 'a b', quote: 'say "hi"', uni: 'ünï' };
  await reg(8002, { metadata: tricky });
  await reg(8003, { clusterName: 'c1', weight: 5, ephemeral: false });
  await reg(8004, { healthy: false, ephemeral: false }); // persistent: keeps its health
  await reg(8005, { enabled: false, ephemeral: false }); // disabled: never listed

  const all = await client.getAllInstances(svc, group, '', false);
  assert.deepEqual(h.keys(all), ['127.0.0.1:8001', '127.0.0.1:8002', '127.0.0.1:8003', '127.0.0.1:8004']);
  const byPort = Object.fromEntries(all.map(x => [x.port, x]));
  const want = {
    8001: { weight: 2, clusterName: 'c1', ephemeral: true, healthy: true, metadata: { version: '1', zone: 'a' } },
    8002: { weight: 1, clusterName: 'DEFAULT', ephemeral: true, healthy: true, metadata: tricky },
    8003: { weight: 5, clusterName: 'c1', ephemeral: false, healthy: true, metadata: {} },
    8004: { weight: 1, clusterName: 'DEFAULT', ephemeral: false, healthy: false, metadata: {} },
  };
  for (const [port, w] of Object.entries(want)) {
    const got = byPort[port];
    assert.equal(typeof got.port, 'number', `${port}: port type`);
    assert.equal(got.weight, w.weight, `${port}: weight`);
    assert.equal(got.clusterName, w.clusterName, `${port}: clusterName`);
    assert.equal(got.ephemeral, w.ephemeral, `${port}: ephemeral`);
    assert.equal(got.healthy, w.healthy, `${port}: healthy`);
    assert.equal(got.valid, w.healthy, `${port}: valid`);
    assert.equal(got.enabled, true, `${port}: enabled`);
    assert.deepEqual(got.metadata, w.metadata, `${port}: metadata`);
    // The client says it is Java 1.0.0, which gets grouped names.
    assert.equal(got.serviceName, `${group}@@${svc}`, `${port}: serviceName`);
    assert.equal(got.instanceId, `127.0.0.1#${port}#${w.clusterName}#${group}@@${svc}`, `${port}: instanceId`);
  }

  // With subscribe (the default) the answer comes from the client's cache,
  // filled by a list query that also registers it for push.
  assert.deepEqual(h.keys(await client.getAllInstances(svc, group, 'c1')), ['127.0.0.1:8001', '127.0.0.1:8003']);
  assert.deepEqual(h.keys(await client.getAllInstances(svc, group, 'c1,DEFAULT')), h.keys(all));
  assert.deepEqual(h.keys(await client.selectInstances(svc, group, '', true)),
    ['127.0.0.1:8001', '127.0.0.1:8002', '127.0.0.1:8003']);
  assert.deepEqual(h.keys(await client.selectInstances(svc, group, '', false)), ['127.0.0.1:8004']);
  assert.deepEqual(h.keys(await client.selectInstances(svc, group, 'c1', true, false)),
    ['127.0.0.1:8001', '127.0.0.1:8003']);

  assert.equal(await client.getServerStatus(), 'UP');
  h.assertQuiet(client);

  // The client says it is the Java client 1.0.0 and sends every parameter in
  // the query string, with no body, whatever the method.
  const reqs = counter.requests();
  assert.deepEqual([...new Set(reqs.map(r => r.method))].sort(), ['GET', 'POST']);
  for (const r of reqs) {
    assert.equal(r.headers['user-agent'], 'Nacos-Java-Client:v1.0.0', `${r.method} ${r.path}`);
    assert.equal(r.body, '', `${r.method} ${r.path}: body`);
    assert.equal(r.query.get('namespaceId'), 'public', `${r.method} ${r.path}: namespaceId`);
  }
  const post = reqs.find(r => r.method === 'POST' && r.query.get('port') === '8002');
  assert.deepEqual(JSON.parse(post.query.get('metadata')), tricky);
});

test('deregisterInstance', async t => {
  const srv = await h.startPulse(t);
  const counter = await h.startListCounter(t, srv);
  const client = await h.newClient(t, { addr: counter.addr });
  const svc = h.uniq('dereg');
  await client.registerInstance(svc, { ip: '127.0.0.1', port: 8101 });
  await client.registerInstance(svc, { ip: '127.0.0.1', port: 8102, clusterName: 'c1' });
  await client.registerInstance(svc, { ip: '127.0.0.1', port: 8103, ephemeral: false });
  const grouped = `DEFAULT_GROUP@@${svc}`;
  assert.deepEqual(h.keys(await h.serverHosts(srv, 'public', grouped)),
    ['127.0.0.1:8101', '127.0.0.1:8102', '127.0.0.1:8103']);

  await client.deregisterInstance(svc, { ip: '127.0.0.1', port: 8102, clusterName: 'c1' });
  await client.deregisterInstance(svc, { ip: '127.0.0.1', port: 8103, ephemeral: false });
  assert.deepEqual(h.keys(await h.serverHosts(srv, 'public', grouped)), ['127.0.0.1:8101']);
  assert.deepEqual(h.keys(await client.getAllInstances(svc, 'DEFAULT_GROUP', '', false)), ['127.0.0.1:8101']);
  const deletes = counter.requests().filter(r => r.method === 'DELETE');
  assert.equal(deletes.length, 2);
  for (const r of deletes) {
    assert.equal(r.body, '', 'DELETE body');
    assert.equal(r.query.get('serviceName'), `DEFAULT_GROUP@@${svc}`, 'DELETE serviceName');
  }
  h.assertQuiet(client);
});

test('namespaces and groups are kept apart', async t => {
  const srv = await h.startPulse(t);
  const svc = h.uniq('iso');
  const ns = h.uniq('ns');
  const pub = await h.newClient(t, srv, 'public');
  const other = await h.newClient(t, srv, ns);
  await pub.registerInstance(svc, { ip: '127.0.0.1', port: 8201, metadata: { where: 'public/default' } });
  await pub.registerInstance(svc, { ip: '127.0.0.1', port: 8202, metadata: { where: 'public/G2' } }, 'G2');
  await other.registerInstance(svc, { ip: '127.0.0.1', port: 8203, metadata: { where: `${ns}/default` } });
  await other.registerInstance(svc, { ip: '127.0.0.1', port: 8204, metadata: { where: `${ns}/G2` } }, 'G2');

  const where = async (c, group) => (await c.getAllInstances(svc, group, '', false)).map(x => x.metadata.where).sort();
  assert.deepEqual(await where(pub, 'DEFAULT_GROUP'), ['public/default']);
  assert.deepEqual(await where(pub, 'G2'), ['public/G2']);
  assert.deepEqual(await where(other, 'DEFAULT_GROUP'), [`${ns}/default`]);
  assert.deepEqual(await where(other, 'G2'), [`${ns}/G2`]);
  // The Go SDK's blank namespace and Node's "public" are the same one.
  assert.deepEqual(h.keys(await h.serverHosts(srv, '', `DEFAULT_GROUP@@${svc}`)), ['127.0.0.1:8201']);
  h.assertQuiet(pub);
  h.assertQuiet(other);
});

// Dubbo registers one service per interface, named
// category:interface:version:group, often with empty parts.
test('Dubbo-style service names', async t => {
  const srv = await h.startPulse(t);
  const client = await h.newClient(t, srv);
  const svc = `providers:com.example.${h.uniq('Demo').replace(/-/g, '_')}:1.0.0:`;
  await client.registerInstance(svc, { ip: '127.0.0.1', port: 8251, metadata: { dubbo: '2.0.2', methods: 'a,b' } });
  const hosts = await client.getAllInstances(svc, 'DEFAULT_GROUP', '', false);
  assert.deepEqual(h.keys(hosts), ['127.0.0.1:8251']);
  assert.equal(hosts[0].serviceName, `DEFAULT_GROUP@@${svc}`);
  assert.deepEqual(hosts[0].metadata, { dubbo: '2.0.2', methods: 'a,b' });
  h.assertQuiet(client);
});
