'use strict';
// The thinnest echo child a Node process can run (the child of
// ipc-echo-both-floor-1cpu): the implementation's own Pipe (argv[2]:
// `pipewrap` or `node`, Node's internal pipe_wrap) straight on fd 3, one
// JSON line per message, JSON.parse/stringify, no framework. It says
// "ready" first, as a forked child does. argv[3] `tick`: each message
// goes to its listener as Node's channel delivers it (one process.nextTick
// and an EventEmitter emit per message); `direct`: straight from onread.
const implName = process.argv[2];
const tick = process.argv[3] === 'tick';
const { rawBinding, onJsonLines } = require('./common');
const { Pipe, WriteWrap: W, streamBaseState: st } = rawBinding(implName);
const pipe = new Pipe(2 /* IPC */);
pipe.open(3);
const send = (m) => pipe.writeUtf8String(new W(), JSON.stringify(m) + '\n');
const emitter = new (require('node:events'))();
emitter.on('message', send);
const emitMessage = (msg) => emitter.emit('message', msg);
const deliver = tick ? (msg) => process.nextTick(emitMessage, msg) : send;
onJsonLines(pipe, st, deliver, () => pipe.close());
pipe.readStart();
send('ready');
