//! Request objects: `PipeConnectWrap`, `WriteWrap` and `ShutdownWrap`.
//!
//! pipewrap's requests carry no native state (the stream keeps what it needs
//! per request), so they are plain JS classes: a JS `new` costs ~10 ns where
//! an N-API constructor costs ~1 µs, and one is made per write. The addon
//! makes them once per env and hands the same three classes to every load
//! of the JS layer (a second `require` after `jest.resetModules()` must not
//! break the first copy's handles). Pipe methods check they got the right
//! kind (Node aborts when they do not; pipewrap throws a TypeError).

use std::cell::RefCell;
use std::ptr;

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

/// The classes' source: ShutdownWrap starts with the own properties Node's
/// has.
const SOURCE: &str = "(() => { \
  class PipeConnectWrap {} \
  class WriteWrap {} \
  class ShutdownWrap { constructor() { this.oncomplete = null; this.callback = null; this.handle = null; } } \
  return [PipeConnectWrap, WriteWrap, ShutdownWrap]; })()";

struct Classes {
  ctors: [napi_ref; 3],
  /// Their `prototype` objects, for the cheap common-case check.
  protos: [napi_ref; 3],
}

thread_local! {
  static CLASSES: RefCell<Option<Classes>> = const { RefCell::new(None) };
}

/// The three classes of this env, made on first use.
pub fn classes(env: napi_env) -> Result<[napi_value; 3], Thrown> {
  if let Some(v) = CLASSES.with(|c| {
    c.borrow()
      .as_ref()
      .map(|k| k.ctors.map(|r| js::ref_value(env, r)))
  }) {
    return Ok(v);
  }
  let script = js::string(env, SOURCE);
  let mut arr = ptr::null_mut();
  if napi_call!(napi_run_script(env, script, &mut arr)) != napi::sys::Status::napi_ok {
    return Err(Thrown);
  }
  let mut ctors = [ptr::null_mut(); 3];
  for (i, c) in ctors.iter_mut().enumerate() {
    napi_call!(napi_get_element(env, arr, i as u32, c));
  }
  let refs = Classes {
    ctors: ctors.map(|c| js::new_ref(env, c, 1)),
    protos: ctors.map(|c| js::new_ref(env, js::get(env, c, c"prototype"), 1)),
  };
  CLASSES.with(|c| *c.borrow_mut() = Some(refs));
  env::on_teardown(
    env,
    Box::new(|env| {
      if let Some(mut k) = CLASSES.with(|c| c.borrow_mut().take()) {
        for r in k.ctors.iter_mut().chain(k.protos.iter_mut()) {
          js::drop_ref(env, r);
        }
      }
    }),
  );
  Ok(ctors)
}

/// Whether `value`'s own prototype is `proto`: what every `new WriteWrap()`
/// satisfies, far cheaper than `instanceof` (no @@hasInstance lookup, no
/// chain walk). Anything else falls back to `instanceof`.
fn has_prototype(env: napi_env, value: napi_value, proto: napi_value) -> bool {
  let mut actual = ptr::null_mut();
  if napi_call!(napi_get_prototype(env, value, &mut actual)) != napi::sys::Status::napi_ok {
    return false;
  }
  js::strict_equals(env, actual, proto)
}

/// Checks that `value` is a request of the given kind.
pub fn check(env: napi_env, value: napi_value, kind: ReqKind) -> Result<napi_value, Thrown> {
  let i = kind as usize;
  let (ctor, proto) = match CLASSES.with(|c| {
    c.borrow().as_ref().map(|k| {
      (
        js::ref_value(env, k.ctors[i]),
        js::ref_value(env, k.protos[i]),
      )
    })
  }) {
    Some(pair) => pair,
    None => {
      let ctors = classes(env)?;
      (ctors[i], js::get(env, ctors[i], c"prototype"))
    }
  };
  let ok = js::is_object(env, value)
    && (has_prototype(env, value, proto) || {
      let mut is = false;
      napi_call!(napi_instanceof(env, value, ctor, &mut is)) == napi::sys::Status::napi_ok && is
    });
  if ok {
    Ok(value)
  } else {
    Err(class::type_error(
      env,
      "ERR_INVALID_ARG_TYPE",
      &format!("The \"req\" argument must be an instance of {}", NAMES[i]),
    ))
  }
}
