'use strict';
// Socket lists: how Node's net.Server counts the sockets it handed to
// another process (internal/socket_list in Node). The sender's list answers
// server.getConnections()/close() by asking the receiver, whose list counts
// the sockets it got under the server's key. Both ends work on a channel
// core (lib/ipc-channel.js): `connected`, `sendInternal()` and the
// `replyWaiters`/`closeWaiters` sets that its reader and teardown call.

const EventEmitter = require('events');
const { codes } = require('./errors');

class SocketListSend extends EventEmitter {
  constructor(core, key) {
    super();
    this.core = core;
    this.key = key;
  }

  _request(msg, replyCmd, swallowErrors, callback) {
    const core = this.core;
    if (!core.connected) {
      process.nextTick(callback, codes.ERR_CHILD_CLOSED_BEFORE_REPLY());
      return;
    }
    const onReply = (reply) => {
      if (reply.cmd !== replyCmd || reply.key !== this.key) return;
      core.replyWaiters.delete(onReply);
      core.closeWaiters.delete(onClose);
      callback(null, reply);
    };
    const onClose = () => {
      core.replyWaiters.delete(onReply);
      callback(codes.ERR_CHILD_CLOSED_BEFORE_REPLY());
    };
    core.replyWaiters.add(onReply);
    core.closeWaiters.add(onClose);
    core.sendInternal(msg, swallowErrors);
  }

  close(callback) {
    this._request({ cmd: 'NODE_SOCKET_NOTIFY_CLOSE', key: this.key },
                  'NODE_SOCKET_ALL_CLOSED', true, callback);
  }

  getConnections(callback) {
    this._request({ cmd: 'NODE_SOCKET_GET_COUNT', key: this.key },
                  'NODE_SOCKET_COUNT', false,
                  (err, msg) => (err ? callback(err) : callback(null, msg.count)));
  }
}

class SocketListReceive extends EventEmitter {
  constructor(core, key) {
    super();
    this.core = core;
    this.key = key;
    this.connections = 0;
  }

  add(socket) {
    this.connections++;
    socket.once('close', () => {
      if (--this.connections === 0) this.emit('empty');
    });
  }

  onInternal(msg) {
    const core = this.core;
    if (msg.cmd === 'NODE_SOCKET_NOTIFY_CLOSE') {
      const reply = () => {
        if (core.connected) core.sendInternal({ cmd: 'NODE_SOCKET_ALL_CLOSED', key: this.key }, true);
      };
      if (this.connections === 0) reply();
      else this.once('empty', reply);
    } else if (msg.cmd === 'NODE_SOCKET_GET_COUNT') {
      if (core.connected) {
        core.sendInternal({ cmd: 'NODE_SOCKET_COUNT', key: this.key, count: this.connections }, false);
      }
    }
  }
}

// A socket-list command that arrived on `core`: answered by the list for its
// key, or (no such list: nothing was received under that key) at once.
function onSocketListCommand(core, message) {
  switch (message.cmd) {
    case 'NODE_SOCKET_NOTIFY_CLOSE':
    case 'NODE_SOCKET_GET_COUNT': {
      const list = core.recvLists.get(message.key);
      if (list) list.onInternal(message);
      else if (message.cmd === 'NODE_SOCKET_NOTIFY_CLOSE') {
        core.sendInternal({ cmd: 'NODE_SOCKET_ALL_CLOSED', key: message.key }, true);
      } else {
        core.sendInternal({ cmd: 'NODE_SOCKET_COUNT', key: message.key, count: 0 }, true);
      }
      break;
    }
    case 'NODE_SOCKET_ALL_CLOSED':
    case 'NODE_SOCKET_COUNT':
      for (const waiter of [...core.replyWaiters]) waiter(message);
      break;
    default:
      break;
  }
}

// The sender's list for a server's key, made (and given to the server, as
// Node's cluster does with _setupWorker) on first use.
function sendListFor(core, key, server) {
  let list = core.sendLists.get(key);
  if (!list) {
    list = new SocketListSend(core, key);
    core.sendLists.set(key, list);
    server._setupWorker(list);
  }
  return list;
}

// Count a received socket under the key its message carries (if any).
function trackReceivedSocket(core, message, socket) {
  if (message.key === undefined) return;
  let list = core.recvLists.get(message.key);
  if (!list) {
    list = new SocketListReceive(core, message.key);
    core.recvLists.set(message.key, list);
  }
  list.add(socket);
}

module.exports = { SocketListSend, SocketListReceive, onSocketListCommand, sendListFor, trackReceivedSocket };
