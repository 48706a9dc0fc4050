//! The socket state machine behind one pipewrap handle, free of Node.
//!
//! It owns the fd, performs the syscalls libuv's `stream.c` would, and keeps
//! every request in one ordered queue: requests are keyed by the caller's
//! [`ReqId`], and each one finishes exactly once, in order, as a
//! [`Completion`] the caller takes with [`StreamCore::take_completion`]. Close
//! included: [`StreamCore::close`] turns everything still pending into
//! `ECANCELED` completions behind those already finished, so nothing is
//! dropped. The caller (the addon's delivery layer) decides when to hand
//! completions to JS; this module never calls out.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::queue::Queue;
use crate::sys;

/// libuv's end-of-file code.
pub const UV_EOF: i32 = -4095;
/// Poll interest bits (libuv's values).
pub const READABLE: i32 = 1;
pub const WRITABLE: i32 = 2;

/// The caller's key for a request.
pub type ReqId = u64;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
  Socket = 0,
  Server = 1,
  Ipc = 2,
}

/// How a request ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Done {
  Connect {
    status: i32,
    readable: bool,
    writable: bool,
  },
  Write {
    status: i32,
  },
  Shutdown {
    status: i32,
  },
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Completion {
  pub req: ReqId,
  pub done: Done,
}

/// How a connect started.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ConnectStart {
  /// connect(2) succeeded at once (a Unix socket connect that the kernel
  /// accepted is complete); the caller picks when to [`StreamCore::finish_connect`].
  Connected,
  /// In progress: POLLOUT will tell ([`StreamCore::on_writable`]).
  InProgress,
  /// Failed at once with this errno; reported asynchronously all the same.
  Failed(i32),
}

/// How a write started.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum WriteStart {
  /// Every byte went out now and no callback follows (Node's sync write).
  Sync,
  /// A completion will follow, in queue order.
  Async,
}

/// What a read produced.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReadResult {
  Data(usize),
  /// Nothing to read now; the level-triggered poll will say when.
  Again,
  /// EOF (`UV_EOF`) or an errno: reading has stopped.
  Stopped(i32),
}

/// An fd the stream holds. fds 0-2 belong to the process, and libuv never
/// closes them; every other fd is owned and closed on drop.
enum SockFd {
  Owned(OwnedFd),
  Stdio(RawFd),
}

impl SockFd {
  fn raw(&self) -> RawFd {
    match self {
      SockFd::Owned(fd) => fd.as_raw_fd(),
      SockFd::Stdio(fd) => *fd,
    }
  }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ConnectState {
  Idle,
  /// connect(2) returned EINPROGRESS: waiting for POLLOUT.
  Waiting(ReqId),
  /// The outcome is known; the caller delivers it when its timing allows.
  Decided(ReqId, i32),
}

/// Where a queued write's bytes live.
enum Payload {
  /// A copy the stream owns.
  Owned(Vec<u8>),
  /// The caller's memory (a JS buffer), `len` bytes long when queued. The
  /// stream keeps no pointer to it: every flush asks the caller's [`Lender`]
  /// for it again, and a buffer that is gone or changed size fails the
  /// write with `EFAULT` instead of sending freed memory.
  Lent { len: usize },
}

/// Looks up the bytes of a lent write (see [`StreamCore::write_lent`]) for
/// the duration of one flush.
pub type Lender<'l> = dyn FnMut(ReqId) -> Option<&'l [u8]> + 'l;

struct QueuedWrite {
  req: ReqId,
  data: Payload,
  /// Bytes of `data` already sent.
  offset: usize,
  /// fds to send with the first byte (SCM_RIGHTS): the stream's own
  /// duplicates, closed once that byte went out or the write failed, so
  /// the caller closing its fd (and the number being reused) before the
  /// flush cannot send another file.
  fds: Vec<OwnedFd>,
}

impl QueuedWrite {
  fn len(&self) -> usize {
    match &self.data {
      Payload::Owned(v) => v.len(),
      Payload::Lent { len } => *len,
    }
  }

  /// What is left to send, or None if lent memory is gone.
  fn rest<'s, 'l: 's>(&'s self, lend: &mut Lender<'l>) -> Option<&'s [u8]> {
    match &self.data {
      Payload::Owned(v) => Some(&v[self.offset..]),
      Payload::Lent { len } => lend(self.req)
        .filter(|b| b.len() == *len)
        .map(|b| &b[self.offset..]),
    }
  }
}

/// What one flush syscall did (see `StreamCore::send_front`).
enum Sent {
  /// The kernel took this many bytes.
  Bytes(usize),
  /// Nothing queued.
  Nothing,
  /// EAGAIN: the socket is full.
  Full,
  /// Queued write `i`'s lent memory is gone.
  Gone(usize),
  /// The socket failed with this errno.
  Broken(i32),
}

/// At most this many queued writes go out in one writev(2).
const WRITEV_MAX: usize = 64;

pub struct StreamCore {
  kind: Kind,
  fd: Option<SockFd>,
  pub readable: bool,
  pub writable: bool,
  reading: bool,
  listening: bool,
  closing: bool,
  /// pipewrap extension: keep SCM_RIGHTS fds on a plain socket.
  pub fd_passing: bool,
  connect: ConnectState,
  writes: Queue<QueuedWrite>,
  shutdown: Option<ReqId>,
  completed: Queue<Completion>,
  write_queue_size: usize,
  bytes_read: u64,
  bytes_written: u64,
  bound_path: Option<Vec<u8>>,
  pending_fds: Queue<OwnedFd>,
}

/// Takes ownership of `fd` (or not, for 0-2).
fn sock_fd(fd: RawFd) -> SockFd {
  if fd <= 2 {
    SockFd::Stdio(fd)
  } else {
    // SAFETY: the caller hands over an open fd it no longer uses (a socket
    // it just made, accepted or received, or one JS passed to `open`, which
    // libuv likewise takes over).
    SockFd::Owned(unsafe { OwnedFd::from_raw_fd(fd) })
  }
}

impl StreamCore {
  pub fn new(kind: Kind) -> Self {
    StreamCore {
      kind,
      fd: None,
      readable: false,
      writable: false,
      reading: false,
      listening: false,
      closing: false,
      fd_passing: false,
      connect: ConnectState::Idle,
      writes: Queue::new(),
      shutdown: None,
      completed: Queue::new(),
      write_queue_size: 0,
      bytes_read: 0,
      bytes_written: 0,
      bound_path: None,
      pending_fds: Queue::new(),
    }
  }

  pub fn is_ipc(&self) -> bool {
    self.kind == Kind::Ipc
  }
  /// The fd, or -1.
  pub fn fd(&self) -> RawFd {
    self.fd.as_ref().map_or(-1, SockFd::raw)
  }
  pub fn has_fd(&self) -> bool {
    self.fd.is_some()
  }
  pub fn is_closing(&self) -> bool {
    self.closing
  }
  pub fn is_listening(&self) -> bool {
    self.listening
  }
  /// A connect was started and its callback has not been delivered.
  pub fn is_connecting(&self) -> bool {
    self.connect != ConnectState::Idle
  }
  pub fn write_queue_size(&self) -> usize {
    self.write_queue_size
  }
  pub fn bytes_read(&self) -> u64 {
    self.bytes_read
  }
  pub fn bytes_written(&self) -> u64 {
    self.bytes_written
  }
  pub fn has_completions(&self) -> bool {
    !self.completed.is_empty()
  }

  /// Takes over `fd` (see [`sock_fd`]). The stream must hold none yet.
  pub fn adopt(&mut self, fd: RawFd) {
    debug_assert!(self.fd.is_none());
    self.fd = Some(sock_fd(fd));
  }

  /// Remembers the path bound, to unlink it at close.
  pub fn set_bound_path(&mut self, path: Vec<u8>) {
    self.bound_path = Some(path);
  }
  pub fn bound_path(&self) -> Option<&[u8]> {
    self.bound_path.as_deref()
  }

  /// The poll events this state needs ([`READABLE`] | [`WRITABLE`]).
  pub fn wanted_events(&self) -> i32 {
    if self.closing || self.fd.is_none() {
      return 0;
    }
    let mut want = 0;
    if (self.reading && self.readable) || self.listening {
      want |= READABLE;
    }
    let waiting_connect = matches!(self.connect, ConnectState::Waiting(_));
    let can_write = self.connect == ConnectState::Idle;
    if waiting_connect || (can_write && (!self.writes.is_empty() || self.shutdown.is_some())) {
      want |= WRITABLE;
    }
    want
  }

  pub fn read_start(&mut self) -> i32 {
    if self.closing {
      return -libc::EINVAL;
    }
    if self.fd.is_none() || !self.readable {
      return -libc::ENOTCONN;
    }
    self.reading = true;
    0
  }

  pub fn read_stop(&mut self) {
    self.reading = false;
  }

  pub fn listen(&mut self, backlog: i32) -> i32 {
    if self.closing || self.fd.is_none() || self.is_ipc() {
      return -libc::EINVAL;
    }
    match sys::listen(self.fd(), backlog) {
      Ok(()) => {
        self.listening = true;
        0
      }
      Err(e) => e,
    }
  }

  /// Starts a connect on the socket this stream holds. On a stream already
  /// closing (closed by an async hook as it opened) the request is
  /// cancelled, to complete with the close like every other request.
  pub fn connect(&mut self, req: ReqId, name: &[u8]) -> ConnectStart {
    if self.closing {
      self.cancel_connect(req);
      return ConnectStart::Failed(-libc::ECANCELED);
    }
    let start = match sys::connect(self.fd(), name) {
      Ok(()) => ConnectStart::Connected,
      Err(e) if e == -libc::EINPROGRESS => ConnectStart::InProgress,
      Err(e) => ConnectStart::Failed(e),
    };
    self.readable = true;
    self.writable = true;
    self.connect = match start {
      ConnectStart::Connected => ConnectState::Decided(req, 0),
      ConnectStart::InProgress => ConnectState::Waiting(req),
      ConnectStart::Failed(e) => ConnectState::Decided(req, e),
    };
    start
  }

  /// A connect that could not even start (no socket): fails with `status`.
  pub fn connect_failed_early(&mut self, req: ReqId, status: i32) {
    if self.closing {
      return self.cancel_connect(req);
    }
    self.connect = ConnectState::Decided(req, status);
  }

  fn cancel_connect(&mut self, req: ReqId) {
    self.completed.push_back(Completion {
      req,
      done: Done::Connect {
        status: -libc::ECANCELED,
        readable: false,
        writable: false,
      },
    });
  }

  /// Delivers a decided connect into the completion queue (no-op if none is
  /// decided, e.g. close cancelled it). On failure the queued writes are
  /// cancelled behind it, as libuv does after the connect callback.
  pub fn finish_connect(&mut self) {
    let ConnectState::Decided(req, status) = self.connect else {
      return;
    };
    self.connect = ConnectState::Idle;
    if status != 0 {
      self.readable = false;
      self.writable = false;
    }
    self.completed.push_back(Completion {
      req,
      done: Done::Connect {
        status,
        readable: self.readable,
        writable: self.writable,
      },
    });
    if status != 0 {
      self.cancel_writes(-libc::ECANCELED);
    }
  }

  /// The next finished request, in the order the requests were made.
  pub fn take_completion(&mut self) -> Option<Completion> {
    self.completed.pop_front()
  }

  fn cancel_writes(&mut self, status: i32) {
    self.write_queue_size = 0;
    for w in self.writes.take_all() {
      self.completed.push_back(Completion {
        req: w.req,
        done: Done::Write { status },
      });
    }
  }

  /// Checks a write may start and counts its bytes.
  fn admit(&mut self, total: usize) -> Result<(), i32> {
    if self.fd.is_none() {
      return Err(-libc::EBADF);
    }
    if self.closing {
      return Err(-libc::EINVAL);
    }
    if !self.writable {
      return Err(-libc::EPIPE);
    }
    self.bytes_written += total as u64;
    Ok(())
  }

  /// As uv_try_write: the syscall at once, only with nothing queued and no
  /// connect pending. Returns the bytes the kernel took (0 when it could
  /// not try, or on EAGAIN).
  fn try_now(&mut self, bufs: &[&[u8]], fds: &[OwnedFd]) -> Result<Option<usize>, i32> {
    if !self.writes.is_empty() || self.connect != ConnectState::Idle {
      return Ok(None);
    }
    let fd = self.fd();
    let raw: Vec<RawFd> = fds.iter().map(AsRawFd::as_raw_fd).collect();
    let res = match (&raw[..], bufs) {
      ([_, ..], [one]) => sys::send_with_fds(fd, one, &raw),
      ([_, ..], _) => sys::send_with_fds(fd, &bufs.concat(), &raw),
      ([], [one]) => sys::write(fd, one),
      ([], _) => sys::writev(fd, &iovecs(bufs.iter().copied())),
    };
    match res {
      Ok(n) => Ok(Some(n)),
      Err(e) if e == -libc::EAGAIN || e == -libc::EINTR => Ok(None),
      Err(e) => Err(e),
    }
  }

  /// `write`: tries the syscall at once when nothing is queued; what the
  /// socket does not take now is copied and queued. `fds` are the caller's
  /// duplicates (see `sys::dup_cloexec`), closed once sent or failed.
  pub fn write(
    &mut self,
    req: ReqId,
    bufs: &[&[u8]],
    fds: Vec<OwnedFd>,
  ) -> Result<WriteStart, i32> {
    let total: usize = bufs.iter().map(|b| b.len()).sum();
    self.admit(total)?;
    let sent = self.try_now(bufs, &fds)?;
    let written = sent.unwrap_or(0);
    if sent.is_some() && written == total {
      if fds.is_empty() {
        return Ok(WriteStart::Sync);
      }
      // A handle write that went out at once still calls back (uv_write2).
      self.completed.push_back(Completion {
        req,
        done: Done::Write { status: 0 },
      });
      return Ok(WriteStart::Async);
    }
    let mut data = Vec::with_capacity(total - written);
    let mut skip = written;
    for b in bufs {
      if skip >= b.len() {
        skip -= b.len();
        continue;
      }
      data.extend_from_slice(&b[skip..]);
      skip = 0;
    }
    self.write_queue_size += data.len();
    self.writes.push_back(QueuedWrite {
      req,
      data: Payload::Owned(data),
      offset: 0,
      // Sent with the first byte, or still to send.
      fds: if sent.is_some() { Vec::new() } else { fds },
    });
    Ok(WriteStart::Async)
  }

  /// Like [`StreamCore::write`] for one buffer the caller keeps alive until
  /// the write completes (a pinned JS buffer): what the socket does not take
  /// now is queued without a copy, and read again through the [`Lender`]
  /// passed to each flush.
  pub fn write_lent(&mut self, req: ReqId, bytes: &[u8]) -> Result<WriteStart, i32> {
    self.admit(bytes.len())?;
    let sent = self.try_now(&[bytes], &[])?;
    let written = sent.unwrap_or(0);
    if sent.is_some() && written == bytes.len() {
      return Ok(WriteStart::Sync);
    }
    self.write_queue_size += bytes.len() - written;
    self.writes.push_back(QueuedWrite {
      req,
      data: Payload::Lent { len: bytes.len() },
      offset: written,
      fds: Vec::new(),
    });
    Ok(WriteStart::Async)
  }

  /// `shutdown`: half-closes once every queued write has gone out.
  pub fn shutdown(&mut self, req: ReqId) -> i32 {
    if self.closing || self.fd.is_none() || !self.writable || self.shutdown.is_some() {
      return -libc::ENOTCONN;
    }
    self.writable = false;
    self.shutdown = Some(req);
    0
  }

  /// POLLOUT: settles a pending connect, else sends what the socket takes.
  /// Returns true when a connect was settled: the caller delivers it, then
  /// calls [`StreamCore::flush`] (libuv writes only after the connect
  /// callback has run).
  pub fn on_writable(&mut self, lend: &mut Lender<'_>) -> bool {
    if let ConnectState::Waiting(req) = self.connect {
      let status = sys::socket_error(self.fd());
      self.connect = ConnectState::Decided(req, status);
      self.finish_connect();
      return true;
    }
    self.flush(lend);
    false
  }

  /// Sends as much of the write queue as the socket takes, consecutive plain
  /// writes coalesced into one writev(2) (a write carrying fds goes alone:
  /// its SCM_RIGHTS must ride with its own first byte); then a shutdown
  /// waiting for the empty queue. Lent bytes are looked up through `lend`
  /// for this call only.
  pub fn flush(&mut self, lend: &mut Lender<'_>) {
    if self.closing || self.fd.is_none() || self.connect != ConnectState::Idle {
      return;
    }
    loop {
      match self.send_front(lend) {
        Sent::Bytes(n) => {
          if !self.retire(n) {
            break; // partly written: the socket is full
          }
        }
        Sent::Full | Sent::Nothing => break,
        // A lent buffer detached or resized since it was written: that
        // write fails alone (EFAULT), the ones before it went out first.
        Sent::Gone(i) => self.fail_write(i, -libc::EFAULT),
        // The socket is broken: every queued write fails the same way.
        Sent::Broken(e) => self.cancel_writes(e),
      }
    }
    self.shutdown_if_drained();
  }

  /// One syscall for the front of the write queue: the consecutive plain
  /// writes there (up to WRITEV_MAX) in one writev(2), or a write carrying
  /// fds alone, with its SCM_RIGHTS.
  fn send_front(&self, lend: &mut Lender<'_>) -> Sent {
    let Some(first) = self.writes.front() else {
      return Sent::Nothing;
    };
    let with_fds = !first.fds.is_empty();
    let batch = if with_fds {
      1
    } else {
      let plain = self.writes.iter().take(WRITEV_MAX);
      plain.take_while(|w| w.fds.is_empty()).count()
    };
    let mut bufs = Vec::with_capacity(batch);
    for (i, w) in self.writes.iter().take(batch).enumerate() {
      match w.rest(lend) {
        Some(b) => bufs.push(b),
        None if bufs.is_empty() => return Sent::Gone(i),
        None => break, // send the ones before it first
      }
    }
    let fd = self.fd();
    let res = match bufs.as_slice() {
      [one] if with_fds => {
        let fds: Vec<RawFd> = first.fds.iter().map(AsRawFd::as_raw_fd).collect();
        sys::send_with_fds(fd, one, &fds)
      }
      [one] => sys::write(fd, one),
      _ => sys::writev(fd, &iovecs(bufs.iter().copied())),
    };
    match res {
      Ok(n) => Sent::Bytes(n),
      Err(e) if e == -libc::EAGAIN || e == -libc::EINTR => Sent::Full,
      Err(e) => Sent::Broken(e),
    }
  }

  /// A shutdown that nothing has to go before (no connect pending, nothing
  /// queued) half-closes now, without waiting for POLLOUT. Returns whether
  /// one did (its completion is then queued).
  pub fn shutdown_if_idle(&mut self) -> bool {
    if self.closing
      || self.fd.is_none()
      || self.connect != ConnectState::Idle
      || self.shutdown.is_none()
      || !self.writes.is_empty()
    {
      return false;
    }
    self.shutdown_if_drained();
    true
  }

  /// A shutdown waiting for the empty queue half-closes now.
  fn shutdown_if_drained(&mut self) {
    if !self.writes.is_empty() {
      return;
    }
    if let Some(req) = self.shutdown.take() {
      let status = sys::shutdown_write(self.fd()).err().unwrap_or(0);
      self.completed.push_back(Completion {
        req,
        done: Done::Shutdown { status },
      });
    }
  }

  /// Takes queued write `i` out of the queue, failed with `status`.
  fn fail_write(&mut self, i: usize, status: i32) {
    if let Some(w) = self.writes.remove(i) {
      self.write_queue_size -= w.len() - w.offset;
      self.completed.push_back(Completion {
        req: w.req,
        done: Done::Write { status },
      });
    }
  }

  /// Retires the writes the kernel took whole out of `n` bytes; false when
  /// the front one was only partly written.
  fn retire(&mut self, mut n: usize) -> bool {
    self.write_queue_size -= n;
    while let Some(w) = self.writes.front_mut() {
      w.fds.clear();
      let left = w.len() - w.offset;
      if n < left {
        w.offset += n;
        return false;
      }
      n -= left;
      let req = w.req;
      self.writes.pop_front();
      self.completed.push_back(Completion {
        req,
        done: Done::Write { status: 0 },
      });
      if n == 0 {
        break;
      }
    }
    true
  }

  /// The loop cannot watch the socket: everything waiting on an event fails
  /// with `err` instead of waiting forever. Returns whether a read or accept
  /// was waiting (the caller reports that too).
  pub fn watch_failed(&mut self, err: i32) -> bool {
    if let ConnectState::Waiting(req) = self.connect {
      self.connect = ConnectState::Decided(req, err);
      self.finish_connect();
    }
    self.cancel_writes(err);
    if let Some(req) = self.shutdown.take() {
      self.completed.push_back(Completion {
        req,
        done: Done::Shutdown { status: err },
      });
    }
    let waiting = self.reading || self.listening;
    self.reading = false;
    waiting
  }

  /// Bytes waiting to be read (FIONREAD), 0 if unknown.
  pub fn bytes_available(&self) -> usize {
    sys::bytes_available(self.fd()).unwrap_or(0)
  }

  /// One read(2) (or recvmsg(2) where fds may come) into `buf`. EOF and
  /// errors stop reading; EAGAIN does not.
  pub fn read(&mut self, buf: &mut [u8]) -> ReadResult {
    if self.closing || !self.reading || self.fd.is_none() {
      return ReadResult::Again;
    }
    let res = if self.is_ipc() || self.fd_passing {
      let mut fds = Vec::new();
      let r = sys::recv_with_fds(self.fd(), buf, &mut fds);
      self.keep_received_fds(fds);
      r
    } else {
      sys::read(self.fd(), buf)
    };
    match res {
      Ok(0) => {
        self.readable = false;
        self.reading = false;
        ReadResult::Stopped(UV_EOF)
      }
      Ok(n) => {
        self.bytes_read += n as u64;
        ReadResult::Data(n)
      }
      Err(e) if e == -libc::EAGAIN || e == -libc::EINTR => ReadResult::Again,
      Err(e) => {
        self.reading = false;
        ReadResult::Stopped(e)
      }
    }
  }

  /// Keeps the fds of one recvmsg for the read of its data. On an IPC pipe
  /// a message carries exactly one fd (Node's protocol): extra fds are
  /// closed at once, and one still unclaimed from an earlier read is stale,
  /// so a peer can never make us hoard fds or pair a handle with the wrong
  /// message. (libuv queues them instead.) Fd-passing sockets keep them all.
  fn keep_received_fds(&mut self, fds: Vec<RawFd>) {
    if fds.is_empty() {
      return;
    }
    // Owned at once, so every fd not kept below is closed on drop.
    // SAFETY: the kernel just installed these fds in this process for us.
    let owned: Vec<OwnedFd> = fds
      .into_iter()
      .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
      .collect();
    if self.is_ipc() {
      self.pending_fds.clear();
      self.pending_fds.extend(owned.into_iter().take(1));
    } else {
      self.pending_fds.extend(owned);
    }
  }

  /// The next fd received and not yet handed out.
  pub fn take_pending_fd(&mut self) -> Option<OwnedFd> {
    self.pending_fds.pop_front()
  }
  pub fn has_pending_fds(&self) -> bool {
    !self.pending_fds.is_empty()
  }

  /// One accept4(2) on a listening socket.
  pub fn accept(&self) -> Result<OwnedFd, i32> {
    if self.closing || !self.listening {
      return Err(-libc::EAGAIN);
    }
    // SAFETY: accept4 returned a fresh fd that nothing else owns.
    sys::accept(self.fd()).map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
  }

  /// Accepts and drops every connection queued now (libuv's EMFILE trick,
  /// with a spare fd given up by the caller first).
  pub fn drop_queued_connections(&self) {
    while let Ok(fd) = sys::accept(self.fd()) {
      sys::close(fd);
    }
  }

  /// `close`: unlinks the bound path, closes the fd and every fd received
  /// but not handed out, and cancels every pending request (ECANCELED,
  /// queued behind what already finished, connect first, shutdown last, as
  /// in libuv's `uv__stream_destroy`). A second call does nothing.
  pub fn close(&mut self) {
    if self.closing {
      return;
    }
    self.closing = true;
    self.reading = false;
    self.listening = false;
    let canceled = -libc::ECANCELED;
    if let ConnectState::Waiting(req) | ConnectState::Decided(req, _) = self.connect {
      self.connect = ConnectState::Idle;
      self.completed.push_front(Completion {
        req,
        done: Done::Connect {
          status: canceled,
          readable: false,
          writable: false,
        },
      });
    }
    self.cancel_writes(canceled);
    if let Some(req) = self.shutdown.take() {
      self.completed.push_back(Completion {
        req,
        done: Done::Shutdown { status: canceled },
      });
    }
    // Unlink before the fd closes: after the close another process may
    // bind the same path, and its file must survive.
    if let Some(path) = self.bound_path.take() {
      if path.first() != Some(&0) {
        sys::unlink(&path);
      }
    }
    self.fd = None;
    self.pending_fds.clear();
  }
}

fn iovecs<'a>(bufs: impl Iterator<Item = &'a [u8]>) -> Vec<libc::iovec> {
  bufs
    .map(|b| libc::iovec {
      iov_base: b.as_ptr() as *mut libc::c_void,
      iov_len: b.len(),
    })
    .collect()
}
