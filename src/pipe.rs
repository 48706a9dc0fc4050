//! `Pipe`: the JS-facing handle class, Node's `pipe_wrap` contract. Methods
//! validate their arguments (throwing a `TypeError` with a Node-style `code`
//! where Node would abort), then act, returning 0 or a negative errno.

use std::borrow::Cow;
use std::os::unix::io::RawFd;
use std::ptr;

use napi::sys::{self as napi_sys, napi_callback_info, napi_env, napi_value};

use crate::class::{self, CallArgs, JsResult, Thrown};
use crate::js::{self, napi_call};
use crate::reqs::{self, ReqKind};
use crate::stream::{self, Kind, Stream, StreamRef};
use pipewrap_core::sys;

type Result<T> = std::result::Result<T, Thrown>;

/// What `napi_wrap` holds for each Pipe object.
struct PipeObj {
  s: StreamRef,
}

fn arg_error(env: napi_env, what: &str) -> Thrown {
  class::type_error(env, "ERR_INVALID_ARG_TYPE", what)
}

fn string_arg(env: napi_env, v: napi_value, what: &str) -> Result<Vec<u8>> {
  if js::type_of(env, v) != napi::sys::ValueType::napi_string {
    return Err(arg_error(
      env,
      &format!("The \"{what}\" argument must be of type string"),
    ));
  }
  Ok(encode(env, v, Encoding::Utf8))
}

fn int_arg(env: napi_env, v: napi_value, what: &str) -> Result<i32> {
  js::number_i32(env, v).ok_or_else(|| {
    if js::type_of(env, v) == napi::sys::ValueType::napi_number {
      class::range_error(
        env,
        "ERR_OUT_OF_RANGE",
        &format!("The \"{what}\" argument must be an int32"),
      )
    } else {
      arg_error(
        env,
        &format!("The \"{what}\" argument must be of type number"),
      )
    }
  })
}

#[derive(Clone, Copy)]
enum Encoding {
  Utf8,
  Latin1,
  Ucs2,
}

type GetOneByteString = unsafe extern "C" fn(
  napi_env,
  napi_value,
  *mut std::os::raw::c_char,
  usize,
  *mut usize,
) -> napi_sys::napi_status;

/// A string's bytes through one of N-API's one-byte getters (UTF-8 or
/// Latin-1): ask for the length, then fill a buffer of that size.
fn one_byte_string(env: napi_env, v: napi_value, get: GetOneByteString) -> Vec<u8> {
  let mut len = 0usize;
  // SAFETY: env/v are live for this call; a null buffer asks for the length.
  unsafe { get(env, v, ptr::null_mut(), 0, &mut len) };
  let mut buf = vec![0u8; len + 1];
  // SAFETY: buf has len + 1 bytes, the size passed (the getter NUL-ends).
  unsafe { get(env, v, buf.as_mut_ptr().cast(), len + 1, &mut len) };
  buf.truncate(len);
  buf
}

/// A JS string's bytes in the given encoding.
fn encode(env: napi_env, v: napi_value, enc: Encoding) -> Vec<u8> {
  match enc {
    Encoding::Utf8 => one_byte_string(env, v, napi_sys::napi_get_value_string_utf8),
    Encoding::Latin1 => one_byte_string(env, v, napi_sys::napi_get_value_string_latin1),
    Encoding::Ucs2 => {
      let mut len = 0usize;
      napi_call!(napi_get_value_string_utf16(
        env,
        v,
        std::ptr::null_mut(),
        0,
        &mut len
      ));
      let mut units = vec![0u16; len + 1];
      napi_call!(napi_get_value_string_utf16(
        env,
        v,
        units.as_mut_ptr(),
        len + 1,
        &mut len
      ));
      units.truncate(len);
      units.iter().flat_map(|u| u.to_le_bytes()).collect()
    }
  }
}

/// Bytes of one `writev` chunk: a Uint8Array as is, a string in its paired
/// encoding (rare encodings go through `Buffer.from`).
fn chunk_bytes<'a>(env: napi_env, chunk: napi_value, enc: napi_value) -> Result<Cow<'a, [u8]>> {
  if let Some((p, len)) = js::uint8_bytes(env, chunk) {
    // SAFETY: the chunk stays alive (it is in the caller's argument array)
    // until the write call returns, and the bytes are copied if queued.
    return Ok(Cow::Borrowed(unsafe { std::slice::from_raw_parts(p, len) }));
  }
  if js::type_of(env, chunk) != napi::sys::ValueType::napi_string {
    return Err(arg_error(
      env,
      "writev chunks must be strings or Uint8Arrays",
    ));
  }
  let enc_name = if js::type_of(env, enc) == napi::sys::ValueType::napi_string {
    String::from_utf8(encode(env, enc, Encoding::Utf8)).unwrap_or_default()
  } else {
    "utf8".to_string()
  };
  let fast = match enc_name.to_ascii_lowercase().as_str() {
    "utf8" | "utf-8" | "buffer" => Some(Encoding::Utf8),
    "latin1" | "binary" | "ascii" => Some(Encoding::Latin1),
    "ucs2" | "ucs-2" | "utf16le" | "utf-16le" => Some(Encoding::Ucs2),
    _ => None,
  };
  if let Some(e) = fast {
    return Ok(Cow::Owned(encode(env, chunk, e)));
  }
  let mut global = std::ptr::null_mut();
  napi_call!(napi_get_global(env, &mut global));
  let buffer = js::get(env, global, c"Buffer");
  let from = js::get(env, buffer, c"from");
  let mut out = std::ptr::null_mut();
  let status = napi_call!(napi_call_function(
    env,
    buffer,
    from,
    2,
    [chunk, enc].as_ptr(),
    &mut out
  ));
  if status != napi::sys::Status::napi_ok {
    return Err(Thrown);
  }
  match js::uint8_bytes(env, out) {
    // SAFETY: a fresh Buffer, copied before anything can collect it.
    Some((p, len)) => Ok(Cow::Owned(
      unsafe { std::slice::from_raw_parts(p, len) }.to_vec(),
    )),
    None => Err(arg_error(env, "unsupported encoding")),
  }
}

/// The fd of a handle to send: any object with a numeric `fd` (a pipewrap
/// Pipe, or one of Node's own TCP/Pipe handles).
fn send_handle_fd(env: napi_env, handle: napi_value) -> Option<RawFd> {
  if !js::is_object(env, handle) {
    return None;
  }
  match js::get_i32(env, handle, c"fd") {
    Some(fd) if fd >= 0 => Some(fd),
    _ => Some(-1),
  }
}

/// Unwraps the receiver of a Pipe method, throwing on a foreign `this`.
fn this_pipe<'a, const N: usize>(env: napi_env, a: &CallArgs<N>) -> Result<&'a StreamRef> {
  match class::unwrap_tracked::<PipeObj>(env, a.this) {
    Some(p) => Ok(&p.s),
    None => Err(class::type_error(
      env,
      "ERR_INVALID_THIS",
      "Illegal invocation: the receiver is not a Pipe",
    )),
  }
}

/// Declares an N-API callback that unwraps `this` and runs `$body` with
/// `$env`, the stream `$s` and the call's arguments `$a`.
macro_rules! pipe_fn {
  ($name:ident, $n:literal, |$env:ident, $s:ident, $a:ident| $body:block) => {
    unsafe extern "C" fn $name($env: napi_env, info: napi_callback_info) -> napi_value {
      let $a = class::call_args::<$n>($env, info);
      let run = || -> JsResult {
        let $s = this_pipe($env, &$a)?;
        $body
      };
      class::finish(run())
    }
  };
}

fn int(env: napi_env, v: i32) -> JsResult {
  Ok(js::int(env, v))
}

/// The write path shared by all write methods: handle-carrying writes only
/// on IPC pipes (ignored elsewhere, like Node).
fn dispatch_write(
  env: napi_env,
  s: &StreamRef,
  req: napi_value,
  bufs: &[&[u8]],
  handle: napi_value,
  pin: Option<napi_value>,
) -> JsResult {
  let send_fd = if s.borrow().is_ipc() {
    send_handle_fd(env, handle)
  } else {
    None
  };
  if send_fd == Some(-1) {
    return int(env, -libc::EBADF);
  }
  if send_fd.is_some() {
    // As in Node: the request holds the sent handle until it completes.
    js::set(env, req, c"handle", handle);
  }
  let fds: &[RawFd] = match &send_fd {
    Some(fd) => std::slice::from_ref(fd),
    None => &[],
  };
  int(env, stream::write(s, env, req, bufs, fds, pin))
}

fn string_write(env: napi_env, s: &StreamRef, a: &CallArgs<3>, enc: Encoding) -> JsResult {
  let req = reqs::check(env, a.argv[0], ReqKind::Write)?;
  if js::type_of(env, a.argv[1]) != napi_sys::ValueType::napi_string {
    return Err(arg_error(
      env,
      "The \"string\" argument must be of type string",
    ));
  }
  let get: GetOneByteString = match enc {
    Encoding::Utf8 => napi_sys::napi_get_value_string_utf8,
    Encoding::Latin1 => napi_sys::napi_get_value_string_latin1,
    Encoding::Ucs2 => {
      let bytes = encode(env, a.argv[1], enc);
      return dispatch_write(env, s, req, &[&bytes], a.argv[2], None);
    }
  };
  // Most strings fit the scratch buffer: one conversion, no allocation
  // (the bytes are copied only if the kernel does not take them all now).
  let fitted = STRING_BUF.with(|b| {
    let mut b = b.try_borrow_mut().ok()?;
    let mut len = 0usize;
    // SAFETY: b has STRING_SCRATCH writable bytes, the size passed.
    unsafe {
      get(
        env,
        a.argv[1],
        b.as_mut_ptr().cast(),
        STRING_SCRATCH,
        &mut len,
      )
    };
    // Within a UTF-8 sequence of the end, the string may have been cut.
    if len + 4 >= STRING_SCRATCH {
      return None;
    }
    Some(dispatch_write(env, s, req, &[&b[..len]], a.argv[2], None))
  });
  if let Some(result) = fitted {
    return result;
  }
  let bytes = encode(env, a.argv[1], enc);
  dispatch_write(env, s, req, &[&bytes], a.argv[2], None)
}

const STRING_SCRATCH: usize = 16 * 1024;

thread_local! {
  /// Scratch space strings are converted into before being written.
  static STRING_BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; STRING_SCRATCH]);
}

/// `new Pipe(type)`: type is `constants.SOCKET`, `SERVER` or `IPC`.
unsafe extern "C" fn pipe_ctor(env: napi_env, info: napi_callback_info) -> napi_value {
  if !class::is_construct_call(env, info) {
    class::type_error(
      env,
      "ERR_CONSTRUCT_CALL_REQUIRED",
      "Class constructor Pipe cannot be invoked without 'new'",
    );
    return ptr::null_mut();
  }
  let a = class::call_args::<1>(env, info);
  let kind = match js::number_i32(env, a.argv[0]) {
    Some(0) => Kind::Socket,
    Some(1) => Kind::Server,
    Some(2) => Kind::Ipc,
    Some(_) => {
      class::range_error(
        env,
        "ERR_OUT_OF_RANGE",
        "The \"type\" argument must be 0 (SOCKET), 1 (SERVER) or 2 (IPC)",
      );
      return ptr::null_mut();
    }
    None => {
      arg_error(env, "The \"type\" argument must be of type number");
      return ptr::null_mut();
    }
  };
  class::wrap_tracked(
    env,
    a.this,
    PipeObj {
      s: Stream::new(env, kind),
    },
  );
  a.this
}

// Binds to a path or an abstract name ('\0name'). 0 or a negative errno.
pipe_fn!(bind, 2, |env, s, a| {
  let name = string_arg(env, a.argv[0], "name")?;
  {
    let st = s.borrow();
    if st.closing || st.fd >= 0 {
      return int(env, -libc::EINVAL);
    }
  }
  if let Err(err) = sys::unix_addr(&name) {
    return int(env, err);
  }
  let fd = match sys::unix_socket() {
    Ok(fd) => fd,
    Err(err) => return int(env, err),
  };
  if let Err(err) = sys::bind(fd, &name) {
    sys::close(fd);
    // libuv reports a missing directory as EACCES (Windows parity).
    return int(
      env,
      if err == -libc::ENOENT {
        -libc::EACCES
      } else {
        err
      },
    );
  }
  if let Err(err) = stream::attach_fd(s, a.this, fd) {
    sys::close(fd);
    return int(env, err);
  }
  if name[0] != 0 {
    s.borrow_mut().bound_path = Some(name);
  }
  int(env, 0)
});

pipe_fn!(listen, 1, |env, s, a| {
  let backlog = int_arg(env, a.argv[0], "backlog")?;
  let mut st = s.borrow_mut();
  if st.closing || st.fd < 0 || st.is_ipc() {
    return int(env, -libc::EINVAL);
  }
  if let Err(err) = sys::listen(st.fd, backlog) {
    return int(env, err);
  }
  crate::env::with(env, |e| {
    if e.reserve_fd < 0 {
      e.reserve_fd = stream::open_reserve_fd();
    }
  });
  st.set_listening();
  int(env, 0)
});

// Connects to a path or abstract name. Socket-level errors always arrive
// through `req.oncomplete` on a later loop turn; only bad names (empty,
// embedded NUL, too long for sun_path) return synchronously.
pipe_fn!(connect, 2, |env, s, a| {
  let req = reqs::check(env, a.argv[0], ReqKind::Connect)?;
  let name = string_arg(env, a.argv[1], "name")?;
  {
    let st = s.borrow();
    if st.closing || st.listening {
      return int(env, -libc::EINVAL);
    }
  }
  if let Err(err) = sys::unix_addr(&name) {
    return int(env, err);
  }
  if s.borrow().fd < 0 {
    let attached = sys::unix_socket().map(|fd| stream::attach_new_socket(s, a.this, fd));
    if let Err(err) = attached {
      s.borrow_mut().bind_this(a.this);
      stream::fail_connect_later(s, env, req, err);
      return int(env, 0);
    }
  }
  int(env, stream::start_connect(s, env, req, &name))
});

// Adopts an existing fd (made non-blocking). EEXIST if the loop already
// watches it, EBADF if it is not open.
pipe_fn!(open, 1, |env, s, a| {
  let fd = int_arg(env, a.argv[0], "fd")?;
  {
    let st = s.borrow();
    if st.closing {
      return int(env, -libc::EINVAL);
    }
    if st.fd >= 0 {
      return int(env, if st.fd == fd { 0 } else { -libc::EBUSY });
    }
  }
  if fd < 0 {
    return int(env, -libc::EBADF);
  }
  // uv_poll_init below catches fds the loop polls already; this catches
  // ours whose poll is not set up yet (see Stream::update_poll).
  if crate::env::with(env, |e| e.owns_fd(fd)) {
    return int(env, -libc::EEXIST);
  }
  let mode = match sys::access_mode(fd) {
    Ok(m) => m,
    Err(err) => return int(env, err),
  };
  if let Err(err) = sys::set_nonblocking(fd, true) {
    return int(env, err);
  }
  if let Err(err) = stream::attach_fd(s, a.this, fd) {
    return int(env, err);
  }
  let mut st = s.borrow_mut();
  st.readable = mode != libc::O_WRONLY;
  st.writable = mode != libc::O_RDONLY;
  int(env, 0)
});

// Adds read and/or write permission for everyone to the bound socket file
// (never removes bits), like `uv_pipe_chmod`.
pipe_fn!(fchmod, 1, |env, s, a| {
  let mode = int_arg(env, a.argv[0], "mode")?;
  let st = s.borrow();
  if st.fd < 0 || st.closing {
    return int(env, -libc::EBADF);
  }
  if !(1..=3).contains(&mode) {
    return int(env, -libc::EINVAL);
  }
  let name = match &st.bound_path {
    Some(p) => p.clone(),
    None => match sys::socket_name(st.fd) {
      Ok(n) => n,
      Err(err) => return int(env, err),
    },
  };
  if name.is_empty() || name[0] == 0 {
    return int(env, -libc::EINVAL);
  }
  let Ok(path) = std::ffi::CString::new(name) else {
    return int(env, -libc::EINVAL);
  };
  let mode_now = match sys::file_mode(&path) {
    Ok(m) => m,
    Err(err) => return int(env, err),
  };
  let mut want = mode_now;
  if mode & 1 != 0 {
    want |= 0o444;
  }
  if mode & 2 != 0 {
    want |= 0o222;
  }
  if want == mode_now {
    return int(env, 0);
  }
  int(
    env,
    sys::chmod(&path, want).map(|_| 0).unwrap_or_else(|e| e),
  )
});

// Closes the handle; `cb` (if a function) runs later with no arguments. A
// second call does nothing.
pipe_fn!(close, 1, |env, s, a| {
  stream::close(s, env, a.this, a.argv[0]);
  Ok(js::undefined(env))
});

pipe_fn!(ref_, 0, |env, s, a| {
  let _ = &a;
  s.borrow_mut().set_ref(true);
  Ok(js::undefined(env))
});

pipe_fn!(unref, 0, |env, s, a| {
  let _ = &a;
  s.borrow_mut().set_ref(false);
  Ok(js::undefined(env))
});

pipe_fn!(has_ref, 0, |env, s, a| {
  let _ = &a;
  let st = s.borrow();
  Ok(js::boolean(env, st.refed && !st.closed))
});

pipe_fn!(read_start, 0, |env, s, a| {
  let _ = &a;
  let mut st = s.borrow_mut();
  if st.closing {
    return int(env, -libc::EINVAL);
  }
  if st.fd < 0 || !st.readable {
    return int(env, -libc::ENOTCONN);
  }
  st.set_reading(true);
  int(env, 0)
});

pipe_fn!(read_stop, 0, |env, s, a| {
  let _ = &a;
  let mut st = s.borrow_mut();
  if !st.closing {
    st.set_reading(false);
  }
  int(env, 0)
});

pipe_fn!(shutdown, 1, |env, s, a| {
  let req = reqs::check(env, a.argv[0], ReqKind::Shutdown)?;
  int(env, stream::shutdown(s, env, req))
});

pipe_fn!(write_buffer, 3, |env, s, a| {
  let req = reqs::check(env, a.argv[0], ReqKind::Write)?;
  let Some((p, len)) = js::uint8_bytes(env, a.argv[1]) else {
    return Err(arg_error(env, "Second argument must be a buffer"));
  };
  // SAFETY: the Uint8Array is an argument of this call, alive until it
  // returns; stream::write copies whatever it has to queue.
  let bytes = unsafe { std::slice::from_raw_parts(p, len) };
  dispatch_write(env, s, req, &[bytes], a.argv[2], Some(a.argv[1]))
});

// `writev(req, chunks, allBuffers)`: chunks is a list of Uint8Arrays, or
// (allBuffers false) a flat list of `[chunk, encoding, ...]` pairs.
pipe_fn!(writev, 3, |env, s, a| {
  let req = reqs::check(env, a.argv[0], ReqKind::Write)?;
  let arr = a.argv[1];
  let mut is_array = false;
  napi_call!(napi_is_array(env, arr, &mut is_array));
  if !is_array {
    return Err(arg_error(env, "The \"chunks\" argument must be an Array"));
  }
  let mut n = 0u32;
  napi_call!(napi_get_array_length(env, arr, &mut n));
  let element = |i: u32| {
    let mut v = ptr::null_mut();
    napi_call!(napi_get_element(env, arr, i, &mut v));
    v
  };
  let mut all_buffers = false;
  napi_call!(napi_get_value_bool(env, a.argv[2], &mut all_buffers));
  let mut parts: Vec<Cow<[u8]>> = Vec::with_capacity(n as usize);
  if all_buffers {
    for i in 0..n {
      let Some((p, len)) = js::uint8_bytes(env, element(i)) else {
        return Err(arg_error(env, "writev chunks must be Uint8Arrays"));
      };
      // SAFETY: the chunk is held by the argument array for this call.
      parts.push(Cow::Borrowed(unsafe { std::slice::from_raw_parts(p, len) }));
    }
  } else {
    for i in (0..n).step_by(2) {
      let enc = if i + 1 < n {
        element(i + 1)
      } else {
        js::undefined(env)
      };
      parts.push(chunk_bytes(env, element(i), enc)?);
    }
  }
  let slices: Vec<&[u8]> = parts.iter().map(|c| c.as_ref()).collect();
  dispatch_write(env, s, req, &slices, js::undefined(env), None)
});

pipe_fn!(write_utf8_string, 3, |env, s, a| {
  string_write(env, s, &a, Encoding::Utf8)
});
pipe_fn!(write_ascii_string, 3, |env, s, a| {
  string_write(env, s, &a, Encoding::Latin1)
});
pipe_fn!(write_latin1_string, 3, |env, s, a| {
  string_write(env, s, &a, Encoding::Latin1)
});
pipe_fn!(write_ucs2_string, 3, |env, s, a| {
  string_write(env, s, &a, Encoding::Ucs2)
});

// Reads go straight into `buf` (held strongly until replaced or closed);
// `onread` then gets `undefined` and the length in `streamBaseState`.
pipe_fn!(use_user_buffer, 1, |env, s, a| {
  let Some((p, len)) = js::uint8_bytes(env, a.argv[0]) else {
    return Err(arg_error(
      env,
      "The \"buffer\" argument must be a Uint8Array",
    ));
  };
  if len == 0 {
    return Err(class::range_error(
      env,
      "ERR_OUT_OF_RANGE",
      "The user buffer must not be empty",
    ));
  }
  let r = js::new_ref(env, a.argv[0], 1);
  s.borrow_mut().set_user_buffer(r, p, len);
  int(env, 0)
});

pipe_fn!(set_blocking, 1, |env, s, a| {
  let mut blocking = false;
  napi_call!(napi_get_value_bool(env, a.argv[0], &mut blocking));
  let st = s.borrow();
  if st.fd < 0 || st.closing {
    return int(env, -libc::EINVAL);
  }
  int(
    env,
    sys::set_nonblocking(st.fd, !blocking)
      .map(|_| 0)
      .unwrap_or_else(|e| e),
  )
});

// pipewrap extension: `{ pid, uid, gid }` of the peer, or a negative errno.
pipe_fn!(get_peer_credentials, 0, |env, s, a| {
  let _ = &a;
  let fd = s.borrow().fd;
  if fd < 0 {
    return int(env, -libc::EBADF);
  }
  match sys::peer_credentials(fd) {
    Ok(c) => {
      let mut obj = ptr::null_mut();
      napi_call!(napi_create_object(env, &mut obj));
      js::set(env, obj, c"pid", js::int(env, c.pid));
      js::set(env, obj, c"uid", js::int(env, c.uid as i32));
      js::set(env, obj, c"gid", js::int(env, c.gid as i32));
      Ok(obj)
    }
    Err(err) => int(env, err),
  }
});

// pipewrap extension: receive SCM_RIGHTS fds on this socket; they appear as
// `pendingFds` (an array) before the `onread` that carried them.
pipe_fn!(set_fd_passing, 1, |env, s, a| {
  let mut on = false;
  napi_call!(napi_get_value_bool(env, a.argv[0], &mut on));
  s.borrow_mut().fd_passing = on;
  Ok(js::undefined(env))
});

// pipewrap extension: `setPooledReads(on)`. Small reads then arrive as a
// slice of a shared pool ArrayBuffer (offset in streamBaseState, as Node's
// contract allows) instead of an ArrayBuffer each: no allocation per read.
// For stream layers that honour the offset (net.js and ipc.js do).
pipe_fn!(set_pooled_reads, 1, |env, s, a| {
  let mut on = false;
  napi_call!(napi_get_value_bool(env, a.argv[0], &mut on));
  s.borrow_mut().pooled_reads = on;
  Ok(js::undefined(env))
});

// pipewrap extension: `sendFds(req, data, fds)` sends `data` (at least one
// byte) with `fds` as SCM_RIGHTS on any Unix socket; completes like
// `writeBuffer`.
pipe_fn!(send_fds, 3, |env, s, a| {
  let req = reqs::check(env, a.argv[0], ReqKind::Write)?;
  let Some((p, len)) = js::uint8_bytes(env, a.argv[1]) else {
    return Err(arg_error(env, "The \"data\" argument must be a Uint8Array"));
  };
  if len == 0 {
    return Err(class::range_error(
      env,
      "ERR_OUT_OF_RANGE",
      "sendFds needs at least one byte of data",
    ));
  }
  let mut is_array = false;
  napi_call!(napi_is_array(env, a.argv[2], &mut is_array));
  if !is_array {
    return Err(arg_error(
      env,
      "The \"fds\" argument must be an Array of integers",
    ));
  }
  let mut n = 0u32;
  napi_call!(napi_get_array_length(env, a.argv[2], &mut n));
  let mut fds = Vec::with_capacity(n as usize);
  for i in 0..n {
    let mut v = ptr::null_mut();
    napi_call!(napi_get_element(env, a.argv[2], i, &mut v));
    match js::number_i32(env, v) {
      Some(fd) if fd >= 0 => fds.push(fd),
      _ => {
        return Err(class::range_error(
          env,
          "ERR_OUT_OF_RANGE",
          "fds must be non-negative integers",
        ))
      }
    }
  }
  if fds.is_empty() || fds.len() > sys::MAX_FDS_PER_READ {
    return Err(class::range_error(
      env,
      "ERR_OUT_OF_RANGE",
      "fds must hold 1 to 64 file descriptors",
    ));
  }
  // SAFETY: the Uint8Array is an argument of this call.
  let bytes = unsafe { std::slice::from_raw_parts(p, len) };
  int(env, stream::send_fds(s, env, req, bytes, &fds))
});

pipe_fn!(get_fd, 0, |env, s, a| {
  let _ = &a;
  let st = s.borrow();
  int(env, if st.closing { -libc::EINVAL } else { st.fd })
});

fn double(env: napi_env, v: f64) -> JsResult {
  let mut out = ptr::null_mut();
  napi_call!(napi_create_double(env, v, &mut out));
  Ok(out)
}

pipe_fn!(get_bytes_read, 0, |env, s, a| {
  let _ = &a;
  double(env, s.borrow().bytes_read as f64)
});

pipe_fn!(get_bytes_written, 0, |env, s, a| {
  let _ = &a;
  double(env, s.borrow().bytes_written as f64)
});

pipe_fn!(get_write_queue_size, 0, |env, s, a| {
  let _ = &a;
  double(env, s.borrow().write_queue_size as f64)
});

pipe_fn!(get_onread, 0, |env, s, a| {
  let _ = &a;
  let r = s.borrow().onread;
  Ok(if r.is_null() {
    js::undefined(env)
  } else {
    js::ref_value(env, r)
  })
});

// Node aborts on a non-function here; pipewrap throws.
pipe_fn!(set_onread, 1, |env, s, a| {
  if !js::is_function(env, a.argv[0]) {
    return Err(arg_error(env, "The \"onread\" property must be a function"));
  }
  let mut st = s.borrow_mut();
  let mut old = std::mem::replace(&mut st.onread, js::new_ref(env, a.argv[0], 1));
  js::drop_ref(env, &mut old);
  Ok(js::undefined(env))
});

/// Defines `Pipe` on `exports` and remembers its constructor for handles
/// created natively (accepted connections, received fds).
pub fn define(env: napi_env, exports: napi_value) {
  let m = class::method;
  let props = [
    m(c"bind", Some(bind)),
    m(c"listen", Some(listen)),
    m(c"connect", Some(connect)),
    m(c"open", Some(open)),
    m(c"fchmod", Some(fchmod)),
    m(c"close", Some(close)),
    m(c"ref", Some(ref_)),
    m(c"unref", Some(unref)),
    m(c"hasRef", Some(has_ref)),
    m(c"readStart", Some(read_start)),
    m(c"readStop", Some(read_stop)),
    m(c"shutdown", Some(shutdown)),
    m(c"writeBuffer", Some(write_buffer)),
    m(c"writev", Some(writev)),
    m(c"writeUtf8String", Some(write_utf8_string)),
    m(c"writeAsciiString", Some(write_ascii_string)),
    m(c"writeLatin1String", Some(write_latin1_string)),
    m(c"writeUcs2String", Some(write_ucs2_string)),
    m(c"useUserBuffer", Some(use_user_buffer)),
    m(c"setBlocking", Some(set_blocking)),
    m(c"getPeerCredentials", Some(get_peer_credentials)),
    m(c"setFdPassing", Some(set_fd_passing)),
    m(c"setPooledReads", Some(set_pooled_reads)),
    m(c"sendFds", Some(send_fds)),
    class::accessor(c"fd", Some(get_fd), None),
    class::accessor(c"bytesRead", Some(get_bytes_read), None),
    class::accessor(c"bytesWritten", Some(get_bytes_written), None),
    class::accessor(c"writeQueueSize", Some(get_write_queue_size), None),
    class::accessor(c"onread", Some(get_onread), Some(set_onread)),
  ];
  let ctor = class::define_class(env, c"Pipe", Some(pipe_ctor), &props);
  crate::env::with(env, |e| e.set_pipe_ctor(ctor));
  js::set(env, exports, c"Pipe", ctor);
}

fn new_pipe_object(env: napi_env) -> Option<(napi_value, StreamRef)> {
  let ctor = crate::env::with(env, |e| e.pipe_ctor());
  if ctor.is_null() {
    return None;
  }
  let mut obj = ptr::null_mut();
  let arg = js::int(env, Kind::Socket as i32);
  if napi_call!(napi_new_instance(env, ctor, 1, &arg, &mut obj)) != napi_sys::Status::napi_ok {
    return None;
  }
  let s = class::unwrap_tracked::<PipeObj>(env, obj)?.s.clone();
  Some((obj, s))
}

/// A fresh `Pipe` (SOCKET) JS object around an accepted fd.
pub fn new_accepted(env: napi_env, fd: RawFd) -> std::result::Result<napi_value, i32> {
  let Some((value, s)) = new_pipe_object(env) else {
    sys::close(fd);
    return Err(-libc::ENOMEM);
  };
  stream::attach_new_socket(&s, value, fd);
  let mut st = s.borrow_mut();
  st.readable = true;
  st.writable = true;
  Ok(value)
}

/// What JS gets for an fd received on an IPC channel: a `Pipe` for a Unix
/// stream socket, `{ type: 'TCP' | 'UDP', fd }` for inet sockets (the JS
/// layer builds Node handles from those), and `{ type: 'UNSUPPORTED', fd: -1 }`
/// for anything else, which is closed at once (Node aborts on those).
pub fn wrap_received_fd(env: napi_env, fd: RawFd) -> napi_value {
  let kind = sys::fd_kind(fd);
  if kind == sys::FdKind::UnixStream {
    if let Ok(v) = new_accepted(env, fd) {
      return v;
    }
    return raw_handle(env, "UNSUPPORTED", -1);
  }
  match kind {
    sys::FdKind::Tcp => raw_handle(env, "TCP", fd),
    sys::FdKind::Udp => raw_handle(env, "UDP", fd),
    _ => {
      sys::close(fd);
      raw_handle(env, "UNSUPPORTED", -1)
    }
  }
}

fn raw_handle(env: napi_env, ty: &str, fd: RawFd) -> napi_value {
  let mut obj = std::ptr::null_mut();
  napi_call!(napi_create_object(env, &mut obj));
  js::set(env, obj, c"type", js::string(env, ty));
  js::set(env, obj, c"fd", js::int(env, fd));
  obj
}

/// Closes a Pipe JS object nobody took (no `onconnection` listener).
pub fn close_value(env: napi_env, value: napi_value) {
  let close = js::get(env, value, c"close");
  if js::is_function(env, close) {
    let mut out = std::ptr::null_mut();
    napi_call!(napi_call_function(
      env,
      value,
      close,
      0,
      std::ptr::null(),
      &mut out
    ));
  }
}
