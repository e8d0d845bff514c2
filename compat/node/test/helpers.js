'use strict';

// Shared helpers of the nacos-naming compatibility tests: a pulse server
// process, clients whose log lines are kept, bounded waiting.

const { spawn } = require('node:child_process');
const http = require('node:http');
const path = require('node:path');
const readline = require('node:readline');
const { format } = require('node:util');
const { NacosNamingClient } = require('nacos-naming');

// The Makefile builds the binary before the suite runs.
const PULSE_BIN = process.env.PULSE_BIN || path.join(__dirname, '..', '..', '..', 'bin', 'pulse');

let counter = 0;

// uniq returns a service or namespace name no other test uses.
function uniq(prefix) {
  counter++;
  return `${prefix}-${process.pid}-${counter}`;
}

// startPulse runs `pulse server` on addr (port 0 picks one) and resolves
// once its "pulse server listening" log line tells the address. The process
// is stopped when the test ends. The client announces its first
// non-loopback address as clientIP; --push-to-source keeps every push on
// 127.0.0.1.
async function startPulse(t, addr = '127.0.0.1:0') {
  const args = ['server', '--addr', addr, '--push-to-source', '--log-format', 'json', '--log-level', 'debug'];
  const proc = spawn(PULSE_BIN, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const lines = [];
  const exited = new Promise(resolve => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const listening = new Promise((resolve, reject) => {
    proc.once('error', reject);
    readline.createInterface({ input: proc.stderr }).on('line', line => {
      lines.push(line);
      try {
        const rec = JSON.parse(line);
        if (rec.msg === 'pulse server listening') resolve(rec.addr);
      } catch (_) {
        // not JSON: kept in lines for the failure message
      }
    });
    exited.then(st => reject(new Error(`pulse exited (${JSON.stringify(st)}) before listening:\n${lines.join('\n')}`)));
  });
  const timer = setTimeout(() => proc.kill('SIGKILL'), 15000);
  let address;
  try {
    address = await listening;
  } finally {
    clearTimeout(timer);
  }
  const srv = {
    addr: address,
    api: `http://${address}/nacos`,
    log: () => lines.join('\n'),
    stopped: false,
    // stop sends SIGTERM and resolves with the exit status.
    async stop() {
      if (srv.stopped) return exited;
      srv.stopped = true;
      proc.kill('SIGTERM');
      return exited;
    },
  };
  t.after(async () => {
    const st = await srv.stop();
    if (st.code !== 0) throw new Error(`pulse on ${address} exited with ${JSON.stringify(st)}, want 0:\n${srv.log()}`);
  });
  return srv;
}

// newLogger returns a logger for a nacos-naming client that keeps every
// warning and error it is given.
function newLogger() {
  const problems = [];
  return {
    problems,
    debug() {},
    info() {},
    warn(...args) { problems.push('WARN ' + format(...args)); },
    error(...args) { problems.push('ERROR ' + format(...args)); },
  };
}

// newClient returns a ready nacos-naming client of srv, closed when the test
// ends. Its warnings, errors and 'error' events are in client.problems.
async function newClient(t, srv, namespace = 'public') {
  const logger = newLogger();
  const client = new NacosNamingClient({ logger, serverList: srv.addr, namespace });
  client.problems = logger.problems;
  client.on('error', err => logger.problems.push('EVENT ' + (err && err.stack || err)));
  await client.ready();
  t.after(() => client.close());
  return client;
}

// assertQuiet fails when a client logged a warning or an error, or emitted
// an 'error' event, except the lines allow accepts.
function assertQuiet(client, allow = () => false) {
  const bad = client.problems.filter(p => !allow(p));
  if (bad.length) throw new Error(`nacos-naming complained:\n${bad.join('\n')}`);
}

// waitFor polls cond (maybe async) every 20 ms until it is truthy or ms
// pass; it resolves with the last value.
async function waitFor(cond, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v || Date.now() > deadline) return v;
    await new Promise(r => setTimeout(r, 20));
  }
}

// eventually polls get until its value equals want (as JSON), or fails
// after ms with the last value.
async function eventually(what, ms, want, get) {
  let got;
  const ok = await waitFor(async () => {
    got = await get();
    return JSON.stringify(got) === JSON.stringify(want);
  }, ms);
  if (!ok) throw new Error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)} (waited ${ms} ms)`);
}

// getJSON GETs api+pathAndQuery and resolves with {status, body, json}.
function getJSON(url) {
  return new Promise((resolve, reject) => {
    http.get(url, res => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', d => { body += d; });
      res.on('end', () => {
        let json;
        try { json = JSON.parse(body); } catch (_) { json = undefined; }
        resolve({ status: res.statusCode, body, json });
      });
    }).on('error', reject);
  });
}

// serverHosts lists a service as the server has it, straight over HTTP.
async function serverHosts(srv, namespace, grouped) {
  const q = new URLSearchParams({ namespaceId: namespace, serviceName: grouped });
  const r = await getJSON(`${srv.api}/v1/ns/instance/list?${q}`);
  if (r.status !== 200) throw new Error(`instance/list: ${r.status} ${r.body}`);
  return r.json.hosts;
}

// instanceDetail answers GET /instance (the real state, with lastBeat), or
// null when the server does not know the instance.
async function instanceDetail(srv, namespace, grouped, cluster, ip, port) {
  const q = new URLSearchParams({ namespaceId: namespace, serviceName: grouped, clusterName: cluster, ip, port: String(port) });
  const r = await getJSON(`${srv.api}/v1/ns/instance?${q}`);
  if (r.status === 404) return null;
  if (r.status !== 200) throw new Error(`instance: ${r.status} ${r.body}`);
  return r.json;
}

// keys sorts a host list into "ip:port" strings.
function keys(hosts) {
  return (hosts || []).map(h => `${h.ip}:${h.port}`).sort();
}

module.exports = {
  PULSE_BIN, uniq, startPulse, newClient, newLogger, assertQuiet, waitFor, eventually,
  getJSON, serverHosts, instanceDetail, keys,
};

// startChild runs test/child.js registering instances ([{service, group,
// instance}]) with server addr, and resolves once it is ready. The child is
// killed when the test ends. child.problems() returns its complaint lines.
async function startChild(t, addr, namespace, instances) {
  const proc = spawn(process.execPath, [path.join(__dirname, 'child.js')], {
    env: { ...process.env, PULSE_COMPAT_CHILD: JSON.stringify({ addr, namespace, instances }) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const problems = [];
  readline.createInterface({ input: proc.stderr }).on('line', l => problems.push(l));
  const exited = new Promise(resolve => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const ready = new Promise((resolve, reject) => {
    readline.createInterface({ input: proc.stdout }).on('line', l => { if (l === 'ready') resolve(); });
    exited.then(st => reject(new Error(`child exited (${JSON.stringify(st)}) before ready:\n${problems.join('\n')}`)));
  });
  const child = {
    problems: () => problems.slice(),
    // kill sends SIGKILL, as a crash would, and waits for the exit.
    async kill() {
      proc.kill('SIGKILL');
      await exited;
    },
  };
  t.after(() => child.kill());
  const timer = setTimeout(() => proc.kill('SIGKILL'), 20000);
  try {
    await ready;
  } finally {
    clearTimeout(timer);
  }
  return child;
}

module.exports.startChild = startChild;

// startListCounter puts an HTTP proxy in front of srv that counts instance
// list queries per serviceName. Pushes do not pass through it (they go from
// the server to the client over UDP), so a change a client learns while the
// count stands still was pushed. It also keeps every request. Point a
// client at {addr: counter.addr}.
async function startListCounter(t, srv) {
  const [host, port] = srv.addr.split(':');
  const counts = new Map();
  const requests = [];
  const proxy = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://proxy');
    if (u.pathname.endsWith('/instance/list')) {
      const name = u.searchParams.get('serviceName');
      counts.set(name, (counts.get(name) || 0) + 1);
    }
    const chunks = [];
    req.on('data', c => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({ method: req.method, path: u.pathname, query: u.searchParams, headers: req.headers, body: body.toString() });
      const up = http.request({ host, port, path: req.url, method: req.method, headers: req.headers }, ur => {
        res.writeHead(ur.statusCode, ur.headers);
        ur.pipe(res);
      });
      up.on('error', err => {
        res.writeHead(502);
        res.end(String(err));
      });
      up.end(body);
    });
  });
  await new Promise(resolve => proxy.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    proxy.closeAllConnections();
    return new Promise(resolve => proxy.close(resolve));
  });
  return {
    addr: `127.0.0.1:${proxy.address().port}`,
    lists: grouped => counts.get(grouped) || 0,
    // requests: every request as the client sent it.
    requests: () => requests.slice(),
  };
}

// PUSH_WAIT bounds the wait for a pushed change to reach a listener. It is
// well under the client's poll period (cacheMillis, 10 s), so a call within
// it on a busy machine still cannot come from a poll; the list counter
// proves it.
const PUSH_WAIT = 5000;

// recorder returns a subscribe listener that keeps each call as the sorted
// "port:healthy|unhealthy" of its hosts; rec.last() is the latest.
// rec.saw(what, from, want) waits for a call equal to want among calls[from:]
// and, unlike waiting for the last one, cannot miss a brief state.
function recorder() {
  const calls = [];
  const listener = hosts => {
    calls.push(hosts.map(x => `${x.port}:${x.healthy ? 'healthy' : 'unhealthy'}`).sort().join(' '));
  };
  listener.calls = calls;
  listener.last = () => (calls.length ? calls[calls.length - 1] : '(no call)');
  listener.saw = async (what, from, want) => {
    if (!await waitFor(() => calls.slice(from).includes(want), PUSH_WAIT)) {
      throw new Error(`${what}: got calls ${JSON.stringify(calls.slice(from))} since #${from}, want one with ${want}`);
    }
  };
  return listener;
}

module.exports.startListCounter = startListCounter;
module.exports.recorder = recorder;
module.exports.PUSH_WAIT = PUSH_WAIT;
