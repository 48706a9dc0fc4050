//! The channel: one tokio task (the driver) reads the socket, answers
//! Node's internal messages and writes what senders could not write
//! themselves; `recv` takes from its inbox, `send` writes directly when the
//! socket is idle and queues behind the driver otherwise.

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use pipewrap_core::framing::{FrameError, LengthFramer, LineFramer};
use pipewrap_core::sys;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::{oneshot, Notify};

use crate::handle::{Handle, SendHandle};
use crate::v8::{self, JsValue};
use crate::Error;

/// The default [`Options::max_message_size`]: 128 MiB, as pipewrap's JS
/// layer.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 128 * 1024 * 1024;

/// Node's limit on retransmissions of a handle the peer answered
/// `NODE_HANDLE_NACK` to.
const MAX_HANDLE_RETRANSMISSIONS: u32 = 3;
/// Bytes of received messages held for `recv` before the driver stops
/// reading (Node's writes then queue on its side).
const INBOX_HIGH_WATER: usize = 1024 * 1024;
/// Most bytes of queued messages moved into one write.
const WRITE_BATCH: usize = 256 * 1024;
const READ_BUFFER: usize = 64 * 1024;

/// How messages are encoded on the wire (Node's `serialization` option of
/// `fork`/`spawn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Serialization {
  /// One JSON text per message, terminated by `\n` (Node's default).
  #[default]
  Json,
  /// A 4-byte big-endian length, then V8's serialization format.
  Advanced,
}

impl Serialization {
  /// The name Node uses (`NODE_CHANNEL_SERIALIZATION_MODE`).
  pub fn as_str(self) -> &'static str {
    match self {
      Serialization::Json => "json",
      Serialization::Advanced => "advanced",
    }
  }
}

/// Channel options beyond the serialization.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
  /// Largest incoming message accepted, in bytes (default 128 MiB, as
  /// pipewrap's JS layer). A larger one is [`Error::TooLarge`] and closes
  /// the channel.
  pub max_message_size: usize,
}

impl Default for Options {
  fn default() -> Self {
    Options {
      max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
    }
  }
}

impl Options {
  /// The defaults.
  pub fn new() -> Self {
    Self::default()
  }

  /// Sets [`Options::max_message_size`].
  pub fn max_message_size(mut self, bytes: usize) -> Self {
    self.max_message_size = bytes;
    self
  }
}

/// A received message, possibly with a handle.
#[derive(Debug)]
pub struct Message {
  payload: Payload,
  handle: Option<Handle>,
}

#[derive(Debug)]
enum Payload {
  /// One JSON text.
  Json(Vec<u8>),
  /// A V8 payload, not decoded yet.
  V8(Vec<u8>),
  /// A V8 payload already decoded (it had to be looked into).
  Value(JsValue),
  /// A V8 payload that failed to decode when it was looked into.
  Bad(crate::v8::DecodeError),
}

impl Payload {
  fn len(&self) -> usize {
    match self {
      Payload::Json(b) | Payload::V8(b) => b.len(),
      _ => 64,
    }
  }
}

impl Message {
  /// The message as a `T`.
  pub fn decode<T: DeserializeOwned>(&self) -> Result<T, Error> {
    match &self.payload {
      Payload::Json(b) => Ok(serde_json::from_slice(b)?),
      Payload::V8(b) => Ok(v8::from_value(v8::decode(&b[..])?)?),
      Payload::Value(v) => Ok(v8::from_value(v.clone())?),
      Payload::Bad(e) => Err(Error::Advanced(e.clone())),
    }
  }

  /// The message as a `serde_json::Value`. In advanced mode it has the
  /// shape the same message would have in json mode (see
  /// [`JsValue::into_json`](crate::JsValue::into_json)).
  pub fn value(&self) -> Result<serde_json::Value, Error> {
    match &self.payload {
      Payload::Json(b) => Ok(serde_json::from_slice(b)?),
      Payload::V8(b) => Ok(v8::decode(&b[..])?.into_json()),
      Payload::Value(v) => Ok(v.clone().into_json()),
      Payload::Bad(e) => Err(Error::Advanced(e.clone())),
    }
  }

  /// The handle that came with the message (Node's second `'message'`
  /// argument), if any.
  pub fn handle(&self) -> Option<&Handle> {
    self.handle.as_ref()
  }

  /// Takes the handle out of the message.
  pub fn take_handle(&mut self) -> Option<Handle> {
    self.handle.take()
  }
}

enum Incoming {
  Message(Message),
  /// The channel cannot go on (an oversized message).
  Fatal(Error),
}

struct Inbox {
  queue: VecDeque<Incoming>,
  bytes: usize,
  closed: bool,
}

/// A frame waiting to be written.
struct OutFrame {
  seq: u64,
  bytes: Vec<u8>,
  handle: Option<(OwnedFd, oneshot::Sender<Result<(), Error>>)>,
}

/// A handle sent (or to be sent again) and not acknowledged yet. Every
/// later frame waits, as Node's sender does.
struct InFlight {
  frame: Vec<u8>,
  fd: OwnedFd,
  tries: u32,
  need_send: bool,
  done: oneshot::Sender<Result<(), Error>>,
}

struct Outbox {
  /// Whole frames being written, from `wpos` on.
  wbuf: Vec<u8>,
  wpos: usize,
  /// End offset in `wbuf` and sequence number of each user frame in it.
  ends: VecDeque<(usize, u64)>,
  /// `NODE_HANDLE_ACK`/`NACK` frames: written before queued frames (never
  /// inside one), even while a handle of ours waits for its ACK.
  control: VecDeque<Vec<u8>>,
  queue: VecDeque<OutFrame>,
  inflight: Option<InFlight>,
  next_seq: u64,
  /// Every frame with a sequence number up to this one is written.
  written_seq: u64,
  /// Why nothing can be written any more.
  closed: Option<Error>,
}

impl Outbox {
  fn idle(&self) -> bool {
    self.wpos == self.wbuf.len()
      && self.control.is_empty()
      && self.queue.is_empty()
      && self.inflight.is_none()
  }

  /// Whether `pump` has something to write.
  fn has_work(&self) -> bool {
    self.closed.is_none()
      && (self.wpos < self.wbuf.len()
        || !self.control.is_empty()
        || self.inflight.as_ref().is_some_and(|f| f.need_send)
        || (self.inflight.is_none() && !self.queue.is_empty()))
  }

  fn advance(&mut self, n: usize) {
    self.wpos += n;
    while let Some(&(end, seq)) = self.ends.front() {
      if end > self.wpos {
        break;
      }
      self.written_seq = self.written_seq.max(seq);
      self.ends.pop_front();
    }
  }

  /// Writes what can be written without blocking. `Ok(true)` when the
  /// socket is full with work left.
  fn pump(&mut self, fd: RawFd) -> io::Result<bool> {
    loop {
      if self.wpos < self.wbuf.len() {
        match sys::send_with_fds(fd, &self.wbuf[self.wpos..], &[]) {
          Ok(n) => {
            self.advance(n);
            continue;
          }
          Err(e) if e == -libc::EAGAIN => return Ok(true),
          Err(e) => return Err(io::Error::from_raw_os_error(-e)),
        }
      }
      self.wbuf.clear();
      self.wpos = 0;
      self.ends.clear();
      if let Some(c) = self.control.pop_front() {
        self.wbuf = c;
        continue;
      }
      if let Some(f) = self.inflight.as_mut() {
        if !f.need_send {
          return Ok(false);
        }
        // The frame that carries the fd goes alone: Node attaches the fd to
        // the NODE_HANDLE message it reads in the same chunk.
        match sys::send_with_fds(fd, &f.frame, &[f.fd.as_raw_fd()]) {
          Ok(n) => {
            f.need_send = false;
            if n < f.frame.len() {
              self.wbuf.extend_from_slice(&f.frame[n..]);
            }
            continue;
          }
          Err(e) if e == -libc::EAGAIN => return Ok(true),
          Err(e) => return Err(io::Error::from_raw_os_error(-e)),
        }
      }
      let Some(front) = self.queue.front() else {
        return Ok(false);
      };
      if front.handle.is_some() {
        let f = self.queue.pop_front().expect("front");
        let (fd, done) = f.handle.expect("handle");
        self.written_seq = self.written_seq.max(f.seq);
        self.inflight = Some(InFlight {
          frame: f.bytes,
          fd,
          tries: 0,
          need_send: true,
          done,
        });
        continue;
      }
      while let Some(f) = self.queue.front() {
        if f.handle.is_some()
          || (!self.wbuf.is_empty() && self.wbuf.len() + f.bytes.len() > WRITE_BATCH)
        {
          break;
        }
        let f = self.queue.pop_front().expect("front");
        if self.wbuf.is_empty() {
          self.wbuf = f.bytes;
        } else {
          self.wbuf.extend_from_slice(&f.bytes);
        }
        self.ends.push_back((self.wbuf.len(), f.seq));
      }
    }
  }

  fn close(&mut self, why: Error) {
    if self.closed.is_none() {
      self.closed = Some(why);
    }
    self.queue.clear();
    self.control.clear();
    // Dropping the in-flight handle closes our copy and fails its sender.
    self.inflight = None;
  }
}

struct Inner {
  afd: AsyncFd<OwnedFd>,
  mode: Serialization,
  max_message_size: usize,
  inbox: Mutex<Inbox>,
  /// To receivers: a message arrived or the inbox closed.
  inbox_ready: Notify,
  /// To the driver: the inbox has room again.
  inbox_space: Notify,
  out: Mutex<Outbox>,
  /// To the driver: there is something to write, or it should stop.
  out_wake: Notify,
  /// To senders: frames were written, or the channel closed.
  written: Notify,
  stop: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
  // A panic while holding one of these locks leaves consistent state (no
  // invariant spans an unlock), so a poisoned lock is used as is.
  m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One end of a Node IPC channel.
///
/// Created with [`Channel::from_env`] in a process Node started with a
/// channel, or with [`Channel::spawn`] / [`fork`](crate::fork) to start a
/// Node child. All methods take `&self`: one task may `recv` while others
/// `send` (share it with an `Arc`).
///
/// Dropping the channel closes it: Node sees `'disconnect'`. Messages
/// already written stay readable by Node; a `send` still waiting when the
/// channel drops never completes.
pub struct Channel {
  inner: Arc<Inner>,
}

impl std::fmt::Debug for Channel {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.debug_struct("Channel")
      .field("fd", &self.inner.afd.as_raw_fd())
      .field("serialization", &self.inner.mode)
      .finish()
  }
}

impl Channel {
  /// Opens the channel a Node parent made for this process: the fd in
  /// `NODE_CHANNEL_FD` and the serialization in
  /// `NODE_CHANNEL_SERIALIZATION_MODE` (json when unset), as Node's own
  /// child does.
  ///
  /// As Node does, it removes both variables from the environment, so
  /// children of this process do not try to open an fd they do not have
  /// (and a second call fails instead of claiming the fd twice). Like any
  /// change to the environment, this is best done before other threads
  /// read it (C code calling `getenv` concurrently).
  ///
  /// Must be called within a tokio runtime.
  ///
  /// ```no_run
  /// # async fn run() -> Result<(), pipewrap_ipc::Error> {
  /// let channel = pipewrap_ipc::Channel::from_env()?;
  /// while let Some(job) = channel.recv::<serde_json::Value>().await? {
  ///   channel.send(&job).await?;
  /// }
  /// # Ok(()) }
  /// ```
  pub fn from_env() -> Result<Channel, Error> {
    Channel::from_env_with(Options::default())
  }

  /// [`Channel::from_env`] with options.
  pub fn from_env_with(options: Options) -> Result<Channel, Error> {
    let raw = std::env::var("NODE_CHANNEL_FD").map_err(|_| {
      Error::Env(
        "NODE_CHANNEL_FD is not set: this process was not started with an IPC channel".into(),
      )
    })?;
    let fd = raw
      .trim()
      .parse::<RawFd>()
      .ok()
      .filter(|&fd| fd >= 0)
      .ok_or_else(|| Error::Env(format!("NODE_CHANNEL_FD={raw:?} is not an fd number")))?;
    let mode = match std::env::var("NODE_CHANNEL_SERIALIZATION_MODE").as_deref() {
      Err(_) | Ok("json") => Serialization::Json,
      Ok("advanced") => Serialization::Advanced,
      Ok(other) => {
        return Err(Error::Env(format!(
          "NODE_CHANNEL_SERIALIZATION_MODE={other:?} (expected \"json\" or \"advanced\")"
        )))
      }
    };
    if sys::fd_kind(fd) != sys::FdKind::UnixStream {
      return Err(Error::Env(format!(
        "NODE_CHANNEL_FD={fd} is not an open Unix stream socket (did a shell or launcher close it?)"
      )));
    }
    std::env::remove_var("NODE_CHANNEL_FD");
    std::env::remove_var("NODE_CHANNEL_SERIALIZATION_MODE");
    // SAFETY: NODE_CHANNEL_FD names an fd the parent left open for this
    // process, checked just above to be an open socket; the variable is
    // gone now, so no second call can claim the same fd.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    // Our own children must not inherit the channel.
    // SAFETY: fcntl on an fd we own, with an int argument.
    unsafe { libc::fcntl(owned.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
    Channel::from_fd(owned, mode, options)
  }

  /// A channel on any connected Unix stream socket whose peer speaks Node's
  /// protocol (e.g. one end of a socketpair another process holds as its
  /// `NODE_CHANNEL_FD`). Must be called within a tokio runtime.
  pub fn from_fd(
    fd: OwnedFd,
    serialization: Serialization,
    options: Options,
  ) -> Result<Channel, Error> {
    let rt = tokio::runtime::Handle::try_current().map_err(|_| {
      Error::Io(io::Error::other(
        "pipewrap-ipc: a Channel must be created within a tokio runtime",
      ))
    })?;
    sys::set_nonblocking(fd.as_raw_fd(), true).map_err(|e| io::Error::from_raw_os_error(-e))?;
    // SAFETY: the OwnedFd is moved into the AsyncFd, which owns it (open,
    // the same description) until the AsyncFd is dropped.
    //
    // Readable interest only: writes go out from `send` at once, and the
    // driver waits for writability on a registration of its own only while
    // the socket is full (an edge-triggered EPOLLOUT here would wake the
    // loop every time Node reads).
    let afd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }
      .map_err(io::Error::from)?;
    let inner = Arc::new(Inner {
      afd,
      mode: serialization,
      max_message_size: options.max_message_size,
      inbox: Mutex::new(Inbox {
        queue: VecDeque::new(),
        bytes: 0,
        closed: false,
      }),
      inbox_ready: Notify::new(),
      inbox_space: Notify::new(),
      out: Mutex::new(Outbox {
        wbuf: Vec::new(),
        wpos: 0,
        ends: VecDeque::new(),
        control: VecDeque::new(),
        queue: VecDeque::new(),
        inflight: None,
        next_seq: 1,
        written_seq: 0,
        closed: None,
      }),
      out_wake: Notify::new(),
      written: Notify::new(),
      stop: AtomicBool::new(false),
    });
    rt.spawn(drive(inner.clone()));
    Ok(Channel { inner })
  }

  /// Starts `cmd` with a channel, as `child_process.fork` does: one end of a
  /// socketpair on the child's fd 3, `NODE_CHANNEL_FD=3` and
  /// `NODE_CHANNEL_SERIALIZATION_MODE` in its environment. A Node child
  /// then has `process.send` / `process.on('message')`.
  ///
  /// Use a fresh `Command` per call (this adds a `pre_exec` hook to it).
  ///
  /// ```no_run
  /// use pipewrap_ipc::{Channel, Options, Serialization};
  /// # async fn run() -> Result<(), pipewrap_ipc::Error> {
  /// let mut cmd = tokio::process::Command::new("node");
  /// cmd.arg("worker.js");
  /// let (mut child, channel) = Channel::spawn(&mut cmd, Serialization::Advanced, Options::new())?;
  /// channel.send(&"hello").await?;
  /// let reply: Option<String> = channel.recv().await?;
  /// drop(channel); // the child sees 'disconnect'
  /// child.wait().await?;
  /// # Ok(()) }
  /// ```
  pub fn spawn(
    cmd: &mut tokio::process::Command,
    serialization: Serialization,
    options: Options,
  ) -> Result<(tokio::process::Child, Channel), Error> {
    let [ours, theirs] = sys::socketpair().map_err(|e| io::Error::from_raw_os_error(-e))?;
    // SAFETY: socketpair just returned these fds; nothing else owns them.
    let (ours, theirs) = unsafe { (OwnedFd::from_raw_fd(ours), OwnedFd::from_raw_fd(theirs)) };
    let child_fd = theirs.as_raw_fd();
    cmd
      .env("NODE_CHANNEL_FD", "3")
      .env("NODE_CHANNEL_SERIALIZATION_MODE", serialization.as_str());
    // SAFETY: the hook runs in the child between fork and exec and calls
    // only async-signal-safe functions (dup2, fcntl) on an fd number it
    // captured by value.
    unsafe {
      cmd.pre_exec(move || {
        // Our end is close-on-exec; the copy on fd 3 is not.
        let rc = if child_fd == 3 {
          libc::fcntl(3, libc::F_SETFD, 0)
        } else {
          libc::dup2(child_fd, 3)
        };
        if rc == -1 {
          return Err(io::Error::last_os_error());
        }
        Ok(())
      });
    }
    let child = cmd.spawn()?;
    drop(theirs);
    let channel = Channel::from_fd(ours, serialization, options)?;
    Ok((child, channel))
  }

  /// The serialization this channel speaks.
  pub fn serialization(&self) -> Serialization {
    self.inner.mode
  }

  /// The next message as a `T`, `Ok(None)` once the peer disconnected or
  /// exited (or this side disconnected).
  ///
  /// A message that does not decode (or not as a `T`) is an `Err` for that
  /// message only: the next call reads the next one. A handle that came
  /// with the message is closed; use [`Channel::recv_message`] to keep it.
  ///
  /// # Cancel safety
  ///
  /// Cancel-safe: a message is taken from the channel only when this
  /// returns it.
  pub async fn recv<T: DeserializeOwned>(&self) -> Result<Option<T>, Error> {
    match self.recv_message().await? {
      Some(m) => m.decode().map(Some),
      None => Ok(None),
    }
  }

  /// The next message as a `serde_json::Value` (see [`Message::value`]).
  /// Cancel-safe.
  pub async fn recv_value(&self) -> Result<Option<serde_json::Value>, Error> {
    match self.recv_message().await? {
      Some(m) => m.value().map(Some),
      None => Ok(None),
    }
  }

  /// The next message undecoded, with its handle if one came with it.
  /// `Err` only for [`Error::TooLarge`] (then `Ok(None)` follows).
  /// Cancel-safe.
  pub async fn recv_message(&self) -> Result<Option<Message>, Error> {
    let inner = &*self.inner;
    loop {
      let mut notified = pin!(inner.inbox_ready.notified());
      notified.as_mut().enable();
      {
        let mut inbox = lock(&inner.inbox);
        if let Some(item) = inbox.queue.pop_front() {
          if let Incoming::Message(m) = &item {
            let before = inbox.bytes;
            inbox.bytes -= m.payload.len();
            if before >= INBOX_HIGH_WATER && inbox.bytes < INBOX_HIGH_WATER {
              inner.inbox_space.notify_one();
            }
          }
          return match item {
            Incoming::Message(m) => Ok(Some(m)),
            Incoming::Fatal(e) => Err(e),
          };
        }
        if inbox.closed {
          return Ok(None);
        }
      }
      notified.await;
    }
  }

  fn encode<T: Serialize + ?Sized>(&self, msg: &T) -> Result<Vec<u8>, Error> {
    match self.inner.mode {
      Serialization::Json => {
        let mut v = serde_json::to_vec(msg)?;
        v.push(b'\n');
        Ok(v)
      }
      Serialization::Advanced => {
        let mut v = Vec::with_capacity(64);
        v.extend_from_slice(&[0; 4]);
        v8::encode_into(&mut v, msg)?;
        let len = u32::try_from(v.len() - 4)
          .map_err(|_| Error::Advanced(v8::DecodeError::custom_msg("message of 4 GiB or more")))?;
        v[..4].copy_from_slice(&len.to_be_bytes());
        Ok(v)
      }
    }
  }

  /// Sends a message (Node's `'message'` event gets it). Returns once the
  /// message is written to the socket: when the socket is full (Node is
  /// not reading) it waits. Messages from concurrent senders go out whole,
  /// one after another.
  ///
  /// An object whose `cmd` starts with `"NODE_"` is one of Node's internal
  /// messages: Node does not emit `'message'` for it.
  ///
  /// # Cancel safety
  ///
  /// A message is never written in part: cancelled before it was queued,
  /// it is not sent; cancelled later, it is still sent whole.
  pub async fn send<T: Serialize + ?Sized>(&self, msg: &T) -> Result<(), Error> {
    let frame = self.encode(msg)?;
    let inner = &*self.inner;
    let seq = {
      let mut out = lock(&inner.out);
      if out.closed.is_some() {
        return Err(Error::Disconnected);
      }
      let seq = out.next_seq;
      out.next_seq += 1;
      if out.idle() {
        // Fast path: write now, from this task.
        let len = frame.len();
        out.wbuf = frame;
        out.wpos = 0;
        out.ends.push_back((len, seq));
        match out.pump(inner.afd.as_raw_fd()) {
          Ok(_) if out.written_seq >= seq => return Ok(()),
          Ok(_) => inner.out_wake.notify_one(),
          Err(e) => {
            out.close(Error::Io(e));
            drop(out);
            inner.written.notify_waiters();
            inner.out_wake.notify_one();
            return Err(Error::Disconnected);
          }
        }
      } else {
        out.queue.push_back(OutFrame {
          seq,
          bytes: frame,
          handle: None,
        });
        inner.out_wake.notify_one();
      }
      seq
    };
    self.wait_written(seq).await
  }

  async fn wait_written(&self, seq: u64) -> Result<(), Error> {
    let inner = &*self.inner;
    loop {
      let mut notified = pin!(inner.written.notified());
      notified.as_mut().enable();
      {
        let out = lock(&inner.out);
        if out.written_seq >= seq {
          return Ok(());
        }
        if out.closed.is_some() {
          return Err(Error::Disconnected);
        }
      }
      notified.await;
    }
  }

  /// Sends a message with a handle (a socket or server), as Node's
  /// `send(message, handle)`: Node's `'message'` listener gets `(message,
  /// handle)`, the handle as a `net.Socket`, a listening `net.Server` or a
  /// `dgram.Socket`. Returns once Node acknowledged it (`NODE_HANDLE_ACK`);
  /// messages sent meanwhile wait for that, as in Node. Our copy of the fd
  /// is closed then.
  ///
  /// ```no_run
  /// # async fn run(channel: &pipewrap_ipc::Channel) -> Result<(), pipewrap_ipc::Error> {
  /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
  /// channel.send_with_handle(&"server", listener.try_into()?).await?;
  /// # Ok(()) }
  /// ```
  ///
  /// # Cancel safety
  ///
  /// As for [`Channel::send`]; once queued, the handle is sent even if the
  /// call is cancelled.
  pub async fn send_with_handle<T: Serialize + ?Sized>(
    &self,
    msg: &T,
    handle: SendHandle,
  ) -> Result<(), Error> {
    #[derive(Serialize)]
    struct Envelope<'a, T: ?Sized> {
      cmd: &'static str,
      #[serde(rename = "type")]
      kind: &'static str,
      #[serde(rename = "dgramType", skip_serializing_if = "Option::is_none")]
      dgram_type: Option<&'static str>,
      msg: &'a T,
    }
    let frame = self.encode(&Envelope {
      cmd: "NODE_HANDLE",
      kind: handle.wire_type,
      dgram_type: handle.dgram_type,
      msg,
    })?;
    let inner = &*self.inner;
    let (tx, rx) = oneshot::channel();
    {
      let mut out = lock(&inner.out);
      if out.closed.is_some() {
        return Err(Error::Disconnected);
      }
      let seq = out.next_seq;
      out.next_seq += 1;
      out.queue.push_back(OutFrame {
        seq,
        bytes: frame,
        handle: Some((handle.fd, tx)),
      });
      if out.wpos == out.wbuf.len()
        && out.control.is_empty()
        && out.inflight.is_none()
        && out.queue.len() == 1
      {
        if let Err(e) = out.pump(inner.afd.as_raw_fd()) {
          out.close(Error::Io(e));
          drop(out);
          inner.written.notify_waiters();
        }
      }
      inner.out_wake.notify_one();
    }
    match rx.await {
      Ok(r) => r,
      Err(_) => Err(Error::Disconnected),
    }
  }

  /// Closes the channel once everything sent so far is written: Node sees
  /// `'disconnect'`, `recv` returns `Ok(None)` (after messages already
  /// received). Dropping the channel does the same without waiting.
  pub async fn disconnect(&self) -> Result<(), Error> {
    let last = lock(&self.inner.out).next_seq - 1;
    let flushed = self.wait_written(last).await;
    self.inner.shut_down();
    flushed
  }
}

impl Drop for Channel {
  fn drop(&mut self) {
    self.inner.shut_down();
  }
}

impl Inner {
  /// Ends the channel at once: both directions shut down (the peer reads
  /// EOF after what was written), waiters woken, the driver stopped.
  fn shut_down(&self) {
    self.stop.store(true, Ordering::Release);
    // SAFETY: shutdown(2) on an fd this channel owns; no memory involved.
    unsafe { libc::shutdown(self.afd.as_raw_fd(), libc::SHUT_RDWR) };
    self.close(Error::Disconnected);
  }

  /// Closes both sides: queued writes are dropped, receivers get what was
  /// already received and then `Ok(None)`.
  fn close(&self, why: Error) {
    lock(&self.out).close(why);
    lock(&self.inbox).closed = true;
    self.written.notify_waiters();
    self.inbox_ready.notify_waiters();
    self.out_wake.notify_one();
  }

  fn deliver(&self, item: Incoming) {
    let mut inbox = lock(&self.inbox);
    if inbox.closed {
      return;
    }
    if let Incoming::Message(m) = &item {
      inbox.bytes += m.payload.len();
    }
    inbox.queue.push_back(item);
    drop(inbox);
    self.inbox_ready.notify_waiters();
  }

  fn control_frame(&self, cmd: &'static str) -> Vec<u8> {
    #[derive(Serialize)]
    struct Control {
      cmd: &'static str,
    }
    match self.mode {
      Serialization::Json => {
        let mut v = serde_json::to_vec(&Control { cmd }).expect("a static struct serializes");
        v.push(b'\n');
        v
      }
      Serialization::Advanced => {
        let mut v = vec![0; 4];
        v8::encode_into(&mut v, &Control { cmd }).expect("a static struct serializes");
        let len = (v.len() - 4) as u32;
        v[..4].copy_from_slice(&len.to_be_bytes());
        v
      }
    }
  }

  /// Queues an ACK/NACK and writes what can be written now.
  fn send_control(&self, cmd: &'static str) {
    let mut out = lock(&self.out);
    if out.closed.is_some() {
      return;
    }
    let frame = self.control_frame(cmd);
    out.control.push_back(frame);
    self.pump_locked(&mut out);
  }

  fn pump_locked(&self, out: &mut Outbox) {
    let before = out.written_seq;
    match out.pump(self.afd.as_raw_fd()) {
      Ok(_) => {
        if out.written_seq != before {
          self.written.notify_waiters();
        }
      }
      Err(e) => {
        out.close(Error::Io(e));
        self.written.notify_waiters();
      }
    }
  }

  fn on_ack(&self, ack: bool) {
    let mut out = lock(&self.out);
    let Some(f) = out.inflight.as_mut() else {
      return;
    };
    if ack {
      let f = out.inflight.take().expect("in flight");
      let _ = f.done.send(Ok(()));
    } else if f.tries < MAX_HANDLE_RETRANSMISSIONS {
      f.tries += 1;
      f.need_send = true;
    } else {
      let f = out.inflight.take().expect("in flight");
      let _ = f.done.send(Err(Error::HandleNotReceived));
    }
    self.pump_locked(&mut out);
  }
}

/// What a frame is: a user message, or one of Node's internal ones.
enum Frame {
  User(Payload),
  Internal {
    cmd: String,
    wire_type: Option<String>,
    msg: Option<Payload>,
  },
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
  hay.windows(needle.len()).any(|w| w == needle)
}

/// Node's test: a non-null object whose `cmd` is a string longer than and
/// starting with `"NODE_"`.
fn is_internal_cmd(cmd: &str) -> bool {
  cmd.len() > 5 && cmd.starts_with("NODE_")
}

fn classify_json(frame: Vec<u8>) -> Frame {
  // Only a frame that spells NODE_ (or could, escaped) needs parsing here.
  if !contains(&frame, b"NODE_") && !contains(&frame, b"\\u") {
    return Frame::User(Payload::Json(frame));
  }
  #[derive(serde::Deserialize)]
  struct Envelope<'a> {
    cmd: Option<serde_json::Value>,
    #[serde(rename = "type")]
    kind: Option<serde_json::Value>,
    #[serde(borrow)]
    msg: Option<&'a RawValue>,
  }
  let parsed = match serde_json::from_slice::<Envelope<'_>>(&frame) {
    Ok(Envelope {
      cmd: Some(serde_json::Value::String(cmd)),
      kind,
      msg,
    }) if is_internal_cmd(&cmd) => Some((
      cmd,
      kind.and_then(|k| k.as_str().map(str::to_owned)),
      msg.map(|m| Payload::Json(m.get().as_bytes().to_vec())),
    )),
    _ => None,
  };
  match parsed {
    Some((cmd, wire_type, msg)) => Frame::Internal {
      cmd,
      wire_type,
      msg,
    },
    None => Frame::User(Payload::Json(frame)),
  }
}

fn classify_v8(frame: Vec<u8>) -> Frame {
  if !contains(&frame, b"NODE_") && !contains(&frame, b"N\0O\0D\0E\0_\0") {
    return Frame::User(Payload::V8(frame));
  }
  let value = match v8::decode(&frame) {
    Ok(v) => v,
    Err(e) => return Frame::User(Payload::Bad(e)),
  };
  if let JsValue::Object(props) = &value {
    let cmd = props.iter().find(|(k, _)| k == "cmd").map(|(_, v)| v);
    if let Some(JsValue::String(cmd)) = cmd {
      if is_internal_cmd(cmd) {
        let cmd = cmd.clone();
        let JsValue::Object(props) = value else {
          unreachable!()
        };
        let mut wire_type = None;
        let mut msg = None;
        for (k, v) in props {
          match (k.as_str(), v) {
            ("type", JsValue::String(s)) => wire_type = Some(s),
            ("msg", v) => msg = Some(Payload::Value(v)),
            _ => {}
          }
        }
        return Frame::Internal {
          cmd,
          wire_type,
          msg,
        };
      }
    }
  }
  Frame::User(Payload::Value(value))
}

fn payload_is_internal(p: &Payload) -> bool {
  match p {
    Payload::Json(b) => matches!(classify_json(b.clone()), Frame::Internal { .. }),
    Payload::Value(JsValue::Object(props)) => props
      .iter()
      .any(|(k, v)| k == "cmd" && matches!(v, JsValue::String(c) if is_internal_cmd(c))),
    _ => false,
  }
}

enum Framer {
  Lines(LineFramer),
  Length(LengthFramer),
}

impl Framer {
  fn push(&mut self, data: &[u8], out: &mut Vec<Vec<u8>>) -> Result<(), FrameError> {
    match self {
      Framer::Lines(f) => f.push_into(data, out),
      Framer::Length(f) => f.push_into(data, out),
    }
  }

  fn buffered(&self) -> usize {
    match self {
      Framer::Lines(f) => f.buffered(),
      Framer::Length(f) => f.buffered(),
    }
  }
}

/// The driver task: reads, dispatches, and writes what senders left queued.
async fn drive(inner: Arc<Inner>) {
  // However the task ends (the loop below, a panic, or the runtime dropping
  // it at shutdown), waiters are released and the peer sees EOF.
  struct Ended(Arc<Inner>);
  impl Drop for Ended {
    fn drop(&mut self) {
      self.0.shut_down();
    }
  }
  let _ended = Ended(inner.clone());
  let mut framer = match inner.mode {
    Serialization::Json => Framer::Lines(LineFramer::new(inner.max_message_size)),
    Serialization::Advanced => Framer::Length(LengthFramer::new(inner.max_message_size)),
  };
  let mut rbuf = vec![0u8; READ_BUFFER];
  let mut raw_fds: Vec<RawFd> = Vec::new();
  let mut fds: VecDeque<OwnedFd> = VecDeque::new();
  let mut frames = Vec::new();
  let mut wafd: Option<AsyncFd<OwnedFd>> = None;
  loop {
    if inner.stop.load(Ordering::Acquire) {
      break;
    }
    let (want_write, awaiting_ack) = {
      let out = lock(&inner.out);
      (out.has_work(), out.inflight.is_some())
    };
    let want_read = awaiting_ack || lock(&inner.inbox).bytes < INBOX_HIGH_WATER;
    if !want_write {
      wafd = None;
    } else if wafd.is_none() {
      match write_registration(&inner) {
        Ok(w) => wafd = Some(w),
        Err(e) => {
          lock(&inner.out).close(Error::Io(e));
          break;
        }
      }
    }
    let writable = async {
      match &wafd {
        Some(w) => w.writable().await,
        None => std::future::pending().await,
      }
    };
    tokio::select! {
      biased;
      _ = inner.out_wake.notified(), if !want_write => {}
      r = writable, if want_write => {
        let Ok(mut guard) = r else { break };
        let mut out = lock(&inner.out);
        let before = out.written_seq;
        match out.pump(inner.afd.as_raw_fd()) {
          Ok(true) => guard.clear_ready(),
          Ok(false) => {}
          Err(e) => {
            out.close(Error::Io(e));
          }
        }
        if out.written_seq != before || out.closed.is_some() {
          inner.written.notify_waiters();
        }
      }
      r = inner.afd.readable(), if want_read => {
        let Ok(mut guard) = r else { break };
        let res = guard.try_io(|afd| {
          sys::recv_with_fds(afd.as_raw_fd(), &mut rbuf, &mut raw_fds).map_err(|e| io::Error::from_raw_os_error(-e))
        });
        let got_fds = !raw_fds.is_empty();
        for fd in raw_fds.drain(..) {
          // SAFETY: recvmsg just installed this fd in our table (close-on-exec); nothing else owns it.
          fds.push_back(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        let n = match res {
          Err(_would_block) => continue,
          Ok(Ok(0)) | Ok(Err(_)) => break,
          Ok(Ok(n)) => n,
        };
        // A short read emptied the socket (unless it stopped at an fd's
        // boundary): skip the recvmsg that would only say EAGAIN. Data
        // arriving later raises a new edge, so no wakeup is lost.
        if n < rbuf.len() && !got_fds {
          guard.clear_ready();
        }
        let result = framer.push(&rbuf[..n], &mut frames);
        for frame in frames.drain(..) {
          dispatch(&inner, frame, &mut fds);
        }
        if let Err(FrameError::TooLarge { limit, seen }) = result {
          inner.deliver(Incoming::Fatal(Error::TooLarge { size: seen, limit }));
          break;
        }
        // An fd belongs to the NODE_HANDLE message read with it; one no
        // message took is closed, unless a message is still arriving.
        if framer.buffered() == 0 {
          fds.clear();
        } else {
          fds.truncate(1);
        }
      }
      _ = inner.inbox_space.notified(), if !want_read => {}
    }
  }
  // EOF, a read error, an oversized message or a drop: the channel is
  // over (`Ended` closes it).
}

/// A second registration of the channel's socket, for writability only
/// (held while writes wait for room).
fn write_registration(inner: &Inner) -> io::Result<AsyncFd<OwnedFd>> {
  let dup =
    sys::dup_cloexec(inner.afd.as_raw_fd()).map_err(|e| io::Error::from_raw_os_error(-e))?;
  // SAFETY: `dup` is a fresh fd owned by the OwnedFd moved into the
  // AsyncFd, open until the AsyncFd is dropped.
  unsafe { AsyncFd::register_with_interest(dup, Interest::WRITABLE) }.map_err(io::Error::from)
}

fn dispatch(inner: &Inner, frame: Vec<u8>, fds: &mut VecDeque<OwnedFd>) {
  let frame = match inner.mode {
    Serialization::Json => classify_json(frame),
    Serialization::Advanced => classify_v8(frame),
  };
  match frame {
    Frame::User(payload) => inner.deliver(Incoming::Message(Message {
      payload,
      handle: None,
    })),
    Frame::Internal {
      cmd,
      wire_type,
      msg,
    } => match cmd.as_str() {
      "NODE_HANDLE" => {
        let Some(fd) = fds.pop_front() else {
          // As Node: no fd arrived with it, ask for it again.
          inner.send_control("NODE_HANDLE_NACK");
          return;
        };
        inner.send_control("NODE_HANDLE_ACK");
        let payload = msg.unwrap_or(Payload::Json(b"null".to_vec()));
        if payload_is_internal(&payload) {
          return; // an internal message with a handle (cluster): not ours
        }
        let handle = Handle::new(wire_type.unwrap_or_default(), fd);
        inner.deliver(Incoming::Message(Message {
          payload,
          handle: Some(handle),
        }));
      }
      "NODE_HANDLE_ACK" => inner.on_ack(true),
      "NODE_HANDLE_NACK" => inner.on_ack(false),
      _ => {} // other internal messages (cluster, ...) are not for the user
    },
  }
}

/// Starts `node <script> [args...]` with a channel, as
/// `child_process.fork(script, args, { serialization })` does. `node` is
/// looked up on `PATH`; use [`Channel::spawn`] for another binary, flags
/// or environment.
///
/// ```no_run
/// # async fn run() -> Result<(), pipewrap_ipc::Error> {
/// let (mut child, channel) = pipewrap_ipc::fork("worker.js", ["--fast"], pipewrap_ipc::Serialization::Json)?;
/// channel.send(&serde_json::json!({ "job": 1 })).await?;
/// let reply = channel.recv_value().await?;
/// channel.disconnect().await?;
/// child.wait().await?;
/// # Ok(()) }
/// ```
pub fn fork<I, S>(
  script: impl AsRef<OsStr>,
  args: I,
  serialization: Serialization,
) -> Result<(tokio::process::Child, Channel), Error>
where
  I: IntoIterator<Item = S>,
  S: AsRef<OsStr>,
{
  let mut cmd = tokio::process::Command::new("node");
  cmd.arg(script).args(args);
  Channel::spawn(&mut cmd, serialization, Options::default())
}
