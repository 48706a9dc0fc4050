//! Moving TCP handles over an IPC pipe, as Node does on Windows: libuv's
//! `uv_write2` exports the socket (`WSADuplicateSocketW` for the peer's
//! pid) and `uv_accept` on the pipe imports it into a TCP handle. The
//! handles are Node's own (`tcp_wrap`'s `TCP`), and those give an addon
//! neither their `uv_tcp_t` nor their SOCKET (`fd` is -1 on Windows), so
//! they are found in the loop's handle list:
//! - a handle to send, by its addresses: a connected TCP socket is the only
//!   open one with its local and peer address; a listener is bound to its
//!   local address and has no peer;
//! - a handle to receive into, as the one TCP handle `new TCP()` adds.

use std::ffi::CStr;
use std::net::IpAddr;
use std::os::raw::{c_int, c_void};
use std::ptr;

use napi::sys::{napi_env, napi_value};

use super::errno;
use crate::env;
use crate::js::{self, napi_call};
use crate::uv::{self, uv_handle_t, uv_loop_t};

const UV_TCP: c_int = 12;
const UV_NAMED_PIPE: c_int = 7;

/// `uv_pipe_t` on Windows x64 and where its `pipe.conn.ipc_remote_pid`
/// lives: part of libuv's public (ABI-stable) struct, the same in every
/// libuv 1.x that Node 18..24 ship (checked with offsetof against the
/// headers of 1.44 to 1.51). Written only when the size matches.
const PIPE_SIZE: usize = 576;
const IPC_REMOTE_PID_OFFSET: usize = 480;

type WalkCb = unsafe extern "C" fn(*mut uv_handle_t, *mut c_void);

extern "C" {
  fn uv_walk(lp: *mut uv_loop_t, cb: WalkCb, arg: *mut c_void);
  fn uv_handle_get_type(handle: *const uv_handle_t) -> c_int;
  fn uv_is_closing(handle: *const uv_handle_t) -> c_int;
  fn uv_tcp_getsockname(handle: *const uv_handle_t, name: *mut u8, len: *mut c_int) -> c_int;
  fn uv_tcp_getpeername(handle: *const uv_handle_t, name: *mut u8, len: *mut c_int) -> c_int;
  fn uv_pipe_pending_count(pipe: *mut uv_handle_t) -> c_int;
  fn uv_pipe_pending_type(pipe: *mut uv_handle_t) -> c_int;
  fn uv_accept(server: *mut uv_handle_t, client: *mut uv_handle_t) -> c_int;
}

/// A Node TCP handle found in the loop; valid while the JS call that found
/// it runs (it is used at once, by `uv_write2`, which exports the socket
/// within the call).
pub struct NodeTcp(pub *mut uv_handle_t);

/// An address as compared here: IP, port and IPv6 scope id (0 for IPv4).
type Endpoint = (IpAddr, u16, u32);

/// Node's `TCP` class and its `constants.SOCKET`, from
/// `process.binding('tcp_wrap')`, or None where that is not available.
/// Where that is refused (`--permission` makes `process.binding` throw),
/// the exception is cleared: there is then no handle to pass, as for any
/// other handle libuv cannot move.
fn node_tcp_class(env: napi_env) -> Option<(napi_value, napi_value)> {
  let found = lookup_node_tcp_class(env);
  if found.is_none() {
    let mut pending = false;
    napi_call!(napi_is_exception_pending(env, &mut pending));
    if pending {
      let mut err = ptr::null_mut();
      napi_call!(napi_get_and_clear_last_exception(env, &mut err));
    }
  }
  found
}

fn lookup_node_tcp_class(env: napi_env) -> Option<(napi_value, napi_value)> {
  let mut global = ptr::null_mut();
  napi_call!(napi_get_global(env, &mut global));
  let process = js::get(env, global, c"process");
  let binding = js::get(env, process, c"binding");
  if !js::is_function(env, binding) {
    return None;
  }
  let name = js::string(env, "tcp_wrap");
  let wraps = call(env, process, binding, &[name])?;
  let ctor = js::get(env, wraps, c"TCP");
  let constants = js::get(env, wraps, c"constants");
  if !js::is_function(env, ctor) || !js::is_object(env, constants) {
    return None;
  }
  let socket_kind = js::get(env, constants, c"SOCKET");
  (!socket_kind.is_null()).then_some((ctor, socket_kind))
}

/// `func.call(this, ...args)`, or None if it threw (the exception stays
/// pending and reaches JS when the binding call returns).
fn call(
  env: napi_env,
  this: napi_value,
  func: napi_value,
  args: &[napi_value],
) -> Option<napi_value> {
  let mut out = ptr::null_mut();
  let status = napi_call!(napi_call_function(
    env,
    this,
    func,
    args.len(),
    args.as_ptr(),
    &mut out
  ));
  (status == napi::sys::Status::napi_ok).then_some(out)
}

fn is_node_tcp(env: napi_env, value: napi_value) -> bool {
  let Some((ctor, _)) = node_tcp_class(env) else {
    return false;
  };
  let mut is = false;
  napi_call!(napi_instanceof(env, value, ctor, &mut is)) == napi::sys::Status::napi_ok && is
}

/// What `handle.getsockname(out)` / `getpeername(out)` says, or None (no
/// such address: a listener has no peer).
fn js_endpoint(env: napi_env, handle: napi_value, method: &CStr) -> Option<Endpoint> {
  let func = js::get(env, handle, method);
  if !js::is_function(env, func) {
    return None;
  }
  let mut out = ptr::null_mut();
  napi_call!(napi_create_object(env, &mut out));
  let status = call(env, handle, func, &[out])?;
  if js::number_i32(env, status) != Some(0) {
    return None;
  }
  let port = js::get_i32(env, out, c"port")?;
  let address = js_string(env, js::get(env, out, c"address"))?;
  // A link-local IPv6 address carries its scope: "fe80::1%4".
  let (ip, scope) = match address.split_once('%') {
    Some((ip, scope)) => (ip, scope.parse().unwrap_or(0)),
    None => (address.as_str(), 0),
  };
  Some((ip.parse().ok()?, u16::try_from(port).ok()?, scope))
}

fn js_string(env: napi_env, v: napi_value) -> Option<String> {
  if js::type_of(env, v) != napi::sys::ValueType::napi_string {
    return None;
  }
  let mut buf = [0u8; 128];
  let mut len = 0usize;
  napi_call!(napi_get_value_string_utf8(
    env,
    v,
    buf.as_mut_ptr().cast(),
    buf.len(),
    &mut len
  ));
  std::str::from_utf8(&buf[..len]).ok().map(str::to_owned)
}

/// A `sockaddr` (AF_INET = 2, AF_INET6 = 23 on Windows) as an endpoint.
fn sockaddr_endpoint(raw: &[u8]) -> Option<Endpoint> {
  let family = u16::from_ne_bytes([raw[0], raw[1]]);
  let port = u16::from_be_bytes([raw[2], raw[3]]);
  match family {
    2 => Some((IpAddr::from([raw[4], raw[5], raw[6], raw[7]]), port, 0)),
    23 => {
      let mut a = [0u8; 16];
      a.copy_from_slice(&raw[8..24]);
      let scope = u32::from_ne_bytes([raw[24], raw[25], raw[26], raw[27]]);
      Some((IpAddr::from(a), port, scope))
    }
    _ => None,
  }
}

type NameFn = unsafe extern "C" fn(*const uv_handle_t, *mut u8, *mut c_int) -> c_int;

fn uv_endpoint(handle: *mut uv_handle_t, name: NameFn) -> Option<Endpoint> {
  // A sockaddr_storage: 128 bytes, 8-byte aligned.
  let mut storage = [0u64; 16];
  let mut len = std::mem::size_of_val(&storage) as c_int;
  // SAFETY: handle is a live TCP handle of this loop (from uv_walk, used
  // before any callback can close it); storage is a sockaddr_storage-sized,
  // aligned buffer and len says so.
  let err = unsafe { name(handle, storage.as_mut_ptr().cast(), &mut len) };
  if err != 0 {
    return None;
  }
  // SAFETY: storage is 128 initialised bytes.
  let raw = unsafe { std::slice::from_raw_parts(storage.as_ptr().cast::<u8>(), 128) };
  sockaddr_endpoint(raw)
}

// SAFETY (callers): uv_walk calls it on the loop thread with a live handle
// and the Vec it was given.
unsafe extern "C" fn collect_tcp(handle: *mut uv_handle_t, arg: *mut c_void) {
  // SAFETY: arg is the Vec tcp_handles passed; handle is live.
  unsafe {
    if uv_handle_get_type(handle) == UV_TCP && uv_is_closing(handle) == 0 {
      (*(arg as *mut Vec<*mut uv_handle_t>)).push(handle);
    }
  }
}

/// The open TCP handles of the loop, in libuv's order (oldest first).
fn tcp_handles(lp: *mut uv_loop_t) -> Vec<*mut uv_handle_t> {
  let mut out: Vec<*mut uv_handle_t> = Vec::new();
  // SAFETY: lp is this env's loop; the callback only reads handles and
  // pushes into `out`, which outlives the call.
  unsafe { uv_walk(lp, collect_tcp, (&mut out as *mut Vec<_>).cast()) };
  out
}

/// The `uv_tcp_t` of Node TCP handle `value`, to send. `ENOTSUP` for
/// anything else (libuv moves only TCP handles on Windows), `EBADF` for a
/// TCP handle with no socket, and where the addresses do not name exactly
/// one open handle (a connection whose peer is gone looks like a listener
/// on the same address: refused rather than guessed).
pub fn find_node_tcp(env: napi_env, value: napi_value) -> Result<NodeTcp, i32> {
  if !is_node_tcp(env, value) {
    return Err(errno::ENOTSUP);
  }
  let local = js_endpoint(env, value, c"getsockname").ok_or(errno::EBADF)?;
  let peer = js_endpoint(env, value, c"getpeername");
  let mut found = tcp_handles(env::uv_loop(env)).into_iter().filter(|&h| {
    uv_endpoint(h, uv_tcp_getsockname) == Some(local) && uv_endpoint(h, uv_tcp_getpeername) == peer
  });
  match (found.next(), found.next()) {
    (Some(one), None) => Ok(NodeTcp(one)),
    _ => Err(errno::EBADF),
  }
}

/// After a read on IPC pipe `pipe`: the TCP handle that came with it, as a
/// new Node `TCP` object (Node's `pendingHandle`), or None. Runs JS (the
/// `TCP` constructor, async hooks): call with no handle state borrowed.
pub fn accept_pending(env: napi_env, pipe: *mut uv_handle_t) -> Option<napi_value> {
  // SAFETY: pipe is an open IPC pipe of this loop.
  let pending = unsafe { uv_pipe_pending_count(pipe) };
  // SAFETY: as above.
  if pending <= 0 || unsafe { uv_pipe_pending_type(pipe) } != UV_TCP {
    return None;
  }
  let (ctor, socket_kind) = node_tcp_class(env)?;
  let lp = env::uv_loop(env);
  let before = tcp_handles(lp);
  let mut obj = ptr::null_mut();
  if napi_call!(napi_new_instance(env, ctor, 1, &socket_kind, &mut obj))
    != napi::sys::Status::napi_ok
  {
    // An async hook threw: fatal, as Node makes it; the bytes still go to
    // onread, without a handle (the NODE_HANDLE message is then NACKed).
    js::clear_exception_fatally(env);
    return None;
  }
  // The constructor's uv_tcp_init comes after its async hooks ran (which
  // may make handles of their own): the new handle is the last new one.
  let made = tcp_handles(lp)
    .into_iter()
    .rev()
    .find(|h| !before.contains(h));
  // SAFETY: pipe has a pending TCP handle; `made` is the fresh, unopened
  // uv_tcp_t of `obj`, which libuv imports the socket into.
  let err = made.map_or(errno::EBADF, |tcp| unsafe { uv_accept(pipe, tcp) });
  if err != 0 {
    let close = js::get(env, obj, c"close");
    if js::is_function(env, close) {
      call(env, obj, close, &[]);
    }
    return None;
  }
  Some(obj)
}

/// Tells libuv the pid at the other end of IPC pipe `pipe`, which it needs
/// to export a socket to (`WSADuplicateSocketW`). libuv asks the kernel
/// when it is unset, and the kernel names the process that opened each
/// end: for a pair made in one process, that is this one. libuv's own
/// `uv_spawn` sets it the same way after starting the child.
pub fn set_remote_pid(pipe: *mut uv_handle_t, pid: u32) -> i32 {
  // SAFETY: a pure lookup.
  if unsafe { uv::uv_handle_size(UV_NAMED_PIPE) } != PIPE_SIZE {
    return errno::ENOTSUP;
  }
  // SAFETY: pipe is an open uv_pipe_t of PIPE_SIZE bytes (checked above),
  // opened on a pipe end or connected (the caller checks), so its `conn`
  // fields are the live ones; the field is a DWORD at this offset there.
  unsafe {
    ptr::write_unaligned(
      pipe.cast::<u8>().add(IPC_REMOTE_PID_OFFSET).cast::<u32>(),
      pid,
    )
  };
  0
}
