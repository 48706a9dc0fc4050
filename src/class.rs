//! Raw N-API class plumbing for the binding's hot classes.
//!
//! napi-rs' `#[napi]` classes cost about 1 µs per method call here (borrow
//! tracking, per-call allocations), which is more than a whole ping-pong
//! round trip's budget. `Pipe` is built from raw N-API calls instead, and
//! its class itself is JS (`pipe.rs`, `CLASS_SOURCE`): the constructor asks
//! the native side for a new state, whose number it keeps in a private
//! field, and the prototype's methods pass that number first. The native
//! side finds the state in a map by number. Neither a method nor the
//! constructor touches N-API's wrap: `napi_unwrap` looks a private symbol
//! up (~800 instructions a call), and `napi_wrap` plus a read-only property
//! for the number cost ~4,600 instructions per object, against ~1,000 for
//! `napi_add_finalizer` and a class field.
//!
//! Why a map rather than `napi_type_tag_object`: a state is only reached
//! through a number this addon handed out (a private field JS cannot forge),
//! and the map also holds each object's finalizer reference (made strong
//! while the handle is open), so it exists anyway.

use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::os::raw::c_void;
use std::ptr;
use std::rc::Rc;

use napi::sys::{self, napi_callback_info, napi_env, napi_ref, napi_value};

use crate::js::{self, napi_call};

/// An exception is pending in the env; return to JS at once.
pub struct Thrown;

pub type JsResult = Result<napi_value, Thrown>;

impl From<napi::Error> for Thrown {
  fn from(_: napi::Error) -> Self {
    Thrown
  }
}

pub fn type_error(env: napi_env, code: &str, msg: &str) -> Thrown {
  js::type_error(env, code, msg);
  Thrown
}

pub fn range_error(env: napi_env, code: &str, msg: &str) -> Thrown {
  js::range_error(env, code, msg);
  Thrown
}

/// The receiver and up to N arguments (missing ones are `undefined`).
pub struct CallArgs<const N: usize> {
  pub this: napi_value,
  pub argv: [napi_value; N],
  pub argc: usize,
}

pub fn call_args<const N: usize>(env: napi_env, info: napi_callback_info) -> CallArgs<N> {
  let mut argv = [ptr::null_mut(); N];
  let mut argc = N;
  let mut this = ptr::null_mut();
  napi_call!(napi_get_cb_info(
    env,
    info,
    &mut argc,
    argv.as_mut_ptr(),
    &mut this,
    ptr::null_mut()
  ));
  let undef = js::undefined(env);
  for a in argv.iter_mut().skip(argc.min(N)) {
    *a = undef;
  }
  CallArgs { this, argv, argc }
}

/// Hashes a pointer-sized key by one multiply (Fibonacci hashing): the keys
/// are heap addresses, already unique, and this set is hit on every call.
#[derive(Default)]
pub struct AddrHasher(u64);

impl std::hash::Hasher for AddrHasher {
  fn finish(&self) -> u64 {
    self.0
  }
  fn write(&mut self, bytes: &[u8]) {
    for b in bytes {
      self.0 = (self.0 << 8 | u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
  }
  fn write_usize(&mut self, n: usize) {
    self.0 = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
  }
  fn write_u64(&mut self, n: u64) {
    self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
  }
}

type AddrMap<V> = std::collections::HashMap<usize, V, std::hash::BuildHasherDefault<AddrHasher>>;

/// A map keyed by an already unique integer (a handle id), hashed by one
/// multiply.
pub type IdMap<V> = std::collections::HashMap<u64, V, std::hash::BuildHasherDefault<AddrHasher>>;

thread_local! {
  /// The live natives attached by `wrap_tracked`, by address, with the
  /// finalizer's reference to their object (made strong while a handle is
  /// open: [`hold_wrapped`]).
  static LIVE: std::cell::RefCell<AddrMap<napi_ref>> = std::cell::RefCell::new(AddrMap::default());
  /// The same natives by state number (see [`wrap_tracked`]): address.
  static STATES: std::cell::RefCell<IdMap<usize>> = std::cell::RefCell::new(IdMap::default());
  static NEXT_STATE: std::cell::Cell<i32> = const { std::cell::Cell::new(0) };
  /// The state number `wrap_tracked` gave last, for [`construct_pipe`].
  static LAST_STATE: std::cell::Cell<i32> = const { std::cell::Cell::new(0) };
}

/// A state number no live native has: a small positive integer, which V8
/// keeps in the object's field as it is (a Smi: no allocation per object).
fn next_state_number() -> i32 {
  STATES.with(|states| {
    let states = states.borrow();
    loop {
      let n = NEXT_STATE.with(|c| {
        let n = if c.get() >= i32::MAX - 1 {
          1
        } else {
          c.get() + 1
        };
        c.set(n);
        n
      });
      if !states.contains_key(&(n as u64)) {
        return n;
      }
    }
  })
}

/// Attaches `native` to `this` (the object shares ownership of it: its
/// finalizer drops that share) and registers it under a new state number.
/// The finalizer's data is the `Rc` itself: no second allocation per
/// object. Its reference is weak; [`hold_wrapped`] makes it strong while the
/// native needs its object (one reference per object, not two).
///
/// Returns the state number for JS, which the constructor keeps and the
/// prototype's methods pass back as their first argument
/// ([`unwrap_state`]); null if attaching failed.
pub fn wrap_tracked<T>(env: napi_env, this: napi_value, native: Rc<T>) -> napi_value {
  let data = Rc::into_raw(native) as *mut c_void;
  let number = next_state_number();
  let mut wrap_ref = ptr::null_mut();
  let status = napi_call!(napi_add_finalizer(
    env,
    this,
    data,
    Some(finalize_tracked::<T>),
    number as isize as *mut c_void,
    &mut wrap_ref
  ));
  if status != sys::Status::napi_ok {
    // SAFETY: the share Rc::into_raw gave up above; napi_add_finalizer did
    // not take it.
    drop(unsafe { Rc::from_raw(data as *const T) });
    return ptr::null_mut();
  }
  LIVE.with(|l| l.borrow_mut().insert(data as usize, wrap_ref));
  STATES.with(|st| st.borrow_mut().insert(number as u64, data as usize));
  LAST_STATE.with(|c| c.set(number));
  js::int(env, number)
}

unsafe extern "C" fn finalize_tracked<T>(env: napi_env, data: *mut c_void, hint: *mut c_void) {
  STATES.with(|st| st.borrow_mut().remove(&(hint as usize as u64)));
  // The reference napi_add_finalizer returned is deleted here and only
  // here (N-API's rule: deleting it earlier would cancel this finalizer).
  if let Some(wrap_ref) = LIVE.with(|l| l.borrow_mut().remove(&(data as usize))) {
    napi_call!(napi_delete_reference(env, wrap_ref));
  }
  // SAFETY: data is the share Rc::into_raw gave up in wrap_tracked::<T>;
  // finalizers run once.
  drop(unsafe { Rc::from_raw(data as *const T) });
}

/// Makes the wrap reference of `native`'s object strong (the object stays
/// alive) and returns it for [`release_wrapped`]; null if `native` is not
/// wrapped. Counted in `js::live_refs` while held.
pub fn hold_wrapped<T>(env: js::RefEnv, native: &Rc<T>) -> napi_ref {
  let env = env.no_js();
  let key = Rc::as_ptr(native) as usize;
  let Some(wrap_ref) = LIVE.with(|l| l.borrow().get(&key).copied()) else {
    return ptr::null_mut();
  };
  let mut count = 0;
  if napi_call!(napi_reference_ref(env, wrap_ref, &mut count)) != sys::Status::napi_ok {
    return ptr::null_mut();
  }
  js::count_held(1);
  wrap_ref
}

/// Makes a reference from [`hold_wrapped`] weak again and nulls the slot.
pub fn release_wrapped(env: js::RefEnv, held: &mut napi_ref) {
  if held.is_null() {
    return;
  }
  let env = env.no_js();
  let mut count = 0;
  napi_call!(napi_reference_unref(env, *held, &mut count));
  js::count_held(-1);
  *held = ptr::null_mut();
}

/// An object's share of its native, lent for one call: no count is taken
/// or given back.
pub struct Wrapped<T>(ManuallyDrop<Rc<T>>);

impl<T> Deref for Wrapped<T> {
  type Target = Rc<T>;
  fn deref(&self) -> &Rc<T> {
    &self.0
  }
}

/// Why [`construct_pipe`] made no Pipe.
pub enum ConstructError {
  /// This env has no Pipe class, or the construction made no state.
  NoPipe,
  /// `napi_new_instance` failed with this status (the env is shutting
  /// down, or no memory).
  Status(sys::napi_status),
}

/// `new Pipe(kind)` from native code (an accepted or received connection),
/// with the native `T` its constructor attached: the one state that
/// construction made (no lookup through the object).
pub fn construct_pipe<T>(
  env: napi_env,
  kind: i32,
) -> Result<(napi_value, Wrapped<T>), ConstructError> {
  let ctor = pipe_ctor(env);
  if ctor.is_null() {
    return Err(ConstructError::NoPipe);
  }
  let mut obj = ptr::null_mut();
  let arg = js::int(env, kind);
  LAST_STATE.with(|c| c.set(0));
  let status = napi_call!(napi_new_instance(env, ctor, 1, &arg, &mut obj));
  if status != sys::Status::napi_ok {
    return Err(ConstructError::Status(status));
  }
  let number = LAST_STATE.with(|c| c.replace(0));
  let native = state_by_number(number).ok_or(ConstructError::NoPipe)?;
  Ok((obj, native))
}

/// The native `T` whose state number is `state` ([`wrap_tracked::<T>`]),
/// else None. The cheap way in for a method: `napi_unwrap` looks a private
/// symbol up on the object (about 800 instructions a call, more than the
/// rest of a small method), where this reads a number and a map. Numbers
/// are never reused while their native is live, and one is forgotten when
/// its object's finalizer runs, before the share is dropped.
pub fn unwrap_state<T>(env: napi_env, state: napi_value) -> Option<Wrapped<T>> {
  let mut number = 0;
  if napi_call!(napi_get_value_int32(env, state, &mut number)) != sys::Status::napi_ok {
    return None;
  }
  state_by_number(number)
}

/// The live native registered under `number` by [`wrap_tracked`], if any.
fn state_by_number<T>(number: i32) -> Option<Wrapped<T>> {
  let data = STATES.with(|st| st.borrow().get(&(number as u64)).copied())?;
  // SAFETY: data is a live share registered by wrap_tracked (the map holds
  // exactly those until their finalizer runs, which drops the share only
  // after removing it; finalizers do not run during a call). ManuallyDrop:
  // the share stays the object's.
  Some(Wrapped(ManuallyDrop::new(unsafe {
    Rc::from_raw(data as *const T)
  })))
}

/// The first argument (a method's state, see [`unwrap_state`]) and up to N
/// arguments after it (missing ones are `undefined`).
pub fn state_and_args<const N: usize>(
  env: napi_env,
  info: napi_callback_info,
) -> (napi_value, CallArgs<N>) {
  const MAX: usize = 8;
  const { assert!(N < MAX) };
  let mut all = [ptr::null_mut(); MAX];
  let mut argc = N + 1;
  let mut this = ptr::null_mut();
  napi_call!(napi_get_cb_info(
    env,
    info,
    &mut argc,
    all.as_mut_ptr(),
    &mut this,
    ptr::null_mut()
  ));
  let undef = js::undefined(env);
  for a in all.iter_mut().take(N + 1).skip(argc.min(N + 1)) {
    *a = undef;
  }
  let mut argv = [undef; N];
  argv.copy_from_slice(&all[1..=N]);
  (
    all[0],
    CallArgs {
      this,
      argv,
      argc: argc.saturating_sub(1),
    },
  )
}

/// Runs a method body, turning `Err(Thrown)` into the null return N-API
/// expects while an exception is pending.
pub fn finish(result: JsResult) -> napi_value {
  result.unwrap_or(ptr::null_mut())
}

thread_local! {
  /// The `Pipe` constructor of this env, defined once however often the
  /// addon is loaded.
  static PIPE_CTOR: std::cell::Cell<napi_ref> = const { std::cell::Cell::new(ptr::null_mut()) };
}

/// The Pipe class, if this env defined it already.
pub fn pipe_ctor(env: napi_env) -> napi_value {
  js::ref_value(env, PIPE_CTOR.with(|c| c.get()))
}

/// Remembers the Pipe class (once per env; released at teardown).
pub fn set_pipe_ctor(env: napi_env, ctor: napi_value) {
  crate::env::keep_until_teardown(env, &PIPE_CTOR, ctor);
}
