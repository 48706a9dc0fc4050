'use strict';
// A pool worker: a plain Node child, using process.send and 'message'. The
// pipewrap Server sent by the parent arrives here as Node's net.Server.
const id = process.argv[2];
let server = null;

process.on('message', (msg, handle) => {
  if (msg.type === 'serve') {
    server = handle;
    server.on('connection', (socket) => {
      let request = '';
      socket.setEncoding('utf8');
      socket.on('data', (d) => { request += d; });
      socket.on('end', () => {
        socket.end(`worker ${id} (pid ${process.pid}) did ${request}`);
        process.send({ type: 'served', request });
      });
    });
    process.send({ type: 'listening' });
  } else if (msg.type === 'shutdown') {
    server.close(() => process.disconnect());
  }
});
