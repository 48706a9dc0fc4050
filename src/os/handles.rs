//! Building `Pipe` objects natively (accepted connections, received fds) and
//! finding a Pipe's native state from its JS object. The class layer: it
//! knows the `Pipe` constructor, the stream layer does not.

use std::cell::RefCell;
use std::os::fd::{IntoRawFd, OwnedFd};
use std::ptr;

use napi::sys::{self as napi_sys, napi_env, napi_value};
use pipewrap_core::stream::Kind;
use pipewrap_core::sys;

use crate::class;
use crate::js::{self, napi_call};
use crate::os::stream::{Stream, StreamRef};

/// A Pipe object's stream, lent for one call.
pub type PipeStream = class::Wrapped<RefCell<Stream>>;

/// The native state named by a Pipe method's state argument (the number
/// its constructor made), or None for anything else.
pub fn stream_of_state(env: napi_env, state: napi_value) -> Option<PipeStream> {
  class::unwrap_state::<RefCell<Stream>>(env, state)
}

/// A fresh `Pipe` (SOCKET) object around a connected socket (accepted, or
/// received over IPC), and its state. Not yet registered nor bound to its
/// object: the driver does that (`driver::connected_pipe`), since binding
/// runs JS. On failure the fd is closed and the errno says why.
pub fn new_connected_pipe(env: napi_env, fd: OwnedFd) -> Result<(napi_value, StreamRef), i32> {
  let (obj, s) = match class::construct_pipe::<RefCell<Stream>>(env, Kind::Socket as i32) {
    Ok(made) => made,
    Err(class::ConstructError::NoPipe) => return Err(-libc::EINVAL),
    // The env is shutting down, or the object could not be allocated.
    Err(class::ConstructError::Status(
      napi_sys::Status::napi_cannot_run_js | napi_sys::Status::napi_pending_exception,
    )) => return Err(-libc::ECANCELED),
    Err(class::ConstructError::Status(_)) => return Err(-libc::ENOMEM),
  };
  let s = StreamRef::clone(&s);
  {
    let mut st = s.borrow_mut();
    st.core.adopt(fd.into_raw_fd());
    st.core.readable = true;
    st.core.writable = true;
  }
  Ok((obj, s))
}

/// What JS gets for an fd received on an IPC channel: a `Pipe` for a Unix
/// stream socket (made by `make_pipe`), `{ type: 'TCP' | 'UDP', fd }` for
/// inet sockets (the JS layer builds Node handles from those), and
/// `{ type: 'UNSUPPORTED', fd: -1 }` for anything else, which is closed at
/// once (Node aborts on those).
pub fn wrap_received_fd(
  env: napi_env,
  fd: OwnedFd,
  make_pipe: impl FnOnce(OwnedFd) -> Result<napi_value, i32>,
) -> napi_value {
  let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
  match sys::fd_kind(raw) {
    sys::FdKind::UnixStream => make_pipe(fd).unwrap_or_else(|_| raw_handle(env, "UNSUPPORTED", -1)),
    sys::FdKind::Tcp => raw_handle(env, "TCP", fd.into_raw_fd()),
    sys::FdKind::Udp => raw_handle(env, "UDP", fd.into_raw_fd()),
    sys::FdKind::Other => raw_handle(env, "UNSUPPORTED", -1),
  }
}

fn raw_handle(env: napi_env, ty: &str, fd: i32) -> napi_value {
  let mut obj = ptr::null_mut();
  napi_call!(napi_create_object(env, &mut obj));
  js::set(env, obj, c"type", js::string(env, ty));
  js::set(env, obj, c"fd", js::int(env, fd));
  obj
}
