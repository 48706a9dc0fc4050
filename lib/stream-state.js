'use strict';
// The one place pipewrap's net layer reads (and once writes) the private
// state of Node's stream.Readable/Writable, for its two fast paths. Node has
// no public API for "flowing with nothing buffered" or "a write is in
// flight", so these read `_readableState`/`_writableState` directly;
// __test__/stream-state.test.js pins what each field means on the Node
// running the suite (CI runs it on Node 20, 22 and 24), so a rename or a
// change of meaning fails there instead of misbehaving here.

/**
 * A chunk read now may go straight to 'data' listeners: the socket flows,
 * nothing is buffered ahead of it, no decoder wants it, no EOF was pushed.
 */
function canEmitDataDirectly(socket) {
  const rs = socket._readableState;
  return rs.flowing === true && rs.length === 0 && rs.decoder === null && !rs.ended;
}

/**
 * Emits `chunk` as 'data' the way push() would in flowing mode, without
 * the trip through the buffer (dataEmitted is what push() records: the
 * stream's readableDidRead and 'resume' logic read it).
 */
function emitDataDirectly(socket, chunk) {
  socket._readableState.dataEmitted = true;
  socket.emit('data', chunk);
}

/** Whether the socket's 'end' has been emitted (Readable's endEmitted). */
function endEmitted(socket) {
  return socket._readableState.endEmitted;
}

/**
 * A write may go straight to the binding: the Writable queue is empty and
 * idle (nothing buffered or in flight, not corked, not ending, not
 * destroyed or errored).
 */
function writableIdle(socket) {
  const ws = socket._writableState;
  return ws.length === 0 && !ws.writing && !ws.corked && !ws.ending && !ws.destroyed && ws.errored === null;
}

/** The encoding a string write without one is in (setDefaultEncoding). */
function defaultEncoding(socket) {
  return socket._writableState.defaultEncoding;
}

/**
 * Records a write's error on both sides of the stream, as Writable's
 * onwrite does at once, before the callback and 'error' follow.
 */
function markWriteErrored(socket, err) {
  const ws = socket._writableState;
  const rs = socket._readableState;
  if (!ws.errored) ws.errored = err;
  if (rs && !rs.errored) rs.errored = err;
}

module.exports = { canEmitDataDirectly, emitDataDirectly, endEmitted, writableIdle, defaultEncoding, markWriteErrored };
