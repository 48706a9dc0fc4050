//! Raw N-API helpers for the event path: uv callbacks run outside any napi-rs
//! call frame, so they open their own handle scopes and call JS through
//! `napi_make_callback` (which drains nextTicks and microtasks and keeps the
//! async context right).

use std::ffi::CStr;
use std::ptr;

use napi::sys::{self, napi_env, napi_ref, napi_value};

/// Evaluates a napi call and returns its status. Call sites check it where
/// the call can fail in a way that matters (a getter or setter that throws,
/// a value of the wrong type, an env that can no longer run JS); the ones
/// that ignore it create or read plain values, whose only failure is env
/// teardown, after which out-parameters stay null and callers treat null as
/// "nothing".
macro_rules! napi_call {
  ($fn:ident ( $($arg:expr),* $(,)? )) => {{
    #[allow(clippy::macro_metavars_in_unsafe)]
    // SAFETY: every call site passes a live env (this thread's, during a
    // callback or a loop callback of its own), values created in the
    // current handle scope or held by a reference, and out-pointers to
    // locals; N-API validates the values themselves.
    unsafe { napi::sys::$fn($($arg),*) }
  }};
}
pub(crate) use napi_call;

pub struct HandleScope {
  env: napi_env,
  scope: sys::napi_handle_scope,
}

impl HandleScope {
  pub fn open(env: napi_env) -> Self {
    let mut scope = ptr::null_mut();
    napi_call!(napi_open_handle_scope(env, &mut scope));
    HandleScope { env, scope }
  }
}

impl Drop for HandleScope {
  fn drop(&mut self) {
    napi_call!(napi_close_handle_scope(self.env, self.scope));
  }
}

pub fn undefined(env: napi_env) -> napi_value {
  let mut v = ptr::null_mut();
  napi_call!(napi_get_undefined(env, &mut v));
  v
}

pub fn int(env: napi_env, n: i32) -> napi_value {
  let mut v = ptr::null_mut();
  napi_call!(napi_create_int32(env, n, &mut v));
  v
}

pub fn boolean(env: napi_env, b: bool) -> napi_value {
  let mut v = ptr::null_mut();
  napi_call!(napi_get_boolean(env, b, &mut v));
  v
}

pub fn string(env: napi_env, s: &str) -> napi_value {
  let mut v = ptr::null_mut();
  napi_call!(napi_create_string_utf8(
    env,
    s.as_ptr().cast(),
    s.len() as isize,
    &mut v
  ));
  v
}

pub fn type_of(env: napi_env, v: napi_value) -> sys::napi_valuetype {
  let mut t = 0;
  if v.is_null() {
    return sys::ValueType::napi_undefined;
  }
  napi_call!(napi_typeof(env, v, &mut t));
  t
}

pub fn is_function(env: napi_env, v: napi_value) -> bool {
  type_of(env, v) == sys::ValueType::napi_function
}

pub fn is_object(env: napi_env, v: napi_value) -> bool {
  matches!(
    type_of(env, v),
    sys::ValueType::napi_object | sys::ValueType::napi_function
  )
}

/// `obj[name]`, or null if it threw (the exception stays pending: it
/// reaches JS when the native call returns, or `make_callback` reports it).
pub fn get(env: napi_env, obj: napi_value, name: &CStr) -> napi_value {
  let mut v = ptr::null_mut();
  match napi_call!(napi_get_named_property(env, obj, name.as_ptr(), &mut v)) {
    sys::Status::napi_ok => v,
    _ => ptr::null_mut(),
  }
}

/// `[a, b, ...]`.
pub fn array_of(env: napi_env, items: &[napi_value]) -> napi_value {
  let mut arr = ptr::null_mut();
  napi_call!(napi_create_array_with_length(env, items.len(), &mut arr));
  for (i, v) in items.iter().enumerate() {
    napi_call!(napi_set_element(env, arr, i as u32, *v));
  }
  arr
}

/// `obj[name] = value`; false if it threw (the exception stays pending).
pub fn set(env: napi_env, obj: napi_value, name: &CStr, value: napi_value) -> bool {
  napi_call!(napi_set_named_property(env, obj, name.as_ptr(), value)) == sys::Status::napi_ok
}

/// The value of `obj[name]` as an i32, if it is a number.
pub fn get_i32(env: napi_env, obj: napi_value, name: &CStr) -> Option<i32> {
  let v = get(env, obj, name);
  number_i32(env, v)
}

pub fn number_f64(env: napi_env, v: napi_value) -> Option<f64> {
  if type_of(env, v) != sys::ValueType::napi_number {
    return None;
  }
  let mut d = 0f64;
  napi_call!(napi_get_value_double(env, v, &mut d));
  Some(d)
}

pub fn double(env: napi_env, d: f64) -> napi_value {
  let mut v = ptr::null_mut();
  napi_call!(napi_create_double(env, d, &mut v));
  v
}

pub fn number_i32(env: napi_env, v: napi_value) -> Option<i32> {
  if type_of(env, v) != sys::ValueType::napi_number {
    return None;
  }
  let mut d = 0f64;
  napi_call!(napi_get_value_double(env, v, &mut d));
  if d.fract() != 0.0 || d < i32::MIN as f64 || d > i32::MAX as f64 {
    return None;
  }
  Some(d as i32)
}

thread_local! {
  /// References this addon holds on this thread (tests assert it returns
  /// to its baseline once handles close: nothing leaks).
  static LIVE_REFS: std::cell::Cell<i64> = const { std::cell::Cell::new(0) };
}

/// How many references this thread's env holds now.
pub fn live_refs() -> i64 {
  LIVE_REFS.with(|c| c.get())
}

/// Counts references held some other way (a wrap's own reference made
/// strong) in [`live_refs`].
pub fn count_held(delta: i64) {
  LIVE_REFS.with(|c| c.set(c.get() + delta));
}

/// The env as code that holds a handle's state borrowed sees it: reference
/// bookkeeping and byte lookups only. None of its methods can run JS (no
/// property access, no calls, no scripts, no async hooks), so a `RefCell`
/// borrow may be held across any of them. A handle's state (`Stream`) keeps
/// only this; the full `napi_env` that runs JS reaches the delivery layer
/// through `stream::env_of`, which takes the handle, not its borrowed state.
#[derive(Clone, Copy)]
pub struct RefEnv(napi_env);

impl RefEnv {
  pub fn new(env: napi_env) -> Self {
    RefEnv(env)
  }
  pub fn new_ref(self, v: napi_value, count: u32) -> napi_ref {
    new_ref(self.0, v, count)
  }
  pub fn ref_value(self, r: napi_ref) -> napi_value {
    ref_value(self.0, r)
  }
  pub fn drop_ref(self, r: &mut napi_ref) {
    drop_ref(self.0, r)
  }
  pub fn ref_more(self, r: napi_ref) {
    ref_more(self.0, r)
  }
  pub fn ref_less(self, r: &mut napi_ref) -> bool {
    ref_less(self.0, r)
  }
  /// `a === b` (identity: no conversion, no JS).
  pub fn strict_equals(self, a: napi_value, b: napi_value) -> bool {
    strict_equals(self.0, a, b)
  }
  pub fn uint8_bytes(self, v: napi_value) -> Option<(*mut u8, usize)> {
    uint8_bytes(self.0, v)
  }
  /// The raw env, for the N-API calls of this crate that run no JS (wrap
  /// references, the loop, the scheduler, `napi_async_destroy`). Not for
  /// calling functions or touching properties.
  pub(crate) fn no_js(self) -> napi_env {
    self.0
  }
}

pub fn new_ref(env: napi_env, v: napi_value, count: u32) -> napi_ref {
  let mut r = ptr::null_mut();
  if napi_call!(napi_create_reference(env, v, count, &mut r)) == sys::Status::napi_ok {
    LIVE_REFS.with(|c| c.set(c.get() + 1));
  }
  r
}

pub fn ref_value(env: napi_env, r: napi_ref) -> napi_value {
  let mut v = ptr::null_mut();
  if !r.is_null() {
    napi_call!(napi_get_reference_value(env, r, &mut v));
  }
  v
}

/// `a === b`.
pub fn strict_equals(env: napi_env, a: napi_value, b: napi_value) -> bool {
  let mut eq = false;
  napi_call!(napi_strict_equals(env, a, b, &mut eq));
  eq
}

/// Adds one count to a reference that has at least one.
pub fn ref_more(env: napi_env, r: napi_ref) {
  let mut count = 0;
  napi_call!(napi_reference_ref(env, r, &mut count));
}

/// Takes one count from a reference; deletes it (and nulls the slot) when
/// none is left. Returns whether it was deleted.
pub fn ref_less(env: napi_env, r: &mut napi_ref) -> bool {
  if r.is_null() {
    return false;
  }
  let mut count = 0;
  napi_call!(napi_reference_unref(env, *r, &mut count));
  if count == 0 {
    drop_ref(env, r);
    return true;
  }
  *r = ptr::null_mut();
  false
}

/// Deletes a reference and nulls the slot; a null slot is left alone.
pub fn drop_ref(env: napi_env, r: &mut napi_ref) {
  if !r.is_null() {
    napi_call!(napi_delete_reference(env, *r));
    LIVE_REFS.with(|c| c.set(c.get() - 1));
    *r = ptr::null_mut();
  }
}

/// Bytes of a Uint8Array (Buffer included), or None for anything else.
pub fn uint8_bytes(env: napi_env, v: napi_value) -> Option<(*mut u8, usize)> {
  let mut ty = -1;
  let mut len = 0usize;
  let mut data = ptr::null_mut();
  // One call: anything that is not a typed array fails it by status.
  let status = napi_call!(napi_get_typedarray_info(
    env,
    v,
    &mut ty,
    &mut len,
    &mut data,
    ptr::null_mut(),
    ptr::null_mut()
  ));
  if status != sys::Status::napi_ok || ty != sys::TypedarrayType::uint8_array {
    return None;
  }
  let data = if data.is_null() {
    ptr::NonNull::dangling().as_ptr()
  } else {
    data as *mut u8
  };
  Some((data, len))
}

/// Calls `func` with `recv` as `this` through `napi_make_callback`. A thrown
/// exception is handed to Node's uncaught-exception machinery, as Node does
/// for its own handles. Returns the callback's result, or null if it threw or
/// the environment can no longer run JS (worker/process teardown, when Node
/// still spins the loop once for handle cleanup).
pub fn make_callback(
  env: napi_env,
  ctx: sys::napi_async_context,
  recv: napi_value,
  func: napi_value,
  args: &[napi_value],
) -> napi_value {
  let mut result = ptr::null_mut();
  let status = napi_call!(napi_make_callback(
    env,
    ctx,
    recv,
    func,
    args.len(),
    args.as_ptr(),
    &mut result
  ));
  if status != sys::Status::napi_ok {
    clear_exception_fatally(env);
    return ptr::null_mut();
  }
  result
}

/// Opens the async context a handle's callbacks run in. Runs JS: the
/// user's `async_hooks` init hooks. Call with no handle state borrowed.
pub fn async_init(env: napi_env, resource: napi_value, name: &str) -> sys::napi_async_context {
  let mut ctx = ptr::null_mut();
  let name = string(env, name);
  if napi_call!(napi_async_init(env, resource, name, &mut ctx)) != sys::Status::napi_ok {
    // A hook threw: Node reports it as uncaught; the handle works without
    // a context of its own (callbacks then run in the default one).
    clear_exception_fatally(env);
    return ptr::null_mut();
  }
  ctx
}

/// Closes an async context (queues the destroy hooks; runs no JS now).
pub fn async_destroy(env: RefEnv, ctx: sys::napi_async_context) {
  if !ctx.is_null() {
    napi_call!(napi_async_destroy(env.0, ctx));
  }
}

/// Hands a pending exception to Node's uncaught-exception machinery (what
/// Node does with one thrown by an async hook or a callback of its own).
pub fn clear_exception_fatally(env: napi_env) {
  let mut pending = false;
  napi_call!(napi_is_exception_pending(env, &mut pending));
  if pending {
    let mut err = ptr::null_mut();
    napi_call!(napi_get_and_clear_last_exception(env, &mut err));
    napi_call!(napi_fatal_exception(env, err));
  }
}

/// Throws a `TypeError`/`RangeError`/`Error` with a Node-style `code` and
/// returns the napi-rs error that tells the binding glue one is pending.
pub fn throw(env: napi_env, kind: ErrorKind, code: &str, msg: &str) -> napi::Error {
  let code_v = string(env, code);
  let msg_v = string(env, msg);
  let mut err = ptr::null_mut();
  match kind {
    ErrorKind::Type => napi_call!(napi_create_type_error(env, code_v, msg_v, &mut err)),
    ErrorKind::Range => napi_call!(napi_create_range_error(env, code_v, msg_v, &mut err)),
    ErrorKind::System => napi_call!(napi_create_error(env, code_v, msg_v, &mut err)),
  };
  napi_call!(napi_throw(env, err));
  napi::Error::new(napi::Status::PendingException, msg.to_string())
}

#[derive(Clone, Copy)]
pub enum ErrorKind {
  Type,
  Range,
  /// A failed syscall: a plain Error with the errno's name as `code`.
  System,
}

pub fn type_error(env: napi_env, code: &str, msg: &str) -> napi::Error {
  throw(env, ErrorKind::Type, code, msg)
}

pub fn range_error(env: napi_env, code: &str, msg: &str) -> napi::Error {
  throw(env, ErrorKind::Range, code, msg)
}
