//! The Windows backend: libuv's own named pipes (`uv_pipe_t`), through the
//! `uv_*` functions node.exe exports. The same loop, the same IOCP and the
//! same pipe semantics as Node's `pipe_wrap` on Windows (pending instances,
//! `\\.\pipe\` names, libuv's error codes); what this adds is the binding
//! around it. libuv calls back for every request, in order, and cancels
//! what is pending (`UV_ECANCELED`) before a handle's close callback, so
//! each callback is delivered to JS as it comes.
//!
//! Memory: handles and requests are `malloc`ed at libuv's own sizes
//! (`uv_handle_size`, `uv_req_size`), so no libuv struct layout is written
//! here except `uv_buf_t`, which is public ABI. A handle's libuv data is its
//! id, a request's is a box with its handle's id and the bytes it writes:
//! a callback that arrives after teardown finds nothing and only frees.

use std::cell::{Cell, RefCell};
use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_uint, c_void};
use std::ptr;
use std::rc::Rc;

use napi::sys::{napi_env, napi_value};

use crate::buffers::{
  self, K_ARRAY_BUFFER_OFFSET, K_BYTES_WRITTEN, K_LAST_WRITE_WAS_ASYNC, K_READ_BYTES_OR_ERROR,
};
use crate::callbacks::{self, HandleState, Outcome};
use crate::class::{self, IdMap};
use crate::env;
use crate::js::{self, RefEnv};
use crate::refs::{JsRefs, ReqId};
use crate::uv::{self, uv_handle_t};

mod xfer;

/// What a `Pipe` is constructed as (`constants.SOCKET`, `SERVER`, `IPC`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
  Socket = 0,
  Server = 1,
  Ipc = 2,
}

/// libuv's error codes on Windows (uv/errno.h): not the CRT's errno values.
pub mod errno {
  pub const EBADF: i32 = -4083;
  pub const EINVAL: i32 = -4071;
  pub const ENOTCONN: i32 = -4053;
  pub const ENOTSUP: i32 = -4049;
  pub const EAGAIN: i32 = -4088;
  pub const ENOMEM: i32 = -4057;
  pub const ENOSYS: i32 = -4054;
  pub const EMFILE: i32 = -4066;
}

mod ffi {
  use std::os::raw::{c_char, c_int, c_uint, c_void};

  use crate::uv::{uv_handle_t, uv_loop_t};

  #[repr(C)]
  #[allow(non_camel_case_types)]
  pub struct uv_req_t {
    _opaque: [u8; 0],
  }

  /// libuv's buffer on Windows: the layout of `WSABUF` (length first).
  #[repr(C)]
  #[allow(non_camel_case_types)]
  pub struct uv_buf_t {
    pub len: u32,
    pub base: *mut c_char,
  }

  pub const UV_NAMED_PIPE: c_int = 7;
  pub const UV_CONNECT: c_int = 2;
  pub const UV_WRITE: c_int = 3;
  pub const UV_SHUTDOWN: c_int = 4;

  pub type AllocCb = unsafe extern "C" fn(*mut uv_handle_t, usize, *mut uv_buf_t);
  pub type ReadCb = unsafe extern "C" fn(*mut uv_handle_t, isize, *const uv_buf_t);
  pub type ReqCb = unsafe extern "C" fn(*mut uv_req_t, c_int);
  pub type ConnectionCb = unsafe extern "C" fn(*mut uv_handle_t, c_int);

  extern "C" {
    pub fn uv_pipe_init(lp: *mut uv_loop_t, pipe: *mut uv_handle_t, ipc: c_int) -> c_int;
    pub fn uv_pipe_bind(pipe: *mut uv_handle_t, name: *const c_char) -> c_int;
    pub fn uv_pipe_connect(
      req: *mut uv_req_t,
      pipe: *mut uv_handle_t,
      name: *const c_char,
      cb: ReqCb,
    );
    pub fn uv_pipe_open(pipe: *mut uv_handle_t, file: c_int) -> c_int;
    pub fn uv_pipe_pending_instances(pipe: *mut uv_handle_t, count: c_int);
    pub fn uv_pipe_chmod(pipe: *mut uv_handle_t, flags: c_int) -> c_int;
    pub fn uv_listen(stream: *mut uv_handle_t, backlog: c_int, cb: ConnectionCb) -> c_int;
    pub fn uv_accept(server: *mut uv_handle_t, client: *mut uv_handle_t) -> c_int;
    pub fn uv_read_start(stream: *mut uv_handle_t, alloc: AllocCb, read: ReadCb) -> c_int;
    pub fn uv_read_stop(stream: *mut uv_handle_t) -> c_int;
    pub fn uv_write2(
      req: *mut uv_req_t,
      stream: *mut uv_handle_t,
      bufs: *const uv_buf_t,
      nbufs: c_uint,
      send_handle: *mut uv_handle_t,
      cb: ReqCb,
    ) -> c_int;
    pub fn uv_try_write(stream: *mut uv_handle_t, bufs: *const uv_buf_t, nbufs: c_uint) -> c_int;
    pub fn uv_shutdown(req: *mut uv_req_t, stream: *mut uv_handle_t, cb: ReqCb) -> c_int;
    pub fn uv_stream_get_write_queue_size(stream: *const uv_handle_t) -> usize;
    pub fn uv_stream_set_blocking(stream: *mut uv_handle_t, blocking: c_int) -> c_int;
    pub fn uv_req_size(kind: c_int) -> usize;
    pub fn uv_req_get_data(req: *const uv_req_t) -> *mut c_void;
    pub fn uv_req_set_data(req: *mut uv_req_t, data: *mut c_void);
    pub fn uv_err_name(err: c_int) -> *const c_char;
    pub fn uv_has_ref(handle: *const uv_handle_t) -> c_int;
    pub fn uv_fileno(handle: *const uv_handle_t, fd: *mut *mut c_void) -> c_int;
  }

  pub const UV_FS: c_int = 6;

  // CRT fds through libuv: node.exe's CRT owns the fd table libuv reads
  // (uv_pipe_open), not the msvcrt this addon links.
  extern "C" {
    pub fn uv_translate_sys_error(sys_errno: c_int) -> c_int;
    pub fn uv_open_osfhandle(os_fd: *mut c_void) -> c_int;
    pub fn uv_default_loop() -> *mut uv_loop_t;
    pub fn uv_fs_close(
      lp: *mut uv_loop_t,
      req: *mut uv_req_t,
      file: c_int,
      cb: Option<unsafe extern "C" fn(*mut uv_req_t)>,
    ) -> c_int;
    pub fn uv_fs_req_cleanup(req: *mut uv_req_t);
  }

  pub const PIPE_ACCESS_DUPLEX: u32 = 0x3;
  pub const FILE_FLAG_OVERLAPPED: u32 = 0x4000_0000;
  pub const FILE_FLAG_FIRST_PIPE_INSTANCE: u32 = 0x0008_0000;
  pub const GENERIC_READ: u32 = 0x8000_0000;
  pub const GENERIC_WRITE: u32 = 0x4000_0000;
  pub const OPEN_EXISTING: u32 = 3;
  pub const INVALID_HANDLE_VALUE: *mut c_void = -1isize as *mut c_void;

  #[link(name = "kernel32")]
  extern "system" {
    pub fn GetNamedPipeClientProcessId(pipe: *mut c_void, pid: *mut u32) -> i32;
    pub fn GetNamedPipeServerProcessId(pipe: *mut c_void, pid: *mut u32) -> i32;
    pub fn CreateNamedPipeW(
      name: *const u16,
      open_mode: u32,
      pipe_mode: u32,
      max_instances: u32,
      out_buffer: u32,
      in_buffer: u32,
      default_timeout: u32,
      security: *mut c_void,
    ) -> *mut c_void;
    pub fn CreateFileW(
      name: *const u16,
      access: u32,
      share: u32,
      security: *mut c_void,
      disposition: u32,
      flags: u32,
      template: *mut c_void,
    ) -> *mut c_void;
    pub fn CloseHandle(handle: *mut c_void) -> i32;
    pub fn GetLastError() -> u32;
    pub fn GetCurrentProcessId() -> u32;
  }
}

use ffi::uv_buf_t;

/// One handle: its libuv pipe (made when first needed, as the Unix backend
/// makes its socket) and the JS references held for it.
pub struct WinPipe {
  id: u64,
  env: RefEnv,
  kind: Kind,
  pipe: *mut uv_handle_t,
  closing: bool,
  /// The close callback has run (or teardown closed the handle).
  closed: bool,
  torn_down: bool,
  listening: bool,
  /// Bound, connecting or connected, or opened on a handle: the pipe has
  /// a name or an end (a pipe made early, for setPendingInstances, has not).
  attached: bool,
  /// Which end of the pipe this is: Some(true) for a server's accepted
  /// instance, Some(false) for a client, None for an opened handle.
  server_end: Option<bool>,
  /// `open()`ed on a pipe end (an fd), as fork()'s channel is.
  opened: bool,
  refed: bool,
  pooled_reads: bool,
  bytes_read: u64,
  bytes_written: u64,
  next_req: ReqId,
  pub js: JsRefs,
}

pub type Handle = Rc<RefCell<WinPipe>>;

/// A handle to send over IPC: one of Node's TCP handles (libuv moves only
/// TCP sockets through a Windows pipe).
pub type SendHandle = xfer::NodeTcp;

/// fd passing (`sendFds`) is Unix-only.
pub const MAX_SEND_HANDLES: usize = 0;

/// A Pipe object's state, lent for one call.
pub type PipeStream = class::Wrapped<RefCell<WinPipe>>;

/// The native state named by a Pipe method's state argument (the number
/// its constructor made), or None for anything else.
pub fn stream_of_state(env: napi_env, state: napi_value) -> Option<PipeStream> {
  class::unwrap_state::<RefCell<WinPipe>>(env, state)
}

crate::callbacks::handle_state!(WinPipe);

thread_local! {
  static NEXT_ID: Cell<u64> = const { Cell::new(0) };
  /// Handles whose libuv pipe exists and is not closed yet, by id: what
  /// callbacks look up, and what env teardown closes.
  static OPEN: RefCell<IdMap<Handle>> = RefCell::new(IdMap::default());
  static TEARDOWN_HOOKED: Cell<bool> = const { Cell::new(false) };
  /// Scratch space libuv reads into; each read is copied out at once.
  static READ_BUF: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_SIZE]);
}

const READ_SIZE: usize = 64 * 1024;

/// A handle with its libuv pipe made at once, as Node's PipeWrap does: a
/// close then goes through libuv's own endgame (on Windows, callbacks of
/// handles closed in one turn come last-closed first), and libuv answers
/// for a pipe that was never bound. Should that fail (no memory), the pipe
/// is made when first needed.
pub fn new_handle(env: napi_env, kind: Kind) -> Handle {
  let h = new_state(env, kind);
  let _ = init_pipe(&h);
  h
}

fn new_state(env: napi_env, kind: Kind) -> Handle {
  let id = NEXT_ID.with(|n| {
    n.set(n.get() + 1);
    n.get()
  });
  Rc::new(RefCell::new(WinPipe {
    id,
    env: RefEnv::new(env),
    kind,
    pipe: ptr::null_mut(),
    closing: false,
    closed: false,
    torn_down: false,
    listening: false,
    attached: false,
    server_end: None,
    opened: false,
    refed: true,
    pooled_reads: false,
    bytes_read: 0,
    bytes_written: 0,
    next_req: 0,
    js: JsRefs::new(RefEnv::new(env)),
  }))
}

fn lookup(id: u64) -> Option<Handle> {
  OPEN.with(|o| o.borrow().get(&id).cloned())
}

fn handle_of(handle: *mut uv_handle_t) -> Option<Handle> {
  // SAFETY: every pipe carries its handle's id (init_pipe).
  let id = unsafe { uv::uv_handle_get_data(handle) } as usize as u64;
  lookup(id)
}

/// Makes the libuv pipe of `s` (once), registered for callbacks and for
/// env teardown.
fn init_pipe(s: &Handle) -> Result<*mut uv_handle_t, i32> {
  let (id, env, ipc, existing) = {
    let st = s.borrow();
    if st.closing {
      return Err(errno::EINVAL);
    }
    (st.id, st.env.no_js(), st.kind == Kind::Ipc, st.pipe)
  };
  if !existing.is_null() {
    return Ok(existing);
  }
  let pipe = uv::alloc_handle(ffi::UV_NAMED_PIPE);
  if pipe.is_null() {
    return Err(errno::ENOMEM);
  }
  // SAFETY: pipe is fresh memory of uv_handle_size(UV_NAMED_PIPE); the loop
  // is this env's. On failure libuv has not registered it.
  let err = unsafe { ffi::uv_pipe_init(env::uv_loop(env), pipe, ipc as c_int) };
  if err != 0 {
    // SAFETY: never initialised.
    unsafe { uv::free_handle(pipe) };
    return Err(err);
  }
  // SAFETY: pipe is initialised; its data is our id, never a pointer.
  unsafe { uv::uv_handle_set_data(pipe, id as usize as *mut c_void) };
  let refed = {
    let mut st = s.borrow_mut();
    st.pipe = pipe;
    st.refed
  };
  if !refed {
    // SAFETY: pipe is initialised and open.
    unsafe { uv::uv_unref(pipe) };
  }
  register(env, s);
  Ok(pipe)
}

fn register(env: napi_env, s: &Handle) {
  let id = s.borrow().id;
  OPEN.with(|o| o.borrow_mut().insert(id, s.clone()));
  if !TEARDOWN_HOOKED.with(|h| h.replace(true)) {
    env::on_teardown(env, Box::new(teardown_all));
  }
}

/// Env teardown: every open pipe closes without calling JS; every reference
/// is released now (the env is gone when libuv's close callbacks run).
fn teardown_all(env: napi_env) {
  let open: Vec<Handle> = OPEN.with(|o| o.borrow_mut().drain().map(|(_, h)| h).collect());
  for h in open {
    let mut st = h.borrow_mut();
    if !st.tear_down_refs(env) {
      continue;
    }
    let pipe = std::mem::replace(&mut st.pipe, ptr::null_mut());
    if !pipe.is_null() && !st.closing {
      // SAFETY: the pipe is open; its close callback only frees it.
      unsafe { uv::uv_close(pipe, Some(uv::close_and_free)) };
    }
    st.closing = true;
  }
  TEARDOWN_HOOKED.with(|h| h.set(false));
}

fn pipe_of(s: &Handle) -> Option<*mut uv_handle_t> {
  let st = s.borrow();
  (!st.pipe.is_null() && !st.closing).then_some(st.pipe)
}

fn name_arg(name: &[u8]) -> Result<CString, i32> {
  CString::new(name).map_err(|_| errno::EINVAL)
}

// ---------------------------------------------------------------------------
// Requests: uv memory with a box of our own as its data.

struct ReqCtx {
  handle: u64,
  req: ReqId,
  /// The bytes a write sends, owned until it completes.
  data: Vec<u8>,
}

/// A request of `kind` for handle `s`, with `req` (the JS request object)
/// held by the handle until the request completes.
fn new_req(s: &Handle, kind: c_int, req: napi_value, data: Vec<u8>) -> Option<*mut ffi::uv_req_t> {
  // SAFETY: uv_req_size is a pure lookup.
  let mem = unsafe { libc::malloc(ffi::uv_req_size(kind)) } as *mut ffi::uv_req_t;
  if mem.is_null() {
    return None;
  }
  let mut st = s.borrow_mut();
  st.next_req += 1;
  let id = st.next_req;
  let ref_env = st.env;
  st.js.add_req(ref_env, id, req);
  let ctx = Box::new(ReqCtx {
    handle: st.id,
    req: id,
    data,
  });
  // SAFETY: mem has room for a request of this kind; libuv keeps data as is.
  unsafe { ffi::uv_req_set_data(mem, Box::into_raw(ctx).cast()) };
  Some(mem)
}

/// Takes a request's context back and frees its memory (in its callback,
/// or when libuv refused to start it).
///
/// # Safety
/// `req` came from [`new_req`] and libuv is done with it.
unsafe fn finish_req(req: *mut ffi::uv_req_t) -> Box<ReqCtx> {
  // SAFETY: per the contract, data is the box new_req gave up.
  let ctx = unsafe { Box::from_raw(ffi::uv_req_get_data(req) as *mut ReqCtx) };
  // SAFETY: malloc'ed by new_req; libuv no longer uses it.
  unsafe { libc::free(req.cast()) };
  ctx
}

/// A request libuv refused to start: its JS reference is dropped, no
/// callback will come.
fn abandon_req(s: &Handle, req: *mut ffi::uv_req_t) {
  // SAFETY: libuv did not take the request.
  let ctx = unsafe { finish_req(req) };
  let mut st = s.borrow_mut();
  let env = st.env;
  let (mut r, req_ctx) = st.js.take_req(env, ctx.req);
  env.drop_ref(&mut r);
  js::async_destroy(env, req_ctx);
}

/// Delivers a finished request to JS.
fn deliver_req(req: *mut ffi::uv_req_t, status: c_int, outcome: Outcome) {
  // SAFETY: libuv calls back once per request, done with it.
  let ctx = unsafe { finish_req(req) };
  let Some(h) = lookup(ctx.handle) else {
    return; // torn down
  };
  let env = callbacks::env_of(&h);
  let _scope = js::HandleScope::open(env);
  let req = {
    let mut st = h.borrow_mut();
    let ref_env = st.env;
    st.js.take_req(ref_env, ctx.req)
  };
  callbacks::complete(env, &h, req, status, outcome);
}

// SAFETY (callers): libuv calls these on the loop thread, once per request.
unsafe extern "C" fn on_connect(req: *mut ffi::uv_req_t, status: c_int) {
  let outcome = Outcome::Connected {
    readable: status == 0,
    writable: status == 0,
  };
  deliver_req(req, status, outcome);
}

unsafe extern "C" fn on_write(req: *mut ffi::uv_req_t, status: c_int) {
  deliver_req(req, status, Outcome::Done);
}

unsafe extern "C" fn on_shutdown(req: *mut ffi::uv_req_t, status: c_int) {
  deliver_req(req, status, Outcome::Done);
}

// ---------------------------------------------------------------------------
// The handle operations.

pub fn bind(s: &Handle, this: napi_value, name: Vec<u8>) -> i32 {
  let name = match name_arg(&name) {
    Ok(n) => n,
    Err(e) => return e,
  };
  if s.borrow().attached {
    return errno::EINVAL;
  }
  let pipe = match init_pipe(s) {
    Ok(p) => p,
    Err(e) => return e,
  };
  // SAFETY: pipe is open; name is NUL-terminated.
  let err = unsafe { ffi::uv_pipe_bind(pipe, name.as_ptr()) };
  if err == 0 {
    s.borrow_mut().attached = true;
  }
  callbacks::bind_js(s, this);
  err
}

pub fn listen(s: &Handle, backlog: i32) -> i32 {
  let Some(pipe) = pipe_of(s) else {
    return errno::EINVAL;
  };
  // SAFETY: pipe is open.
  let err = unsafe { ffi::uv_listen(pipe, backlog, on_connection) };
  if err == 0 {
    s.borrow_mut().listening = true;
  }
  err
}

// SAFETY (callers): libuv calls it on the loop thread with a live server.
unsafe extern "C" fn on_connection(server: *mut uv_handle_t, status: c_int) {
  let Some(h) = handle_of(server) else {
    return;
  };
  let env = callbacks::env_of(&h);
  let _scope = js::HandleScope::open(env);
  if status != 0 {
    callbacks::call_onconnection(env, &h, status, ptr::null_mut());
    return;
  }
  match accept_one(env, server) {
    Ok((obj, client)) => {
      if !callbacks::call_onconnection(env, &h, 0, obj) {
        close(&client, env, js::undefined(env));
      }
    }
    Err(e) => {
      callbacks::call_onconnection(env, &h, e, ptr::null_mut());
    }
  }
}

/// A new `Pipe` (SOCKET) object with the connection libuv accepted.
fn accept_one(env: napi_env, server: *mut uv_handle_t) -> Result<(napi_value, Handle), i32> {
  let (obj, client) = match class::construct_pipe::<RefCell<WinPipe>>(env, Kind::Socket as i32) {
    Ok(made) => made,
    Err(class::ConstructError::NoPipe) => return Err(errno::EINVAL),
    Err(class::ConstructError::Status(_)) => return Err(errno::ENOMEM),
  };
  let client = Handle::clone(&client);
  let pipe = init_pipe(&client)?;
  // SAFETY: both pipes are open; libuv hands the pending instance over.
  let err = unsafe { ffi::uv_accept(server, pipe) };
  if err != 0 {
    close(&client, env, js::undefined(env));
    return Err(err);
  }
  {
    let mut st = client.borrow_mut();
    st.server_end = Some(true);
    st.attached = true;
  }
  callbacks::bind_js(&client, obj);
  Ok((obj, client))
}

pub fn connect(s: &Handle, env: napi_env, this: napi_value, req: napi_value, name: &[u8]) -> i32 {
  let _ = env;
  let name = match name_arg(name) {
    Ok(n) => n,
    Err(e) => return e,
  };
  {
    let st = s.borrow();
    if st.closing || st.listening || st.attached {
      return errno::EINVAL;
    }
  }
  let pipe = match init_pipe(s) {
    Ok(p) => p,
    Err(e) => return e,
  };
  {
    let mut st = s.borrow_mut();
    st.server_end = Some(false);
    st.attached = true;
  }
  callbacks::bind_js(s, this);
  let Some(creq) = new_req(s, ffi::UV_CONNECT, req, Vec::new()) else {
    return errno::ENOMEM;
  };
  if s.borrow().closing {
    // An async hook closed the handle as it opened: nothing to connect.
    abandon_req(s, creq);
    return errno::EINVAL;
  }
  // SAFETY: creq is a fresh connect request, pipe is open, name is
  // NUL-terminated (libuv copies it). The callback always comes, later.
  unsafe { ffi::uv_pipe_connect(creq, pipe, name.as_ptr(), on_connect) };
  0
}

pub fn open(s: &Handle, this: napi_value, fd: i32) -> i32 {
  if fd < 0 {
    return errno::EBADF;
  }
  if s.borrow().attached {
    return errno::EINVAL;
  }
  let pipe = match init_pipe(s) {
    Ok(p) => p,
    Err(e) => return e,
  };
  // SAFETY: pipe is open.
  let err = unsafe { ffi::uv_pipe_open(pipe, fd) };
  if err == 0 {
    let mut st = s.borrow_mut();
    st.attached = true;
    st.opened = true;
  }
  callbacks::bind_js(s, this);
  err
}

/// `UV_READABLE`/`UV_WRITABLE` for everyone on the pipe's security
/// descriptor (`uv_pipe_chmod`).
pub fn fchmod(s: &Handle, mode: i32) -> i32 {
  let Some(pipe) = pipe_of(s) else {
    return errno::EBADF;
  };
  // SAFETY: pipe is open.
  unsafe { ffi::uv_pipe_chmod(pipe, mode) }
}

/// `Pipe` has Windows' `setPendingInstances` here.
pub const PENDING_INSTANCES: bool = true;

/// Windows only: how many pipe instances a server keeps ready.
pub fn set_pending_instances(s: &Handle, count: i32) {
  if let Ok(pipe) = init_pipe(s) {
    // SAFETY: pipe is open.
    unsafe { ffi::uv_pipe_pending_instances(pipe, count) };
  }
}

/// Closes the handle; libuv cancels what is pending (each request's
/// callback runs with `UV_ECANCELED`), then `cb` runs in the close phase.
pub fn close(s: &Handle, env: napi_env, cb: napi_value) {
  let pipe = {
    let mut st = s.borrow_mut();
    if st.closing || st.torn_down {
      return;
    }
    st.closing = true;
    st.hold_this(s);
    if js::is_function(env, cb) {
      let ref_env = st.env;
      JsRefs::replace(ref_env, &mut st.js.close_cb, cb);
    }
    st.pipe
  };
  if pipe.is_null() {
    let s = s.clone();
    env::defer(env, Box::new(move |env| finish_close(env, &s)));
    return;
  }
  // SAFETY: the pipe is open; libuv calls on_close in its close phase.
  unsafe { uv::uv_close(pipe, Some(on_close)) };
}

// SAFETY (callers): libuv calls it once, in its close phase, for a pipe
// this backend closed; the handle is freed here and never touched again.
unsafe extern "C" fn on_close(handle: *mut uv_handle_t) {
  let h = handle_of(handle);
  // SAFETY: libuv is done with the handle in its close callback.
  unsafe { uv::free_handle(handle) };
  let Some(h) = h else {
    return; // torn down
  };
  h.borrow_mut().pipe = ptr::null_mut();
  let env = callbacks::env_of(&h);
  let _scope = js::HandleScope::open(env);
  finish_close(env, &h);
}

fn finish_close(env: napi_env, h: &Handle) {
  let (cb, this, ctx) = {
    let mut st = h.borrow_mut();
    if st.closed || st.torn_down {
      return;
    }
    st.closed = true;
    let ref_env = st.env;
    let cb = ref_env.ref_value(st.js.close_cb);
    ref_env.drop_ref(&mut st.js.close_cb);
    (cb, st.this(), st.js.async_ctx)
  };
  if !cb.is_null() {
    js::make_callback(env, ctx, this, cb, &[]);
  }
  let id = {
    let mut st = h.borrow_mut();
    let ref_env = st.env;
    st.js.release(ref_env);
    st.id
  };
  OPEN.with(|o| o.borrow_mut().remove(&id));
}

pub fn set_ref(s: &Handle, on: bool) {
  let mut st = s.borrow_mut();
  if st.closing {
    return;
  }
  st.refed = on;
  if !st.pipe.is_null() {
    // SAFETY: the pipe is open.
    unsafe {
      if on {
        uv::uv_ref(st.pipe)
      } else {
        uv::uv_unref(st.pipe)
      }
    };
  }
}

pub fn has_ref(s: &Handle) -> bool {
  let st = s.borrow();
  if st.pipe.is_null() {
    return st.refed && !st.closed;
  }
  // SAFETY: the pipe is open or closing (not yet freed).
  unsafe { ffi::uv_has_ref(st.pipe) != 0 }
}

pub fn read_start(s: &Handle) -> i32 {
  let Some(pipe) = pipe_of(s) else {
    return errno::ENOTCONN;
  };
  // SAFETY: pipe is open.
  unsafe { ffi::uv_read_start(pipe, on_alloc, on_read) }
}

pub fn read_stop(s: &Handle) -> i32 {
  let Some(pipe) = pipe_of(s) else {
    return 0;
  };
  // SAFETY: pipe is open.
  unsafe { ffi::uv_read_stop(pipe) }
}

// SAFETY (callers): libuv asks for a buffer right before it reads into it,
// on the loop thread; the scratch buffer is not borrowed then.
unsafe extern "C" fn on_alloc(_: *mut uv_handle_t, _: usize, buf: *mut uv_buf_t) {
  READ_BUF.with(|b| {
    let mut b = b.borrow_mut();
    // SAFETY: buf is libuv's out-parameter.
    unsafe {
      (*buf).base = b.as_mut_ptr().cast();
      (*buf).len = b.len() as u32;
    }
  });
}

// SAFETY (callers): libuv calls it on the loop thread; `buf` is what
// on_alloc gave (the scratch buffer), valid for `nread` bytes.
unsafe extern "C" fn on_read(stream: *mut uv_handle_t, nread: isize, buf: *const uv_buf_t) {
  let Some(h) = handle_of(stream) else {
    return;
  };
  if nread == 0 {
    return;
  }
  let env = callbacks::env_of(&h);
  let _scope = js::HandleScope::open(env);
  if nread < 0 {
    buffers::set_state(
      RefEnv::new(env),
      [
        (K_READ_BYTES_OR_ERROR, nread as i32),
        (K_ARRAY_BUFFER_OFFSET, 0),
      ],
    );
    callbacks::call_onread(env, &h, &[js::undefined(env)]);
    return;
  }
  let n = nread as usize;
  if h.borrow().kind == Kind::Ipc {
    // As Node: a TCP handle that came with these bytes is accepted into a
    // new TCP object, `pendingHandle` on the pipe before its `onread`.
    if let Some(tcp) = xfer::accept_pending(env, stream) {
      let this = h.borrow().this();
      js::set(env, this, c"pendingHandle", tcp);
    }
  }
  // SAFETY: libuv filled n bytes of the buffer on_alloc handed out (the
  // scratch buffer: no read into it can happen while JS runs).
  let bytes = unsafe { std::slice::from_raw_parts((*buf).base as *const u8, n) };
  let (pooled, user_buf) = {
    let mut st = h.borrow_mut();
    st.bytes_read += n as u64;
    (st.pooled_reads, st.js.user_buf)
  };
  if !user_buf.is_null() {
    return read_into_user_buffer(env, &h, bytes);
  }
  let slot = if pooled && n <= buffers::POOLED_READ_MAX {
    buffers::copy_to_pool(RefEnv::new(env), bytes)
  } else {
    buffers::array_buffer_from(RefEnv::new(env), bytes).map(|ab| (ab, 0))
  };
  let Some((ab, off)) = slot else {
    return;
  };
  buffers::set_state(
    RefEnv::new(env),
    [
      (K_READ_BYTES_OR_ERROR, n as i32),
      (K_ARRAY_BUFFER_OFFSET, off as i32),
    ],
  );
  callbacks::call_onread(env, &h, &[ab]);
}

/// `useUserBuffer`: the bytes go into the user's Uint8Array (looked up now),
/// and `onread` gets `undefined`. A detached buffer is one EFAULT and the
/// read stops, as on Unix.
fn read_into_user_buffer(env: napi_env, h: &Handle, bytes: &[u8]) {
  let user = {
    let st = h.borrow();
    st.env.ref_value(st.js.user_buf)
  };
  let Some((p, len)) = js::uint8_bytes(env, user).filter(|(_, l)| *l > 0) else {
    read_stop(h);
    buffers::set_state(
      RefEnv::new(env),
      [(K_READ_BYTES_OR_ERROR, -4074), (K_ARRAY_BUFFER_OFFSET, 0)],
    );
    callbacks::call_onread(env, h, &[js::undefined(env)]);
    return;
  };
  // The user buffer may be smaller than what libuv read: deliver in turns.
  for chunk in bytes.chunks(len) {
    // SAFETY: p is the view's memory, looked up just now, len bytes long;
    // no JS ran since.
    unsafe { ptr::copy_nonoverlapping(chunk.as_ptr(), p, chunk.len()) };
    buffers::set_state(
      RefEnv::new(env),
      [
        (K_READ_BYTES_OR_ERROR, chunk.len() as i32),
        (K_ARRAY_BUFFER_OFFSET, 0),
      ],
    );
    callbacks::call_onread(env, h, &[js::undefined(env)]);
    if h.borrow().closing {
      return;
    }
  }
}

/// Half-closes once the queued writes are out.
pub fn shutdown(s: &Handle, env: napi_env, req: napi_value) -> i32 {
  let _ = env;
  let Some(pipe) = pipe_of(s) else {
    return errno::ENOTCONN;
  };
  let Some(sreq) = new_req(s, ffi::UV_SHUTDOWN, req, Vec::new()) else {
    return errno::ENOMEM;
  };
  // SAFETY: sreq is fresh, pipe is open.
  let err = unsafe { ffi::uv_shutdown(sreq, pipe, on_shutdown) };
  if err != 0 {
    abandon_req(s, sreq);
  }
  err
}

pub fn is_ipc(s: &Handle) -> bool {
  s.borrow().kind == Kind::Ipc
}

pub fn can_write(s: &Handle) -> bool {
  pipe_of(s).is_some()
}

/// fd passing (`sendFds`) is Unix-only.
pub fn send_handle(_fd: i32) -> Result<SendHandle, i32> {
  Err(errno::ENOTSUP)
}

/// The handle an IPC write sends: a Node TCP handle (found in the loop, see
/// `xfer`), `ENOTSUP` for any other object, as libuv answers on Windows.
/// May run JS (the handle's getsockname/getpeername).
pub fn ipc_send_handle(env: napi_env, value: napi_value) -> Result<Option<SendHandle>, i32> {
  if !js::is_object(env, value) {
    return Ok(None);
  }
  xfer::find_node_tcp(env, value).map(Some)
}

/// pipewrap extension, Windows: the pid at the other end of an IPC pipe
/// whose two ends this process made (`fork()`'s channel), which libuv needs
/// to send it a socket. 0, or a negative errno.
pub fn set_peer_pid(s: &Handle, pid: i32) -> i32 {
  // An end of a pipe (opened, accepted or connecting), not a server.
  let connected = {
    let st = s.borrow();
    st.kind == Kind::Ipc && !st.listening && (st.opened || st.server_end.is_some())
  };
  match pipe_of(s) {
    Some(pipe) if connected && pid > 0 => xfer::set_remote_pid(pipe, pid as u32),
    Some(_) => errno::EINVAL,
    None => errno::EBADF,
  }
}

/// Writes `bufs`: what `uv_try_write` takes at once completes in the call
/// (no callback, as Node's `kLastWriteWasAsync` = 0 says); the rest is
/// copied into a `uv_write` that calls back later.
pub fn write(
  s: &Handle,
  req: napi_value,
  bufs: &[&[u8]],
  handles: Vec<SendHandle>,
  lent: Option<napi_value>,
) -> i32 {
  let _ = lent;
  let Some(pipe) = pipe_of(s) else {
    return errno::EBADF;
  };
  let send = match handles.as_slice() {
    [] => ptr::null_mut(),
    [one] => one.0,
    _ => return errno::EINVAL,
  };
  let total: usize = bufs.iter().map(|b| b.len()).sum();
  let queued = {
    // SAFETY: pipe is open.
    unsafe { ffi::uv_stream_get_write_queue_size(pipe) }
  };
  let mut written = 0usize;
  // A handle goes with the bytes of one uv_write2: no try-write first.
  if queued == 0 && total > 0 && send.is_null() {
    let uv_bufs: Vec<uv_buf_t> = bufs
      .iter()
      .map(|b| uv_buf_t {
        len: b.len() as u32,
        base: b.as_ptr() as *mut c_char,
      })
      .collect();
    // SAFETY: the buffers are valid for the call; libuv copies nothing
    // it keeps (a try-write is synchronous).
    let n = unsafe { ffi::uv_try_write(pipe, uv_bufs.as_ptr(), uv_bufs.len() as c_uint) };
    if n >= 0 {
      written = n as usize;
    } else if n != errno::EAGAIN && n != errno::ENOSYS {
      return n;
    }
  }
  let env = s.borrow().env;
  s.borrow_mut().bytes_written += total as u64;
  if written == total && total > 0 {
    buffers::set_state(
      env,
      [(K_BYTES_WRITTEN, total as i32), (K_LAST_WRITE_WAS_ASYNC, 0)],
    );
    return 0;
  }
  let mut rest = Vec::with_capacity(total - written);
  let mut skip = written;
  for b in bufs {
    if skip >= b.len() {
      skip -= b.len();
      continue;
    }
    rest.extend_from_slice(&b[skip..]);
    skip = 0;
  }
  let Some(wreq) = new_req(s, ffi::UV_WRITE, req, rest) else {
    return errno::ENOMEM;
  };
  // SAFETY: the context owns the bytes until on_write; wreq is fresh;
  // `send` (if any) is a TCP handle of this loop found in this call (JS may
  // have closed it since, but libuv frees a handle only in its close
  // callback, later; a closed one fails the export), and libuv duplicates
  // its socket within the call.
  let err = unsafe {
    let ctx = &*(ffi::uv_req_get_data(wreq) as *const ReqCtx);
    let one = uv_buf_t {
      len: ctx.data.len() as u32,
      base: ctx.data.as_ptr() as *mut c_char,
    };
    ffi::uv_write2(wreq, pipe, &one, 1, send, on_write)
  };
  if err != 0 {
    abandon_req(s, wreq);
    return err;
  }
  buffers::set_state(
    env,
    [(K_BYTES_WRITTEN, total as i32), (K_LAST_WRITE_WAS_ASYNC, 1)],
  );
  0
}

/// Nothing to do here: libuv's write callbacks already complete later.
pub fn after_write(env: napi_env, s: &Handle) {
  let _ = (env, s);
}

/// libuv writes as the pipe takes data; the bytes still queued.
pub fn try_flush(env: napi_env, s: &Handle) -> usize {
  let _ = env;
  write_queue_size(s)
}

pub fn set_blocking(s: &Handle, blocking: bool) -> i32 {
  let Some(pipe) = pipe_of(s) else {
    return errno::EINVAL;
  };
  // SAFETY: pipe is open.
  unsafe { ffi::uv_stream_set_blocking(pipe, blocking as c_int) }
}

/// The peer's pid, uid and gid are Unix credentials: not available here.
pub fn peer_credentials(s: &Handle) -> Result<PeerCredentials, i32> {
  let _ = s;
  Err(errno::ENOTSUP)
}

/// The pid of the process at the other end of the pipe
/// (`GetNamedPipeClientProcessId` on a server's instance,
/// `GetNamedPipeServerProcessId` on a client).
pub fn peer_pid(s: &Handle) -> Result<i32, i32> {
  let (pipe, server_end) = {
    let st = s.borrow();
    (st.pipe, st.server_end)
  };
  if pipe.is_null() || s.borrow().closing {
    return Err(errno::EBADF);
  }
  let mut os_handle = ptr::null_mut();
  // SAFETY: pipe is open; os_handle is an out-pointer.
  let err = unsafe { ffi::uv_fileno(pipe, &mut os_handle) };
  if err != 0 {
    return Err(err);
  }
  let ask = |client: bool| {
    let mut pid = 0u32;
    // SAFETY: os_handle is the pipe's live HANDLE; pid is an out-pointer.
    let ok = unsafe {
      if client {
        ffi::GetNamedPipeClientProcessId(os_handle, &mut pid)
      } else {
        ffi::GetNamedPipeServerProcessId(os_handle, &mut pid)
      }
    };
    (ok != 0).then_some(pid as i32)
  };
  let found = match server_end {
    Some(server) => ask(server),
    None => ask(true).or_else(|| ask(false)),
  };
  found.ok_or(errno::ENOTSUP)
}

/// What `getPeerCredentials` reports (never made on this backend).
pub struct PeerCredentials {
  pub pid: i32,
  pub uid: u32,
  pub gid: u32,
}

pub fn set_fd_passing(s: &Handle, on: bool) {
  let _ = (s, on);
}

pub fn set_pooled_reads(s: &Handle, on: bool) {
  s.borrow_mut().pooled_reads = on;
}

pub fn use_user_buffer(s: &Handle, buf: napi_value) {
  let mut st = s.borrow_mut();
  if !st.closed && !st.torn_down {
    let env = st.env;
    JsRefs::replace(env, &mut st.js.user_buf, buf);
  }
}

pub fn onread(s: &Handle) -> napi_value {
  let st = s.borrow();
  st.env.ref_value(st.js.onread)
}

pub fn set_onread(s: &Handle, func: napi_value) {
  let mut st = s.borrow_mut();
  if !st.closed && !st.torn_down {
    let env = st.env;
    st.js.set_onread(env, func);
  }
}

/// Named pipes have no fd: `UV_EINVAL`, as Node's `fd` on Windows.
pub fn fd(s: &Handle) -> i32 {
  let _ = s;
  errno::EINVAL
}

pub fn bytes_read(s: &Handle) -> u64 {
  s.borrow().bytes_read
}

pub fn bytes_written(s: &Handle) -> u64 {
  s.borrow().bytes_written
}

pub fn write_queue_size(s: &Handle) -> usize {
  match pipe_of(s) {
    // SAFETY: pipe is open.
    Some(pipe) => unsafe { ffi::uv_stream_get_write_queue_size(pipe) },
    None => 0,
  }
}

/// A connected pair of overlapped named pipe ends as CRT fds, the way
/// libuv makes a child's stdio pipes: the first end for this process
/// (`Pipe.open`, IPC or not), the second to hand to a child through
/// `spawn`'s stdio (libuv duplicates it into the child). `fork()` speaks
/// Node's channel over it, libuv's IPC framing included.
pub fn socketpair() -> Result<[i32; 2], i32> {
  // Process-wide: worker threads make pairs too.
  static PAIRS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
  let n = PAIRS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
  // SAFETY: plain Win32 query.
  let pid = unsafe { ffi::GetCurrentProcessId() };
  let name = format!(r"\\.\pipe\pipewrap-pair-{pid}-{n}");
  let wide: Vec<u16> = name.encode_utf16().chain(std::iter::once(0)).collect();
  let last_error = || {
    // SAFETY: plain Win32 queries.
    unsafe { ffi::uv_translate_sys_error(ffi::GetLastError() as c_int) }
  };
  // SAFETY: wide is NUL-terminated; no security attributes (not inherited:
  // spawn duplicates the child's end itself).
  let server = unsafe {
    ffi::CreateNamedPipeW(
      wide.as_ptr(),
      ffi::PIPE_ACCESS_DUPLEX | ffi::FILE_FLAG_OVERLAPPED | ffi::FILE_FLAG_FIRST_PIPE_INSTANCE,
      0, // PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT
      1,
      65536,
      65536,
      0,
      ptr::null_mut(),
    )
  };
  if server == ffi::INVALID_HANDLE_VALUE {
    return Err(last_error());
  }
  // SAFETY: as above; the server end exists, so this connects at once.
  let client = unsafe {
    ffi::CreateFileW(
      wide.as_ptr(),
      ffi::GENERIC_READ | ffi::GENERIC_WRITE,
      0,
      ptr::null_mut(),
      ffi::OPEN_EXISTING,
      ffi::FILE_FLAG_OVERLAPPED,
      ptr::null_mut(),
    )
  };
  if client == ffi::INVALID_HANDLE_VALUE {
    let err = last_error();
    // SAFETY: server is ours and open.
    unsafe { ffi::CloseHandle(server) };
    return Err(err);
  }
  let mut fds = [-1; 2];
  for (slot, handle) in fds.iter_mut().zip([server, client]) {
    // SAFETY: handle is ours; node's CRT fd takes it over (closing the
    // fd closes the handle).
    let fd = unsafe { ffi::uv_open_osfhandle(handle) };
    if fd < 0 {
      // SAFETY: handle was not taken over.
      unsafe { ffi::CloseHandle(handle) };
    }
    *slot = fd;
  }
  if fds.contains(&-1) {
    for fd in fds.into_iter().filter(|&fd| fd >= 0) {
      close_fd(fd);
    }
    return Err(errno::EMFILE);
  }
  Ok(fds)
}

/// Closes a CRT fd of node's CRT (a `socketpair()` end), synchronously.
pub fn close_fd(fd: i32) -> i32 {
  if fd < 0 {
    return errno::EBADF;
  }
  // SAFETY: uv_req_size is a pure lookup.
  let req = unsafe { libc::malloc(ffi::uv_req_size(ffi::UV_FS)) } as *mut ffi::uv_req_t;
  if req.is_null() {
    return errno::ENOMEM;
  }
  // SAFETY: without a callback uv_fs_close runs synchronously (the loop
  // is only bookkeeping); the request is cleaned up and freed after.
  unsafe {
    let err = ffi::uv_fs_close(ffi::uv_default_loop(), req, fd, None);
    ffi::uv_fs_req_cleanup(req);
    libc::free(req.cast());
    err.min(0)
  }
}

/// Stale-socket probing is for Unix socket files.
pub fn probe(name: &[u8]) -> i32 {
  let _ = name;
  errno::ENOTSUP
}

/// libuv's name for an error code.
pub fn errno_name(err: i32) -> &'static str {
  // SAFETY: uv_err_name returns a static string for known codes (and a
  // leaked one for unknown codes, which lives as long).
  let name = unsafe { std::ffi::CStr::from_ptr(ffi::uv_err_name(err)) };
  name.to_str().unwrap_or("UNKNOWN")
}
