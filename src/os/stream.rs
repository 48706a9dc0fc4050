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

use napi::sys::napi_env;
use pipewrap_core::stream::{Kind, ReqId, StreamCore};

pub use crate::refs::JsRefs;

use crate::callbacks::HandleState;
use crate::class::IdMap;
use crate::env;
use crate::js::RefEnv;
use crate::uv;

pub type StreamRef = Rc<RefCell<Stream>>;

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
  /// The fd is an AF_UNIX socket pipewrap made non-blocking itself
  /// (socket(2), accept4(2)): it may take a spare poll handle
  /// (`driver::init_poll`), whose libuv pollability check and FIONBIO are
  /// answered already.
  pub own_socket: bool,
  /// pipewrap extension: small reads come as slices of a shared pool.
  pub pooled_reads: bool,
  next_req: ReqId,
  pub js: JsRefs,
}

thread_local! {
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
      own_socket: false,
      pooled_reads: false,
      next_req: 0,
      js: JsRefs::new(RefEnv::new(env)),
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

crate::callbacks::handle_state!(Stream);

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
    if !s.tear_down_refs(env) {
      continue;
    }
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
