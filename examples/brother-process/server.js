'use strict';
// The "brother" server: reads one JSON request per connection (until the
// client half-closes), answers "world" and ends the connection.
//
//   node server.js [socketPath]

const os = require('os');
const path = require('path');
const net = require('../../lib/net');

const socketPath = process.argv[2] || path.join(os.tmpdir(), `pipewrap-brother-${process.getuid()}.sock`);

// allowHalfOpen: the client's end() only closes its direction; we still
// need to write the answer afterwards.
const server = net.createServer({ allowHalfOpen: true }, (socket) => {
  const chunks = [];
  socket.on('data', (chunk) => chunks.push(chunk));
  socket.on('end', () => {
    const text = Buffer.concat(chunks).toString('utf8');
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
  });
  socket.on('error', (err) => console.error(`server: connection error: ${err.message}`));
});

server.on('error', (err) => {
  console.error(`server: ${err.message}`);
  process.exit(1);
});

// reclaimStale: a socket file left by a crashed earlier run is removed, a
// live server on the same path is not.
server.listen({ path: socketPath, reclaimStale: true }, () => {
  console.log(`ready ${socketPath}`);
});

// Close on signals so the socket file is unlinked.
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => server.close(() => process.exit(0)));
}
