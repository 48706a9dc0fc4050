//! The JS references a handle holds for its callbacks and requests, the
//! same for every backend: its object (held strong while open), `onread`
//! (shared by handles given the same function), the async context, the
//! close callback, the user read buffer, and one reference per pending
//! request. Every method takes a `RefEnv`, so none can run JS: they may be
//! called with the handle's state borrowed.

use std::cell::Cell;
use std::ptr;

use napi::sys::{napi_async_context, napi_ref, napi_value};
use pipewrap_core::queue::Queue;

use crate::class;
use crate::js::{self, RefEnv};

/// A request's id within its handle.
pub type ReqId = u64;

thread_local! {
  /// The reference of the last `onread` set (see `JsRefs::set_onread`);
  /// it belongs to the handles that hold it, not to this slot.
  static LAST_ONREAD: Cell<napi_ref> = const { Cell::new(ptr::null_mut()) };
}

/// The JS references one handle holds. Each is released exactly once: when
/// replaced, at the end of the close phase, or at env teardown.
pub struct JsRefs {
  /// The env they belong to (reference calls only: see `RefEnv`).
  pub env: RefEnv,
  /// The handle object's wrap reference, held strong from the first use
  /// until the close phase ends (as in Node, an open handle is never
  /// collected); null when not held.
  pub this: napi_ref,
  pub onread: napi_ref,
  pub async_ctx: napi_async_context,
  /// The id of `async_ctx` once asked for (`getAsyncId`), else 0.
  pub async_id: f64,
  pub close_cb: napi_ref,
  /// `useUserBuffer`'s Uint8Array: its memory is looked up again for every
  /// read, never cached.
  pub user_buf: napi_ref,
  /// Pending requests by id, in the order they were made: the request
  /// object and the async context its `oncomplete` runs in (null until
  /// `callbacks::open_req_context` gives it one).
  pub reqs: Queue<(ReqId, napi_ref, napi_async_context)>,
  /// The Uint8Arrays of queued lent writes (`StreamCore::write_lent`) by
  /// request id: their memory is looked up again at every flush.
  pub lent: Queue<(ReqId, napi_ref)>,
}

impl JsRefs {
  pub fn new(env: RefEnv) -> Self {
    JsRefs {
      env,
      this: ptr::null_mut(),
      onread: ptr::null_mut(),
      async_ctx: ptr::null_mut(),
      async_id: 0.0,
      close_cb: ptr::null_mut(),
      user_buf: ptr::null_mut(),
      reqs: Queue::new(),
      lent: Queue::new(),
    }
  }

  /// Replaces one reference slot, releasing the old value.
  pub fn replace(env: RefEnv, slot: &mut napi_ref, value: napi_value) {
    env.drop_ref(slot);
    *slot = env.new_ref(value, 1);
  }

  /// Sets `onread`. Handles given the function the last one was given
  /// (Node's net layer, and ours, give every socket the same one) share one
  /// counted reference instead of holding one each: a reference and a
  /// global handle less per connection.
  pub fn set_onread(&mut self, env: RefEnv, func: napi_value) {
    let last = LAST_ONREAD.with(|l| l.get());
    if !last.is_null() && self.onread == last && env.strict_equals(env.ref_value(last), func) {
      return;
    }
    self.release_onread(env);
    // Read again: releasing ours may have deleted the shared one.
    let last = LAST_ONREAD.with(|l| l.get());
    if !last.is_null() && env.strict_equals(env.ref_value(last), func) {
      env.ref_more(last);
      self.onread = last;
    } else {
      self.onread = env.new_ref(func, 1);
      LAST_ONREAD.with(|l| l.set(self.onread));
    }
  }

  fn release_onread(&mut self, env: RefEnv) {
    let r = self.onread;
    if env.ref_less(&mut self.onread) {
      LAST_ONREAD.with(|l| {
        if l.get() == r {
          l.set(ptr::null_mut());
        }
      });
    }
  }

  /// Stores a pending request (its context comes later, made with no
  /// borrow held: see `callbacks::open_req_context`).
  pub fn add_req(&mut self, env: RefEnv, id: ReqId, req: napi_value) {
    let r = env.new_ref(req, 1);
    self.reqs.push_back((id, r, ptr::null_mut()));
  }

  /// Takes the request stored for `id`: its reference (the caller drops
  /// it) and its async context (the caller destroys it, if not null),
  /// releasing the buffer it lent, if any.
  pub fn take_req(&mut self, env: RefEnv, id: ReqId) -> (napi_ref, napi_async_context) {
    let at = self.lent.iter().position(|(r, _)| *r == id);
    if let Some(i) = at {
      if let Some((_, mut buf)) = self.lent.remove(i) {
        env.drop_ref(&mut buf);
      }
    }
    let at = self.reqs.iter().position(|(r, _, _)| *r == id);
    at.and_then(|i| self.reqs.remove(i))
      .map_or((ptr::null_mut(), ptr::null_mut()), |(_, r, ctx)| (r, ctx))
  }

  /// The bytes of the buffer request `id` lent, looked up now (None if it
  /// was detached). The slice borrows these references, so it cannot
  /// outlive the borrow of the handle's state, under which no JS can run
  /// (see [`RefEnv`]): it is valid for one flush only.
  pub fn lent_bytes(&self, env: RefEnv, id: ReqId) -> Option<&[u8]> {
    let (_, r) = self.lent.iter().find(|(r, _)| *r == id)?;
    let (p, len) = env.uint8_bytes(env.ref_value(*r))?;
    // SAFETY: the Uint8Array is held by a reference and its memory was
    // looked up just now; the slice's lifetime is this borrow of `self`,
    // during which no JS can run to detach or resize it.
    Some(unsafe { std::slice::from_raw_parts(p, len) })
  }

  /// Releases everything (again: every slot is nulled once released).
  pub fn release(&mut self, env: RefEnv) {
    class::release_wrapped(env, &mut self.this);
    self.release_onread(env);
    env.drop_ref(&mut self.close_cb);
    env.drop_ref(&mut self.user_buf);
    for (_, mut r, ctx) in self.reqs.take_all() {
      env.drop_ref(&mut r);
      js::async_destroy(env, ctx);
    }
    for (_, mut r) in self.lent.take_all() {
      env.drop_ref(&mut r);
    }
    if !self.async_ctx.is_null() {
      js::async_destroy(env, self.async_ctx);
      self.async_ctx = ptr::null_mut();
    }
  }
}

/// A handle collected without ever being closed (never opened, say, but
/// given an `onread` or a user buffer) still releases what it holds: its
/// state's last owner is then the object's finalizer, where deleting
/// references is allowed. Closed and torn-down handles released everything
/// already, so this makes no N-API call for them (their env may be gone).
impl Drop for JsRefs {
  fn drop(&mut self) {
    self.release(self.env);
  }
}
