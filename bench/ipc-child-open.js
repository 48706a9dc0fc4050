'use strict';
// bench/ipc-child.js's echo child on pipewrap's openChannel() instead of
// Node's own channel: the child of the ipc-echo-both-* workloads, started by
// pipewrap's fork() through `env -u NODE_CHANNEL_FD` so that Node's runtime
// leaves the channel fd (PIPEWRAP_IPC_FD) to openChannel().
const { openChannel } = require('..');

const channel = openChannel(Number(process.env.PIPEWRAP_IPC_FD));
channel.on('message', (m) => channel.send(m));
channel.send('ready');
