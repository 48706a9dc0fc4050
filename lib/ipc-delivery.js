'use strict';
// Ordered delivery of a channel's events to its target (the ChildProcess,
// or the IPCChannel of openChannel()): events are emitted in arrival order,
// one per tick, even when a received handle is converted later (a server
// that must listen first) than the messages behind it arrive. 'message'
// events that arrive while the target has no 'message' listener are kept
// for the first one, and an 'error' nobody listens for becomes a process
// warning (a peer must not be able to crash us).

// process.nextTick is looked up per call, as Node's channel does (a user
// or a fake-timers library that replaces it reaches the channel too).

class Delivery {
  constructor(target) {
    this.target = target;
    this.slots = [];           // ordered events waiting to be emitted
    this.unclaimed = [];       // 'message' arguments waiting for a listener
    this.onDisconnect = null;  // called right after 'disconnect' is emitted
    this.pumpBound = () => this.pump();
    this.emitMessageBound = (message) => this.emitMessage(message);
  }

  // A plain 'message': with nothing queued before it, it needs no slot; its
  // own tick, as Node's channel emits each message, keeps the order (every
  // later slot is pumped on a later tick).
  deliverMessage(message) {
    if (this.slots.length === 0) process.nextTick(this.emitMessageBound, message);
    else this.deliver('message', [message, undefined]);
  }

  // Keep `event`'s place in the order; fill() or cancel() it later.
  reserve(event) {
    const slot = { event, args: null, ready: false, cancelled: false };
    this.slots.push(slot);
    return slot;
  }

  fill(slot, args) {
    slot.args = args;
    slot.ready = true;
    process.nextTick(this.pumpBound);
  }

  cancel(slot) {
    slot.cancelled = true;
    slot.ready = true;
    process.nextTick(this.pumpBound);
  }

  deliver(event, args) {
    this.fill(this.reserve(event), args);
  }

  pump() {
    const slot = this.slots[0];
    if (!slot || !slot.ready) return;
    this.slots.shift();
    if (this.slots.length && this.slots[0].ready) process.nextTick(this.pumpBound);
    if (!slot.cancelled) this.emit(slot.event, slot.args);
  }

  emitMessage(message) {
    const target = this.target;
    if (this.unclaimed.length !== 0 || target.listenerCount('message') === 0) {
      this.unclaimed.push([message, undefined]);
      this.flushUnclaimed();
    } else {
      target.emit('message', message, undefined);
    }
  }

  emit(event, args) {
    const target = this.target;
    switch (event) {
      case 'message':
        if (target.listenerCount('message') === 0 || this.unclaimed.length) {
          this.unclaimed.push(args);
          this.flushUnclaimed();
        } else {
          target.emit('message', ...args);
        }
        break;
      case 'error':
        if (target.listenerCount('error') > 0) target.emit('error', args[0]);
        else process.emitWarning(args[0]);
        break;
      case 'disconnect':
        // Node keeps unclaimed messages on the channel, which is gone by
        // now: a listener added from here on gets none of them.
        this.unclaimed = [];
        target.emit('disconnect');
        if (this.onDisconnect) this.onDisconnect();
        break;
      default:
        target.emit(event, ...args);
    }
  }

  // Messages kept for a listener: to the target, while it has one.
  flushUnclaimed() {
    while (this.unclaimed.length && this.target.listenerCount('message') > 0) {
      this.target.emit('message', ...this.unclaimed.shift());
    }
  }

  // From the target's 'newListener': on the next tick, if a 'message'
  // listener is there, everything kept is emitted, as Node's channel does
  // (a once() listener gets the first; the rest go to whoever listens then).
  onNewListener(name) {
    if (name === 'message' && this.unclaimed.length) process.nextTick(() => this.emitUnclaimed());
  }

  emitUnclaimed() {
    if (this.unclaimed.length === 0 || this.target.listenerCount('message') === 0) return;
    const kept = this.unclaimed;
    this.unclaimed = [];
    for (const args of kept) this.target.emit('message', ...args);
  }
}

module.exports = { Delivery };
