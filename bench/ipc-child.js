'use strict';
// A plain Node child: it uses only process.send / process.on('message'), so
// it speaks whatever channel its parent (child_process.fork or pipewrap.fork)
// opened for it.
const [mode, countArg] = process.argv.slice(2);
const count = Number(countArg);
if (mode === 'oneway') {
  let n = 0;
  process.on('message', () => {
    if (++n === count) process.send('done');
  });
} else {
  process.on('message', (m) => process.send(m));
}
process.send('ready');
