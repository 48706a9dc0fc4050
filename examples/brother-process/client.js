'use strict';
// A tiny client for the brother server: one request per connection.
//
//   node client.js [socketPath]

const os = require('os');
const path = require('path');
const net = require('../../lib/net');

class UnixDomainClient {
  constructor(socketPath) {
    this.socketPath = socketPath;
  }

  // Connects, writes `obj` as JSON, half-closes so the server knows the
  // request is complete, and resolves with the parsed reply.
  send(obj) {
    return new Promise((resolve, reject) => {
      const socket = net.connect(this.socketPath);
      const chunks = [];
      socket.on('data', (chunk) => chunks.push(chunk));
      socket.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve(JSON.parse(text));
        } catch (err) {
          reject(new Error(`bad reply ${JSON.stringify(text)}: ${err.message}`));
        }
      });
      socket.on('error', reject);
      socket.end(JSON.stringify(obj));
    });
  }
}

module.exports = { UnixDomainClient };

if (require.main === module) {
  const socketPath = process.argv[2] || path.join(os.tmpdir(), `pipewrap-brother-${process.getuid()}.sock`);
  const request = { hello: 'brother' };
  console.log(`client -> ${JSON.stringify(request)}`);
  new UnixDomainClient(socketPath).send(request).then((reply) => {
    console.log(`client <- ${typeof reply === 'string' ? reply : JSON.stringify(reply)}`);
  }, (err) => {
    console.error(`client: ${err.message}`);
    process.exitCode = 1;
  });
}
