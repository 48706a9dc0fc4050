//! Calling JS for a handle, the same for every backend: binding a handle to
//! its object (async hooks run here), `onread`, `onconnection` and request
//! completions. Each helper reads what it needs under a short borrow and
//! calls JS with none held, so a callback may close the handle, write again
//! or detach a buffer; callers look at the state afresh afterwards.

use std::cell::{Cell, RefCell};
use std::ptr;
use std::rc::Rc;

use napi::sys::{napi_async_context, napi_env, napi_ref, napi_value};

use crate::class;
use crate::js::{self, RefEnv};
use crate::refs::JsRefs;

/// A backend's per-handle state, as the delivery helpers see it.
pub trait HandleState: Sized + 'static {
  fn refs(&self) -> &JsRefs;
  fn refs_mut(&mut self) -> &mut JsRefs;
  /// The env as code holding this state sees it (no JS can run through it).
  fn ref_env(&self) -> RefEnv {
    self.refs().env
  }
  /// The close phase ended or env teardown ran: nothing may be stored any
  /// more (nothing would release it).
  fn finished(&self) -> bool;
  /// Env teardown closed it (no JS may be called for it any more).
  fn torn_down(&self) -> bool;
  fn set_torn_down(&mut self);

  /// Env teardown, the part every backend shares: marks the handle torn
  /// down and releases its references without calling JS. False if
  /// teardown had it already (the caller then leaves it alone).
  fn tear_down_refs(&mut self, env: napi_env) -> bool {
    if self.torn_down() {
      return false;
    }
    self.set_torn_down();
    self.refs_mut().release(RefEnv::new(env));
    true
  }

  /// The handle's JS object, while it is held.
  fn this(&self) -> napi_value {
    self.ref_env().ref_value(self.refs().this)
  }

  /// Holds the handle's JS object until the close phase ends (the wrap's
  /// reference made strong: as in Node, an open handle is never collected).
  /// `me` is this state's own `Rc`, which the object wraps.
  fn hold_this(&mut self, me: &Rc<RefCell<Self>>) {
    if self.refs().this.is_null() {
      let held = class::hold_wrapped(self.ref_env(), me);
      self.refs_mut().this = held;
    }
  }

  /// Stores the async context [`bind_js`] made. A handle whose close phase
  /// already ended (a hook closed it) destroys it at once.
  fn set_async_context(&mut self, ctx: napi_async_context) {
    if self.finished() || !self.refs().async_ctx.is_null() {
      js::async_destroy(self.ref_env(), ctx);
      return;
    }
    self.refs_mut().async_ctx = ctx;
  }
}

/// `HandleState` for a backend's state type with the usual fields: `js`
/// (its `JsRefs`), `closed` (the close phase ended) and `torn_down`.
macro_rules! handle_state {
  ($state:ty) => {
    impl $crate::callbacks::HandleState for $state {
      fn refs(&self) -> &$crate::refs::JsRefs {
        &self.js
      }
      fn refs_mut(&mut self) -> &mut $crate::refs::JsRefs {
        &mut self.js
      }
      fn finished(&self) -> bool {
        self.closed || self.torn_down
      }
      fn torn_down(&self) -> bool {
        self.torn_down
      }
      fn set_torn_down(&mut self) {
        self.torn_down = true;
      }
    }
  };
}
pub(crate) use handle_state;

/// The env that runs JS: from the handle, not its borrowed state, so only
/// code that holds no borrow can get it.
pub fn env_of<T: HandleState>(rc: &Rc<RefCell<T>>) -> napi_env {
  rc.borrow().ref_env().no_js()
}

/// Holds the handle's JS object while it is open and opens the async
/// context its callbacks run in (once). Opening it runs the user's
/// `async_hooks` init hooks, so it happens with no borrow held: a hook may
/// close the handle, write to it or anything else a callback may do.
pub fn bind_js<T: HandleState>(rc: &Rc<RefCell<T>>, this: napi_value) {
  let has_ctx = {
    let mut s = rc.borrow_mut();
    s.hold_this(rc);
    !s.refs().async_ctx.is_null()
  };
  if has_ctx {
    return;
  }
  let ctx = js::async_init(env_of(rc), this, "PIPEWRAP");
  rc.borrow_mut().set_async_context(ctx);
}

thread_local! {
  /// `async_hooks.executionAsyncId`, given by the JS layer: called inside a
  /// handle's async context it tells that context's id, for which N-API has
  /// no call of its own.
  static ASYNC_ID_PROBE: Cell<napi_ref> = const { Cell::new(ptr::null_mut()) };
}

/// Remembers the function [`async_id`] asks (the first one given on this
/// thread, which runs one env; released at teardown).
pub fn set_async_id_probe(env: napi_env, func: napi_value) {
  if !ASYNC_ID_PROBE.with(|p| p.get()).is_null() || !js::is_function(env, func) {
    return;
  }
  crate::env::keep_until_teardown(env, &ASYNC_ID_PROBE, func);
}

/// Node's `getAsyncId()`: the id of the async context the handle's
/// callbacks run in (what `executionAsyncId()` says inside them), asked
/// once and remembered; still there in the close callback, -1 once the
/// close phase has released it (Node's id after its destroy hook). Node
/// makes that context with the handle; here it is made when first needed,
/// so asking for the id of an open handle makes it now (running the
/// `async_hooks` init hooks, with no borrow held). Also -1 if an init hook
/// threw or no JS layer gave the probe. Asking runs the probe through
/// `napi_make_callback`, so `before`/`after` hooks see one callback on the
/// handle's id the first time (Node's own Pipe shows none); every JS entry
/// point holds a callback scope already, so the nested one drains no ticks.
pub fn async_id<T: HandleState>(rc: &Rc<RefCell<T>>, this: napi_value) -> f64 {
  let (finished, known, has_ctx) = {
    let s = rc.borrow();
    (
      s.finished(),
      s.refs().async_id,
      !s.refs().async_ctx.is_null(),
    )
  };
  if !has_ctx && finished {
    return -1.0;
  }
  if has_ctx && known > 0.0 {
    return known;
  }
  let env = env_of(rc);
  let probe = js::ref_value(env, ASYNC_ID_PROBE.with(|p| p.get()));
  if probe.is_null() {
    return -1.0;
  }
  if !has_ctx {
    let ctx = js::async_init(env, this, "PIPEWRAP");
    rc.borrow_mut().set_async_context(ctx);
  }
  let ctx = rc.borrow().refs().async_ctx;
  if ctx.is_null() {
    // An init hook threw (the handle runs in the default context) or
    // closed the handle.
    return -1.0;
  }
  let id = js::number_f64(env, js::make_callback(env, ctx, this, probe, &[])).unwrap_or(-1.0);
  let mut s = rc.borrow_mut();
  if s.refs().async_ctx.is_null() || id <= 0.0 {
    return -1.0;
  }
  s.refs_mut().async_id = id;
  id
}

/// `func` with `this` = the handle, in its async context.
pub fn call_on_this<T: HandleState>(
  env: napi_env,
  rc: &Rc<RefCell<T>>,
  func: napi_value,
  args: &[napi_value],
) -> napi_value {
  let (this, ctx) = {
    let s = rc.borrow();
    (s.this(), s.refs().async_ctx)
  };
  if this.is_null() || !js::is_function(env, func) {
    return ptr::null_mut();
  }
  js::make_callback(env, ctx, this, func, args)
}

/// `onread`: the setter only accepts functions, so no type check per read.
pub fn call_onread<T: HandleState>(
  env: napi_env,
  rc: &Rc<RefCell<T>>,
  args: &[napi_value],
) -> napi_value {
  let (onread, this, ctx) = {
    let s = rc.borrow();
    (
      js::ref_value(env, s.refs().onread),
      s.this(),
      s.refs().async_ctx,
    )
  };
  if onread.is_null() || this.is_null() {
    return ptr::null_mut();
  }
  js::make_callback(env, ctx, this, onread, args)
}

/// `onconnection(status, client)` on a server handle (`client` undefined
/// for an accept error, as Node reports it). Returns false when there was
/// no listener to take the client.
pub fn call_onconnection<T: HandleState>(
  env: napi_env,
  rc: &Rc<RefCell<T>>,
  status: i32,
  client: napi_value,
) -> bool {
  let this = rc.borrow().this();
  if this.is_null() {
    return false;
  }
  let onconnection = js::get(env, this, c"onconnection");
  if !js::is_function(env, onconnection) {
    return false;
  }
  let client = if client.is_null() {
    js::undefined(env)
  } else {
    client
  };
  call_on_this(env, rc, onconnection, &[js::int(env, status), client]);
  true
}

/// What a finished request reports after `status, handle`.
pub enum Outcome {
  /// A write or shutdown: `undefined`.
  Done,
  /// A connect: `req, readable, writable`.
  Connected { readable: bool, writable: bool },
}

/// Whether the request the handle stored last is `req`, still without a
/// context (runs no JS: a write the socket took whole answers false at the
/// cost of one borrow).
pub fn awaits_context<T: HandleState>(rc: &Rc<RefCell<T>>, req: napi_value) -> bool {
  let s = rc.borrow();
  let env = s.ref_env();
  s.refs()
    .reqs
    .back()
    .is_some_and(|(_, r, ctx)| ctx.is_null() && env.strict_equals(env.ref_value(*r), req))
}

/// Gives the request the handle stored last its own async context, if that
/// request is `req` (a write the socket took whole stored none): its
/// `oncomplete` then runs in the context of the call that made it, as a
/// request of Node's runs in the one its `AsyncWrap` took when it was made
/// (so an `AsyncLocalStorage` store set around a write is the one its
/// callback sees). Runs JS (the `async_hooks` init hooks), so call it with
/// no borrow held, right after the call that stored the request. True if
/// it made a context (and so ran JS).
pub fn open_req_context<T: HandleState>(rc: &Rc<RefCell<T>>, req: napi_value, name: &str) -> bool {
  if !awaits_context(rc, req) {
    return false;
  }
  let env = env_of(rc);
  let ctx = js::async_init(env, req, name);
  if ctx.is_null() {
    return true;
  }
  // A hook may have run the request's course already (closed the handle
  // and had it cancelled, say): then the context is not needed.
  let mut s = rc.borrow_mut();
  let ref_env = s.ref_env();
  let slot = s
    .refs_mut()
    .reqs
    .iter_mut()
    .find(|(_, r, c)| c.is_null() && ref_env.strict_equals(ref_env.ref_value(*r), req));
  match slot {
    Some((_, _, c)) => *c = ctx,
    None => js::async_destroy(ref_env, ctx),
  }
  true
}

/// `req.oncomplete(status, handle, ...)` for a finished request whose
/// reference and context the caller took out of the handle's refs
/// (released here). It runs in the request's own async context, or the
/// handle's if it has none.
pub fn complete<T: HandleState>(
  env: napi_env,
  rc: &Rc<RefCell<T>>,
  (mut req_ref, req_ctx): (napi_ref, napi_async_context),
  status: i32,
  outcome: Outcome,
) {
  let req = js::ref_value(env, req_ref);
  js::drop_ref(env, &mut req_ref);
  let oncomplete = if req.is_null() {
    ptr::null_mut()
  } else {
    js::get(env, req, c"oncomplete")
  };
  if !js::is_function(env, oncomplete) {
    js::async_destroy(RefEnv::new(env), req_ctx);
    return;
  }
  let (this, handle_ctx) = {
    let s = rc.borrow();
    (s.this(), s.refs().async_ctx)
  };
  let ctx = if req_ctx.is_null() {
    handle_ctx
  } else {
    req_ctx
  };
  let status = js::int(env, status);
  match outcome {
    Outcome::Done => {
      let args = [status, this, js::undefined(env)];
      js::make_callback(env, ctx, req, oncomplete, &args);
    }
    Outcome::Connected { readable, writable } => {
      let args = [
        status,
        this,
        req,
        js::boolean(env, readable),
        js::boolean(env, writable),
      ];
      js::make_callback(env, ctx, req, oncomplete, &args);
    }
  }
  js::async_destroy(RefEnv::new(env), req_ctx);
}
