//! `Pipe`: the JS-facing handle class, Node's `pipe_wrap` contract. Methods
//! validate their arguments (throwing a `TypeError` with a Node-style `code`
//! where Node would abort), then act, returning 0 or a negative errno.

use std::borrow::Cow;
use std::os::unix::io::RawFd;

use napi::bindgen_prelude::*;
use napi::sys::{napi_env, napi_value};
use napi_derive::napi;

use crate::js::{self, napi_call};
use crate::reqs::{PipeConnectWrap, ShutdownWrap, WriteWrap};
use crate::stream::{self, Kind, Stream, StreamRef};
use pipewrap_core::sys;

#[napi]
pub struct Pipe {
  s: StreamRef,
}

fn arg_error(env: napi_env, what: &str) -> Error {
  js::type_error(env, "ERR_INVALID_ARG_TYPE", what)
}

/// Checks that `v` is an instance of the request class `T`.
fn check_req<T: JavaScriptClassExt>(env: &Env, v: &Unknown, name: &str) -> Result<napi_value> {
  if js::is_object(env.raw(), v.raw()) && T::instance_of(env, v).unwrap_or(false) {
    Ok(v.raw())
  } else {
    Err(arg_error(
      env.raw(),
      &format!("The \"req\" argument must be an instance of {name}"),
    ))
  }
}

fn string_arg(env: napi_env, v: napi_value, what: &str) -> Result<Vec<u8>> {
  if js::type_of(env, v) != napi::sys::ValueType::napi_string {
    return Err(arg_error(env, &format!("The \"{what}\" argument must be of type string")));
  }
  Ok(encode(env, v, Encoding::Utf8))
}

fn int_arg(env: napi_env, v: napi_value, what: &str) -> Result<i32> {
  js::number_i32(env, v).ok_or_else(|| {
    if js::type_of(env, v) == napi::sys::ValueType::napi_number {
      js::range_error(env, "ERR_OUT_OF_RANGE", &format!("The \"{what}\" argument must be an int32"))
    } else {
      arg_error(env, &format!("The \"{what}\" argument must be of type number"))
    }
  })
}

#[derive(Clone, Copy)]
enum Encoding {
  Utf8,
  Latin1,
  Ucs2,
}

/// A JS string's bytes in the given encoding.
fn encode(env: napi_env, v: napi_value, enc: Encoding) -> Vec<u8> {
  let mut len = 0usize;
  match enc {
    Encoding::Utf8 => {
      napi_call!(napi_get_value_string_utf8(env, v, std::ptr::null_mut(), 0, &mut len));
      let mut buf = vec![0u8; len + 1];
      napi_call!(napi_get_value_string_utf8(env, v, buf.as_mut_ptr().cast(), len + 1, &mut len));
      buf.truncate(len);
      buf
    }
    Encoding::Latin1 => {
      napi_call!(napi_get_value_string_latin1(env, v, std::ptr::null_mut(), 0, &mut len));
      let mut buf = vec![0u8; len + 1];
      napi_call!(napi_get_value_string_latin1(env, v, buf.as_mut_ptr().cast(), len + 1, &mut len));
      buf.truncate(len);
      buf
    }
    Encoding::Ucs2 => {
      napi_call!(napi_get_value_string_utf16(env, v, std::ptr::null_mut(), 0, &mut len));
      let mut units = vec![0u16; len + 1];
      napi_call!(napi_get_value_string_utf16(env, v, units.as_mut_ptr(), len + 1, &mut len));
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
    return Err(arg_error(env, "writev chunks must be strings or Uint8Arrays"));
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
  let status = napi_call!(napi_call_function(env, buffer, from, 2, [chunk, enc].as_ptr(), &mut out));
  if status != napi::sys::Status::napi_ok {
    return Err(Error::new(Status::PendingException, "Buffer.from failed".to_string()));
  }
  match js::uint8_bytes(env, out) {
    // SAFETY: a fresh Buffer, copied before anything can collect it.
    Some((p, len)) => Ok(Cow::Owned(unsafe { std::slice::from_raw_parts(p, len) }.to_vec())),
    None => Err(arg_error(env, "unsupported encoding")),
  }
}

/// The fd of a handle to send: any object with a numeric `fd` (a pipewrap
/// Pipe, or one of Node's own TCP/Pipe handles).
fn send_handle_fd(env: napi_env, handle: Option<&Unknown>) -> Result<Option<RawFd>> {
  let Some(h) = handle else { return Ok(None) };
  let v = h.raw();
  if !js::is_object(env, v) {
    return Ok(None);
  }
  match js::get_i32(env, v, c"fd") {
    Some(fd) if fd >= 0 => Ok(Some(fd)),
    _ => Ok(Some(-1)),
  }
}

impl Pipe {
  fn from_stream(s: StreamRef) -> Self {
    Pipe { s }
  }

  fn string_write(
    &self,
    env: &Env,
    this: &This,
    req: Unknown,
    data: Unknown,
    handle: Option<Unknown>,
    enc: Encoding,
  ) -> Result<i32> {
    let e = env.raw();
    let req = check_req::<WriteWrap>(env, &req, "WriteWrap")?;
    if js::type_of(e, data.raw()) != napi::sys::ValueType::napi_string {
      return Err(arg_error(e, "The \"string\" argument must be of type string"));
    }
    let bytes = encode(e, data.raw(), enc);
    self.dispatch_write(e, this, req, &[&bytes], handle.as_ref())
  }

  fn dispatch_write(
    &self,
    env: napi_env,
    this: &This,
    req: napi_value,
    bufs: &[&[u8]],
    handle: Option<&Unknown>,
  ) -> Result<i32> {
    let send_fd = if self.s.borrow().is_ipc() {
      send_handle_fd(env, handle)?
    } else {
      None
    };
    if send_fd == Some(-1) {
      return Ok(-libc::EBADF);
    }
    if let (Some(h), Some(_)) = (handle, send_fd) {
      // As in Node: the request holds the sent handle until it completes.
      js::set(env, req, c"handle", h.raw());
    }
    let _ = this;
    let fds: &[RawFd] = match &send_fd {
      Some(fd) => std::slice::from_ref(fd),
      None => &[],
    };
    Ok(stream::write(&self.s, env, req, bufs, fds))
  }
}

#[napi]
impl Pipe {
  /// `new Pipe(type)`: type is `constants.SOCKET`, `SERVER` or `IPC`.
  #[napi(constructor)]
  pub fn new(env: Env, kind: Unknown) -> Result<Self> {
    let e = env.raw();
    let kind = match js::number_i32(e, kind.raw()) {
      Some(0) => Kind::Socket,
      Some(1) => Kind::Server,
      Some(2) => Kind::Ipc,
      Some(_) => {
        return Err(js::range_error(
          e,
          "ERR_OUT_OF_RANGE",
          "The \"type\" argument must be 0 (SOCKET), 1 (SERVER) or 2 (IPC)",
        ))
      }
      None => {
        return Err(arg_error(e, "The \"type\" argument must be of type number"));
      }
    };
    Ok(Pipe::from_stream(Stream::new(e, kind)))
  }

  /// Binds to a path or an abstract name ('\0name'). 0 or a negative errno.
  #[napi]
  pub fn bind(&self, env: Env, this: This, name: Unknown) -> Result<i32> {
    let e = env.raw();
    let name = string_arg(e, name.raw(), "name")?;
    {
      let s = self.s.borrow();
      if s.closing || s.fd >= 0 {
        return Ok(-libc::EINVAL);
      }
    }
    if let Err(err) = sys::unix_addr(&name) {
      return Ok(err);
    }
    let fd = match sys::unix_socket() {
      Ok(fd) => fd,
      Err(err) => return Ok(err),
    };
    if let Err(err) = sys::bind(fd, &name) {
      sys::close(fd);
      // libuv reports a missing directory as EACCES (Windows parity).
      return Ok(if err == -libc::ENOENT { -libc::EACCES } else { err });
    }
    if let Err(err) = stream::attach_fd(&self.s, this.raw(), fd) {
      sys::close(fd);
      return Ok(err);
    }
    if name[0] != 0 {
      self.s.borrow_mut().bound_path = Some(name);
    }
    Ok(0)
  }

  #[napi]
  pub fn listen(&self, env: Env, backlog: Unknown) -> Result<i32> {
    let e = env.raw();
    let backlog = int_arg(e, backlog.raw(), "backlog")?;
    let mut s = self.s.borrow_mut();
    if s.closing || s.fd < 0 || s.is_ipc() {
      return Ok(-libc::EINVAL);
    }
    if let Err(err) = sys::listen(s.fd, backlog) {
      return Ok(err);
    }
    crate::env::with(e, |st| {
      if st.reserve_fd < 0 {
        st.reserve_fd = stream::open_reserve_fd();
      }
    });
    s.set_listening();
    Ok(0)
  }

  /// Connects to a path or abstract name. Socket-level errors always arrive
  /// through `req.oncomplete` on a later loop turn; only bad names
  /// (empty, embedded NUL, too long for sun_path) return synchronously.
  #[napi]
  pub fn connect(&self, env: Env, this: This, req: Unknown, name: Unknown) -> Result<i32> {
    let e = env.raw();
    let req = check_req::<PipeConnectWrap>(&env, &req, "PipeConnectWrap")?;
    let name = string_arg(e, name.raw(), "name")?;
    {
      let s = self.s.borrow();
      if s.closing {
        return Ok(-libc::EINVAL);
      }
      if s.listening {
        return Ok(-libc::EINVAL);
      }
    }
    if let Err(err) = sys::unix_addr(&name) {
      return Ok(err);
    }
    if self.s.borrow().fd < 0 {
      let fd = match sys::unix_socket() {
        Ok(fd) => fd,
        Err(err) => {
          self.s.borrow_mut().bind_this(this.raw());
          stream::fail_connect_later(&self.s, e, req, err);
          return Ok(0);
        }
      };
      if let Err(err) = stream::attach_fd(&self.s, this.raw(), fd) {
        sys::close(fd);
        self.s.borrow_mut().bind_this(this.raw());
        stream::fail_connect_later(&self.s, e, req, err);
        return Ok(0);
      }
    }
    Ok(stream::start_connect(&self.s, e, req, &name))
  }

  /// Adopts an existing fd (made non-blocking). EEXIST if the loop already
  /// watches it, EBADF if it is not open.
  #[napi]
  pub fn open(&self, env: Env, this: This, fd: Unknown) -> Result<i32> {
    let e = env.raw();
    let fd = int_arg(e, fd.raw(), "fd")?;
    {
      let s = self.s.borrow();
      if s.closing {
        return Ok(-libc::EINVAL);
      }
      if s.fd >= 0 {
        return Ok(if s.fd == fd { 0 } else { -libc::EBUSY });
      }
    }
    if fd < 0 {
      return Ok(-libc::EBADF);
    }
    let mode = match sys::access_mode(fd) {
      Ok(m) => m,
      Err(err) => return Ok(err),
    };
    if let Err(err) = sys::set_nonblocking(fd, true) {
      return Ok(err);
    }
    if let Err(err) = stream::attach_fd(&self.s, this.raw(), fd) {
      return Ok(err);
    }
    let mut s = self.s.borrow_mut();
    s.readable = mode != libc::O_WRONLY;
    s.writable = mode != libc::O_RDONLY;
    Ok(0)
  }

  /// Adds read and/or write permission for everyone to the bound socket
  /// file (never removes bits), like `uv_pipe_chmod`.
  #[napi]
  pub fn fchmod(&self, env: Env, mode: Unknown) -> Result<i32> {
    let e = env.raw();
    let mode = int_arg(e, mode.raw(), "mode")?;
    let s = self.s.borrow();
    if s.fd < 0 || s.closing {
      return Ok(-libc::EBADF);
    }
    if !(1..=3).contains(&mode) {
      return Ok(-libc::EINVAL);
    }
    let name = match &s.bound_path {
      Some(p) => p.clone(),
      None => match sys::socket_name(s.fd) {
        Ok(n) => n,
        Err(err) => return Ok(err),
      },
    };
    if name.is_empty() || name[0] == 0 {
      return Ok(-libc::EINVAL);
    }
    let Ok(path) = std::ffi::CString::new(name) else {
      return Ok(-libc::EINVAL);
    };
    let mode_now = match sys::file_mode(&path) {
      Ok(m) => m,
      Err(err) => return Ok(err),
    };
    let mut want = mode_now;
    if mode & 1 != 0 {
      want |= 0o444;
    }
    if mode & 2 != 0 {
      want |= 0o222;
    }
    if want == mode_now {
      return Ok(0);
    }
    Ok(sys::chmod(&path, want).map(|_| 0).unwrap_or_else(|e| e))
  }

  /// Closes the handle; `cb` (if a function) runs later with no arguments.
  /// A second call does nothing.
  #[napi]
  pub fn close(&self, env: Env, this: This, cb: Option<Unknown>) {
    let cb = cb.map(|c| c.raw()).unwrap_or(std::ptr::null_mut());
    stream::close(&self.s, env.raw(), this.raw(), cb);
  }

  #[napi(js_name = "ref")]
  pub fn ref_(&self) {
    let mut s = self.s.borrow_mut();
    if !s.closing {
      s.refed = true;
      s.apply_ref();
    }
  }

  #[napi]
  pub fn unref(&self) {
    let mut s = self.s.borrow_mut();
    if !s.closing {
      s.refed = false;
      s.apply_ref();
    }
  }

  #[napi]
  pub fn has_ref(&self) -> bool {
    let s = self.s.borrow();
    s.refed && !s.closed
  }

  #[napi]
  pub fn read_start(&self) -> i32 {
    let mut s = self.s.borrow_mut();
    if s.closing {
      return -libc::EINVAL;
    }
    if s.fd < 0 || !s.readable {
      return -libc::ENOTCONN;
    }
    s.set_reading(true);
    0
  }

  #[napi]
  pub fn read_stop(&self) -> i32 {
    let mut s = self.s.borrow_mut();
    if !s.closing {
      s.set_reading(false);
    }
    0
  }

  #[napi]
  pub fn shutdown(&self, env: Env, req: Unknown) -> Result<i32> {
    let req = check_req::<ShutdownWrap>(&env, &req, "ShutdownWrap")?;
    Ok(stream::shutdown(&self.s, env.raw(), req))
  }

  #[napi]
  pub fn write_buffer(
    &self,
    env: Env,
    this: This,
    req: Unknown,
    data: Unknown,
    handle: Option<Unknown>,
  ) -> Result<i32> {
    let e = env.raw();
    let req = check_req::<WriteWrap>(&env, &req, "WriteWrap")?;
    let Some((p, len)) = js::uint8_bytes(e, data.raw()) else {
      return Err(arg_error(e, "Second argument must be a buffer"));
    };
    // SAFETY: the Uint8Array is an argument of this call, alive until it
    // returns; stream::write copies whatever it has to queue.
    let bytes = unsafe { std::slice::from_raw_parts(p, len) };
    self.dispatch_write(e, &this, req, &[bytes], handle.as_ref())
  }

  /// `writev(req, chunks, allBuffers)`: chunks is a list of Uint8Arrays, or
  /// (allBuffers false) a flat list of `[chunk, encoding, ...]` pairs.
  #[napi]
  pub fn writev(
    &self,
    env: Env,
    this: This,
    req: Unknown,
    chunks: Unknown,
    all_buffers: Option<bool>,
  ) -> Result<i32> {
    let e = env.raw();
    let req = check_req::<WriteWrap>(&env, &req, "WriteWrap")?;
    let arr = chunks.raw();
    let mut is_array = false;
    napi_call!(napi_is_array(e, arr, &mut is_array));
    if !is_array {
      return Err(arg_error(e, "The \"chunks\" argument must be an Array"));
    }
    let mut n = 0u32;
    napi_call!(napi_get_array_length(e, arr, &mut n));
    let element = |i: u32| {
      let mut v = std::ptr::null_mut();
      napi_call!(napi_get_element(e, arr, i, &mut v));
      v
    };
    let mut parts: Vec<Cow<[u8]>> = Vec::new();
    if all_buffers.unwrap_or(false) {
      for i in 0..n {
        let v = element(i);
        let Some((p, len)) = js::uint8_bytes(e, v) else {
          return Err(arg_error(e, "writev chunks must be Uint8Arrays"));
        };
        // SAFETY: the chunk is held by the argument array for this call.
        parts.push(Cow::Borrowed(unsafe { std::slice::from_raw_parts(p, len) }));
      }
    } else {
      let mut i = 0;
      while i + 1 < n + 1 && i < n {
        let chunk = element(i);
        let enc = if i + 1 < n { element(i + 1) } else { js::undefined(e) };
        parts.push(chunk_bytes(e, chunk, enc)?);
        i += 2;
      }
    }
    let slices: Vec<&[u8]> = parts.iter().map(|c| c.as_ref()).collect();
    self.dispatch_write(e, &this, req, &slices, None)
  }

  #[napi]
  pub fn write_utf8_string(
    &self,
    env: Env,
    this: This,
    req: Unknown,
    data: Unknown,
    handle: Option<Unknown>,
  ) -> Result<i32> {
    self.string_write(&env, &this, req, data, handle, Encoding::Utf8)
  }

  #[napi]
  pub fn write_ascii_string(
    &self,
    env: Env,
    this: This,
    req: Unknown,
    data: Unknown,
    handle: Option<Unknown>,
  ) -> Result<i32> {
    self.string_write(&env, &this, req, data, handle, Encoding::Latin1)
  }

  #[napi]
  pub fn write_latin1_string(
    &self,
    env: Env,
    this: This,
    req: Unknown,
    data: Unknown,
    handle: Option<Unknown>,
  ) -> Result<i32> {
    self.string_write(&env, &this, req, data, handle, Encoding::Latin1)
  }

  #[napi]
  pub fn write_ucs2_string(
    &self,
    env: Env,
    this: This,
    req: Unknown,
    data: Unknown,
    handle: Option<Unknown>,
  ) -> Result<i32> {
    self.string_write(&env, &this, req, data, handle, Encoding::Ucs2)
  }

  /// Reads go straight into `buf` (held strongly until replaced or closed);
  /// `onread` then gets `undefined` and the length in `streamBaseState`.
  #[napi]
  pub fn use_user_buffer(&self, env: Env, buf: Unknown) -> Result<i32> {
    let e = env.raw();
    let Some((p, len)) = js::uint8_bytes(e, buf.raw()) else {
      return Err(arg_error(e, "The \"buffer\" argument must be a Uint8Array"));
    };
    if len == 0 {
      return Err(js::range_error(e, "ERR_OUT_OF_RANGE", "The user buffer must not be empty"));
    }
    let r = js::new_ref(e, buf.raw(), 1);
    self.s.borrow_mut().set_user_buffer(r, p, len);
    Ok(0)
  }

  #[napi]
  pub fn set_blocking(&self, blocking: bool) -> i32 {
    let s = self.s.borrow();
    if s.fd < 0 || s.closing {
      return -libc::EINVAL;
    }
    match sys::set_nonblocking(s.fd, !blocking) {
      Ok(()) => 0,
      Err(e) => e,
    }
  }

  /// pipewrap extension: `{ pid, uid, gid }` of the peer, or a negative errno.
  #[napi(ts_return_type = "{ pid: number; uid: number; gid: number } | number")]
  pub fn get_peer_credentials(&self, env: Env) -> Result<Unknown<'_>> {
    let e = env.raw();
    let fd = self.s.borrow().fd;
    let v = if fd < 0 {
      js::int(e, -libc::EBADF)
    } else {
      match sys::peer_credentials(fd) {
        Ok(c) => {
          let mut obj = std::ptr::null_mut();
          napi_call!(napi_create_object(e, &mut obj));
          js::set(e, obj, c"pid", js::int(e, c.pid));
          js::set(e, obj, c"uid", js::int(e, c.uid as i32));
          js::set(e, obj, c"gid", js::int(e, c.gid as i32));
          obj
        }
        Err(err) => js::int(e, err),
      }
    };
    // SAFETY: v was created in this call's scope.
    Ok(unsafe { Unknown::from_raw_unchecked(e, v) })
  }

  /// pipewrap extension: receive SCM_RIGHTS fds on this socket; they appear
  /// as `pendingFds` (an array) before the `onread` that carried them.
  #[napi]
  pub fn set_fd_passing(&self, on: bool) {
    self.s.borrow_mut().fd_passing = on;
  }

  /// pipewrap extension: send `data` (at least one byte) with `fds` as
  /// SCM_RIGHTS on any Unix socket. Completion as for `writeBuffer`.
  #[napi]
  pub fn send_fds(&self, env: Env, req: Unknown, data: Unknown, fds: Vec<i32>) -> Result<i32> {
    let e = env.raw();
    let req = check_req::<WriteWrap>(&env, &req, "WriteWrap")?;
    let Some((p, len)) = js::uint8_bytes(e, data.raw()) else {
      return Err(arg_error(e, "The \"data\" argument must be a Uint8Array"));
    };
    if len == 0 {
      return Err(js::range_error(e, "ERR_OUT_OF_RANGE", "sendFds needs at least one byte of data"));
    }
    if fds.is_empty() || fds.len() > sys::MAX_FDS_PER_READ || fds.iter().any(|&f| f < 0) {
      return Err(js::range_error(
        e,
        "ERR_OUT_OF_RANGE",
        "fds must be 1 to 64 non-negative file descriptors",
      ));
    }
    // SAFETY: the Uint8Array is an argument of this call.
    let bytes = unsafe { std::slice::from_raw_parts(p, len) };
    Ok(stream::send_fds(&self.s, e, req, bytes, &fds))
  }

  #[napi(getter)]
  pub fn fd(&self) -> i32 {
    let s = self.s.borrow();
    if s.closing {
      -libc::EINVAL
    } else {
      s.fd
    }
  }

  #[napi(getter)]
  pub fn bytes_read(&self) -> f64 {
    self.s.borrow().bytes_read as f64
  }

  #[napi(getter)]
  pub fn bytes_written(&self) -> f64 {
    self.s.borrow().bytes_written as f64
  }

  #[napi(getter)]
  pub fn write_queue_size(&self) -> f64 {
    self.s.borrow().write_queue_size as f64
  }

  #[napi(getter, js_name = "onread", ts_return_type = "((buf?: ArrayBuffer) => unknown) | undefined")]
  pub fn get_onread(&self, env: Env) -> Unknown<'_> {
    let e = env.raw();
    let r = self.s.borrow().onread;
    let v = if r.is_null() { js::undefined(e) } else { js::ref_value(e, r) };
    // SAFETY: v belongs to the current scope.
    unsafe { Unknown::from_raw_unchecked(e, v) }
  }

  /// Node aborts on a non-function here; pipewrap throws.
  #[napi(setter, js_name = "onread")]
  pub fn set_onread(&self, env: Env, value: Unknown) -> Result<()> {
    let e = env.raw();
    if !js::is_function(e, value.raw()) {
      return Err(arg_error(e, "The \"onread\" property must be a function"));
    }
    let mut s = self.s.borrow_mut();
    let mut old = std::mem::replace(&mut s.onread, js::new_ref(e, value.raw(), 1));
    js::drop_ref(e, &mut old);
    Ok(())
  }
}

/// A fresh `Pipe` (SOCKET) JS object around an accepted fd.
pub fn new_accepted(env: napi_env, fd: RawFd) -> std::result::Result<napi_value, i32> {
  // SAFETY: env is the live env of the current callback.
  let e = Env::from_raw(env);
  let s = Stream::new(env, Kind::Socket);
  let instance = match Pipe::from_stream(s.clone()).into_instance(&e) {
    Ok(i) => i,
    Err(_) => {
      sys::close(fd);
      return Err(-libc::ENOMEM);
    }
  };
  let value = instance.value;
  if let Err(err) = stream::attach_fd(&s, value, fd) {
    sys::close(fd);
    return Err(err);
  }
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
    napi_call!(napi_call_function(env, value, close, 0, std::ptr::null(), &mut out));
  }
}
