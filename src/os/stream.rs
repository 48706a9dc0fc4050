//! One handle's native state: the Node-free state machine
//! (`pipewrap_core::stream`), the libuv poll handle that watches its fd, and
//! the JS references the delivery layer keeps for it. Plus the registry of
//! open handles that env teardown closes.
//!
//! Nothing here calls JS, by construction: a `Stream` keeps a `RefEnv`,
//! whose methods cannot run JS, so code holding a borrow of one can do
//! reference bookkeeping and byte lookups but never reach a call, a getter
//! or an async hook. The delivery layer gets the env that runs JS from the
//! handle itself ([`env_of`]), after every borrow is released.

use std::cell::{Cell, RefCell};
use std::ptr;
use std::rc::Rc;

use napi::sys::{napi_async_context, napi_env, napi_ref, napi_value};
use pipewrap_core::queue::Queue;
use pipewrap_core::stream::{Kind, ReqId, StreamCore};

use crate::class::{self, IdMap};
use crate::env;
use crate::js::{self, RefEnv};
use crate::uv;

pub type StreamRef = Rc<RefCell<Stream>>;

/// The JS references one handle holds. Each is released exactly once: when
/// replaced, at the end of the close phase, or at env teardown.
pub struct JsRefs {
  /// The handle object's wrap reference, held strong from the first use
  /// until the close phase ends (as in Node, an open handle is never
  /// collected); null when not held.
  pub this: napi_ref,
  pub onread: napi_ref,
  pub async_ctx: napi_async_context,
  pub close_cb: napi_ref,
  /// `useUserBuffer`'s Uint8Array: its memory is looked up again for every
  /// read, never cached.
  pub user_buf: napi_ref,
  /// Request objects by id, in the order they were made.
  pub reqs: Queue<(ReqId, napi_ref)>,
  /// The Uint8Arrays of queued lent writes (`StreamCore::write_lent`) by
  /// request id: their memory is looked up again at every flush.
  pub lent: Queue<(ReqId, napi_ref)>,
}

impl JsRefs {
  fn new() -> Self {
    JsRefs {
      this: ptr::null_mut(),
      onread: ptr::null_mut(),
      async_ctx: ptr::null_mut(),
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

  /// Takes the request stored for `id` (the caller drops the reference),
  /// releasing the buffer it lent, if any.
  pub fn take_req(&mut self, env: RefEnv, id: ReqId) -> napi_ref {
    let at = self.lent.iter().position(|(r, _)| *r == id);
    if let Some(i) = at {
      if let Some((_, mut buf)) = self.lent.remove(i) {
        env.drop_ref(&mut buf);
      }
    }
    let at = self.reqs.iter().position(|(r, _)| *r == id);
    at.and_then(|i| self.reqs.remove(i))
      .map_or(ptr::null_mut(), |(_, r)| r)
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

  /// Releases everything.
  pub fn release(&mut self, env: RefEnv) {
    class::release_wrapped(env, &mut self.this);
    self.release_onread(env);
    env.drop_ref(&mut self.close_cb);
    env.drop_ref(&mut self.user_buf);
    for (_, mut r) in self.reqs.take_all().chain(self.lent.take_all()) {
      env.drop_ref(&mut r);
    }
    if !self.async_ctx.is_null() {
      js::async_destroy(env, self.async_ctx);
      self.async_ctx = ptr::null_mut();
    }
  }
}

pub struct Stream {
  pub id: u64,
  /// Private: no JS can run through it (see [`env_of`] for the env that can).
  env: RefEnv,
  pub core: StreamCore,
  /// The poll handle, set up when the fd first needs an event (or at once
  /// for `open`/`bind`, so an fd the loop cannot watch fails there).
  pub poll: *mut uv::uv_poll_t,
  pub poll_events: i32,
  /// Queued for the poll update of this loop turn.
  pub poll_dirty: bool,
  pub refed: bool,
  /// The close callback has run (or teardown closed the handle).
  pub closed: bool,
  /// Torn down by the env cleanup hook: no JS may be called any more.
  pub torn_down: bool,
  /// The last read was big: read straight into a fresh ArrayBuffer.
  pub big_reads: bool,
  /// pipewrap extension: small reads come as slices of a shared pool.
  pub pooled_reads: bool,
  next_req: ReqId,
  pub js: JsRefs,
}

thread_local! {
  /// The reference of the last `onread` set (see `JsRefs::set_onread`);
  /// it belongs to the handles that hold it, not to this slot.
  static LAST_ONREAD: Cell<napi_ref> = const { Cell::new(ptr::null_mut()) };
  static NEXT_ID: Cell<u64> = const { Cell::new(0) };
  /// Open handles by id, closed by env teardown if JS never did.
  static OPEN: RefCell<IdMap<StreamRef>> = RefCell::new(IdMap::default());
}

impl Stream {
  pub fn new(env: napi_env, kind: Kind) -> StreamRef {
    let id = NEXT_ID.with(|n| {
      n.set(n.get() + 1);
      n.get()
    });
    Rc::new(RefCell::new(Stream {
      id,
      env: RefEnv::new(env),
      core: StreamCore::new(kind),
      poll: ptr::null_mut(),
      poll_events: 0,
      poll_dirty: false,
      refed: true,
      closed: false,
      torn_down: false,
      big_reads: false,
      pooled_reads: false,
      next_req: 0,
      js: JsRefs::new(),
    }))
  }

  /// A fresh id for a request of this handle.
  pub fn next_req_id(&mut self) -> ReqId {
    self.next_req += 1;
    self.next_req
  }

  /// The env of this handle for code holding its state: no JS runs
  /// through it.
  pub fn env(&self) -> RefEnv {
    self.env
  }

  /// Holds the handle's JS object until the close phase ends (the wrap's
  /// reference made strong: as in Node, an open handle is never collected).
  pub fn hold_this(&mut self, me: &StreamRef) {
    if self.js.this.is_null() {
      self.js.this = class::hold_wrapped(self.env, me);
    }
  }

  pub fn this(&self) -> napi_value {
    self.env.ref_value(self.js.this)
  }

  /// Sends what the socket takes of the write queue (lent buffers looked up
  /// for this flush only).
  pub fn flush(&mut self) {
    let Stream { core, js, env, .. } = self;
    core.flush(&mut |id| js.lent_bytes(*env, id));
  }

  /// POLLOUT: see `StreamCore::on_writable`.
  pub fn on_writable(&mut self) -> bool {
    let Stream { core, js, env, .. } = self;
    core.on_writable(&mut |id| js.lent_bytes(*env, id))
  }

  /// Stores the async context made for this handle (by
  /// `driver::open_async_context`, which ran the async hooks with no borrow
  /// held). A handle whose close phase already ended (a hook closed it)
  /// destroys it at once: nothing would release it later.
  pub fn set_async_context(&mut self, ctx: napi_async_context) {
    if self.closed || self.torn_down || !self.js.async_ctx.is_null() {
      js::async_destroy(self.env, ctx);
      return;
    }
    self.js.async_ctx = ctx;
  }

  /// Applies `refed` to the poll handle (no effect once closing).
  pub fn apply_ref(&self) {
    if self.poll.is_null() || self.core.is_closing() {
      return;
    }
    // SAFETY: poll is initialised and not closing.
    unsafe {
      if self.refed {
        uv::uv_ref(self.poll);
      } else {
        uv::uv_unref(self.poll);
      }
    }
  }
}

/// A handle collected without ever being closed (never opened, say, but
/// given an `onread` or a user buffer) still releases what it holds: the
/// last owner of its state is then the object's finalizer, where deleting
/// references is allowed. Closed and torn-down handles hold nothing more.
impl Drop for Stream {
  fn drop(&mut self) {
    if !self.torn_down {
      self.js.release(self.env);
    }
  }
}

/// The env that runs JS, for the delivery layer: from the handle, not its
/// borrowed state, so only code that holds no borrow can get it.
pub fn env_of(rc: &StreamRef) -> napi_env {
  rc.borrow().env.no_js()
}

/// Registers an open handle, for env teardown.
pub fn register(rc: &StreamRef) {
  let (id, env) = {
    let s = rc.borrow();
    (s.id, s.env.no_js())
  };
  let first = OPEN.with(|o| {
    let mut o = o.borrow_mut();
    let first = !TEARDOWN_HOOKED.with(|h| h.replace(true));
    o.insert(id, rc.clone());
    first
  });
  if first {
    env::on_teardown(env, Box::new(teardown_all));
  }
}

thread_local! {
  static TEARDOWN_HOOKED: Cell<bool> = const { Cell::new(false) };
}

pub fn unregister(id: u64) {
  OPEN.with(|o| o.borrow_mut().remove(&id));
}

/// Whether an open handle watches `fd` for events (or will, from this
/// loop turn's poll update on): libuv's `uv__fd_exists`, which refuses a
/// second watcher on one fd.
pub fn fd_watched(fd: i32) -> bool {
  OPEN.with(|o| {
    o.borrow().values().any(|rc| {
      rc.try_borrow()
        .is_ok_and(|s| s.core.fd() == fd && (s.poll_events != 0 || s.core.wanted_events() != 0))
    })
  })
}

/// An open handle by id.
pub fn lookup(id: u64) -> Option<StreamRef> {
  OPEN.with(|o| o.borrow().get(&id).cloned())
}

/// Env teardown: every open handle closes without calling JS, and every
/// reference is released now (by the time uv close callbacks run, the env
/// is gone).
fn teardown_all(env: napi_env) {
  let open: Vec<StreamRef> = OPEN.with(|o| o.borrow_mut().drain().map(|(_, s)| s).collect());
  for rc in open {
    let mut s = rc.borrow_mut();
    if s.torn_down {
      continue;
    }
    s.torn_down = true;
    s.js.release(RefEnv::new(env));
    let poll = std::mem::replace(&mut s.poll, ptr::null_mut());
    if !poll.is_null() && !s.core.is_closing() {
      // SAFETY: the poll is initialised and not yet closing; it leaves
      // epoll before the fd closes; its close callback only frees it.
      unsafe { uv::uv_close(poll, Some(uv::close_and_free)) };
    }
    s.core.close();
    while s.core.take_completion().is_some() {}
  }
  TEARDOWN_HOOKED.with(|h| h.set(false));
}
