//! Per-environment state. Node runs one environment per thread (the main
//! thread and each worker), so a thread-local holds it: the loop, the
//! `streamBaseState` array, the queue of deferred callbacks, and the registry
//! of open handles that the env cleanup hook must close at teardown.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::os::raw::c_void;
use std::os::unix::io::RawFd;
use std::ptr;

use napi::sys::{napi_env, napi_ref};

use crate::js::{self, napi_call};
use crate::stream::StreamRef;
use crate::uv;

type Deferred = Box<dyn FnOnce(napi_env)>;

pub struct EnvState {
  pub env: napi_env,
  pub uv_loop: *mut uv::uv_loop_t,
  /// An idle handle runs deferred callbacks on the next loop turn. It is
  /// started only while the queue is non-empty, so it never holds the loop
  /// open by itself.
  idle: *mut uv::uv_idle_t,
  deferred: VecDeque<Deferred>,
  /// A prepare handle applies poll changes just before the loop polls
  /// (stream.rs, `update_poll`); started only while some are pending.
  prepare: *mut uv::uv_prepare_t,
  poll_changes: Vec<u64>,
  /// A check handle runs callbacks right after the loop's poll phase (see
  /// `defer_after_poll`); the idle handle stays on meanwhile, so that poll
  /// phase does not block.
  check: *mut uv::uv_check_t,
  after_poll: VecDeque<Deferred>,
  /// Open handles by id, closed by the cleanup hook if JS never did.
  pub streams: HashMap<u64, StreamRef>,
  next_id: u64,
  state_ref: napi_ref,
  state_ptr: *mut i32,
  /// A spare fd given up when accept hits EMFILE (libuv's trick).
  pub reserve_fd: RawFd,
  /// The Pipe class constructor, for handles made natively.
  pipe_ctor: napi_ref,
  /// PipeConnectWrap, WriteWrap, ShutdownWrap (see reqs.rs).
  request_classes: [napi_ref; 3],
  /// Their `prototype` objects, for the cheap common-case check.
  request_protos: [napi_ref; 3],
  /// The pool small reads are copied into (`setPooledReads`): an
  /// ArrayBuffer handed out slice by slice, replaced when full (slices
  /// already given out keep the old one alive, like Buffer's own pool).
  read_pool: napi_ref,
  read_pool_data: *mut u8,
  read_pool_used: usize,
}

/// Reads up to this size go to the pool; bigger ones get their own buffer.
pub const POOLED_READ_MAX: usize = 2048;
const READ_POOL_SIZE: usize = 16 * 1024;

thread_local! {
  static STATE: RefCell<Option<EnvState>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's state, creating it on first use.
pub fn with<R>(env: napi_env, f: impl FnOnce(&mut EnvState) -> R) -> R {
  STATE.with(|cell| {
    let mut slot = cell.borrow_mut();
    if slot.is_none() {
      *slot = Some(EnvState::new(env));
    }
    f(slot.as_mut().expect("env state just created"))
  })
}

/// Like [`with`], but does nothing once the environment was torn down.
pub fn with_existing<R>(f: impl FnOnce(&mut EnvState) -> R) -> Option<R> {
  STATE.with(|cell| cell.borrow_mut().as_mut().map(f))
}

impl EnvState {
  fn new(env: napi_env) -> Self {
    let mut uv_loop = ptr::null_mut();
    napi_call!(napi_get_uv_event_loop(env, &mut uv_loop));
    let idle = uv::alloc_handle(uv::UV_IDLE);
    // SAFETY: idle is freshly allocated with the right size; uv_loop is this
    // env's live loop.
    unsafe { uv::uv_idle_init(uv_loop, idle) };
    let prepare = uv::alloc_handle(uv::UV_PREPARE);
    let check = uv::alloc_handle(uv::UV_CHECK);
    // SAFETY: as for idle.
    unsafe {
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
      deferred: VecDeque::new(),
      prepare,
      poll_changes: Vec::new(),
      check,
      after_poll: VecDeque::new(),
      streams: HashMap::new(),
      next_id: 1,
      state_ref: ptr::null_mut(),
      state_ptr: ptr::null_mut(),
      reserve_fd: -1,
      pipe_ctor: ptr::null_mut(),
      request_classes: [ptr::null_mut(); 3],
      request_protos: [ptr::null_mut(); 3],
      read_pool: ptr::null_mut(),
      read_pool_data: ptr::null_mut(),
      read_pool_used: 0,
    }
  }

  pub fn next_id(&mut self) -> u64 {
    self.next_id += 1;
    self.next_id
  }

  pub fn set_pipe_ctor(&mut self, ctor: napi::sys::napi_value) {
    js::drop_ref(self.env, &mut self.pipe_ctor);
    self.pipe_ctor = js::new_ref(self.env, ctor, 1);
  }

  pub fn pipe_ctor(&self) -> napi::sys::napi_value {
    js::ref_value(self.env, self.pipe_ctor)
  }

  pub fn set_request_classes(&mut self, refs: [napi_ref; 3], protos: [napi_ref; 3]) {
    for r in self
      .request_classes
      .iter_mut()
      .chain(self.request_protos.iter_mut())
    {
      js::drop_ref(self.env, r);
    }
    self.request_classes = refs;
    self.request_protos = protos;
  }

  pub fn request_proto(&self, index: usize) -> napi::sys::napi_value {
    js::ref_value(self.env, self.request_protos[index])
  }

  pub fn request_class(&self, index: usize) -> napi::sys::napi_value {
    js::ref_value(self.env, self.request_classes[index])
  }

  /// Queues `f` for the next loop iteration.
  pub fn defer(&mut self, f: Deferred) {
    if self.deferred.is_empty() {
      // SAFETY: idle was initialised in new() and is closed only at teardown,
      // after which no EnvState exists to call this.
      unsafe { uv::uv_idle_start(self.idle, run_deferred) };
    }
    self.deferred.push_back(f);
  }

  /// Whether an open pipewrap handle holds `fd`.
  pub fn owns_fd(&self, fd: RawFd) -> bool {
    self
      .streams
      .values()
      .any(|rc| rc.try_borrow().is_ok_and(|s| s.fd == fd && !s.closing))
  }

  /// `len` (<= POOLED_READ_MAX) fresh bytes of the read pool: the pool's
  /// ArrayBuffer, a pointer to the bytes, and their offset in it. None if
  /// the env can no longer run JS.
  pub fn read_pool_slice(&mut self, len: usize) -> Option<(napi::sys::napi_value, *mut u8, usize)> {
    debug_assert!(len <= POOLED_READ_MAX);
    if self.read_pool.is_null() || self.read_pool_used + len > READ_POOL_SIZE {
      let mut data = ptr::null_mut();
      let mut ab = ptr::null_mut();
      let status = napi_call!(napi_create_arraybuffer(
        self.env,
        READ_POOL_SIZE,
        &mut data,
        &mut ab
      ));
      if status != napi::sys::Status::napi_ok || data.is_null() {
        return None;
      }
      js::drop_ref(self.env, &mut self.read_pool);
      self.read_pool = js::new_ref(self.env, ab, 1);
      self.read_pool_data = data as *mut u8;
      self.read_pool_used = 0;
    }
    let off = self.read_pool_used;
    // Keep slices 8-byte aligned, as Buffer's pool does.
    self.read_pool_used = (off + len + 7) & !7;
    let ab = js::ref_value(self.env, self.read_pool);
    // SAFETY: off + len <= READ_POOL_SIZE bytes of the pool's backing store,
    // which read_pool keeps alive.
    Some((ab, unsafe { self.read_pool_data.add(off) }, off))
  }

  /// Queues stream `id` for the poll update of this loop turn.
  pub fn poll_changed(&mut self, id: u64) {
    if self.poll_changes.is_empty() {
      // SAFETY: prepare was initialised in new() and is closed only at
      // teardown, after which no EnvState exists to call this.
      unsafe { uv::uv_prepare_start(self.prepare, apply_poll_changes) };
    }
    self.poll_changes.push(id);
  }

  /// Queues `f` to run right after the poll phase of this loop turn (or
  /// the next, when called from the check phase): after the I/O callbacks
  /// that were ready with it, where libuv would deliver an I/O event.
  pub fn defer_after_poll(&mut self, f: Deferred) {
    if self.after_poll.is_empty() {
      // SAFETY: check and idle were initialised in new() and are closed
      // only at teardown. An active idle handle makes the poll phase
      // non-blocking; starting an active handle again is a no-op.
      unsafe {
        uv::uv_check_start(self.check, run_after_poll);
        uv::uv_idle_start(self.idle, run_deferred);
      }
    }
    self.after_poll.push_back(f);
  }

  /// The shared `streamBaseState` Int32Array (created on first use).
  pub fn stream_state(&mut self) -> (*mut i32, napi::sys::napi_value) {
    let env = self.env;
    if self.state_ref.is_null() {
      let mut data = ptr::null_mut();
      let mut ab = ptr::null_mut();
      napi_call!(napi_create_arraybuffer(env, 16, &mut data, &mut ab));
      let mut ta = ptr::null_mut();
      napi_call!(napi_create_typedarray(
        env,
        napi::sys::TypedarrayType::int32_array,
        4,
        ab,
        0,
        &mut ta
      ));
      self.state_ref = js::new_ref(env, ta, 1);
      self.state_ptr = data as *mut i32;
    }
    (self.state_ptr, js::ref_value(env, self.state_ref))
  }

  /// Writes one slot of `streamBaseState`.
  pub fn set_state(&mut self, index: usize, value: i32) {
    if self.state_ptr.is_null() {
      self.stream_state();
    }
    // SAFETY: state_ptr points at the 16-byte backing store of an
    // Int32Array(4) kept alive by state_ref; index is one of the 4 constants.
    unsafe { *self.state_ptr.add(index) = value };
  }
}

/// Slot indices of `streamBaseState`, as in Node's stream_base.h.
pub const K_READ_BYTES_OR_ERROR: usize = 0;
pub const K_ARRAY_BUFFER_OFFSET: usize = 1;
pub const K_BYTES_WRITTEN: usize = 2;
pub const K_LAST_WRITE_WAS_ASYNC: usize = 3;

thread_local! {
  /// `streamBaseState`'s backing store, cached for the per-event writes.
  static STATE_PTR: std::cell::Cell<*mut i32> = const { std::cell::Cell::new(ptr::null_mut()) };
}

pub fn set_state(env: napi_env, index: usize, value: i32) {
  let p = STATE_PTR.with(|c| c.get());
  if p.is_null() {
    let p = with(env, |s| {
      s.set_state(index, value);
      s.state_ptr
    });
    STATE_PTR.with(|c| c.set(p));
    return;
  }
  // SAFETY: p is the live backing store of this thread's Int32Array(4)
  // (cleared at teardown); index is one of the 4 slot constants.
  unsafe { *p.add(index) = value };
}

unsafe extern "C" fn run_deferred(_idle: *mut uv::uv_idle_t) {
  // Take only what is queued now: callbacks that defer more run next turn.
  let Some((env, batch)) = with_existing(|s| {
    let batch = std::mem::take(&mut s.deferred);
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

unsafe extern "C" fn run_after_poll(_check: *mut uv::uv_check_t) {
  // Take only what is queued now: callbacks that queue more run next turn.
  let Some((env, batch)) = with_existing(|s| {
    let batch = std::mem::take(&mut s.after_poll);
    // SAFETY: s.check and s.idle are live until teardown.
    unsafe {
      uv::uv_check_stop(s.check);
      if s.deferred.is_empty() {
        uv::uv_idle_stop(s.idle);
      }
    }
    (s.env, batch)
  }) else {
    return;
  };
  run_batch(env, batch);
}

fn run_batch(env: napi_env, batch: VecDeque<Deferred>) {
  let _scope = js::HandleScope::open(env);
  for f in batch {
    f(env);
  }
}

unsafe extern "C" fn apply_poll_changes(_prepare: *mut uv::uv_prepare_t) {
  let Some((env, ids)) = with_existing(|s| {
    // SAFETY: s.prepare is live until teardown.
    unsafe { uv::uv_prepare_stop(s.prepare) };
    (s.env, std::mem::take(&mut s.poll_changes))
  }) else {
    return;
  };
  // A failed registration reports errors to JS.
  let _scope = js::HandleScope::open(env);
  for id in ids {
    if let Some(Some(rc)) = with_existing(|s| s.streams.get(&id).cloned()) {
      crate::stream::apply_poll(env, &rc);
    }
  }
}

/// Runs before the environment is freed (worker exit, process teardown).
/// Closes every open handle without calling JS, and drops every napi
/// reference now: by the time uv close callbacks run, the env is gone.
unsafe extern "C" fn cleanup_hook(_arg: *mut c_void) {
  let Some(mut state) = STATE.with(|cell| cell.borrow_mut().take()) else {
    return;
  };
  let env = state.env;
  state.deferred.clear();
  state.poll_changes.clear();
  state.after_poll.clear();
  for (_, stream) in state.streams.drain() {
    crate::stream::teardown(env, &stream);
  }
  js::drop_ref(env, &mut state.state_ref);
  STATE_PTR.with(|c| c.set(ptr::null_mut()));
  js::drop_ref(env, &mut state.pipe_ctor);
  js::drop_ref(env, &mut state.read_pool);
  for r in state
    .request_classes
    .iter_mut()
    .chain(state.request_protos.iter_mut())
  {
    js::drop_ref(env, r);
  }
  if state.reserve_fd >= 0 {
    pipewrap_core::sys::close(state.reserve_fd);
  }
  // SAFETY: the idle and prepare handles are initialised, not yet closing.
  unsafe {
    uv::uv_close(state.idle, Some(uv::close_and_free));
    uv::uv_close(state.prepare, Some(uv::close_and_free));
    uv::uv_close(state.check, Some(uv::close_and_free));
  }
}
