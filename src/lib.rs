#![deny(clippy::all)]
// Nearly every helper takes a raw `napi_env`/`napi_value`: opaque handles
// that N-API itself validates, only ever used on the JS thread while the env
// is alive. Marking each helper `unsafe` would only move the same proof
// obligation to every call site.
#![allow(clippy::not_unsafe_ptr_arg_deref)]
//! pipewrap: Node's `pipe_wrap` binding (Unix domain sockets and the fork IPC
//! channel) as a napi-rs addon. Sockets are watched by `uv_poll_t` handles on
//! Node's own event loop, so every syscall and callback runs on the JS thread
//! (see shared/reference/event-loop-measurements.md for why).

pub mod class;
pub mod env;
pub mod js;
pub mod pipe;
pub mod reqs;
pub mod stream;
pub use pipewrap_core::sys;
pub mod uv;

use napi::bindgen_prelude::*;
use napi_derive::napi;

/// Registers the raw N-API `Pipe` class next to the napi-rs exports.
#[napi(module_exports)]
pub fn register_classes(exports: Object, env: Env) -> Result<()> {
  pipe::define(env.raw(), exports.raw());
  Ok(())
}

/// Tells the addon which JS classes are `PipeConnectWrap`, `WriteWrap` and
/// `ShutdownWrap` (lib/binding.js defines them), so Pipe methods can reject
/// the wrong kind of request.
#[napi(ts_args_type = "connect: Function, write: Function, shutdown: Function")]
pub fn register_request_classes(
  env: Env,
  connect: Unknown,
  write: Unknown,
  shutdown: Unknown,
) -> Result<()> {
  reqs::register(env.raw(), [connect.raw(), write.raw(), shutdown.raw()]).map_err(|_| {
    Error::new(
      Status::PendingException,
      "invalid request classes".to_string(),
    )
  })
}

/// The `streamBaseState` Int32Array shared with this thread's Pipes.
#[napi(ts_return_type = "Int32Array")]
pub fn stream_base_state(env: &Env) -> Unknown<'_> {
  let (_, v) = env::with(env.raw(), |s| s.stream_state());
  // SAFETY: v was created in (or fetched into) this call's scope.
  unsafe { Unknown::from_raw_unchecked(env.raw(), v) }
}

/// A connected pair of AF_UNIX stream sockets `[fd0, fd1]`, both
/// close-on-exec (a child gets its end through spawn's stdio array).
#[napi]
pub fn socketpair(env: Env) -> Result<Vec<i32>> {
  sys::socketpair()
    .map(|f| f.to_vec())
    .map_err(|e| errno_error(&env, e, "socketpair"))
}

/// Tries to connect to `path` without waiting: 0 if a server is there,
/// -111 (ECONNREFUSED) for a stale socket file, another negative errno else.
#[napi]
pub fn probe_unix_socket(env: Env, path: String) -> Result<i32> {
  let _ = env;
  Ok(sys::probe(path.as_bytes()))
}

fn errno_error(env: &Env, err: i32, syscall: &str) -> Error {
  let name = errno_name(err);
  js::throw(
    env.raw(),
    js::ErrorKind::System,
    name,
    &format!("{syscall} {name}"),
  )
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
