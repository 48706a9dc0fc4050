'use strict';
// The "brother" server: reads one JSON request per connection (a line, or
// everything until the client half-closes), answers "world" and ends the
// connection.
//
//   node server.js [socketPath] [--stdin-control]
//
// With --stdin-control the server stops when its stdin ends (how run.js
// stops it on every platform: Windows has no SIGTERM to catch).

const net = require('../../lib/net');
const { defaultAddress } = require('./address');

const socketPath = process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : defaultAddress();

// allowHalfOpen: a client that end()s only closes its direction; we still
// need to write the answer afterwards. (Windows named pipes have no half
// close, so clients there end the request with a newline instead.)
const server = net.createServer({ allowHalfOpen: true }, (socket) => {
  const chunks = [];
  let answered = false;
  const answer = () => {
    if (answered) return;
    answered = true;
    const text = Buffer.concat(chunks).toString('utf8').replace(/\n$/, '');
    let reply;
    try {
      JSON.parse(text);
      reply = 'world';
    } catch (err) {
      reply = { error: `bad request: ${err.message}` };
    }
    console.log(`server <- ${text}`);
    console.log(`server -> ${JSON.stringify(reply)}`);
    socket.end(JSON.stringify(reply));
  };
  socket.on('data', (chunk) => {
    chunks.push(chunk);
    if (chunk.includes(10)) answer(); // a newline ends the request
  });
  socket.on('end', answer);
  socket.on('error', (err) => console.error(`server: connection error: ${err.message}`));
});

server.on('error', (err) => {
  console.error(`server: ${err.message}`);
  process.exit(1);
});

// reclaimStale: a socket file left by a crashed earlier run is removed, a
// live server on the same path is not (Unix: named pipes leave no file).
server.listen({ path: socketPath, reclaimStale: process.platform !== 'win32' }, () => {
  console.log(`ready ${socketPath}`);
});

// Close on signals (or the end of stdin) so the socket file is unlinked.
const stop = () => server.close(() => process.exit(0));
for (const signal of ['SIGTERM', 'SIGINT']) process.once(signal, stop);
if (process.argv.includes('--stdin-control')) process.stdin.on('end', stop).resume();
