//! A Rust process on Node's own IPC channel.
//!
//! Node's `child_process.fork` (and `spawn` with an `'ipc'` stdio entry)
//! gives a child a channel: `child.send(msg)` / `child.on('message')` in
//! the parent, `process.send` / `process.on('message')` in the child. This
//! crate speaks that channel from Rust, on tokio, byte for byte as Node
//! does, so a Rust helper process needs no protocol of its own:
//!
//! * **Child side**: [`Channel::from_env`] opens the channel a Node parent
//!   made (`NODE_CHANNEL_FD`, `NODE_CHANNEL_SERIALIZATION_MODE`).
//! * **Parent side**: [`fork`] / [`Channel::spawn`] start a Node script with
//!   a channel, as `fork` does; the script uses plain `process.send`.
//! * **Messages** are serde types ([`Channel::send`], [`Channel::recv`]) or
//!   `serde_json::Value`s ([`Channel::recv_value`]), in both of Node's
//!   serializations: `json` (one JSON text per line) and `advanced` (V8's
//!   `ValueSerializer` format, which also carries `Buffer`s and typed
//!   arrays: see [`Buffer`] and [`JsValue`]).
//! * **Handles**: sockets and servers pass both ways with Node's
//!   `NODE_HANDLE` / `NODE_HANDLE_ACK` / `NODE_HANDLE_NACK` protocol and
//!   SCM_RIGHTS ([`Channel::send_with_handle`], [`Message::take_handle`]).
//!   Node's internal messages never reach `recv`.
//! * **Ends**: `recv` returns `Ok(None)` once Node disconnects or exits;
//!   dropping the [`Channel`] makes Node see `'disconnect'`. A malformed
//!   message is an error for that message only; an oversized one
//!   ([`Options::max_message_size`], default 128 MiB) ends the channel.
//! * **Backpressure**: [`Channel::send`] returns once its message is
//!   written, so it waits while Node is not reading. `recv` is cancel-safe.
//!
//! # A Rust worker for a Node parent
//!
//! ```no_run
//! use pipewrap_ipc::Channel;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize)]
//! struct Job {
//!   id: u64,
//!   numbers: Vec<f64>,
//! }
//!
//! #[derive(Serialize)]
//! struct Done {
//!   id: u64,
//!   sum: f64,
//! }
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), pipewrap_ipc::Error> {
//!   let channel = Channel::from_env()?;
//!   while let Some(job) = channel.recv::<Job>().await? {
//!     let sum = job.numbers.iter().sum();
//!     channel.send(&Done { id: job.id, sum }).await?;
//!   }
//!   Ok(()) // the parent disconnected
//! }
//! ```
//!
//! and in Node:
//!
//! ```js
//! const { spawn } = require('node:child_process');
//! const worker = spawn('./target/release/worker', [], { stdio: ['inherit', 'inherit', 'inherit', 'ipc'] });
//! worker.on('message', (done) => { console.log(done); worker.disconnect(); });
//! worker.send({ id: 1, numbers: [1, 2, 3] });
//! ```
//!
//! # Handles
//!
//! ```no_run
//! use pipewrap_ipc::{Channel, Socket};
//! # async fn run(channel: Channel) -> Result<(), pipewrap_ipc::Error> {
//! // Node: child.send('conn', socket)
//! while let Some(mut msg) = channel.recv_message().await? {
//!   if let Some(handle) = msg.take_handle() {
//!     if let Socket::UnixStream(stream) = handle.into_socket()? {
//!       // a tokio UnixStream, ours now
//!       # drop(stream);
//!     }
//!   }
//! }
//! # Ok(()) }
//! ```
//!
//! # Performance
//!
//! One tokio task per channel reads the socket and answers Node's internal
//! messages; `send` writes from the caller's task when nothing is queued, so
//! an echo costs one `epoll_wait`, one `recvmsg` and one `sendmsg`. On the
//! current-thread runtime, run the receive loop in a spawned task
//! (`tokio::spawn`) rather than directly in `#[tokio::main]`'s future: waking
//! the `block_on` future makes the scheduler poll the reactor once more per
//! message.
//!
//! # Platform
//!
//! Unix only (Node frames the channel differently on Windows); tested on
//! Linux. Advanced serialization assumes a little-endian host, as V8 writes
//! numbers in host order.

mod buffer;
mod channel;
mod error;
mod handle;
pub mod v8;

pub use buffer::Buffer;
pub use channel::{fork, Channel, Message, Options, Serialization, DEFAULT_MAX_MESSAGE_SIZE};
pub use error::Error;
pub use handle::{Handle, SendHandle, Socket};
pub use v8::JsValue;
