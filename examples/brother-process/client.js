'use strict';
// A tiny client for the brother server: one request per connection.
//
//   node client.js [socketPath]

const net = require('../../lib/net');
const { defaultAddress } = require('./address');

class UnixDomainClient {
  constructor(socketPath) {
    this.socketPath = socketPath;
  }

  // Connects, writes `obj` as one line of JSON (the newline tells the server
  // the request is complete: Windows named pipes cannot half-close), and
  // resolves with the parsed reply the server ends the connection with.
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
      socket.write(`${JSON.stringify(obj)}\n`);
    });
  }
}

module.exports = { UnixDomainClient };

if (require.main === module) {
  const socketPath = process.argv[2] || defaultAddress();
  const request = { hello: 'brother' };
  console.log(`client -> ${JSON.stringify(request)}`);
  new UnixDomainClient(socketPath).send(request).then((reply) => {
    console.log(`client <- ${typeof reply === 'string' ? reply : JSON.stringify(reply)}`);
  }, (err) => {
    console.error(`client: ${err.message}`);
    process.exitCode = 1;
  });
}
