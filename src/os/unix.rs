//! The Unix backend's handle operations: what the binding's methods ask of
//! the OS, each returning 0 or a negative errno (libuv's convention). The
//! arguments arrive checked and converted by `pipe.rs`; nothing here looks
//! at a JS value except to hold a reference to it.

use std::ffi::CString;
use std::os::fd::{OwnedFd, RawFd};

use napi::sys::{napi_env, napi_value};
use pipewrap_core::stream::WriteStart;
use pipewrap_core::sys;

use crate::buffers::{self, K_BYTES_WRITTEN, K_LAST_WRITE_WAS_ASYNC};
use crate::os::driver;
use crate::os::stream::{self, JsRefs, Stream, StreamRef};

pub use crate::os::handles::{stream_of_state, PipeStream};
pub use pipewrap_core::stream::Kind;

/// One handle's state, as the binding holds it.
pub type Handle = StreamRef;

/// A handle to send over IPC, owned by the write until it completes: a
/// close-on-exec duplicate of the sender's fd.
pub type SendHandle = OwnedFd;

/// Negative errnos the binding returns itself (argument and state checks).
pub mod errno {
  pub const EBADF: i32 = -libc::EBADF;
  pub const EINVAL: i32 = -libc::EINVAL;
}

/// `setPendingInstances` is a Windows method: Node's Pipe has none here.
pub const PENDING_INSTANCES: bool = false;

pub fn set_pending_instances(s: &Handle, count: i32) {
  let _ = (s, count);
}

/// Most fds one message may carry (SCM_RIGHTS).
pub const MAX_SEND_HANDLES: usize = sys::MAX_FDS_PER_READ;

pub fn new_handle(env: napi_env, kind: Kind) -> Handle {
  Stream::new(env, kind)
}

/// Binds to a path or an abstract name ('\0name').
pub fn bind(s: &Handle, this: napi_value, name: Vec<u8>) -> i32 {
  {
    let st = s.borrow();
    if st.core.is_closing() || st.core.has_fd() {
      return errno::EINVAL;
    }
  }
  if let Err(err) = sys::unix_addr(&name) {
    return err;
  }
  let fd = match sys::unix_socket() {
    Ok(fd) => fd,
    Err(err) => return err,
  };
  if let Err(err) = sys::bind(fd, &name) {
    sys::close(fd);
    // libuv reports a missing directory as EACCES (Windows parity).
    return if err == -libc::ENOENT {
      -libc::EACCES
    } else {
      err
    };
  }
  if let Err(err) = driver::attach_fd(s, this, fd, Some(name)) {
    sys::close(fd);
    return err;
  }
  0
}

pub fn listen(s: &Handle, backlog: i32) -> i32 {
  let mut st = s.borrow_mut();
  let err = st.core.listen(backlog);
  if err == 0 {
    driver::reserve_spare_fd();
    driver::update_poll(&mut st);
  }
  err
}

/// Connects to a path or abstract name. Socket-level errors arrive through
/// `req.oncomplete` on a later loop turn; only bad names (empty, embedded
/// NUL, too long for sun_path) and a wrong state return here.
pub fn connect(s: &Handle, env: napi_env, this: napi_value, req: napi_value, name: &[u8]) -> i32 {
  {
    let st = s.borrow();
    if st.core.is_closing() || st.core.is_listening() || st.core.is_connecting() {
      return errno::EINVAL;
    }
  }
  if let Err(err) = sys::unix_addr(name) {
    return err;
  }
  if !s.borrow().core.has_fd() {
    match sys::unix_socket() {
      Ok(fd) => driver::attach_new_socket(s, this, fd),
      Err(err) => {
        driver::bind_js(s, this);
        driver::fail_connect_later(s, env, req, err);
        return 0;
      }
    }
  }
  // An async hook may have closed the handle as it opened (bind_js): the
  // core then cancels the request, to complete with the close.
  driver::start_connect(s, env, req, name);
  0
}

/// Adopts an existing fd (made non-blocking). As libuv: EEXIST only if the
/// loop already watches it, EBADF if it is not open.
pub fn open(s: &Handle, this: napi_value, fd: RawFd) -> i32 {
  {
    let st = s.borrow();
    if st.core.is_closing() {
      return errno::EINVAL;
    }
    if st.core.has_fd() {
      return if st.core.fd() == fd { 0 } else { -libc::EBUSY };
    }
  }
  if fd < 0 {
    return errno::EBADF;
  }
  // libuv's rule: EEXIST only for an fd the loop watches. Ours are watched
  // from the moment they want an event (the poll itself starts just before
  // the loop polls); uv_poll_init in attach_fd catches everyone else's.
  if stream::fd_watched(fd) {
    return -libc::EEXIST;
  }
  let mode = match sys::access_mode(fd) {
    Ok(m) => m,
    Err(err) => return err,
  };
  if let Err(err) = sys::set_nonblocking(fd, true) {
    return err;
  }
  if let Err(err) = driver::attach_fd(s, this, fd, None) {
    return err;
  }
  let mut st = s.borrow_mut();
  st.core.readable = mode != libc::O_WRONLY;
  st.core.writable = mode != libc::O_RDONLY;
  0
}

/// Adds read (1) and/or write (2) permission for everyone to the bound
/// socket file, never removing bits, like `uv_pipe_chmod`.
pub fn fchmod(s: &Handle, mode: i32) -> i32 {
  let name = {
    let st = s.borrow();
    if !st.core.has_fd() || st.core.is_closing() {
      return errno::EBADF;
    }
    if !(1..=3).contains(&mode) {
      return errno::EINVAL;
    }
    match st.core.bound_path() {
      Some(p) => p.to_vec(),
      None => match sys::socket_name(st.core.fd()) {
        Ok(n) => n,
        Err(err) => return err,
      },
    }
  };
  if name.first().is_none_or(|&b| b == 0) {
    return errno::EINVAL;
  }
  let Ok(path) = CString::new(name) else {
    return errno::EINVAL;
  };
  let mode_now = match sys::file_mode(&path) {
    Ok(m) => m,
    Err(err) => return err,
  };
  let mut want = mode_now;
  if mode & 1 != 0 {
    want |= 0o444;
  }
  if mode & 2 != 0 {
    want |= 0o222;
  }
  if want == mode_now {
    return 0;
  }
  sys::chmod(&path, want).map_or_else(|e| e, |_| 0)
}

/// Closes the handle; `cb` (if a function) runs in the close phase.
pub fn close(s: &Handle, env: napi_env, cb: napi_value) {
  driver::close(s, env, cb);
}

/// No effect once closing (as in Node).
pub fn set_ref(s: &Handle, on: bool) {
  let mut st = s.borrow_mut();
  if !st.core.is_closing() {
    st.refed = on;
    st.apply_ref();
  }
}

pub fn has_ref(s: &Handle) -> bool {
  let st = s.borrow();
  st.refed && !st.closed
}

pub fn read_start(s: &Handle) -> i32 {
  let mut st = s.borrow_mut();
  let err = st.core.read_start();
  driver::update_poll(&mut st);
  err
}

pub fn read_stop(s: &Handle) -> i32 {
  let mut st = s.borrow_mut();
  st.core.read_stop();
  driver::update_poll(&mut st);
  0
}

/// Half-closes: at once when nothing has to go first (as libuv, which
/// feeds such a shutdown to its pending queue), else once the queued writes
/// are out (on POLLOUT). The callback comes where libuv's would.
pub fn shutdown(s: &Handle, env: napi_env, req: napi_value) -> i32 {
  let mut st = s.borrow_mut();
  let id = st.next_req_id();
  let err = st.core.shutdown(id);
  if err != 0 {
    return err;
  }
  let ref_env = st.env();
  st.js.add_req(ref_env, id, req);
  let done = st.core.shutdown_if_idle();
  driver::update_poll(&mut st);
  drop(st);
  if done {
    driver::finish_soon(env, s);
  }
  0
}

pub fn is_ipc(s: &Handle) -> bool {
  s.borrow().core.is_ipc()
}

/// Whether a write could start now (open, not closing, writable).
pub fn can_write(s: &Handle) -> bool {
  let st = s.borrow();
  st.core.has_fd() && !st.core.is_closing() && st.core.writable
}

/// A duplicate of `fd` for a write to own (the caller may close its own at
/// once, and the number be reused, before the write flushes). EBADF if
/// `fd` is not open.
pub fn send_handle(fd: RawFd) -> Result<SendHandle, i32> {
  sys::dup_cloexec(fd)
}

/// The handle an IPC write sends: the fd of any object with a numeric `fd`
/// (a pipewrap Pipe, one of Node's own TCP/Pipe handles), duplicated; EBADF
/// for an object without an open fd. May run JS (a getter on `fd`).
pub fn ipc_send_handle(env: napi_env, value: napi_value) -> Result<Option<SendHandle>, i32> {
  if !crate::js::is_object(env, value) {
    return Ok(None);
  }
  match crate::js::get_i32(env, value, c"fd") {
    Some(fd) if fd >= 0 => send_handle(fd).map(Some),
    _ => Err(errno::EBADF),
  }
}

/// `setPeerPid`: nothing to store on Unix (SCM_RIGHTS needs no pid; Windows
/// needs it to export a socket); checked as on Windows.
pub fn set_peer_pid(s: &Handle, pid: i32) -> i32 {
  if !is_ipc(s) || pid <= 0 {
    errno::EINVAL
  } else if fd(s) < 0 {
    errno::EBADF
  } else {
    0
  }
}

/// The native write shared by every `write*` method. It cannot run JS: it
/// sees the handle's state only through its `RefEnv`. With `lent` (one
/// Uint8Array the request holds on to), what the socket does not take now
/// is queued without a copy (`StreamCore::write_lent`); otherwise it is
/// copied. Reports through `streamBaseState` whether a callback will
/// follow; the caller then calls [`after_write`].
pub fn write(
  s: &Handle,
  req: napi_value,
  bufs: &[&[u8]],
  handles: Vec<SendHandle>,
  lent: Option<napi_value>,
) -> i32 {
  let mut st = s.borrow_mut();
  let env = st.env();
  let id = st.next_req_id();
  let total: usize = bufs.iter().map(|b| b.len()).sum();
  let res = match (lent, bufs) {
    (Some(_), [bytes]) if handles.is_empty() => st.core.write_lent(id, bytes),
    _ => st.core.write(id, bufs, handles),
  };
  let status = match res {
    Ok(start) => {
      let is_async = start == WriteStart::Async;
      buffers::set_state(
        env,
        [
          (K_BYTES_WRITTEN, total as i32),
          (K_LAST_WRITE_WAS_ASYNC, is_async as i32),
        ],
      );
      if is_async {
        st.js.add_req(env, id, req);
        if let Some(buf) = lent {
          let b = env.new_ref(buf, 1);
          st.js.lent.push_back((id, b));
        }
      }
      0
    }
    Err(e) => e,
  };
  driver::update_poll(&mut st);
  status
}

/// After a write call (see `driver::after_write`).
pub fn after_write(env: napi_env, s: &Handle) {
  driver::after_write(env, s);
}

/// `tryFlush()`: sends what the socket takes now; the bytes still queued.
pub fn try_flush(env: napi_env, s: &Handle) -> usize {
  driver::flush_now(env, s)
}

pub fn set_blocking(s: &Handle, blocking: bool) -> i32 {
  let st = s.borrow();
  if !st.core.has_fd() || st.core.is_closing() {
    return errno::EINVAL;
  }
  sys::set_nonblocking(st.core.fd(), !blocking).map_or_else(|e| e, |_| 0)
}

/// `{ pid, uid, gid }` of the peer.
pub fn peer_credentials(s: &Handle) -> Result<sys::PeerCredentials, i32> {
  let fd = s.borrow().core.fd();
  if fd < 0 {
    return Err(errno::EBADF);
  }
  sys::peer_credentials(fd)
}

/// The pid of the process at the other end.
pub fn peer_pid(s: &Handle) -> Result<i32, i32> {
  peer_credentials(s).map(|c| c.pid)
}

pub fn set_fd_passing(s: &Handle, on: bool) {
  s.borrow_mut().core.fd_passing = on;
}

pub fn set_pooled_reads(s: &Handle, on: bool) {
  s.borrow_mut().pooled_reads = on;
}

/// Reads go straight into `buf` (held until replaced or closed).
pub fn use_user_buffer(s: &Handle, buf: napi_value) {
  let mut st = s.borrow_mut();
  // After the close phase nothing would release it again.
  if !st.closed && !st.torn_down {
    let st = &mut *st;
    JsRefs::replace(st.env(), &mut st.js.user_buf, buf);
  }
}

pub fn onread(s: &Handle) -> napi_value {
  let st = s.borrow();
  st.env().ref_value(st.js.onread)
}

pub fn set_onread(s: &Handle, func: napi_value) {
  let mut st = s.borrow_mut();
  // After the close phase nothing would release it again.
  if !st.closed && !st.torn_down {
    let env = st.env();
    st.js.set_onread(env, func);
  }
}

/// The fd, or EINVAL once closing.
pub fn fd(s: &Handle) -> i32 {
  let st = s.borrow();
  if st.core.is_closing() {
    errno::EINVAL
  } else {
    st.core.fd()
  }
}

pub fn bytes_read(s: &Handle) -> u64 {
  s.borrow().core.bytes_read()
}

pub fn bytes_written(s: &Handle) -> u64 {
  s.borrow().core.bytes_written()
}

pub fn write_queue_size(s: &Handle) -> usize {
  s.borrow().core.write_queue_size()
}

/// A connected pair of sockets, both close-on-exec.
pub fn socketpair() -> Result<[RawFd; 2], i32> {
  sys::socketpair()
}

/// Closes an fd the addon handed out.
pub fn close_fd(fd: RawFd) -> i32 {
  if fd < 0 {
    return errno::EBADF;
  }
  // SAFETY: close(2) on an integer: at worst EBADF.
  if unsafe { libc::close(fd) } == 0 {
    0
  } else {
    sys::last_errno()
  }
}

/// 0 if a server listens at `name`, ECONNREFUSED for a stale socket file.
pub fn probe(name: &[u8]) -> i32 {
  sys::probe(name)
}

/// Node's name for a (negative) errno, for the few errors thrown natively
/// (socketpair(2) can fail only in these ways); libuv's "UNKNOWN" otherwise.
pub fn errno_name(err: i32) -> &'static str {
  match -err {
    libc::EMFILE => "EMFILE",
    libc::ENFILE => "ENFILE",
    libc::ENOMEM => "ENOMEM",
    libc::ENOBUFS => "ENOBUFS",
    libc::EINVAL => "EINVAL",
    libc::EFAULT => "EFAULT",
    _ => "UNKNOWN",
  }
}
