#![deny(clippy::all)]
// Nearly every helper takes a raw `napi_env`/`napi_value`: opaque handles
// that N-API itself validates, only ever used on the JS thread while the env
// is alive. Marking each helper `unsafe` would only move the same proof
// obligation to every call site.
#![allow(clippy::not_unsafe_ptr_arg_deref)]
//! pipewrap: Node's `pipe_wrap` binding (Unix domain sockets and the fork IPC
//! channel) as a napi-rs addon. On Unix, sockets are watched by `uv_poll_t`
//! handles on Node's own event loop, so every syscall and callback runs on
//! the JS thread (see docs/design.md for why and for the module graph).
//!
//! Leaves first: `uv` (libuv FFI), `js` (N-API helpers), `class` (raw
//! class plumbing), `env` (the per-env scheduler), `buffers` (the
//! ArrayBuffers shared with JS), `reqs` (request classes), `encoding`
//! (JS values to bytes), `os` (the seam: one backend per OS performs the
//! handle operations and calls JS with their results), `pipe` (the Pipe
//! class's methods, the same on every OS). No module calls back up this
//! list.

pub mod buffers;
pub mod callbacks;
pub mod class;
pub mod encoding;
pub mod env;
pub mod js;
pub mod os;
pub mod pipe;
pub mod refs;
pub mod reqs;
pub mod uv;

use napi::bindgen_prelude::*;
use napi_derive::napi;

/// Registers the raw N-API `Pipe` class next to the napi-rs exports.
#[napi(module_exports)]
pub fn register_classes(exports: Object, env: Env) -> Result<()> {
  pipe::define(env.raw(), exports.raw());
  Ok(())
}

/// `[PipeConnectWrap, WriteWrap, ShutdownWrap]`: the request classes of
/// this env, the same ones for every load of the JS layer.
#[napi(ts_return_type = "[Function, Function, Function]")]
pub fn request_classes(env: &Env) -> Result<Vec<Unknown<'_>>> {
  let classes = reqs::classes(env.raw())
    .map_err(|_| Error::new(Status::PendingException, "request classes".to_string()))?;
  let wrap = |v: &napi::sys::napi_value| {
    // SAFETY: v was created in (or fetched into) this call's scope.
    unsafe { Unknown::from_raw_unchecked(env.raw(), *v) }
  };
  Ok(classes.iter().map(wrap).collect())
}

/// Gives the addon `async_hooks.executionAsyncId`, which `Pipe#getAsyncId`
/// calls inside a handle's async context to learn its id (the first one
/// given per thread is kept).
#[napi]
pub fn set_async_id_probe(env: &Env, probe: Function<'_, (), f64>) {
  callbacks::set_async_id_probe(env.raw(), probe.raw());
}

/// The `streamBaseState` Int32Array shared with this thread's Pipes.
#[napi(ts_return_type = "Int32Array")]
pub fn stream_base_state(env: &Env) -> Unknown<'_> {
  let v = buffers::stream_state(env.raw());
  // SAFETY: v was created in (or fetched into) this call's scope.
  unsafe { Unknown::from_raw_unchecked(env.raw(), v) }
}

/// How many JS references the addon holds on this thread: tests check it
/// returns to its baseline once handles have closed.
#[napi]
pub fn live_references() -> i64 {
  js::live_refs()
}

/// Closes an fd the addon made (a `socketpair()` end not handed to a
/// handle) without Node's fs layer, which warns about fds it did not open
/// inside worker threads. 0 or a negative errno.
#[napi]
pub fn close_fd(fd: i32) -> i32 {
  os::close_fd(fd)
}

/// A connected pair of AF_UNIX stream sockets `[fd0, fd1]`, both
/// close-on-exec (a child gets its end through spawn's stdio array).
#[napi]
pub fn socketpair(env: Env) -> Result<Vec<i32>> {
  os::socketpair()
    .map(|f| f.to_vec())
    .map_err(|e| errno_error(&env, e, "socketpair"))
}

/// Tries to connect to `path` without waiting: 0 if a server is there,
/// -111 (ECONNREFUSED) for a stale socket file, another negative errno else.
#[napi]
pub fn probe_unix_socket(path: String) -> i32 {
  os::probe(path.as_bytes())
}

fn errno_error(env: &Env, err: i32, syscall: &str) -> Error {
  let name = os::errno_name(err);
  js::throw(
    env.raw(),
    js::ErrorKind::System,
    name,
    &format!("{syscall} {name}"),
  )
}
