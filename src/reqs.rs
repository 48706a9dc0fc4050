//! Request objects: `PipeConnectWrap`, `WriteWrap`, `ShutdownWrap`.
//!
//! pipewrap's requests carry no native state (the stream keeps what it needs
//! per request), so they are plain JS classes defined by lib/binding.js: a JS
//! `new` costs ~10 ns where an N-API constructor costs ~1 µs, and one is made
//! per write. The classes are registered here so Pipe methods can check they
//! got the right kind (Node aborts when they do not; pipewrap throws a
//! TypeError).

use napi::sys::{napi_env, napi_ref, napi_value};

use crate::class::{self, Thrown};
use crate::env;
use crate::js::{self, napi_call};

#[derive(Clone, Copy)]
pub enum ReqKind {
  Connect = 0,
  Write = 1,
  Shutdown = 2,
}

const NAMES: [&str; 3] = ["PipeConnectWrap", "WriteWrap", "ShutdownWrap"];

/// Remembers the three request classes for this env.
pub fn register(env: napi_env, classes: [napi_value; 3]) -> Result<(), Thrown> {
  for (c, name) in classes.iter().zip(NAMES) {
    if !js::is_function(env, *c) {
      return Err(class::type_error(
        env,
        "ERR_INVALID_ARG_TYPE",
        &format!("{name} must be a class"),
      ));
    }
  }
  let refs: [napi_ref; 3] = classes.map(|c| js::new_ref(env, c, 1));
  let protos: [napi_ref; 3] = classes.map(|c| {
    let proto = js::get(env, c, c"prototype");
    if js::is_object(env, proto) {
      js::new_ref(env, proto, 1)
    } else {
      std::ptr::null_mut()
    }
  });
  env::with(env, |e| e.set_request_classes(refs, protos));
  Ok(())
}

/// Whether `value`'s own prototype is `proto`: what every `new WriteWrap()`
/// satisfies, far cheaper than `instanceof` (no @@hasInstance lookup, no
/// chain walk). Anything else falls back to `instanceof`.
fn has_prototype(env: napi_env, value: napi_value, proto: napi_value) -> bool {
  if proto.is_null() {
    return false;
  }
  let mut actual = std::ptr::null_mut();
  if napi_call!(napi_get_prototype(env, value, &mut actual)) != napi::sys::Status::napi_ok {
    return false;
  }
  let mut same = false;
  napi_call!(napi_strict_equals(env, actual, proto, &mut same)) == napi::sys::Status::napi_ok
    && same
}

/// Checks that `value` is a request of the given kind.
pub fn check(env: napi_env, value: napi_value, kind: ReqKind) -> Result<napi_value, Thrown> {
  let (ctor, proto) = env::with(env, |e| {
    (
      e.request_class(kind as usize),
      e.request_proto(kind as usize),
    )
  });
  let ok = if ctor.is_null() {
    js::is_object(env, value)
  } else if has_prototype(env, value, proto) {
    true
  } else {
    let mut is = false;
    napi_call!(napi_instanceof(env, value, ctor, &mut is)) == napi::sys::Status::napi_ok && is
  };
  if ok {
    Ok(value)
  } else {
    Err(class::type_error(
      env,
      "ERR_INVALID_ARG_TYPE",
      &format!(
        "The \"req\" argument must be an instance of {}",
        NAMES[kind as usize]
      ),
    ))
  }
}
