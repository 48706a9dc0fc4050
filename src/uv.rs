//! The few libuv entry points pipewrap uses. Node links libuv statically and
//! exports its symbols, so these resolve against the `node` binary at load
//! time. Handles are allocated with `uv_handle_size` so no libuv struct layout
//! is hard-coded here.

use std::os::raw::{c_int, c_void};

pub use napi::sys::uv_loop_s as uv_loop_t;

#[repr(C)]
#[allow(non_camel_case_types)]
pub struct uv_handle_t {
  _opaque: [u8; 0],
}

#[allow(non_camel_case_types)]
pub type uv_poll_t = uv_handle_t;
#[allow(non_camel_case_types)]
pub type uv_idle_t = uv_handle_t;
#[allow(non_camel_case_types)]
pub type uv_prepare_t = uv_handle_t;
#[allow(non_camel_case_types)]
pub type uv_check_t = uv_handle_t;

pub type PollCb = unsafe extern "C" fn(handle: *mut uv_poll_t, status: c_int, events: c_int);
pub type IdleCb = unsafe extern "C" fn(handle: *mut uv_idle_t);
pub type PrepareCb = unsafe extern "C" fn(handle: *mut uv_prepare_t);
pub type CheckCb = unsafe extern "C" fn(handle: *mut uv_check_t);
pub type CloseCb = unsafe extern "C" fn(handle: *mut uv_handle_t);

pub const UV_CHECK: c_int = 2;
pub const UV_IDLE: c_int = 6;
pub const UV_POLL: c_int = 8;
pub const UV_PREPARE: c_int = 9;
pub const UV_READABLE: c_int = 1;
pub const UV_WRITABLE: c_int = 2;

extern "C" {
  pub fn uv_handle_size(kind: c_int) -> usize;
  pub fn uv_poll_init(lp: *mut uv_loop_t, handle: *mut uv_poll_t, fd: c_int) -> c_int;
  pub fn uv_poll_start(handle: *mut uv_poll_t, events: c_int, cb: PollCb) -> c_int;
  pub fn uv_poll_stop(handle: *mut uv_poll_t) -> c_int;
  pub fn uv_idle_init(lp: *mut uv_loop_t, handle: *mut uv_idle_t) -> c_int;
  pub fn uv_idle_start(handle: *mut uv_idle_t, cb: IdleCb) -> c_int;
  pub fn uv_idle_stop(handle: *mut uv_idle_t) -> c_int;
  pub fn uv_prepare_init(lp: *mut uv_loop_t, handle: *mut uv_prepare_t) -> c_int;
  pub fn uv_prepare_start(handle: *mut uv_prepare_t, cb: PrepareCb) -> c_int;
  pub fn uv_prepare_stop(handle: *mut uv_prepare_t) -> c_int;
  pub fn uv_check_init(lp: *mut uv_loop_t, handle: *mut uv_check_t) -> c_int;
  pub fn uv_check_start(handle: *mut uv_check_t, cb: CheckCb) -> c_int;
  pub fn uv_check_stop(handle: *mut uv_check_t) -> c_int;
  pub fn uv_close(handle: *mut uv_handle_t, cb: Option<CloseCb>);
  pub fn uv_ref(handle: *mut uv_handle_t);
  pub fn uv_unref(handle: *mut uv_handle_t);
  pub fn uv_handle_set_data(handle: *mut uv_handle_t, data: *mut c_void);
  pub fn uv_handle_get_data(handle: *const uv_handle_t) -> *mut c_void;
}

/// Allocates uninitialised memory for a handle of `kind`; freed with
/// [`free_handle`] from its close callback.
pub fn alloc_handle(kind: c_int) -> *mut uv_handle_t {
  // SAFETY: uv_handle_size is a pure lookup; malloc of that size is what
  // libuv's own docs prescribe for opaque allocation.
  unsafe { libc::malloc(uv_handle_size(kind)) as *mut uv_handle_t }
}

/// # Safety
/// `handle` came from [`alloc_handle`] and libuv no longer references it
/// (its close callback has run, or it was never initialised).
pub unsafe fn free_handle(handle: *mut uv_handle_t) {
  // SAFETY: per the contract above.
  unsafe { libc::free(handle as *mut c_void) }
}

/// A close callback that only frees the memory: for teardown, when no JS may
/// run any more.
///
/// # Safety
/// Only for handles allocated with [`alloc_handle`], as libuv's close callback.
pub unsafe extern "C" fn close_and_free(handle: *mut uv_handle_t) {
  // SAFETY: libuv is done with the handle once its close callback runs.
  unsafe { free_handle(handle) }
}
