//! The I/O driver: the libuv poll that watches each fd, the reads, writes,
//! accepts and connects it triggers, and every call from native code into
//! JS (the delivery of their results). Events come from the state machine
//! (`pipewrap_core::stream`); each is taken out under a short borrow, the
//! borrow is released, and only then is JS called. After every call into JS
//! the state is looked at afresh: a callback may have closed the handle,
//! queued writes or detached any buffer.
//!
//! Timing follows libuv: I/O callbacks in the poll phase (read before
//! write), completions of requests that finished at once on the next loop
//! turn, a connect that connect(2) accepted after the next poll phase, and
//! the close callback in the close phase after every request still queued
//! has completed.

use std::os::fd::RawFd;
use std::ptr;

use napi::sys::{napi_env, napi_value};
use pipewrap_core::stream::{ConnectStart, Done, ReadResult};

use crate::buffers::{self, K_ARRAY_BUFFER_OFFSET, K_READ_BYTES_OR_ERROR};
use crate::callbacks::{self, HandleState, Outcome};
use crate::env;
use crate::js;
use crate::os::handles;
use crate::os::stream::{self, Stream, StreamRef};
use crate::uv;

/// libuv reads up to 64 KiB per read, and at most 32 reads per event.
const READ_SIZE: usize = 64 * 1024;
const READS_PER_EVENT: usize = 32;

// ---------------------------------------------------------------------------
// The poll handle's lifecycle.

/// Adopts `fd` and starts watching it with a poll handle now, so that an fd
/// the loop cannot watch (or watches already: libuv's EEXIST) fails here.
/// `bound` is the path `fd` was bound to (unlinked by close). Runs JS last
/// (async hooks, see [`bind_js`]): the handle may be closed on return.
pub fn attach_fd(
  rc: &StreamRef,
  this: napi_value,
  fd: RawFd,
  bound: Option<Vec<u8>>,
) -> Result<(), i32> {
  {
    let mut s = rc.borrow_mut();
    init_poll(&mut s, fd)?;
    s.core.adopt(fd);
    if let Some(path) = bound {
      s.core.set_bound_path(path);
    }
  }
  stream::register(rc);
  bind_js(rc, this);
  Ok(())
}

/// Adopts a socket pipewrap just made (socket(2), accept(2)): non-blocking
/// and pollable by construction, so its poll handle is set up when it first
/// needs an event (see [`update_poll`]). Runs JS last (async hooks, see
/// [`bind_js`]): the handle may be closed on return.
pub fn attach_new_socket(rc: &StreamRef, this: napi_value, fd: RawFd) {
  {
    let mut s = rc.borrow_mut();
    s.core.adopt(fd);
    s.own_socket = true;
  }
  stream::register(rc);
  bind_js(rc, this);
}

pub use crate::callbacks::bind_js;

/// A `Pipe` object around a connected socket (accepted by us, or received
/// over IPC: not `own_socket`, its blocking mode is the sender's), open and
/// bound (async hooks run: see [`bind_js`]).
fn connected_pipe(
  env: napi_env,
  fd: std::os::fd::OwnedFd,
  accepted: bool,
) -> Result<(napi_value, StreamRef), i32> {
  let (obj, rc) = handles::new_connected_pipe(env, fd)?;
  rc.borrow_mut().own_socket = accepted;
  stream::register(&rc);
  bind_js(&rc, obj);
  Ok((obj, rc))
}

fn init_poll(s: &mut Stream, fd: RawFd) -> Result<(), i32> {
  let poll = match s.own_socket.then(|| take_spare_poll(fd)).flatten() {
    Some(poll) => poll,
    None => new_poll(s.env(), fd)?,
  };
  // The handle carries the stream's id, not a pointer: every callback
  // looks the stream up in the registry, which teardown empties.
  // SAFETY: poll is initialised.
  unsafe { uv::uv_handle_set_data(poll, s.id as usize as *mut std::os::raw::c_void) };
  s.poll = poll;
  s.poll_events = 0;
  s.apply_ref();
  Ok(())
}

/// A fresh poll handle for `fd`. uv_poll_init checks the fd is pollable
/// (an epoll_ctl ADD and DEL), makes it non-blocking (FIONBIO) and clears
/// stale events (another DEL): libuv's EEXIST and EPERM rules for fds
/// from elsewhere.
fn new_poll(env: js::RefEnv, fd: RawFd) -> Result<*mut uv::uv_poll_t, i32> {
  let uv_loop = env::uv_loop(env.no_js());
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
  Ok(poll)
}

// ---------------------------------------------------------------------------
// Spare poll handles.
//
// A connection's two sockets each cost uv_poll_init three epoll_ctl and an
// ioctl that a socket pipewrap made itself does not need answered. libuv's
// poll handle knows its fd only by number, and a closed socket's number is
// the next socket's (the lowest free one): so the stopped poll handle of a
// closed own socket is kept by number and given to the next own socket
// that gets that number. Stopped means out of epoll (uv_poll_stop
// invalidates the fd at once), before the fd is closed.

const SPARE_POLLS_MAX: usize = 64;

thread_local! {
  static SPARE_POLLS: std::cell::RefCell<std::collections::HashMap<RawFd, *mut uv::uv_poll_t>> =
    std::cell::RefCell::new(std::collections::HashMap::new());
}

fn take_spare_poll(fd: RawFd) -> Option<*mut uv::uv_poll_t> {
  SPARE_POLLS.with(|p| p.borrow_mut().remove(&fd))
}

/// Stops `poll` (the fd leaves epoll now) and keeps it for the next own
/// socket numbered `fd`; false if there is no room (the caller closes it).
fn keep_spare_poll(env: napi_env, fd: RawFd, poll: *mut uv::uv_poll_t, active: bool) -> bool {
  let kept = SPARE_POLLS.with(|p| {
    let mut p = p.borrow_mut();
    if p.len() >= SPARE_POLLS_MAX || p.contains_key(&fd) {
      return None;
    }
    if active {
      // SAFETY: poll is initialised, not closing; stopping removes the fd
      // from epoll before the caller closes it (a stopped one is out).
      unsafe { uv::uv_poll_stop(poll) };
    }
    p.insert(fd, poll);
    Some(p.len() == 1)
  });
  match kept {
    Some(first) => {
      if first && !SPARES_HOOKED.with(|h| h.replace(true)) {
        env::on_teardown(env, Box::new(close_spare_polls));
      }
      true
    }
    None => false,
  }
}

thread_local! {
  static SPARES_HOOKED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Env teardown: the spare handles close (their callback only frees).
fn close_spare_polls(_env: napi_env) {
  let spares: Vec<_> = SPARE_POLLS.with(|p| p.borrow_mut().drain().map(|(_, h)| h).collect());
  for poll in spares {
    // SAFETY: a stopped, initialised handle nobody else holds.
    unsafe { uv::uv_close(poll, Some(uv::close_and_free)) };
  }
  SPARES_HOOKED.with(|h| h.set(false));
}

/// Finishes a close in libuv's close phase, as closing the poll handle
/// would have: through a handle of no cost (an idle handle, no syscall)
/// closed for the purpose. False if there is no memory for it.
fn close_phase_callback(env: napi_env, id: u64) -> bool {
  let handle = uv::alloc_handle(uv::UV_IDLE);
  if handle.is_null() {
    return false;
  }
  // SAFETY: fresh memory for an idle handle on this env's loop; closed at
  // once, its close callback (on_poll_close) frees it.
  unsafe {
    uv::uv_idle_init(env::uv_loop(env), handle);
    uv::uv_handle_set_data(handle, id as usize as *mut std::os::raw::c_void);
    uv::uv_close(handle, Some(on_poll_close));
  }
  true
}

fn stream_of_handle(handle: *mut uv::uv_handle_t) -> (u64, Option<StreamRef>) {
  // SAFETY: every poll handle carries its stream's id (init_poll).
  let id = unsafe { uv::uv_handle_get_data(handle) } as usize as u64;
  (id, stream::lookup(id))
}

/// Notes that the poll may need changing. Like libuv's own watchers, the
/// change is applied once per loop turn, just before the loop polls: a
/// handle opened and closed within one turn, or a write queue that drains
/// and refills, costs no epoll_ctl at all.
pub fn update_poll(s: &mut Stream) {
  if s.poll_dirty || s.core.is_closing() || !s.core.has_fd() {
    return;
  }
  let want = s.core.wanted_events();
  let unchanged = if s.poll.is_null() {
    want == 0
  } else {
    want == s.poll_events
  };
  if unchanged {
    return;
  }
  s.poll_dirty = true;
  let id = s.id;
  env::before_poll(s.env().no_js(), apply_poll, id);
}

/// The prepare phase: brings the poll in line with what the stream needs.
/// Runs outside any handle scope (see `env::before_poll`).
fn apply_poll(env: napi_env, id: u64) {
  let Some(rc) = stream::lookup(id) else {
    return;
  };
  watch(env, &rc);
}

/// Brings the poll handle in line with the events the stream wants.
fn watch(env: napi_env, rc: &StreamRef) {
  let failed = {
    let mut s = rc.borrow_mut();
    s.poll_dirty = false;
    let want = s.core.wanted_events();
    let fd = s.core.fd();
    if s.core.is_closing() || fd < 0 {
      return;
    }
    if s.poll.is_null() && want != 0 {
      init_poll(&mut s, fd).err()
    } else {
      None
    }
  };
  if let Some(err) = failed {
    return watch_failed(env, rc, err);
  }
  let err = {
    let mut s = rc.borrow_mut();
    let want = s.core.wanted_events();
    if s.poll.is_null() || want == s.poll_events {
      return;
    }
    // SAFETY: poll is initialised and not closing (checked above).
    let err = unsafe {
      if want == 0 {
        uv::uv_poll_stop(s.poll)
      } else {
        uv::uv_poll_start(s.poll, want, on_poll)
      }
    };
    if err == 0 {
      s.poll_events = want;
    }
    err
  };
  // epoll_ctl refused the fd (ENOMEM, ENOSPC at the user watch limit, ...):
  // what waits on an event would never get one.
  if err != 0 {
    watch_failed(env, rc, err);
  }
}

/// The loop cannot watch the socket (no memory for the handle or in the
/// kernel): everything waiting on an event fails with `err`.
fn watch_failed(env: napi_env, rc: &StreamRef, err: i32) {
  // Reached from the prepare phase with no scope open (`apply_poll`).
  let _scope = js::HandleScope::open(env);
  let (waiting, listening) = {
    let mut s = rc.borrow_mut();
    let listening = s.core.is_listening();
    (s.core.watch_failed(err), listening)
  };
  deliver_completions(env, rc);
  if listening {
    report_accept_error(env, rc, err);
  } else if waiting {
    deliver_read_error(env, rc, err);
  }
}

// SAFETY (callers): libuv calls this on the loop thread with a poll handle
// it keeps alive for the call; only its data (a stream id) is read.
unsafe extern "C" fn on_poll(handle: *mut uv::uv_poll_t, status: i32, events: i32) {
  let (_, Some(rc)) = stream_of_handle(handle) else {
    return;
  };
  let env = callbacks::env_of(&rc);
  let _scope = js::HandleScope::open(env);
  let _in_poll = InPollPhase::enter();
  let mut events = events;
  if status < 0 {
    // libuv reports POLLERR (e.g. a reset by the peer) as UV_EBADF and stops
    // the poll. Re-arm, and let the syscalls below surface the real errno.
    let mut s = rc.borrow_mut();
    events = s.poll_events;
    s.poll_events = 0;
    update_poll(&mut s);
  }
  if events & uv::UV_READABLE != 0 {
    let (listening, connecting) = {
      let s = rc.borrow();
      (s.core.is_listening(), s.core.is_connecting())
    };
    if listening {
      accept_ready(env, &rc);
    } else if !connecting {
      // As in libuv, nothing is read before the connect callback has run;
      // the level-triggered poll reports the data again next turn.
      read_ready(env, &rc);
    }
  }
  // A read callback may have closed the handle: as in libuv, the rest of
  // this event is dropped and what was queued completes in the close phase.
  if events & uv::UV_WRITABLE != 0 && !rc.borrow().core.is_closing() {
    write_ready(env, &rc);
  }
}

// ---------------------------------------------------------------------------
// Calling JS.

/// Hands every finished request to JS, in order: `req.oncomplete(status,
/// handle, ...)`. Each is taken out under a borrow and called without one,
/// so a callback may close the handle or write again.
pub fn deliver_completions(env: napi_env, rc: &StreamRef) {
  loop {
    let (c, req) = {
      let mut s = rc.borrow_mut();
      if s.torn_down {
        return;
      }
      let Some(c) = s.core.take_completion() else {
        break;
      };
      let ref_env = s.env();
      let req = s.js.take_req(ref_env, c.req);
      (c, req)
    };
    let (status, outcome) = match c.done {
      Done::Connect {
        status,
        readable,
        writable,
      } => (status, Outcome::Connected { readable, writable }),
      Done::Write { status } | Done::Shutdown { status } => (status, Outcome::Done),
    };
    callbacks::complete(env, rc, req, status, outcome);
  }
  // A callback may have queued more work: update the poll once.
  let mut s = rc.borrow_mut();
  update_poll(&mut s);
}

thread_local! {
  /// How deep we are in our own poll callbacks (see [`finish_soon`]).
  static POLL_DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Marks the span of a poll callback (nested ones included).
struct InPollPhase;

impl InPollPhase {
  fn enter() -> Self {
    POLL_DEPTH.with(|d| d.set(d.get() + 1));
    InPollPhase
  }
}

impl Drop for InPollPhase {
  fn drop(&mut self) {
    POLL_DEPTH.with(|d| d.set(d.get() - 1));
  }
}

/// Delivers requests that finished inside the call where libuv's pending
/// queue would: requests fed during a poll phase complete right after it
/// (libuv >= 1.45 runs pending callbacks after the poll; our check-phase
/// slot follows it), others at the start of the next turn.
pub fn finish_soon(env: napi_env, rc: &StreamRef) {
  if POLL_DEPTH.with(|d| d.get()) > 0 {
    let rc = rc.clone();
    env::after_this_poll(env, Box::new(move |env| deliver_completions(env, &rc)));
  } else {
    deliver_next_turn(env, rc);
  }
}

/// After a write call: a write that finished inside the call (a handle
/// write that went out at once, a failed one) calls back on the next loop
/// turn, as uv_write2's does.
pub fn after_write(env: napi_env, rc: &StreamRef) {
  if rc.borrow().core.has_completions() {
    deliver_next_turn(env, rc);
  }
}

/// Delivers this handle's finished requests on the next loop turn (where
/// libuv delivers requests that finished at once).
pub fn deliver_next_turn(env: napi_env, rc: &StreamRef) {
  let rc = rc.clone();
  env::defer(env, Box::new(move |env| deliver_completions(env, &rc)));
}

fn deliver_read_error(env: napi_env, rc: &StreamRef, err: i32) {
  buffers::set_state(
    js::RefEnv::new(env),
    [(K_READ_BYTES_OR_ERROR, err), (K_ARRAY_BUFFER_OFFSET, 0)],
  );
  callbacks::call_onread(env, rc, &[js::undefined(env)]);
}

// ---------------------------------------------------------------------------
// Reading.

enum Read {
  /// n > 0 bytes, in `ab` from byte offset `off`.
  Data(usize, napi_value, usize),
  /// n > 0 bytes in the user buffer, which is `len` bytes long.
  User(usize, usize),
  Again,
  Stopped(i32),
  /// JS can no longer run: stop reading quietly.
  NoJs,
}

/// One read into memory that JS will own: the user buffer (looked up again
/// now), or the spare read buffer, handed over whole when the read filled
/// it, else copied into a pool slice or an ArrayBuffer of the read's exact
/// size. No JS runs in here: the state is borrowed, and only its `RefEnv`
/// is at hand.
fn read_once(s: &mut Stream) -> Read {
  if !s.js.user_buf.is_null() {
    return read_into_user_buffer(s);
  }
  read_into_spare(s)
}

/// `useUserBuffer`: straight into the user's Uint8Array.
fn read_into_user_buffer(s: &mut Stream) -> Read {
  let env = s.env();
  let Some((p, len)) = env
    .uint8_bytes(env.ref_value(s.js.user_buf))
    .filter(|(_, len)| *len > 0)
  else {
    // Detached since it was set: nowhere to read into. One EFAULT, and
    // reading stops (as after any read error), so the stream layer sees
    // an error once instead of a socket that goes quiet.
    s.core.read_stop();
    return Read::Stopped(-libc::EFAULT);
  };
  // SAFETY: the Uint8Array's memory was looked up just now and the view
  // is held by a reference; no JS runs during the syscall.
  let dst = unsafe { std::slice::from_raw_parts_mut(p, len) };
  match s.core.read(dst) {
    ReadResult::Data(n) => Read::User(n, len),
    ReadResult::Again => Read::Again,
    ReadResult::Stopped(e) => Read::Stopped(e),
  }
}

/// Up to 64 KiB into the spare read buffer (see
/// `buffers::spare_read_buffer`): a full read hands it to JS as it is (no
/// copy, no syscall to size it first), a shorter one is copied out of it
/// into a pool slice (pooled reads) or an ArrayBuffer of its exact size.
fn read_into_spare(s: &mut Stream) -> Read {
  let env = s.env();
  let pooled = s.pooled_reads;
  let Some(data) = buffers::spare_read_buffer(env, READ_SIZE) else {
    return Read::NoJs;
  };
  // SAFETY: data is the READ_SIZE bytes of the spare ArrayBuffer, which a
  // reference holds and no JS has seen (so nothing can detach it); no JS
  // runs during the syscall.
  let dst = unsafe { std::slice::from_raw_parts_mut(data, READ_SIZE) };
  match s.core.read(dst) {
    ReadResult::Data(n) if n == READ_SIZE => match buffers::take_spare_read_buffer(env) {
      Some(ab) => Read::Data(n, ab, 0),
      None => Read::NoJs,
    },
    ReadResult::Data(n) => {
      let bytes = &dst[..n];
      let slot = if pooled && n <= buffers::POOLED_READ_MAX {
        buffers::copy_to_pool(env, bytes)
      } else {
        buffers::array_buffer_from(env, bytes).map(|ab| (ab, 0))
      };
      match slot {
        Some((ab, off)) => Read::Data(n, ab, off),
        None => Read::NoJs,
      }
    }
    ReadResult::Again => Read::Again,
    ReadResult::Stopped(e) => Read::Stopped(e),
  }
}

fn read_ready(env: napi_env, rc: &StreamRef) {
  for _ in 0..READS_PER_EVENT {
    let outcome = {
      let mut s = rc.borrow_mut();
      let outcome = read_once(&mut s);
      if matches!(outcome, Read::NoJs) {
        s.core.read_stop();
      }
      update_poll(&mut s);
      outcome
    };
    let (n, arg, off, full) = match outcome {
      Read::Data(n, ab, off) => (n, ab, off, READ_SIZE),
      Read::User(n, len) => (n, js::undefined(env), 0, len),
      Read::Stopped(e) => return deliver_read_error(env, rc, e),
      Read::Again | Read::NoJs => return,
    };
    buffers::set_state(
      js::RefEnv::new(env),
      [
        (K_READ_BYTES_OR_ERROR, n as i32),
        (K_ARRAY_BUFFER_OFFSET, off as i32),
      ],
    );
    set_pending_handles(env, rc);
    let next = callbacks::call_onread(env, rc, &[arg]);
    if matches!(outcome, Read::User(..)) {
      // Returning a Uint8Array from onread switches the user buffer.
      if !next.is_null() && js::uint8_bytes(env, next).is_some_and(|(_, l)| l > 0) {
        let mut s = rc.borrow_mut();
        if !s.core.is_closing() {
          let s = &mut *s;
          stream::JsRefs::replace(s.env(), &mut s.js.user_buf, next);
        }
      }
    }
    // A short read drained the socket.
    if n < full {
      return;
    }
  }
}

/// On an IPC pipe, hands one received fd to JS as `pendingHandle` before the
/// `onread` that carries its message (Node's contract). On an fd-passing
/// socket, hands all received fds as `pendingFds`.
fn set_pending_handles(env: napi_env, rc: &StreamRef) {
  let (ipc, fds, this) = {
    let mut s = rc.borrow_mut();
    if !s.core.has_pending_fds() {
      return;
    }
    let ipc = s.core.is_ipc();
    let fds: Vec<_> = if ipc {
      s.core.take_pending_fd().into_iter().collect()
    } else if s.core.fd_passing {
      std::iter::from_fn(|| s.core.take_pending_fd()).collect()
    } else {
      return;
    };
    (ipc, fds, s.this())
  };
  if ipc {
    if let Some(fd) = fds.into_iter().next() {
      let handle = handles::wrap_received_fd(env, fd, |fd| {
        connected_pipe(env, fd, false).map(|(obj, _)| obj)
      });
      js::set(env, this, c"pendingHandle", handle);
    }
    return;
  }
  let fds: Vec<napi_value> = fds
    .into_iter()
    .map(|fd| js::int(env, std::os::fd::IntoRawFd::into_raw_fd(fd)))
    .collect();
  js::set(env, this, c"pendingFds", js::array_of(env, &fds));
}

// ---------------------------------------------------------------------------
// Accepting.

/// One connection per poll event, as libuv does: the level-triggered poll
/// reports the next one on the next turn.
fn accept_ready(env: napi_env, rc: &StreamRef) {
  loop {
    let res = rc.borrow().core.accept();
    match res {
      Ok(client_fd) => match connected_pipe(env, client_fd, true) {
        Ok((client, client_rc)) => {
          if !callbacks::call_onconnection(env, rc, 0, client) {
            // Nobody took it.
            close(&client_rc, env, js::undefined(env));
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
        if !emfile_trick(rc) {
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
  callbacks::call_onconnection(env, rc, err, ptr::null_mut());
}

thread_local! {
  /// A spare fd given up when accept hits EMFILE (libuv's trick).
  static RESERVE_FD: std::cell::RefCell<Option<std::os::fd::OwnedFd>> =
    const { std::cell::RefCell::new(None) };
}

/// Makes sure a spare fd is held for the EMFILE trick (servers call this).
pub fn reserve_spare_fd() {
  RESERVE_FD.with(|r| {
    let mut r = r.borrow_mut();
    if r.is_none() {
      *r = std::fs::File::open("/dev/null").ok().map(Into::into);
    }
  });
}

/// Returns true when the spare fd was available and the queue was drained.
fn emfile_trick(rc: &StreamRef) -> bool {
  let Some(spare) = RESERVE_FD.with(|r| r.borrow_mut().take()) else {
    return false;
  };
  drop(spare);
  rc.borrow().core.drop_queued_connections();
  reserve_spare_fd();
  true
}

// ---------------------------------------------------------------------------
// Writing and connecting.

fn write_ready(env: napi_env, rc: &StreamRef) {
  let connected = {
    let mut s = rc.borrow_mut();
    let connected = s.on_writable();
    update_poll(&mut s);
    connected
  };
  deliver_completions(env, rc);
  if connected {
    // libuv writes only once the connect callback has run.
    flush(env, rc);
  }
}

/// Sends what the socket takes of the write queue now, outside a POLLOUT
/// (`tryFlush`): what finished is delivered on the next loop turn, as
/// writes that finish at once are. Returns the bytes still queued.
pub fn flush_now(env: napi_env, rc: &StreamRef) -> usize {
  let (queued, finished) = {
    let mut s = rc.borrow_mut();
    s.flush();
    update_poll(&mut s);
    (s.core.write_queue_size(), s.core.has_completions())
  };
  if finished {
    deliver_next_turn(env, rc);
  }
  queued
}

/// Sends what the socket takes of the write queue and delivers what
/// finished.
fn flush(env: napi_env, rc: &StreamRef) {
  {
    let mut s = rc.borrow_mut();
    s.flush();
    update_poll(&mut s);
  }
  deliver_completions(env, rc);
}

/// Dispatches a connect (the socket exists). Completion is always
/// asynchronous, as in libuv.
pub fn start_connect(rc: &StreamRef, env: napi_env, req: napi_value, name: &[u8]) {
  let start = {
    let mut s = rc.borrow_mut();
    let id = s.next_req_id();
    let ref_env = s.env();
    s.js.add_req(ref_env, id, req);
    let start = s.core.connect(id, name);
    update_poll(&mut s);
    start
  };
  let rc = rc.clone();
  match start {
    // A Unix socket that connect(2) accepted is connected: no need to wait
    // for POLLOUT and ask SO_ERROR. The callback still comes where libuv's
    // would: after a poll phase that follows this call (so after, say, the
    // server in this process accepted this very connection), never sooner.
    ConnectStart::Connected => env::after_poll(env, Box::new(move |env| finish_connect(env, &rc))),
    // Learned on POLLOUT, in the poll phase.
    ConnectStart::InProgress => {}
    ConnectStart::Failed(_) => env::defer(env, Box::new(move |env| finish_connect(env, &rc))),
  }
}

/// A connect that could not even start (no socket): reported next turn.
pub fn fail_connect_later(rc: &StreamRef, env: napi_env, req: napi_value, status: i32) {
  {
    let mut s = rc.borrow_mut();
    let id = s.next_req_id();
    let ref_env = s.env();
    s.js.add_req(ref_env, id, req);
    s.core.connect_failed_early(id, status);
  }
  let rc = rc.clone();
  env::defer(env, Box::new(move |env| finish_connect(env, &rc)));
}

/// Delivers a connect decided earlier, then sends what was queued behind it.
fn finish_connect(env: napi_env, rc: &StreamRef) {
  rc.borrow_mut().core.finish_connect();
  deliver_completions(env, rc);
  flush(env, rc);
}

// ---------------------------------------------------------------------------
// Closing.

/// `close([cb])`: unlink the bound path, close the fd now, and finish in
/// libuv's close phase: every request still queued completes (ECANCELED, in
/// order, behind those already finished), then `cb` runs with no arguments.
pub fn close(rc: &StreamRef, env: napi_env, cb: napi_value) {
  let mut s = rc.borrow_mut();
  if s.core.is_closing() || s.torn_down {
    return;
  }
  s.hold_this(rc);
  if js::is_function(env, cb) {
    stream::JsRefs::replace(s.env(), &mut s.js.close_cb, cb);
  }
  let poll = std::mem::replace(&mut s.poll, ptr::null_mut());
  let id = s.id;
  let in_close_phase = if poll.is_null() {
    // No poll handle (the fd never needed an event: a socket still paused,
    // or one whose connect failed at once). The close still finishes in
    // libuv's close phase, after this turn's check phase, as Node's does.
    close_phase_callback(env, id)
  } else {
    let (fd, active) = (s.core.fd(), s.poll_events != 0);
    if s.own_socket && keep_spare_poll(env, fd, poll, active) {
      close_phase_callback(env, id)
    } else {
      // SAFETY: poll is initialised and not yet closing. Closing it before
      // the fd takes the fd out of epoll while the number is still ours;
      // libuv calls on_poll_close later, in its close phase, never here.
      unsafe { uv::uv_close(poll, Some(on_poll_close)) };
      true
    }
  };
  s.core.close();
  drop(s);
  // The close-phase callback finds its stream among the open ones: a
  // handle that never had an fd was never registered.
  if in_close_phase && stream::lookup(id).is_none() {
    stream::register(rc);
  }
  if !in_close_phase {
    let rc = rc.clone();
    env::defer(env, Box::new(move |env| finish_close(env, &rc)));
  }
}

unsafe extern "C" fn on_poll_close(handle: *mut uv::uv_handle_t) {
  let (_, rc) = stream_of_handle(handle);
  // SAFETY: libuv is done with the handle in its close callback.
  unsafe { uv::free_handle(handle) };
  let Some(rc) = rc else {
    return; // torn down
  };
  let env = callbacks::env_of(&rc);
  let _scope = js::HandleScope::open(env);
  finish_close(env, &rc);
}

/// The close phase: every request completes, then the close callback runs,
/// then every reference is released.
fn finish_close(env: napi_env, rc: &StreamRef) {
  {
    let mut s = rc.borrow_mut();
    if s.closed || s.torn_down {
      return;
    }
    s.closed = true;
  }
  deliver_completions(env, rc);
  let (cb, this, ctx) = {
    let mut s = rc.borrow_mut();
    let cb = js::ref_value(env, s.js.close_cb);
    js::drop_ref(env, &mut s.js.close_cb);
    (cb, s.this(), s.js.async_ctx)
  };
  if !cb.is_null() {
    js::make_callback(env, ctx, this, cb, &[]);
  }
  let id = {
    let mut s = rc.borrow_mut();
    let env = s.env();
    s.js.release(env);
    s.id
  };
  stream::unregister(id);
}
