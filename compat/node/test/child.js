'use strict';

// A child application for the crash and restart tests: it registers the
// instances of $PULSE_COMPAT_CHILD ({addr, namespace, instances: [{service,
// group, instance}]}) with nacos-naming, prints "ready" and keeps beating
// until it is killed or its standard input closes. Its client's warnings and
// errors go to stderr, one per line, as they happen.

const { NacosNamingClient } = require('nacos-naming');
const { newLogger } = require('./helpers');

async function main() {
  const spec = JSON.parse(process.env.PULSE_COMPAT_CHILD);
  const logger = newLogger();
  const push = logger.problems.push.bind(logger.problems);
  logger.problems.push = line => {
    process.stderr.write(line.replace(/\n/g, ' ') + '\n');
    return push(line);
  };
  const client = new NacosNamingClient({ logger, serverList: spec.addr, namespace: spec.namespace });
  client.on('error', err => logger.problems.push('EVENT ' + (err && err.stack || err)));
  await client.ready();
  for (const x of spec.instances) {
    await client.registerInstance(x.service, x.instance, x.group);
  }
  process.stdout.write('ready\n');
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}

main().catch(err => {
  process.stderr.write('FATAL ' + (err && err.stack || err) + '\n');
  process.exit(1);
});
