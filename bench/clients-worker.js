'use strict';
// One measured run of bench/clients.js: node bench/clients-worker.js <workload> <pipewrap|node>
// Env: PWC_PG_DIR (PostgreSQL's socket directory), PWC_PG_PORT, PWC_PG_USER,
// PWC_REDIS (Redis's socket path), PWC_HTTP (nginx's socket path), PWC_SCALE.
// Prints one JSON line: { ops, wallNs, cpuUs } over the timed window (after
// a warm-up), cpuUs = user + system CPU of this process (the client).
//
// pipewrap is swapped in the way a user would do it, through each library's
// own extension point; the workload code is the same for both:
// - pg: the `stream` option, a factory returning pipewrap's Socket (pg calls
//   socket.connect('<host>/.s.PGSQL.<port>') on it);
// - ioredis: the `Connector` option, a connector whose stream is
//   pipewrap.createConnection({ path });
// - workerpool (workerType 'process'): it calls require('child_process').fork
//   when it starts a worker, so the pipewrap run sets that to pipewrap.fork
//   first (the children are plain Node in both runs);
// - node:http: a keep-alive http.Agent whose createConnection is
//   pipewrap.connect (Node's: the same Agent with `socketPath`);
// - undici (the engine of Node's fetch): an undici Agent whose `connect`
//   hands over a pipewrap socket (Node's: `connect: { socketPath }`).

const path = require('node:path');

const [workload, impl] = process.argv.slice(2);
if (impl !== 'pipewrap' && impl !== 'node') {
  console.error('usage: clients-worker.js <workload> <pipewrap|node>');
  process.exit(2);
}
const usePipewrap = impl === 'pipewrap';
const pipewrap = usePipewrap ? require('../lib/index.js') : null;
const scale = Number(process.env.PWC_SCALE || 1);
const n = (x) => Math.max(1, Math.round(x * scale));

// --- clients, constructed the way a user would ------------------------------

function pgConfig(extra) {
  const cfg = {
    host: process.env.PWC_PG_DIR,
    port: Number(process.env.PWC_PG_PORT),
    user: process.env.PWC_PG_USER,
    database: 'postgres',
    ...extra,
  };
  if (usePipewrap) cfg.stream = () => new pipewrap.Socket();
  return cfg;
}

function redisClient() {
  const Redis = require('ioredis');
  const opts = { path: process.env.PWC_REDIS, lazyConnect: true, maxRetriesPerRequest: 0 };
  if (usePipewrap) {
    class PipewrapConnector extends Redis.AbstractConnector {
      constructor(options) {
        super(options.disconnectTimeout);
        this.options = options;
      }

      connect() {
        this.connecting = true;
        return new Promise((resolve, reject) => {
          // As ioredis' StandaloneConnector: the stream is made on the next tick.
          process.nextTick(() => {
            if (!this.connecting) {
              reject(new Error('Connection is closed.'));
              return;
            }
            this.stream = pipewrap.createConnection({ path: this.options.path });
            this.stream.once('error', (err) => {
              this.firstError = err;
            });
            resolve(this.stream);
          });
        });
      }
    }
    opts.Connector = PipewrapConnector;
  }
  return new Redis(opts);
}

function workerPool(maxWorkers) {
  if (usePipewrap) require('node:child_process').fork = pipewrap.fork;
  const workerpool = require('workerpool');
  return workerpool.pool(path.join(__dirname, 'clients-pool-task.js'), {
    workerType: 'process',
    minWorkers: maxWorkers,
    maxWorkers,
  });
}

// A keep-alive node:http Agent for the HTTP server's socket.
function httpAgent(maxSockets) {
  const http = require('node:http');
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  if (usePipewrap) agent.createConnection = (options) => pipewrap.connect(options.socketPath);
  return agent;
}

// GET path over `agent`: resolves to the body (a string).
function httpGet(agent, urlPath) {
  const http = require('node:http');
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath: process.env.PWC_HTTP, path: urlPath, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

// An undici Agent for the HTTP server's socket.
function undiciAgent(connections) {
  const { Agent } = require('undici');
  const sock = process.env.PWC_HTTP;
  if (!usePipewrap) return new Agent({ connections, connect: { socketPath: sock } });
  return new Agent({
    connections,
    connect(_options, cb) {
      const s = pipewrap.connect(sock);
      const onError = (err) => cb(err, null);
      s.once('error', onError);
      s.once('connect', () => {
        s.off('error', onError); // undici listens from here on
        cb(null, s);
      });
    },
  });
}

// Runs `count` calls of op(i) with `concurrency` of them in flight.
async function inParallel(count, concurrency, op) {
  let next = 0;
  const lane = async () => {
    while (next < count) await op(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
}

// --- workloads: { setup, run(count), teardown, count, warm } ----------------

const payload = 'x'.repeat(100);

const workloads = {
  // One pg.Client, one parameterised query at a time (extended protocol).
  'pg-seq': () => {
    const { Client } = require('pg');
    let c;
    return {
      count: n(20000),
      warm: n(2000),
      async setup() {
        c = new Client(pgConfig());
        await c.connect();
      },
      async run(count) {
        for (let i = 0; i < count; i++) {
          const r = await c.query('SELECT $1::int AS n', [i]);
          if (r.rows[0].n !== i) throw new Error('bad reply');
        }
      },
      teardown: () => c.end(),
    };
  },
  // A pg.Pool of 8 connections serving 32 concurrent callers (the web
  // server shape): pool.query, so every op checks a client out and back in.
  'pg-pool': () => {
    const { Pool } = require('pg');
    let pool;
    return {
      count: n(40000),
      warm: n(4000),
      async setup() {
        pool = new Pool(pgConfig({ max: 8 }));
        await inParallel(8, 8, () => pool.query('SELECT 1'));
      },
      async run(count) {
        await inParallel(count, 32, async (i) => {
          const r = await pool.query('SELECT $1::int AS n', [i]);
          if (r.rows[0].n !== i) throw new Error('bad reply');
        });
      },
      teardown: () => pool.end(),
    };
  },
  // Large results the client parses: 5000 rows (~250 kB) per query.
  'pg-rows': () => {
    const { Client } = require('pg');
    let c;
    return {
      count: n(300),
      warm: n(30),
      async setup() {
        c = new Client(pgConfig());
        await c.connect();
      },
      async run(count) {
        for (let i = 0; i < count; i++) {
          const r = await c.query('SELECT i, md5(i::text) AS h FROM generate_series(1, 5000) AS s(i)');
          if (r.rows.length !== 5000) throw new Error('bad reply');
        }
      },
      teardown: () => c.end(),
    };
  },
  // ioredis, one command at a time (SET then GET of the same key = 2 ops).
  'redis-seq': () => {
    let r;
    return {
      count: n(40000),
      warm: n(4000),
      async setup() {
        r = redisClient();
        await r.connect();
      },
      async run(count) {
        for (let i = 0; i < count; i += 2) {
          await r.set(`k${i & 1023}`, payload);
          if ((await r.get(`k${i & 1023}`)) !== payload) throw new Error('bad reply');
        }
      },
      teardown: () => r.quit(),
    };
  },
  // ioredis with 32 callers in flight (commands leave in the same tick
  // and their replies arrive together).
  'redis-parallel': () => {
    let r;
    return {
      count: n(200000),
      warm: n(20000),
      async setup() {
        r = redisClient();
        await r.connect();
        await r.set('pk', payload);
      },
      async run(count) {
        await inParallel(count, 32, async () => {
          if ((await r.get('pk')) !== payload) throw new Error('bad reply');
        });
      },
      teardown: () => r.quit(),
    };
  },
  // One ioredis pipeline of 200k GETs (a ~20 MB reply stream the client
  // parses), op = one command.
  'redis-pipeline': () => {
    let r;
    return {
      count: n(400000),
      warm: n(40000),
      async setup() {
        r = redisClient();
        await r.connect();
        await r.set('pk', payload);
      },
      async run(count) {
        for (let done = 0; done < count; done += 200000) {
          const m = Math.min(200000, count - done);
          const p = r.pipeline();
          for (let i = 0; i < m; i++) p.get('pk');
          const res = await p.exec();
          if (res.length !== m || res[m - 1][1] !== payload) throw new Error('bad reply');
        }
      },
      teardown: () => r.quit(),
    };
  },
  // node:http, one keep-alive connection, one GET at a time (nginx answers
  // a 100-byte body).
  'http-seq': () => {
    let agent;
    return {
      count: n(20000),
      warm: n(2000),
      async setup() {
        agent = httpAgent(1);
      },
      async run(count) {
        for (let i = 0; i < count; i++) {
          if ((await httpGet(agent, `/small?${i}`)) !== payload) throw new Error('bad reply');
        }
      },
      teardown: () => agent.destroy(),
    };
  },
  // node:http, 8 keep-alive connections, 32 GETs in flight.
  'http-parallel': () => {
    let agent;
    return {
      count: n(40000),
      warm: n(4000),
      async setup() {
        agent = httpAgent(8);
      },
      async run(count) {
        await inParallel(count, 32, async (i) => {
          if ((await httpGet(agent, `/small?${i}`)) !== payload) throw new Error('bad reply');
        });
      },
      teardown: () => agent.destroy(),
    };
  },
  // undici.request, one connection, one GET at a time.
  'undici-seq': () => {
    const { request } = require('undici');
    let dispatcher;
    return {
      count: n(20000),
      warm: n(2000),
      async setup() {
        dispatcher = undiciAgent(1);
      },
      async run(count) {
        for (let i = 0; i < count; i++) {
          const r = await request(`http://localhost/small?${i}`, { dispatcher });
          if ((await r.body.text()) !== payload) throw new Error('bad reply');
        }
      },
      teardown: () => dispatcher.close(),
    };
  },
  // undici.request, 8 connections, 32 GETs in flight.
  'undici-parallel': () => {
    const { request } = require('undici');
    let dispatcher;
    return {
      count: n(40000),
      warm: n(4000),
      async setup() {
        dispatcher = undiciAgent(8);
      },
      async run(count) {
        await inParallel(count, 32, async (i) => {
          const r = await request(`http://localhost/small?${i}`, { dispatcher });
          if ((await r.body.text()) !== payload) throw new Error('bad reply');
        });
      },
      teardown: () => dispatcher.close(),
    };
  },
  // workerpool (process workers on child_process.fork), one worker, one
  // task at a time.
  'pool-seq': () => {
    let pool;
    return {
      count: n(20000),
      warm: n(2000),
      async setup() {
        pool = workerPool(1);
        await pool.exec('echo', ['warm']);
      },
      async run(count) {
        for (let i = 0; i < count; i++) {
          if ((await pool.exec('echo', [i])) !== i) throw new Error('bad reply');
        }
      },
      teardown: () => pool.terminate(),
    };
  },
  // Two workers, 32 tasks in flight.
  'pool-parallel': () => {
    let pool;
    return {
      count: n(40000),
      warm: n(4000),
      async setup() {
        pool = workerPool(2);
        await Promise.all([pool.exec('echo', ['warm']), pool.exec('echo', ['warm'])]);
      },
      async run(count) {
        await inParallel(count, 32, async (i) => {
          if ((await pool.exec('echo', [i])) !== i) throw new Error('bad reply');
        });
      },
      teardown: () => pool.terminate(),
    };
  },
};

async function main() {
  const make = workloads[workload];
  if (!make) throw new Error(`unknown workload ${workload}; known: ${Object.keys(workloads).join(', ')}`);
  const w = make();
  await w.setup();
  await w.run(w.warm);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await w.run(w.count);
  const t1 = process.hrtime.bigint();
  const cpu = process.cpuUsage(cpu0);
  await w.teardown();
  // t0/t1: CLOCK_MONOTONIC ns (libuv's hrtime), so bench/clients-perf.js
  // can keep only the samples of the timed window (perf record -k mono).
  console.log(JSON.stringify({
    workload, impl, ops: w.count, wallNs: Number(t1 - t0), cpuUs: cpu.user + cpu.system,
    pid: process.pid, t0: String(t0), t1: String(t1),
  }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
