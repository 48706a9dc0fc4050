//! The stream core: one Unix-socket fd watched by a `uv_poll_t` on Node's own
//! loop. All syscalls and all JS callbacks run on the JS thread, in the order
//! libuv's `stream.c` uses: read before write, callbacks after the syscall,
//! and a re-check of `closing` after every call into JS (a callback may close
//! the handle under us).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::os::unix::io::RawFd;
use std::ptr;
use std::rc::Rc;

use napi::sys::{napi_async_context, napi_env, napi_ref, napi_value};

use crate::env::{self, K_ARRAY_BUFFER_OFFSET, K_READ_BYTES_OR_ERROR};
use crate::js::{self, napi_call};
use crate::uv;
use pipewrap_core::sys;

pub type StreamRef = Rc<RefCell<Stream>>;

/// libuv's end-of-file code.
pub const UV_EOF: i32 = -4095;
/// libuv reads up to 64 KiB per read, and at most 32 reads per event.
const READ_SIZE: usize = 64 * 1024;
const READS_PER_EVENT: usize = 32;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
  Socket = 0,
  Server = 1,
  Ipc = 2,
}

/// Bytes of a queued write: a copy, or (for a single Uint8Array) the caller's
/// own memory, kept alive through `req.buffer` until the request completes.
enum WriteData {
  Owned(Vec<u8>),
  Pinned(*const u8, usize),
}

impl WriteData {
  fn bytes(&self) -> &[u8] {
    match self {
      WriteData::Owned(v) => v,
      // SAFETY: the Uint8Array behind the pointer is referenced by the
      // request (req.buffer), which is referenced until completion; array
      // buffer contents never move.
      WriteData::Pinned(p, len) => unsafe { std::slice::from_raw_parts(*p, *len) },
    }
  }
}

struct QueuedWrite {
  req: napi_ref,
  data: WriteData,
  offset: usize,
  /// fds still to be sent with the first byte of `data` (SCM_RIGHTS).
  send_fds: Vec<RawFd>,
}

/// A finished request whose JS callback is still to be called.
pub struct Completion {
  req: napi_ref,
  status: i32,
}

pub struct Stream {
  pub id: u64,
  pub env: napi_env,
  pub kind: Kind,
  pub fd: RawFd,
  poll: *mut uv::uv_poll_t,
  poll_events: i32,
  pub readable: bool,
  pub writable: bool,
  pub reading: bool,
  pub listening: bool,
  /// Waiting for POLLOUT to learn how a non-blocking connect ended.
  connect_waiting: bool,
  pub closing: bool,
  pub closed: bool,
  /// Torn down by the env cleanup hook: no JS may be called any more.
  torn_down: bool,
  pub refed: bool,
  pub this_ref: napi_ref,
  pub onread: napi_ref,
  async_ctx: napi_async_context,
  connect_req: napi_ref,
  writes: VecDeque<QueuedWrite>,
  pub write_queue_size: usize,
  shutdown_req: napi_ref,
  pub bound_path: Option<Vec<u8>>,
  pub bytes_read: u64,
  pub bytes_written: u64,
  user_buf: napi_ref,
  user_buf_ptr: *mut u8,
  user_buf_len: usize,
  pending_fds: VecDeque<RawFd>,
  close_cb: napi_ref,
  /// pipewrap extension: receive SCM_RIGHTS fds on a plain socket.
  pub fd_passing: bool,
  /// The last read was big: read straight into a fresh ArrayBuffer.
  big_reads: bool,
  /// Queued for the loop's prepare phase, where poll changes are applied.
  poll_dirty: bool,
  /// pipewrap extension: small reads come as slices of a shared pool.
  pub pooled_reads: bool,
}

impl Stream {
  pub fn new(env: napi_env, kind: Kind) -> StreamRef {
    let id = env::with(env, |s| s.next_id());
    Rc::new(RefCell::new(Stream {
      id,
      env,
      kind,
      fd: -1,
      poll: ptr::null_mut(),
      poll_events: 0,
      readable: false,
      writable: false,
      reading: false,
      listening: false,
      connect_waiting: false,
      closing: false,
      closed: false,
      torn_down: false,
      refed: true,
      this_ref: ptr::null_mut(),
      onread: ptr::null_mut(),
      async_ctx: ptr::null_mut(),
      connect_req: ptr::null_mut(),
      writes: VecDeque::new(),
      write_queue_size: 0,
      shutdown_req: ptr::null_mut(),
      bound_path: None,
      bytes_read: 0,
      bytes_written: 0,
      user_buf: ptr::null_mut(),
      user_buf_ptr: ptr::null_mut(),
      user_buf_len: 0,
      pending_fds: VecDeque::new(),
      close_cb: ptr::null_mut(),
      fd_passing: false,
      big_reads: false,
      poll_dirty: false,
      pooled_reads: false,
    }))
  }

  pub fn is_ipc(&self) -> bool {
    self.kind == Kind::Ipc
  }

  /// Remembers the JS object (strongly: an open handle is never collected,
  /// as in Node) and opens the async context its callbacks run in.
  pub fn bind_this(&mut self, this: napi_value) {
    if !self.this_ref.is_null() {
      return;
    }
    self.this_ref = js::new_ref(self.env, this, 1);
    let name = js::string(self.env, "PIPEWRAP");
    napi_call!(napi_async_init(self.env, this, name, &mut self.async_ctx));
  }

  pub fn this(&self) -> napi_value {
    js::ref_value(self.env, self.this_ref)
  }

  /// The poll events this state needs.
  fn wanted_events(&self) -> i32 {
    let mut want = 0;
    if (self.reading && self.readable) || self.listening {
      want |= uv::UV_READABLE;
    }
    if self.connect_waiting || !self.writes.is_empty() || !self.shutdown_req.is_null() {
      want |= uv::UV_WRITABLE;
    }
    want
  }

  /// Notes that the poll may need changing. Like libuv's own watchers, the
  /// change is applied once per loop turn, just before the loop polls
  /// (env.rs's prepare handle calls [`apply_poll`]): a handle opened and
  /// closed within one turn, or a write queue that drains and refills, costs
  /// no epoll_ctl at all, and a socket is only registered (uv_poll_init)
  /// once it first needs an event.
  fn update_poll(&mut self) {
    if self.poll_dirty || self.closing || self.fd < 0 {
      return;
    }
    let want = self.wanted_events();
    let unchanged = if self.poll.is_null() {
      want == 0
    } else {
      want == self.poll_events
    };
    if unchanged {
      return;
    }
    self.poll_dirty = true;
    let id = self.id;
    env::with_existing(|e| e.poll_changed(id));
  }

  /// Empties the write queue: every request completes with `status`.
  fn fail_writes(&mut self, status: i32) -> Vec<Completion> {
    self.write_queue_size = 0;
    self
      .writes
      .drain(..)
      .map(|w| Completion { req: w.req, status })
      .collect()
  }

  pub fn set_reading(&mut self, on: bool) {
    self.reading = on;
    self.update_poll();
  }

  pub fn set_listening(&mut self) {
    self.listening = true;
    self.update_poll();
  }

  /// `ref()` / `unref()`: no effect once closing (as in Node).
  pub fn set_ref(&mut self, on: bool) {
    if !self.closing {
      self.refed = on;
      self.apply_ref();
    }
  }

  pub fn apply_ref(&mut self) {
    if self.poll.is_null() || self.closing {
      return;
    }
    // SAFETY: poll is initialised and not closing.
    unsafe {
      if self.refed {
        uv::uv_ref(self.poll);
      } else {
        uv::uv_unref(self.poll);
      }
    }
  }

  pub fn set_user_buffer(&mut self, buf_ref: napi_ref, ptr: *mut u8, len: usize) {
    js::drop_ref(self.env, &mut self.user_buf);
    self.user_buf = buf_ref;
    self.user_buf_ptr = ptr;
    self.user_buf_len = len;
  }

  fn release_refs(&mut self, env: napi_env) {
    js::drop_ref(env, &mut self.this_ref);
    js::drop_ref(env, &mut self.onread);
    js::drop_ref(env, &mut self.user_buf);
    js::drop_ref(env, &mut self.close_cb);
    js::drop_ref(env, &mut self.connect_req);
    js::drop_ref(env, &mut self.shutdown_req);
    for w in self.writes.iter_mut() {
      js::drop_ref(env, &mut w.req);
    }
    if !self.async_ctx.is_null() {
      napi_call!(napi_async_destroy(env, self.async_ctx));
      self.async_ctx = ptr::null_mut();
    }
  }

  /// Closes the fd and everything received but never handed out. fds 0-2 are
  /// never closed (libuv's rule: they belong to the process).
  fn close_fds(&mut self) {
    if self.fd > 2 {
      sys::close(self.fd);
    }
    self.fd = -1;
    for fd in self.pending_fds.drain(..) {
      sys::close(fd);
    }
  }

  /// Unlinks the path this handle bound, before its fd is closed: after the
  /// close another process may bind the same path, and its file must survive.
  fn unlink_bound_path(&mut self) {
    if let Some(path) = self.bound_path.take() {
      if let Ok(c) = std::ffi::CString::new(path) {
        // SAFETY: c is a valid NUL-terminated path.
        unsafe { libc::unlink(c.as_ptr()) };
      }
    }
  }

  /// Keeps the fds of one recvmsg for the `onread` of its data. On an IPC
  /// pipe a message carries exactly one fd (Node's protocol): extra fds are
  /// closed at once, and one still unclaimed from an earlier read is stale,
  /// so a peer can never make us hoard fds or pair a handle with the wrong
  /// message. (libuv queues them instead.) Fd-passing sockets keep them all.
  fn take_received_fds(&mut self, fds: Vec<RawFd>) {
    if fds.is_empty() {
      return;
    }
    if self.is_ipc() {
      for stale in self.pending_fds.drain(..) {
        sys::close(stale);
      }
      let mut fds = fds.into_iter();
      self.pending_fds.extend(fds.next());
      for extra in fds {
        sys::close(extra);
      }
    } else {
      self.pending_fds.extend(fds);
    }
  }

  pub fn take_pending_fd(&mut self) -> Option<RawFd> {
    self.pending_fds.pop_front()
  }
}

impl Drop for Stream {
  fn drop(&mut self) {
    // Only reachable without close() when the JS object was collected before
    // it ever held an fd or after teardown; never call napi here.
    if self.fd > 2 {
      sys::close(self.fd);
    }
    for fd in self.pending_fds.drain(..) {
      sys::close(fd);
    }
  }
}

/// Starts watching `fd` with a poll handle on this env's loop now, so that
/// an fd the loop cannot watch fails here (open, bind).
pub fn attach_fd(rc: &StreamRef, this: napi_value, fd: RawFd) -> Result<(), i32> {
  let mut s = rc.borrow_mut();
  init_poll(&mut s, rc, fd)?;
  s.fd = fd;
  register(s, rc, this);
  Ok(())
}

/// Adopts a socket pipewrap just made (socket(2), accept4(2)): non-blocking
/// and pollable by construction, so its poll handle is set up lazily, when
/// it first needs an event (see [`Stream::update_poll`]).
pub fn attach_new_socket(rc: &StreamRef, this: napi_value, fd: RawFd) {
  let mut s = rc.borrow_mut();
  s.fd = fd;
  register(s, rc, this);
}

fn register(mut s: std::cell::RefMut<'_, Stream>, rc: &StreamRef, this: napi_value) {
  s.bind_this(this);
  let (id, env) = (s.id, s.env);
  drop(s);
  env::with(env, |e| e.streams.insert(id, rc.clone()));
}

fn init_poll(s: &mut Stream, rc: &StreamRef, fd: RawFd) -> Result<(), i32> {
  let uv_loop = env::with(s.env, |e| e.uv_loop);
  let poll = uv::alloc_handle(uv::UV_POLL);
  if poll.is_null() {
    return Err(-libc::ENOMEM);
  }
  // SAFETY: poll is freshly allocated for UV_POLL; uv_loop is live. On
  // failure libuv has not registered it, so it can be freed directly.
  let err = unsafe { uv::uv_poll_init(uv_loop, poll, fd) };
  if err != 0 {
    // SAFETY: see above: never initialised.
    unsafe { uv::free_handle(poll) };
    return Err(err);
  }
  let data = Rc::into_raw(rc.clone()) as *mut std::os::raw::c_void;
  // SAFETY: poll is initialised; data is reclaimed in on_poll_close.
  unsafe { uv::uv_handle_set_data(poll, data) };
  s.poll = poll;
  s.poll_events = 0;
  s.apply_ref();
  Ok(())
}

/// The prepare phase: brings the poll in line with what the stream needs
/// (see [`Stream::update_poll`]).
pub fn apply_poll(env: napi_env, rc: &StreamRef) {
  let failed = {
    let mut s = rc.borrow_mut();
    s.poll_dirty = false;
    if s.closing || s.fd < 0 {
      return;
    }
    let want = s.wanted_events();
    let fd = s.fd;
    if s.poll.is_null() && want != 0 {
      init_poll(&mut s, rc, fd).err()
    } else {
      None
    }
  };
  if let Some(err) = failed {
    return poll_failed(env, rc, err);
  }
  let mut s = rc.borrow_mut();
  let want = s.wanted_events();
  if s.poll.is_null() || want == s.poll_events {
    return;
  }
  s.poll_events = want;
  // SAFETY: poll is initialised and not closing (checked above).
  unsafe {
    if want == 0 {
      uv::uv_poll_stop(s.poll);
    } else {
      uv::uv_poll_start(s.poll, want, on_poll);
    }
  }
}

/// The loop cannot watch the socket (no memory for the handle or in the
/// kernel): everything waiting on an event fails with `err` instead of
/// waiting forever.
fn poll_failed(env: napi_env, rc: &StreamRef, err: i32) {
  let (connecting, writes, listening) = {
    let mut s = rc.borrow_mut();
    let connecting = std::mem::replace(&mut s.connect_waiting, false);
    (connecting, s.fail_writes(err), s.listening)
  };
  if connecting {
    complete_connect(env, rc, err);
  }
  for c in writes {
    complete_write(env, rc, c);
  }
  let shutdown_req = std::mem::replace(&mut rc.borrow_mut().shutdown_req, ptr::null_mut());
  if !shutdown_req.is_null() {
    complete_shutdown(env, rc, shutdown_req, err);
  }
  if listening {
    report_accept_error(env, rc, err);
  } else if rc.borrow().reading {
    read_stopped(env, rc, err);
  }
}

/// A clone of the stream behind a poll handle's data pointer.
///
/// # Safety
/// `handle` is a poll handle set up by `attach_fd` whose close callback has
/// not yet run (so the Rc it owns is alive).
unsafe fn stream_of(handle: *mut uv::uv_poll_t) -> StreamRef {
  // SAFETY: per the contract, data is an Rc<RefCell<Stream>> from into_raw.
  unsafe {
    let data = uv::uv_handle_get_data(handle) as *const RefCell<Stream>;
    Rc::increment_strong_count(data);
    Rc::from_raw(data)
  }
}

unsafe extern "C" fn on_poll(handle: *mut uv::uv_poll_t, status: i32, events: i32) {
  // SAFETY: libuv only calls this for live, started poll handles.
  let rc = unsafe { stream_of(handle) };
  let env = rc.borrow().env;
  let _scope = js::HandleScope::open(env);
  let mut events = events;
  if status < 0 {
    // libuv reports POLLERR (e.g. a reset by the peer) as UV_EBADF and stops
    // the poll. Re-arm, and let the syscalls below surface the real errno.
    let mut s = rc.borrow_mut();
    events = s.poll_events;
    s.poll_events = 0;
    s.update_poll();
  }
  if events & uv::UV_READABLE != 0 {
    let (listening, connecting) = {
      let s = rc.borrow();
      (s.listening, !s.connect_req.is_null())
    };
    if listening {
      accept_ready(env, &rc);
    } else if !connecting {
      // As in libuv, nothing is read before the connect callback has run;
      // the level-triggered poll reports the data again next turn.
      read_ready(env, &rc);
    }
  }
  if events & uv::UV_WRITABLE != 0 && !rc.borrow().closing {
    write_ready(env, &rc);
  }
}

fn call_on_this(
  env: napi_env,
  rc: &StreamRef,
  func: napi_value,
  args: &[napi_value],
) -> napi_value {
  if !js::is_function(env, func) {
    return ptr::null_mut();
  }
  call_checked(env, rc, func, args)
}

/// `onread` with `this` = the handle. The setter only accepts functions, so
/// the per-read type check is a null check here.
fn call_onread(env: napi_env, rc: &StreamRef, args: &[napi_value]) -> napi_value {
  let onread = rc.borrow().onread;
  if onread.is_null() {
    return ptr::null_mut();
  }
  call_checked(env, rc, js::ref_value(env, onread), args)
}

fn call_checked(
  env: napi_env,
  rc: &StreamRef,
  func: napi_value,
  args: &[napi_value],
) -> napi_value {
  let (this, ctx) = {
    let s = rc.borrow();
    (s.this(), s.async_ctx)
  };
  if this.is_null() {
    return ptr::null_mut();
  }
  js::make_callback(env, ctx, this, func, args)
}

fn deliver_read_error(env: napi_env, rc: &StreamRef, err: i32) {
  env::set_state(env, K_READ_BYTES_OR_ERROR, err);
  env::set_state(env, K_ARRAY_BUFFER_OFFSET, 0);
  call_onread(env, rc, &[js::undefined(env)]);
}

thread_local! {
  /// Scratch buffer for small reads, whose bytes are then copied into an
  /// ArrayBuffer of their exact size.
  static READ_BUF: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_SIZE]);
}

/// After a read at least this big, the next read asks the kernel how much is
/// waiting (FIONREAD) and, if it is this much again, reads it straight into
/// an ArrayBuffer of that exact size: no copy and no slack, for one extra
/// cheap syscall. Smaller reads go through the scratch buffer and a copy.
const BIG_READ: usize = 16 * 1024;
/// A fresh ArrayBuffer of `len` bytes for the kernel to fill, without the
/// zero-fill napi_create_arraybuffer does (for 64 KiB reads that memset cost
/// as much as the kernel's copy): napi_create_buffer allocates uninitialised
/// memory (node::Buffer::New), and its ArrayBuffer is exactly `len` long.
fn new_read_array_buffer(env: napi_env, len: usize) -> Option<(napi_value, *mut u8)> {
  let mut buf = ptr::null_mut();
  let mut data = ptr::null_mut();
  let status = napi_call!(napi_create_buffer(env, len, &mut data, &mut buf));
  if status != napi::sys::Status::napi_ok || buf.is_null() || data.is_null() {
    return new_array_buffer(env, len);
  }
  let mut ab = ptr::null_mut();
  let mut ab_data = ptr::null_mut();
  let mut view_len = 0;
  let mut offset = 0;
  let mut kind = 0;
  let status = napi_call!(napi_get_typedarray_info(
    env,
    buf,
    &mut kind,
    &mut view_len,
    &mut ab_data,
    &mut ab,
    &mut offset
  ));
  if status != napi::sys::Status::napi_ok || ab.is_null() || offset != 0 || view_len != len {
    return new_array_buffer(env, len);
  }
  let mut ab_len = 0;
  let mut base = ptr::null_mut();
  napi_call!(napi_get_arraybuffer_info(env, ab, &mut base, &mut ab_len));
  if ab_len != len || base.is_null() {
    return new_array_buffer(env, len);
  }
  Some((ab, base as *mut u8))
}

/// A fresh ArrayBuffer of `len` bytes and its data, or None if the env can
/// no longer run JS (teardown).
fn new_array_buffer(env: napi_env, len: usize) -> Option<(napi_value, *mut u8)> {
  let mut data = ptr::null_mut();
  let mut ab = ptr::null_mut();
  let status = napi_call!(napi_create_arraybuffer(env, len, &mut data, &mut ab));
  if status != napi::sys::Status::napi_ok || data.is_null() || ab.is_null() {
    return None;
  }
  Some((ab, data as *mut u8))
}

enum ReadOutcome {
  /// n > 0 bytes, in `ab` from byte offset `off`.
  Data(usize, napi_value, usize),
  /// EOF (Ok(0)) or an errno.
  Stopped(i32),
  /// JS can no longer run: stop reading quietly.
  NoJs,
}

/// One read(2)/recvmsg(2) into `buf`, keeping any fds that came with it.
fn read_into(s: &mut Stream, buf: &mut [u8], with_fds: bool) -> Result<usize, i32> {
  if with_fds {
    let mut fds = Vec::new();
    let r = sys::recv_with_fds(s.fd, buf, &mut fds);
    s.take_received_fds(fds);
    r
  } else {
    sys::read(s.fd, buf)
  }
}

/// Reads into the scratch buffer and copies what came into an exact-size
/// ArrayBuffer, or (after a big read) straight into a fresh one.
fn read_to_array_buffer(env: napi_env, s: &mut Stream, with_fds: bool) -> ReadOutcome {
  let direct = if s.big_reads {
    match sys::bytes_available(s.fd) {
      Ok(avail) if avail >= BIG_READ => Some(avail.min(READ_SIZE)),
      _ => None,
    }
  } else {
    None
  };
  let outcome = if let Some(len) = direct {
    let Some((ab, data)) = new_read_array_buffer(env, len) else {
      return ReadOutcome::NoJs;
    };
    // SAFETY: data is len bytes owned by ab, which stays alive on this
    // frame's handle scope; no JS runs during the syscall.
    let buf = unsafe { std::slice::from_raw_parts_mut(data, len) };
    match read_into(s, buf, with_fds) {
      Ok(0) => ReadOutcome::Stopped(UV_EOF),
      // Only this reader drains the socket, so what FIONREAD counted is
      // still there: n == len. Should it ever come short, copy what came.
      Ok(n) if n == len => ReadOutcome::Data(n, ab, 0),
      Ok(n) => match new_array_buffer(env, n) {
        Some((exact, dst)) => {
          // SAFETY: dst has n fresh bytes; data holds at least n.
          unsafe { ptr::copy_nonoverlapping(data, dst, n) };
          ReadOutcome::Data(n, exact, 0)
        }
        None => ReadOutcome::NoJs,
      },
      Err(e) => ReadOutcome::Stopped(e),
    }
  } else {
    let pooled = s.pooled_reads;
    READ_BUF.with(|b| {
      let mut b = b.borrow_mut();
      match read_into(s, &mut b[..], with_fds) {
        Ok(0) => ReadOutcome::Stopped(UV_EOF),
        Ok(n) => {
          let slot = if pooled && n <= env::POOLED_READ_MAX {
            env::with(env, |e| e.read_pool_slice(n))
          } else {
            new_array_buffer(env, n).map(|(ab, data)| (ab, data, 0))
          };
          match slot {
            Some((ab, data, off)) => {
              // SAFETY: data has n writable bytes (fresh, or a pool slice
              // no one else was given); b holds at least n.
              unsafe { ptr::copy_nonoverlapping(b.as_ptr(), data, n) };
              ReadOutcome::Data(n, ab, off)
            }
            None => ReadOutcome::NoJs,
          }
        }
        Err(e) => ReadOutcome::Stopped(e),
      }
    })
  };
  if let ReadOutcome::Data(n, ..) = outcome {
    s.big_reads = n >= BIG_READ;
  }
  outcome
}

fn read_ready(env: napi_env, rc: &StreamRef) {
  for _ in 0..READS_PER_EVENT {
    let mut s = rc.borrow_mut();
    if s.closing || !s.reading || s.fd < 0 {
      return;
    }
    let with_fds = s.is_ipc() || s.fd_passing;
    if !s.user_buf.is_null() {
      // SAFETY: user_buf_ptr/len describe a Uint8Array kept alive by the
      // user_buf reference; JS cannot run during this syscall.
      let buf = unsafe { std::slice::from_raw_parts_mut(s.user_buf_ptr, s.user_buf_len) };
      let buf_len = buf.len();
      let res = read_into(&mut s, buf, with_fds);
      drop(s);
      let n = match res {
        Ok(n) if n > 0 => n,
        Ok(_) => return read_stopped(env, rc, UV_EOF),
        Err(e) => return read_stopped(env, rc, e),
      };
      rc.borrow_mut().bytes_read += n as u64;
      env::set_state(env, K_READ_BYTES_OR_ERROR, n as i32);
      env::set_state(env, K_ARRAY_BUFFER_OFFSET, 0);
      set_pending_handles(env, rc);
      let next = call_onread(env, rc, &[js::undefined(env)]);
      // Returning a Buffer from onread switches the buffer for the next read.
      if !next.is_null() {
        if let Some((p, len)) = js::uint8_bytes(env, next) {
          let r = js::new_ref(env, next, 1);
          rc.borrow_mut().set_user_buffer(r, p, len);
        }
      }
      if n < buf_len {
        return;
      }
      continue;
    }
    let outcome = read_to_array_buffer(env, &mut s, with_fds);
    if matches!(outcome, ReadOutcome::NoJs) {
      s.set_reading(false);
      return;
    }
    drop(s);
    match outcome {
      ReadOutcome::Data(n, ab, off) => {
        rc.borrow_mut().bytes_read += n as u64;
        env::set_state(env, K_READ_BYTES_OR_ERROR, n as i32);
        env::set_state(env, K_ARRAY_BUFFER_OFFSET, off as i32);
        set_pending_handles(env, rc);
        call_onread(env, rc, &[ab]);
        if n < READ_SIZE {
          return;
        }
      }
      ReadOutcome::Stopped(e) => return read_stopped(env, rc, e),
      ReadOutcome::NoJs => return,
    }
  }
}

/// EOF or a read error: reading stops and `onread(undefined)` reports it.
/// EAGAIN is not an error: the poll fires again when data arrives.
fn read_stopped(env: napi_env, rc: &StreamRef, err: i32) {
  if err == -libc::EAGAIN || err == -libc::EINTR {
    return;
  }
  {
    let mut s = rc.borrow_mut();
    if err == UV_EOF {
      s.readable = false;
    }
    s.set_reading(false);
  }
  deliver_read_error(env, rc, err);
}

/// On an IPC pipe, hands one received fd to JS as `pendingHandle` before the
/// `onread` that carries its message (Node's contract). On an fd-passing
/// socket, hands all received fds as `pendingFds`.
fn set_pending_handles(env: napi_env, rc: &StreamRef) {
  let (ipc, fd_passing, this) = {
    let s = rc.borrow();
    if s.pending_fds.is_empty() {
      return;
    }
    (s.is_ipc(), s.fd_passing, s.this())
  };
  if ipc {
    let fd = rc.borrow_mut().take_pending_fd();
    if let Some(fd) = fd {
      let handle = crate::pipe::wrap_received_fd(env, fd);
      js::set(env, this, c"pendingHandle", handle);
    }
  } else if fd_passing {
    let fds: Vec<RawFd> = rc.borrow_mut().pending_fds.drain(..).collect();
    let mut arr = ptr::null_mut();
    napi_call!(napi_create_array_with_length(env, fds.len(), &mut arr));
    for (i, fd) in fds.iter().enumerate() {
      napi_call!(napi_set_element(env, arr, i as u32, js::int(env, *fd)));
    }
    js::set(env, this, c"pendingFds", arr);
  }
}

/// One connection per poll event, as libuv does: the level-triggered poll
/// reports the next one on the next turn, so a lone connection costs no
/// extra accept(2) that can only fail with EAGAIN.
fn accept_ready(env: napi_env, rc: &StreamRef) {
  loop {
    let fd = {
      let s = rc.borrow();
      if s.closing || !s.listening {
        return;
      }
      s.fd
    };
    match sys::accept(fd) {
      Ok(client_fd) => match crate::pipe::new_accepted(env, client_fd) {
        Ok(client) => {
          let this = rc.borrow().this();
          let onconnection = js::get(env, this, c"onconnection");
          if js::is_function(env, onconnection) {
            call_on_this(env, rc, onconnection, &[js::int(env, 0), client]);
          } else {
            crate::pipe::close_value(env, client);
          }
        }
        Err(e) => report_accept_error(env, rc, e),
      },
      Err(e) if e == -libc::EAGAIN || e == -libc::EINTR => {}
      Err(e) if e == -libc::ECONNABORTED => continue,
      Err(e) if e == -libc::EMFILE || e == -libc::ENFILE => {
        // libuv's trick: give up the spare fd, accept and drop everything
        // that is queued (so the level-triggered poll does not spin), then
        // take the spare again. The server keeps running.
        if !emfile_trick(env, fd) {
          report_accept_error(env, rc, e);
        }
      }
      Err(e) => report_accept_error(env, rc, e),
    }
    return;
  }
}

/// `onconnection(status, undefined)`, as Node reports accept errors.
fn report_accept_error(env: napi_env, rc: &StreamRef, err: i32) {
  let this = rc.borrow().this();
  let onconnection = js::get(env, this, c"onconnection");
  call_on_this(
    env,
    rc,
    onconnection,
    &[js::int(env, err), js::undefined(env)],
  );
}

/// Returns true when the spare fd was available and the queue was drained.
fn emfile_trick(env: napi_env, listen_fd: RawFd) -> bool {
  let spare = env::with(env, |e| std::mem::replace(&mut e.reserve_fd, -1));
  if spare < 0 {
    return false;
  }
  sys::close(spare);
  while let Ok(fd) = sys::accept(listen_fd) {
    sys::close(fd);
  }
  let again = open_reserve_fd();
  env::with(env, |e| e.reserve_fd = again);
  true
}

pub fn open_reserve_fd() -> RawFd {
  // SAFETY: a constant, NUL-terminated path.
  unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) }
}

fn write_ready(env: napi_env, rc: &StreamRef) {
  let waiting = rc.borrow().connect_waiting;
  if waiting {
    let status = {
      let mut s = rc.borrow_mut();
      s.connect_waiting = false;
      let st = sys::socket_error(s.fd);
      s.update_poll();
      st
    };
    complete_connect(env, rc, status);
    if rc.borrow().closing {
      return;
    }
  }
  drain_queue(env, rc);
}

/// Sends what the socket takes of the write queue, completes what went out,
/// and finishes a shutdown that was waiting for the queue.
fn drain_queue(env: napi_env, rc: &StreamRef) {
  for c in flush_writes(rc) {
    complete_write(env, rc, c);
  }
  maybe_finish_shutdown(env, rc);
}

/// At most this many queued writes go out in one writev(2).
const WRITEV_MAX: usize = 64;

/// Writes as much of the queue as the socket takes, consecutive plain
/// writes coalesced into one writev(2) (a write carrying fds goes alone, as
/// its SCM_RIGHTS must ride with its own first byte); returns the finished
/// requests (their callbacks run after the borrow is released).
fn flush_writes(rc: &StreamRef) -> Vec<Completion> {
  let mut guard = rc.borrow_mut();
  let s = &mut *guard;
  let mut done = Vec::new();
  while let Some(front) = s.writes.front() {
    let res = if !front.send_fds.is_empty() {
      sys::send_with_fds(s.fd, &front.data.bytes()[front.offset..], &front.send_fds)
    } else if s.writes.len() == 1 || !s.writes[1].send_fds.is_empty() {
      sys::write(s.fd, &front.data.bytes()[front.offset..])
    } else {
      let iov: Vec<libc::iovec> = s
        .writes
        .iter()
        .take(WRITEV_MAX)
        .enumerate()
        .take_while(|(i, w)| *i == 0 || w.send_fds.is_empty())
        .map(|(_, w)| {
          let rest = &w.data.bytes()[w.offset..];
          libc::iovec {
            iov_base: rest.as_ptr() as *mut std::os::raw::c_void,
            iov_len: rest.len(),
          }
        })
        .collect();
      sys::writev(s.fd, &iov)
    };
    match res {
      Ok(mut n) => {
        s.write_queue_size -= n;
        // Retire every write the kernel took whole; the next one may be
        // partly written.
        while let Some(w) = s.writes.front_mut() {
          w.send_fds.clear();
          let left = w.data.bytes().len() - w.offset;
          if n < left {
            w.offset += n;
            break;
          }
          n -= left;
          let w = s.writes.pop_front().expect("front exists");
          done.push(Completion {
            req: w.req,
            status: 0,
          });
          if n == 0 {
            break;
          }
        }
        if s.writes.front().is_some_and(|w| w.offset > 0) {
          break; // the socket is full
        }
      }
      Err(e) if e == -libc::EAGAIN || e == -libc::EINTR => break,
      // The socket is broken: every queued write fails the same way.
      Err(e) => done.extend(s.fail_writes(e)),
    }
  }
  s.update_poll();
  done
}

/// Calls `req.oncomplete(status, handle, undefined)` (if the request has one)
/// and drops the request.
pub fn complete_write(env: napi_env, rc: &StreamRef, mut c: Completion) {
  let req = js::ref_value(env, c.req);
  js::drop_ref(env, &mut c.req);
  if req.is_null() {
    return;
  }
  let (this, ctx) = {
    let s = rc.borrow();
    (s.this(), s.async_ctx)
  };
  let oncomplete = js::get(env, req, c"oncomplete");
  if js::is_function(env, oncomplete) {
    let args = [js::int(env, c.status), this, js::undefined(env)];
    js::make_callback(env, ctx, req, oncomplete, &args);
  }
}

fn maybe_finish_shutdown(env: napi_env, rc: &StreamRef) {
  let (req, status) = {
    let mut s = rc.borrow_mut();
    if s.shutdown_req.is_null() || !s.writes.is_empty() || s.closing || s.connect_waiting {
      return;
    }
    let status = match sys::shutdown_write(s.fd) {
      Ok(()) => 0,
      Err(e) => e,
    };
    let req = std::mem::replace(&mut s.shutdown_req, ptr::null_mut());
    s.update_poll();
    (req, status)
  };
  complete_shutdown(env, rc, req, status);
}

fn complete_shutdown(env: napi_env, rc: &StreamRef, mut req_ref: napi_ref, status: i32) {
  let req = js::ref_value(env, req_ref);
  js::drop_ref(env, &mut req_ref);
  let (this, ctx) = {
    let s = rc.borrow();
    (s.this(), s.async_ctx)
  };
  let oncomplete = js::get(env, req, c"oncomplete");
  if js::is_function(env, oncomplete) {
    let args = [js::int(env, status), this, js::undefined(env)];
    js::make_callback(env, ctx, req, oncomplete, &args);
  }
}

/// Dispatches a connect. Completion is always asynchronous, as in libuv:
/// immediate results are delivered on the next loop turn.
pub fn start_connect(rc: &StreamRef, env: napi_env, req: napi_value, name: &[u8]) -> i32 {
  let res = {
    let s = rc.borrow();
    sys::connect(s.fd, name)
  };
  let mut s = rc.borrow_mut();
  s.connect_req = js::new_ref(env, req, 1);
  s.readable = true;
  s.writable = true;
  match res {
    // A Unix socket that connect(2) accepted is connected: no need to wait
    // for POLLOUT and ask SO_ERROR (libuv does, one epoll round trip and
    // four syscalls later). The callback still comes where libuv's would,
    // after the poll phase of the next turn (so after, say, the server's
    // accept of this very connection in the same process), never sooner.
    Ok(()) => {
      let rc2 = rc.clone();
      drop(s);
      env::with(env, |e| {
        e.defer_after_poll(Box::new(move |env| connected(env, &rc2)))
      });
    }
    // In progress: learned on POLLOUT, in the poll phase.
    Err(e) if e == -libc::EINPROGRESS => {
      s.connect_waiting = true;
      s.update_poll();
    }
    Err(status) => {
      let rc2 = rc.clone();
      drop(s);
      env::with(env, |e| {
        e.defer(Box::new(move |env| complete_connect(env, &rc2, status)))
      });
    }
  }
  0
}

/// An immediately successful connect completes, then anything queued while
/// it was pending goes out (as after POLLOUT).
fn connected(env: napi_env, rc: &StreamRef) {
  complete_connect(env, rc, 0);
  if !rc.borrow().closing {
    drain_queue(env, rc);
  }
}

/// A connect that could not even start (no socket): reported on the next turn.
pub fn fail_connect_later(rc: &StreamRef, env: napi_env, req: napi_value, status: i32) {
  rc.borrow_mut().connect_req = js::new_ref(env, req, 1);
  let rc2 = rc.clone();
  env::with(env, |e| {
    e.defer(Box::new(move |env| complete_connect(env, &rc2, status)))
  });
}

fn complete_connect(env: napi_env, rc: &StreamRef, status: i32) {
  let (mut req_ref, readable, writable) = {
    let mut s = rc.borrow_mut();
    if s.closing || s.connect_req.is_null() {
      // close() cancels it (ECANCELED) from its own callback.
      return;
    }
    if status != 0 {
      s.readable = false;
      s.writable = false;
    }
    let req = std::mem::replace(&mut s.connect_req, ptr::null_mut());
    s.update_poll();
    (req, s.readable, s.writable)
  };
  let req = js::ref_value(env, req_ref);
  js::drop_ref(env, &mut req_ref);
  let (this, ctx) = {
    let s = rc.borrow();
    (s.this(), s.async_ctx)
  };
  let oncomplete = js::get(env, req, c"oncomplete");
  if js::is_function(env, oncomplete) {
    let args = [
      js::int(env, status),
      this,
      req,
      js::boolean(env, readable),
      js::boolean(env, writable),
    ];
    js::make_callback(env, ctx, req, oncomplete, &args);
  }
}

/// The write path shared by every `write*` method: try the syscall at once
/// when nothing is queued, queue (a copy of) whatever is left, and report
/// through `streamBaseState` whether a callback will follow.
pub fn write(
  rc: &StreamRef,
  env: napi_env,
  req: napi_value,
  bufs: &[&[u8]],
  send_fds: &[RawFd],
  pin: Option<napi_value>,
) -> i32 {
  let mut s = rc.borrow_mut();
  if s.fd < 0 {
    return -libc::EBADF;
  }
  if s.closing {
    return -libc::EINVAL;
  }
  if !s.writable {
    return -libc::EPIPE;
  }
  let total: usize = bufs.iter().map(|b| b.len()).sum();
  s.bytes_written += total as u64;
  env::set_state(env, env::K_BYTES_WRITTEN, total as i32);
  let mut written = 0usize;
  let mut fds_sent = send_fds.is_empty();
  if s.writes.is_empty() && !s.connect_waiting && s.connect_req.is_null() {
    let res = match send_fds {
      [_, ..] => {
        let joined;
        let data: &[u8] = if bufs.len() == 1 {
          bufs[0]
        } else {
          joined = bufs.concat();
          &joined
        };
        sys::send_with_fds(s.fd, data, send_fds)
      }
      [] if bufs.len() == 1 => sys::write(s.fd, bufs[0]),
      [] => {
        let iov: Vec<libc::iovec> = bufs
          .iter()
          .map(|b| libc::iovec {
            iov_base: b.as_ptr() as *mut libc::c_void,
            iov_len: b.len(),
          })
          .collect();
        sys::writev(s.fd, &iov)
      }
    };
    match res {
      Ok(n) => {
        written = n;
        fds_sent = true;
      }
      Err(e) if e == -libc::EAGAIN || e == -libc::EINTR => {}
      Err(e) => return e,
    }
    if written == total && send_fds.is_empty() {
      env::set_state(env, env::K_LAST_WRITE_WAS_ASYNC, 0);
      return 0;
    }
  }
  env::set_state(env, env::K_LAST_WRITE_WAS_ASYNC, 1);
  let req_ref = js::new_ref(env, req, 1);
  if written == total {
    // A handle write that went out at once: like uv_write2, its callback
    // still comes on the next loop turn.
    let rc2 = rc.clone();
    drop(s);
    env::with(env, |e| {
      e.defer(Box::new(move |env| {
        if !rc2.borrow().closing {
          complete_write(
            env,
            &rc2,
            Completion {
              req: req_ref,
              status: 0,
            },
          )
        }
      }))
    });
    return 0;
  }
  let data = match pin {
    Some(holder) if bufs.len() == 1 => {
      // Keep the caller's bytes instead of copying them: the request holds
      // the buffer, as Node's own write requests do.
      js::set(env, req, c"buffer", holder);
      WriteData::Pinned(bufs[0][written..].as_ptr(), total - written)
    }
    _ => {
      let mut rest = Vec::with_capacity(total - written);
      let mut skip = written;
      for b in bufs {
        if skip >= b.len() {
          skip -= b.len();
          continue;
        }
        rest.extend_from_slice(&b[skip..]);
        skip = 0;
      }
      WriteData::Owned(rest)
    }
  };
  s.write_queue_size += total - written;
  s.writes.push_back(QueuedWrite {
    req: req_ref,
    data,
    offset: 0,
    send_fds: if fds_sent {
      Vec::new()
    } else {
      send_fds.to_vec()
    },
  });
  s.update_poll();
  0
}

/// pipewrap extension: `data` with `fds` attached, on any Unix socket.
pub fn send_fds(rc: &StreamRef, env: napi_env, req: napi_value, data: &[u8], fds: &[RawFd]) -> i32 {
  write(rc, env, req, &[data], fds, None)
}

pub fn shutdown(rc: &StreamRef, env: napi_env, req: napi_value) -> i32 {
  let mut s = rc.borrow_mut();
  if s.closing || s.fd < 0 || !s.writable || !s.shutdown_req.is_null() {
    return -libc::ENOTCONN;
  }
  s.writable = false;
  s.shutdown_req = js::new_ref(env, req, 1);
  // The shutdown(2) itself runs on the next POLLOUT once the queue is empty.
  s.update_poll();
  0
}

/// `close([cb])`: unlink the bound path, close the fd now, and finish (cancel
/// pending requests, call `cb`) in libuv's close phase.
pub fn close(rc: &StreamRef, env: napi_env, this: napi_value, cb: napi_value) {
  let mut s = rc.borrow_mut();
  if s.closing {
    return;
  }
  s.closing = true;
  if s.this_ref.is_null() {
    s.this_ref = js::new_ref(env, this, 1);
  }
  if js::is_function(env, cb) {
    s.close_cb = js::new_ref(env, cb, 1);
  }
  s.reading = false;
  s.listening = false;
  s.unlink_bound_path();
  let poll = std::mem::replace(&mut s.poll, ptr::null_mut());
  if !poll.is_null() {
    // SAFETY: poll is initialised and not yet closing. Closing it before the
    // fd takes the fd out of epoll while the number is still ours; libuv
    // calls on_poll_close (which takes back the Rc in its data) later, in
    // its close phase, never from here.
    unsafe { uv::uv_close(poll, Some(on_poll_close)) };
  }
  s.close_fds();
  drop(s);
  if poll.is_null() {
    let rc2 = rc.clone();
    env::with(env, |e| {
      e.defer(Box::new(move |env| finish_close(env, &rc2)))
    });
  }
}

unsafe extern "C" fn on_poll_close(handle: *mut uv::uv_handle_t) {
  // SAFETY: data is the Rc stored by attach_fd; this is its single release.
  let rc = unsafe { Rc::from_raw(uv::uv_handle_get_data(handle) as *const RefCell<Stream>) };
  // SAFETY: libuv is done with the handle in its close callback.
  unsafe { uv::free_handle(handle) };
  if rc.borrow().torn_down {
    return;
  }
  let env = rc.borrow().env;
  let _scope = js::HandleScope::open(env);
  finish_close(env, &rc);
}

/// The close phase: pending requests complete with ECANCELED, then the close
/// callback runs with no arguments, then every reference is released.
fn finish_close(env: napi_env, rc: &StreamRef) {
  let (connect_req, writes, shutdown_req, mut close_cb, this, ctx, id) = {
    let mut s = rc.borrow_mut();
    if s.closed || s.torn_down {
      return;
    }
    s.closed = true;
    let writes: Vec<napi_ref> = s.writes.drain(..).map(|w| w.req).collect();
    s.write_queue_size = 0;
    (
      std::mem::replace(&mut s.connect_req, ptr::null_mut()),
      writes,
      std::mem::replace(&mut s.shutdown_req, ptr::null_mut()),
      std::mem::replace(&mut s.close_cb, ptr::null_mut()),
      s.this(),
      s.async_ctx,
      s.id,
    )
  };
  let canceled = -libc::ECANCELED;
  if !connect_req.is_null() {
    let req = js::ref_value(env, connect_req);
    let oncomplete = js::get(env, req, c"oncomplete");
    if js::is_function(env, oncomplete) {
      let f = js::boolean(env, false);
      let args = [js::int(env, canceled), this, req, f, f];
      js::make_callback(env, ctx, req, oncomplete, &args);
    }
    let mut r = connect_req;
    js::drop_ref(env, &mut r);
  }
  for req in writes {
    complete_write(
      env,
      rc,
      Completion {
        req,
        status: canceled,
      },
    );
  }
  if !shutdown_req.is_null() {
    complete_shutdown(env, rc, shutdown_req, canceled);
  }
  if !close_cb.is_null() {
    let cb = js::ref_value(env, close_cb);
    js::drop_ref(env, &mut close_cb);
    js::make_callback(env, ctx, this, cb, &[]);
  }
  rc.borrow_mut().release_refs(env);
  env::with_existing(|e| e.streams.remove(&id));
}

/// Env teardown: close without calling JS, release references now.
pub fn teardown(env: napi_env, rc: &StreamRef) {
  let mut s = rc.borrow_mut();
  if s.torn_down {
    return;
  }
  s.torn_down = true;
  s.release_refs(env);
  for w in s.writes.drain(..) {
    drop(w.data);
  }
  s.unlink_bound_path();
  let poll = std::mem::replace(&mut s.poll, ptr::null_mut());
  let already_closing = s.closing;
  s.closing = true;
  if !poll.is_null() && !already_closing {
    // SAFETY: as in close(): the poll is initialised and not yet closing;
    // it leaves epoll before the fd closes; the callback only frees.
    unsafe { uv::uv_close(poll, Some(on_poll_close)) };
  }
  s.close_fds();
}
