//! The per-environment scheduler. Node runs one environment per thread (the
//! main thread and each worker), so a thread-local holds it: this env's loop
//! and three libuv handles that run queued work at fixed points of a loop
//! turn, as libuv itself would deliver events:
//! - `defer`: the next turn (an idle handle), like `uv__io_feed`;
//! - `before_poll`: just before the loop polls (a prepare handle), where
//!   poll changes are applied once per turn, like libuv's watcher queue;
//! - `after_poll`: right after a poll phase that follows the call (a check
//!   handle), where an I/O event would have been delivered.
//!
//! It knows nothing of streams: other modules queue closures, and register
//! teardown work that the env cleanup hook runs before the env is freed.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::os::raw::c_void;
use std::ptr;

use napi::sys::napi_env;

use crate::js::{self, napi_call};
use crate::uv;

type Deferred = Box<dyn FnOnce(napi_env)>;

/// Queued work: a closure, or a function and the id it is for (no
/// allocation: what the hot paths queue once or more per connection). A
/// closure runs inside a handle scope the batch opens; a function opens
/// one itself if it makes JS values (most never do: the poll updates).
enum Task {
  Closure(Deferred),
  ForId(fn(napi_env, u64), u64),
}

impl Task {
  fn run(self, env: napi_env) {
    match self {
      Task::Closure(f) => f(env),
      Task::ForId(f, id) => f(env, id),
    }
  }
}

struct EnvState {
  env: napi_env,
  uv_loop: *mut uv::uv_loop_t,
  /// Runs deferred work on the next loop turn; started only while work is
  /// queued, so it never holds the loop open by itself.
  idle: *mut uv::uv_idle_t,
  deferred: Vec<Task>,
  prepare: *mut uv::uv_prepare_t,
  before_poll: Vec<Task>,
  /// Prepare phases seen: a poll phase has run since `turn` was read once
  /// it has grown and the check phase is reached.
  turn: u64,
  check: *mut uv::uv_check_t,
  after_poll: VecDeque<(u64, Task)>,
  /// An emptied batch, kept to take the next one: queueing work allocates
  /// only when a queue outgrows what it held before.
  spare: Vec<Task>,
  teardown: Vec<Deferred>,
}

thread_local! {
  static STATE: RefCell<Option<EnvState>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's scheduler, creating it on first use. `f` must
/// not call JS.
fn with<R>(env: napi_env, f: impl FnOnce(&mut EnvState) -> R) -> R {
  STATE.with(|cell| {
    let mut slot = cell.borrow_mut();
    if slot.is_none() {
      *slot = Some(EnvState::new(env));
    }
    f(slot.as_mut().expect("env state just created"))
  })
}

/// Like [`with`], but does nothing once the environment was torn down.
fn with_existing<R>(f: impl FnOnce(&mut EnvState) -> R) -> Option<R> {
  STATE.with(|cell| cell.borrow_mut().as_mut().map(f))
}

impl EnvState {
  fn new(env: napi_env) -> Self {
    let mut uv_loop = ptr::null_mut();
    napi_call!(napi_get_uv_event_loop(env, &mut uv_loop));
    let idle = alloc_or_oom(uv::UV_IDLE);
    let prepare = alloc_or_oom(uv::UV_PREPARE);
    let check = alloc_or_oom(uv::UV_CHECK);
    // SAFETY: each handle is freshly allocated with its kind's size; uv_loop
    // is this env's live loop.
    unsafe {
      uv::uv_idle_init(uv_loop, idle);
      uv::uv_prepare_init(uv_loop, prepare);
      uv::uv_check_init(uv_loop, check);
    }
    napi_call!(napi_add_env_cleanup_hook(
      env,
      Some(cleanup_hook),
      ptr::null_mut()
    ));
    EnvState {
      env,
      uv_loop,
      idle,
      deferred: Vec::new(),
      prepare,
      before_poll: Vec::new(),
      // From 1: after_this_poll queues work as of the turn before.
      turn: 1,
      check,
      after_poll: VecDeque::new(),
      spare: Vec::new(),
      teardown: Vec::new(),
    }
  }

  fn start_idle(&mut self) {
    // SAFETY: idle is live until teardown, after which no EnvState exists;
    // starting an active handle is a no-op.
    unsafe { uv::uv_idle_start(self.idle, run_deferred) };
  }

  fn start_prepare(&mut self) {
    // SAFETY: as for idle.
    unsafe { uv::uv_prepare_start(self.prepare, run_before_poll) };
  }
}

/// A scheduler handle: a few hundred bytes once per env. Out of memory
/// there is Rust's (and V8's) out-of-memory abort, said as such, never a
/// null handle passed to libuv; every per-socket allocation fails softly
/// with ENOMEM instead.
fn alloc_or_oom(kind: std::os::raw::c_int) -> *mut uv::uv_handle_t {
  let handle = uv::alloc_handle(kind);
  if handle.is_null() {
    // SAFETY: uv_handle_size is a pure lookup.
    let size = unsafe { uv::uv_handle_size(kind) };
    let layout = std::alloc::Layout::from_size_align(size.max(1), 16)
      .unwrap_or(std::alloc::Layout::new::<[u64; 32]>());
    std::alloc::handle_alloc_error(layout);
  }
  handle
}

/// This env's libuv loop.
pub fn uv_loop(env: napi_env) -> *mut uv::uv_loop_t {
  with(env, |s| s.uv_loop)
}

/// Queues `f` for the next loop turn.
pub fn defer(env: napi_env, f: Deferred) {
  with(env, |s| {
    s.start_idle();
    s.deferred.push(Task::Closure(f));
  });
}

/// Queues `f(env, id)` for just before this turn's poll phase (or the next
/// turn's, when called after it). `f` runs with no handle scope open.
pub fn before_poll(env: napi_env, f: fn(napi_env, u64), id: u64) {
  with(env, |s| {
    s.start_prepare();
    s.before_poll.push(Task::ForId(f, id));
  });
}

/// Queues `f` for the check phase that follows the next poll phase: after
/// the I/O callbacks that poll phase delivers (say, a server in this process
/// accepting the connection `f` reports). Called from the poll or check
/// phase, that is the next turn's.
pub fn after_poll(env: napi_env, f: Deferred) {
  with(env, |s| {
    // The prepare handle counts turns; the idle handle keeps the poll phase
    // from blocking while work waits.
    s.start_prepare();
    s.start_idle();
    // SAFETY: check is live until teardown.
    unsafe { uv::uv_check_start(s.check, run_after_poll) };
    let turn = s.turn;
    s.after_poll.push_back((turn, Task::Closure(f)));
  });
}

/// Queues `f` for the check phase of this turn, from inside its poll phase
/// (an I/O callback): where libuv >= 1.45 runs the pending callbacks fed
/// during a poll phase, right after it.
pub fn after_this_poll(env: napi_env, f: Deferred) {
  with(env, |s| {
    s.start_prepare();
    s.start_idle();
    // SAFETY: check is live until teardown.
    unsafe { uv::uv_check_start(s.check, run_after_poll) };
    // The prepare phase of this turn counted it already: due now.
    let turn = s.turn.wrapping_sub(1);
    s.after_poll.push_back((turn, Task::Closure(f)));
  });
}

/// Registers work for env teardown (no JS may run there).
pub fn on_teardown(env: napi_env, f: Deferred) {
  with(env, |s| s.teardown.push(f));
}

/// A JS value this thread's env keeps in a thread-local slot: referenced
/// now, released at teardown (one env per thread).
pub type EnvSlot = std::thread::LocalKey<std::cell::Cell<napi::sys::napi_ref>>;

/// Keeps `value` in `slot` until env teardown.
pub fn keep_until_teardown(env: napi_env, slot: &'static EnvSlot, value: napi::sys::napi_value) {
  slot.with(|c| c.set(js::new_ref(env, value, 1)));
  on_teardown(
    env,
    Box::new(move |env| {
      let mut r = slot.with(|c| c.replace(ptr::null_mut()));
      js::drop_ref(env, &mut r);
    }),
  );
}

unsafe extern "C" fn run_deferred(_idle: *mut uv::uv_idle_t) {
  // Take only what is queued now: work that defers more runs next turn.
  let Some((env, batch)) = with_existing(|s| {
    let spare = std::mem::take(&mut s.spare);
    let batch = std::mem::replace(&mut s.deferred, spare);
    if s.after_poll.is_empty() {
      // SAFETY: s.idle is live until teardown.
      unsafe { uv::uv_idle_stop(s.idle) };
    }
    (s.env, batch)
  }) else {
    return;
  };
  run_batch(env, batch);
}

unsafe extern "C" fn run_before_poll(_prepare: *mut uv::uv_prepare_t) {
  let Some((env, batch)) = with_existing(|s| {
    s.turn += 1;
    if s.after_poll.is_empty() {
      // SAFETY: s.prepare is live until teardown.
      unsafe { uv::uv_prepare_stop(s.prepare) };
    }
    let spare = std::mem::take(&mut s.spare);
    (s.env, std::mem::replace(&mut s.before_poll, spare))
  }) else {
    return;
  };
  run_batch(env, batch);
}

unsafe extern "C" fn run_after_poll(_check: *mut uv::uv_check_t) {
  // What was queued before this turn's prepare phase has seen a poll phase
  // since; the rest waits for the next turn.
  let Some((env, batch)) = with_existing(|s| {
    let turn = s.turn;
    // In queue order; work queued for a later check phase stays queued, in
    // its order (behind it may be work for this one: after_this_poll).
    let mut batch = std::mem::take(&mut s.spare);
    for _ in 0..s.after_poll.len() {
      let Some((t, f)) = s.after_poll.pop_front() else {
        break;
      };
      if t < turn {
        batch.push(f);
      } else {
        s.after_poll.push_back((t, f));
      }
    }
    if s.after_poll.is_empty() {
      // SAFETY: s.check and s.idle are live until teardown.
      unsafe {
        uv::uv_check_stop(s.check);
        if s.deferred.is_empty() {
          uv::uv_idle_stop(s.idle);
        }
      }
    }
    (s.env, batch)
  }) else {
    return;
  };
  run_batch(env, batch);
}

/// Runs a batch (JS may queue more meanwhile: into the queues, not this
/// batch), then keeps the emptied batch as the spare if it is the larger.
fn run_batch(env: napi_env, mut batch: Vec<Task>) {
  // N-API allocates every handle scope: none for a batch that needs none.
  let _scope = batch
    .iter()
    .any(|t| matches!(t, Task::Closure(_)))
    .then(|| js::HandleScope::open(env));
  for task in batch.drain(..) {
    task.run(env);
  }
  give_back(batch);
}

fn give_back(batch: Vec<Task>) {
  with_existing(|s| {
    if batch.capacity() > s.spare.capacity() {
      s.spare = batch;
    }
  });
}

/// Runs before the environment is freed (worker exit, process teardown):
/// the registered teardown work closes handles and drops references without
/// calling JS; queued work is dropped.
unsafe extern "C" fn cleanup_hook(_arg: *mut c_void) {
  let Some(mut state) = STATE.with(|cell| cell.borrow_mut().take()) else {
    return;
  };
  let env = state.env;
  state.deferred.clear();
  state.before_poll.clear();
  state.after_poll.clear();
  for f in state.teardown.drain(..) {
    f(env);
  }
  // SAFETY: the three handles are initialised and not yet closing; their
  // close callback only frees them.
  unsafe {
    uv::uv_close(state.idle, Some(uv::close_and_free));
    uv::uv_close(state.prepare, Some(uv::close_and_free));
    uv::uv_close(state.check, Some(uv::close_and_free));
  }
}
