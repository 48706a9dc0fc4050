//! `Pipe`: the JS-facing handle class, Node's `pipe_wrap` contract. Methods
//! validate their arguments (throwing a `TypeError` with a Node-style `code`
//! where Node would abort), then act, returning 0 or a negative errno.

use std::ffi::CStr;
use std::ptr;

use napi::sys::{self as napi_sys, napi_callback_info, napi_env, napi_value};

use crate::buffers::{self, K_BYTES_WRITTEN, K_LAST_WRITE_WAS_ASYNC};
use crate::callbacks;
use crate::class::{self, CallArgs, JsResult, Thrown};
use crate::encoding::{self, Chunk, Encoding};
use crate::js::{self, napi_call};
use crate::os::{self, Handle, Kind};
use crate::reqs::{self, ReqKind};

type Result<T> = std::result::Result<T, Thrown>;

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
  Ok(encoding::encode(env, v, Encoding::Utf8))
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

/// The stream a Pipe method was called for, named by its state (the first
/// argument the prototype's JS method passes: `this[kState]`); throws on
/// anything else, and on a call that re-enters a handle whose state is in
/// use (a bug guard: the delivery layer never calls JS with the state
/// borrowed).
fn state_pipe(env: napi_env, state: napi_value) -> Result<os::PipeStream> {
  let Some(s) = os::stream_of_state(env, state) else {
    return Err(class::type_error(
      env,
      "ERR_INVALID_THIS",
      "Illegal invocation: the receiver is not a Pipe",
    ));
  };
  if s.try_borrow_mut().is_err() {
    return Err(class::type_error(
      env,
      "ERR_INVALID_STATE",
      "The Pipe is busy in a native call",
    ));
  }
  Ok(s)
}

/// Declares an N-API callback that finds its stream from the state passed
/// first and runs `$body` with `$env`, the stream `$s` and the call's other
/// arguments `$a` (`$a.this` is the Pipe object).
macro_rules! pipe_fn {
  ($name:ident, $n:literal, |$env:ident, $s:ident, $a:ident| $body:block) => {
    // SAFETY (callers): N-API calls it on the JS thread with a live env
    // and callback info; nothing else here needs `unsafe`.
    unsafe extern "C" fn $name($env: napi_env, info: napi_callback_info) -> napi_value {
      let (state, $a) = class::state_and_args::<$n>($env, info);
      let run = || -> JsResult {
        let wrapped = state_pipe($env, state)?;
        let $s: &Handle = &wrapped;
        let result: JsResult = $body;
        result
      };
      class::finish(run())
    }
  };
}

fn int(env: napi_env, v: i32) -> JsResult {
  Ok(js::int(env, v))
}

/// The request argument (`a.argv[0]`) of a method that takes one. The
/// prototype's JS method passes, last, whether it is a request of `kind`
/// (two prototype compares there, where N-API's would cost ~650
/// instructions a call: about 40% of a small write's native side); a
/// request it did not recognise is checked again here, which throws the
/// error.
fn req_arg<const N: usize>(env: napi_env, a: &CallArgs<N>, kind: ReqKind) -> Result<napi_value> {
  let mut checked = false;
  napi_call!(napi_get_value_bool(env, a.argv[N - 1], &mut checked));
  if checked {
    Ok(a.argv[0])
  } else {
    reqs::check(env, a.argv[0], kind)
  }
}

/// The JS side of a write, done before any bytes are looked at (it may run
/// JS: a getter on `handle.fd`, a setter on `req.handle`): on IPC pipes only
/// (ignored elsewhere, like Node), the handle to send, which the write owns
/// until it completes. Returns an empty list, having run no JS, when there
/// is no handle to send.
fn write_handle(
  env: napi_env,
  s: &Handle,
  req: napi_value,
  handle: napi_value,
) -> std::result::Result<Vec<os::SendHandle>, i32> {
  if !os::is_ipc(s) {
    return Ok(Vec::new());
  }
  match os::ipc_send_handle(env, handle)? {
    None => Ok(Vec::new()),
    Some(owned) => {
      // As in Node: the request holds the sent handle until it completes.
      js::set(env, req, c"handle", handle);
      Ok(vec![owned])
    }
  }
}

/// After every write: completions the write finished at once go out next
/// turn, and a write that was queued gets its own async context. Making it
/// runs the `async_hooks` init hooks, which may write on another handle:
/// the write's own `streamBaseState` slots, which the caller reads next,
/// are put back afterwards.
fn after_write(env: napi_env, s: &Handle, req: napi_value) {
  os::after_write(env, s);
  if !callbacks::awaits_context(s, req) {
    return; // taken whole: no request, no context
  }
  let slots = [K_BYTES_WRITTEN, K_LAST_WRITE_WAS_ASYNC];
  let saved = buffers::get_state(js::RefEnv::new(env), slots);
  if callbacks::open_req_context(s, req, "WRITEWRAP") {
    if let Some([bytes, was_async]) = saved {
      buffers::set_state(
        js::RefEnv::new(env),
        [(slots[0], bytes), (slots[1], was_async)],
      );
    }
  }
}

/// A connect or shutdown dispatched (0): it gets its own async context.
fn dispatched(s: &Handle, req: napi_value, name: &str, status: i32) -> i32 {
  if status == 0 {
    callbacks::open_req_context(s, req, name);
  }
  status
}

fn string_write(env: napi_env, s: &Handle, a: &CallArgs<4>, enc: Encoding) -> JsResult {
  let req = req_arg(env, a, ReqKind::Write)?;
  if js::type_of(env, a.argv[1]) != napi_sys::ValueType::napi_string {
    return Err(arg_error(
      env,
      "The \"string\" argument must be of type string",
    ));
  }
  let fds = match write_handle(env, s, req, a.argv[2]) {
    Ok(fds) => fds,
    Err(e) => return int(env, e),
  };
  let status = encoding::with_string_bytes(env, a.argv[1], enc, |bytes| {
    os::write(s, req, &[bytes], fds, None)
  });
  after_write(env, s, req);
  int(env, status)
}

/// `create(this, type)`, which the JS constructor `new Pipe(type)` calls
/// (`CLASS_SOURCE`): makes `this` a Pipe of `type` (`constants.SOCKET`,
/// `SERVER` or `IPC`) and returns its state number, which the constructor
/// keeps in a private field.
// SAFETY (callers): N-API calls it on the JS thread with a live env and
// callback info.
unsafe extern "C" fn create_pipe(env: napi_env, info: napi_callback_info) -> napi_value {
  let a = class::call_args::<2>(env, info);
  let kind = match js::number_i32(env, a.argv[1]) {
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
  let state = class::wrap_tracked(env, a.argv[0], os::new_handle(env, kind));
  if state.is_null() {
    // Attaching failed: not an object (only the class calls this), or out
    // of memory.
    class::type_error(env, "ERR_INVALID_THIS", "Pipe state could not be attached");
  }
  state
}

// Node aborts on a construct call without `new`; pipewrap throws (from the
// class, `CLASS_SOURCE`).
unsafe extern "C" fn construct_call_required(
  env: napi_env,
  _info: napi_callback_info,
) -> napi_value {
  class::type_error(
    env,
    "ERR_CONSTRUCT_CALL_REQUIRED",
    "Class constructor Pipe cannot be invoked without 'new'",
  );
  ptr::null_mut()
}

// Binds to a path or an abstract name ('\0name'). 0 or a negative errno.
pipe_fn!(bind, 2, |env, s, a| {
  let name = string_arg(env, a.argv[0], "name")?;
  int(env, os::bind(s, a.this, name))
});

pipe_fn!(listen, 1, |env, s, a| {
  let backlog = int_arg(env, a.argv[0], "backlog")?;
  int(env, os::listen(s, backlog))
});

// Connects to a path or abstract name. Socket-level errors always arrive
// through `req.oncomplete` on a later loop turn; only bad names (empty,
// embedded NUL, too long for sun_path) return synchronously.
pipe_fn!(connect, 3, |env, s, a| {
  let req = req_arg(env, &a, ReqKind::Connect)?;
  let name = string_arg(env, a.argv[1], "name")?;
  let status = os::connect(s, env, a.this, req, &name);
  int(env, dispatched(s, req, "PIPECONNECTWRAP", status))
});

// Adopts an existing fd (made non-blocking). As libuv: EEXIST only if the
// loop already watches it, EBADF if it is not open.
pipe_fn!(open, 1, |env, s, a| {
  let fd = int_arg(env, a.argv[0], "fd")?;
  int(env, os::open(s, a.this, fd))
});

// Adds read and/or write permission for everyone to the bound socket file
// (never removes bits), like `uv_pipe_chmod`.
pipe_fn!(fchmod, 1, |env, s, a| {
  let mode = int_arg(env, a.argv[0], "mode")?;
  int(env, os::fchmod(s, mode))
});

// Closes the handle; `cb` (if a function) runs later with no arguments. A
// second call does nothing.
pipe_fn!(close, 1, |env, s, a| {
  os::close(s, env, a.argv[0]);
  Ok(js::undefined(env))
});

pipe_fn!(ref_, 0, |env, s, a| {
  let _ = &a;
  os::set_ref(s, true);
  Ok(js::undefined(env))
});

pipe_fn!(unref, 0, |env, s, a| {
  let _ = &a;
  os::set_ref(s, false);
  Ok(js::undefined(env))
});

pipe_fn!(has_ref, 0, |env, s, a| {
  let _ = &a;
  Ok(js::boolean(env, os::has_ref(s)))
});

// Node's AsyncWrap#getAsyncId (callbacks::async_id): Node's http client
// asks it of every socket it keeps alive.
pipe_fn!(get_async_id, 0, |env, s, a| {
  Ok(js::double(env, callbacks::async_id(s, a.this)))
});

pipe_fn!(read_start, 0, |env, s, a| {
  let _ = &a;
  int(env, os::read_start(s))
});

pipe_fn!(read_stop, 0, |env, s, a| {
  let _ = &a;
  int(env, os::read_stop(s))
});

pipe_fn!(shutdown, 2, |env, s, a| {
  let req = req_arg(env, &a, ReqKind::Shutdown)?;
  let status = os::shutdown(s, env, req);
  int(env, dispatched(s, req, "SHUTDOWNWRAP", status))
});

pipe_fn!(write_buffer, 4, |env, s, a| {
  let req = req_arg(env, &a, ReqKind::Write)?;
  let Some((p, len)) = js::uint8_bytes(env, a.argv[1]) else {
    return Err(arg_error(env, "Second argument must be a buffer"));
  };
  let status = match write_handle(env, s, req, a.argv[2]) {
    Ok(fds) if fds.is_empty() => {
      // SAFETY: no JS ran since the lookup above (write_handle returns an
      // empty list before touching JS), and native_write runs none. What
      // the socket does not take now stays in the caller's buffer, held by
      // reference and looked up again at every flush (as Node's write
      // requests pin theirs), never by pointer.
      let bytes = unsafe { std::slice::from_raw_parts(p, len) };
      os::write(s, req, &[bytes], fds, Some(a.argv[1]))
    }
    // JS may have run (a getter on handle.fd): look the bytes up again.
    Ok(fds) => encoding::with_view(env, a.argv[1], |bytes| {
      os::write(s, req, &[bytes], fds, None)
    }),
    Err(e) => e,
  };
  after_write(env, s, req);
  int(env, status)
});

/// The elements of a JS array (each lookup may run JS: a getter), or a
/// TypeError saying `what` must be an array.
fn array_elements(env: napi_env, arr: napi_value, what: &str) -> Result<Vec<napi_value>> {
  let mut is_array = false;
  napi_call!(napi_is_array(env, arr, &mut is_array));
  if !is_array {
    return Err(arg_error(env, what));
  }
  let mut n = 0u32;
  napi_call!(napi_get_array_length(env, arr, &mut n));
  (0..n)
    .map(|i| {
      let mut v = ptr::null_mut();
      match napi_call!(napi_get_element(env, arr, i, &mut v)) {
        napi_sys::Status::napi_ok => Ok(v),
        _ => Err(Thrown), // a getter threw
      }
    })
    .collect()
}

/// writev's chunks: Uint8Arrays (`all_buffers`), or `[chunk, encoding]`
/// pairs converted now (conversions may run JS; views are looked up later).
fn writev_chunks(env: napi_env, items: &[napi_value], all_buffers: bool) -> Result<Vec<Chunk>> {
  if all_buffers {
    return items
      .iter()
      .map(|&v| match js::uint8_bytes(env, v) {
        Some(_) => Ok(Chunk::View(v)),
        None => Err(arg_error(env, "writev chunks must be Uint8Arrays")),
      })
      .collect();
  }
  items
    .chunks(2)
    .map(|pair| {
      let enc = pair.get(1).copied().unwrap_or_else(|| js::undefined(env));
      encoding::convert_chunk(env, pair[0], enc)
    })
    .collect()
}

// `writev(req, chunks, allBuffers)`: chunks is a list of Uint8Arrays, or
// (allBuffers false) a flat list of `[chunk, encoding, ...]` pairs. Every
// conversion that may run JS happens first; the chunks' memory is looked up
// only after the last of them.
pipe_fn!(writev, 4, |env, s, a| {
  let req = req_arg(env, &a, ReqKind::Write)?;
  let items = array_elements(env, a.argv[1], "The \"chunks\" argument must be an Array")?;
  let mut all_buffers = false;
  napi_call!(napi_get_value_bool(env, a.argv[2], &mut all_buffers));
  let chunks = writev_chunks(env, &items, all_buffers)?;
  if chunks.is_empty() && os::can_write(s) {
    // Node's writev of no chunks finishes at once: no request, no callback.
    buffers::set_state(
      js::RefEnv::new(env),
      [(K_BYTES_WRITTEN, 0), (K_LAST_WRITE_WAS_ASYNC, 0)],
    );
    return int(env, 0);
  }
  let status = encoding::with_chunks(env, &chunks, |slices| {
    os::write(s, req, slices, Vec::new(), None)
  });
  after_write(env, s, req);
  int(env, status)
});

pipe_fn!(write_utf8_string, 4, |env, s, a| {
  string_write(env, s, &a, Encoding::Utf8)
});
pipe_fn!(write_ascii_string, 4, |env, s, a| {
  string_write(env, s, &a, Encoding::Latin1)
});
pipe_fn!(write_latin1_string, 4, |env, s, a| {
  string_write(env, s, &a, Encoding::Latin1)
});
pipe_fn!(write_ucs2_string, 4, |env, s, a| {
  string_write(env, s, &a, Encoding::Ucs2)
});

// Reads go straight into `buf` (held strongly until replaced or closed);
// `onread` then gets `undefined` and the length in `streamBaseState`.
pipe_fn!(use_user_buffer, 1, |env, s, a| {
  let Some((_, len)) = js::uint8_bytes(env, a.argv[0]) else {
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
  os::use_user_buffer(s, a.argv[0]);
  int(env, 0)
});

pipe_fn!(set_blocking, 1, |env, s, a| {
  let mut blocking = false;
  napi_call!(napi_get_value_bool(env, a.argv[0], &mut blocking));
  int(env, os::set_blocking(s, blocking))
});

// pipewrap extension: `{ pid, uid, gid }` of the peer, or a negative errno.
pipe_fn!(get_peer_credentials, 0, |env, s, a| {
  let _ = &a;
  match os::peer_credentials(s) {
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

// pipewrap extension: `setPeerPid(pid)` tells an IPC pipe whose two ends
// this process made (fork()'s channel) the pid of its peer; Windows needs
// it to send a socket there (no-op on Unix). 0 or a negative errno.
pipe_fn!(set_peer_pid, 1, |env, s, a| {
  let pid = js::number_i32(env, a.argv[0]).unwrap_or(-1);
  int(env, os::set_peer_pid(s, pid))
});

// pipewrap extension: the pid of the process at the other end (every OS),
// or a negative errno.
pipe_fn!(get_peer_pid, 0, |env, s, a| {
  let _ = &a;
  int(env, os::peer_pid(s).unwrap_or_else(|e| e))
});

// pipewrap extension: receive SCM_RIGHTS fds on this socket; they appear as
// `pendingFds` (an array) before the `onread` that carried them.
pipe_fn!(set_fd_passing, 1, |env, s, a| {
  let mut on = false;
  napi_call!(napi_get_value_bool(env, a.argv[0], &mut on));
  os::set_fd_passing(s, on);
  Ok(js::undefined(env))
});

// pipewrap extension: `setPooledReads(on)`. Small reads then arrive as a
// slice of a shared pool ArrayBuffer (offset in streamBaseState, as Node's
// contract allows) instead of an ArrayBuffer each: no allocation per read.
// For stream layers that honour the offset (net.js and ipc.js do).
pipe_fn!(set_pooled_reads, 1, |env, s, a| {
  let mut on = false;
  napi_call!(napi_get_value_bool(env, a.argv[0], &mut on));
  os::set_pooled_reads(s, on);
  Ok(js::undefined(env))
});

// pipewrap extension: `tryFlush()` sends what the socket takes of the write
// queue now, instead of at the next POLLOUT, and returns the bytes still
// queued. A producer that queues faster than one loop turn (an IPC send()
// loop) keeps the peer fed while it runs. Writes it finishes complete on
// the next loop turn, in order, as writes that finish at once do.
pipe_fn!(try_flush, 0, |env, s, a| {
  let _ = &a;
  double(env, os::try_flush(env, s) as f64)
});

// pipewrap extension: `sendFds(req, data, fds)` sends `data` (at least one
// byte) with `fds` as SCM_RIGHTS on any Unix socket; completes like
// `writeBuffer`.
pipe_fn!(send_fds, 4, |env, s, a| {
  let req = req_arg(env, &a, ReqKind::Write)?;
  let Some((_, len)) = js::uint8_bytes(env, a.argv[1]) else {
    return Err(arg_error(env, "The \"data\" argument must be a Uint8Array"));
  };
  if len == 0 {
    return Err(class::range_error(
      env,
      "ERR_OUT_OF_RANGE",
      "sendFds needs at least one byte of data",
    ));
  }
  let items = array_elements(
    env,
    a.argv[2],
    "The \"fds\" argument must be an Array of integers",
  )?;
  let out_of_range = |what| class::range_error(env, "ERR_OUT_OF_RANGE", what);
  let fds = items
    .iter()
    .map(|&v| js::number_i32(env, v).filter(|fd| *fd >= 0))
    .collect::<Option<Vec<i32>>>()
    .ok_or_else(|| out_of_range("fds must be non-negative integers"))?;
  if fds.is_empty() || fds.len() > os::MAX_SEND_HANDLES {
    return Err(out_of_range("fds must hold 1 to 64 file descriptors"));
  }
  // The write owns duplicates: the caller may close its fds at once.
  let owned = match fds.iter().map(|&fd| os::send_handle(fd)).collect() {
    Ok(owned) => owned,
    Err(e) => return int(env, e),
  };
  // Looked up after the element getters above (which may run JS) ran.
  let status = encoding::with_view(env, a.argv[1], |bytes| {
    os::write(s, req, &[bytes], owned, None)
  });
  after_write(env, s, req);
  int(env, status)
});

// Windows only (as in Node): how many pipe instances a server keeps ready.
pipe_fn!(set_pending_instances, 1, |env, s, a| {
  let count = int_arg(env, a.argv[0], "instances")?;
  os::set_pending_instances(s, count);
  Ok(js::undefined(env))
});

pipe_fn!(get_fd, 0, |env, s, a| {
  let _ = &a;
  int(env, os::fd(s))
});

fn double(env: napi_env, v: f64) -> JsResult {
  let mut out = ptr::null_mut();
  napi_call!(napi_create_double(env, v, &mut out));
  Ok(out)
}

pipe_fn!(get_bytes_read, 0, |env, s, a| {
  let _ = &a;
  double(env, os::bytes_read(s) as f64)
});

pipe_fn!(get_bytes_written, 0, |env, s, a| {
  let _ = &a;
  double(env, os::bytes_written(s) as f64)
});

pipe_fn!(get_write_queue_size, 0, |env, s, a| {
  let _ = &a;
  double(env, os::write_queue_size(s) as f64)
});

pipe_fn!(get_onread, 0, |env, s, a| {
  let _ = &a;
  let f = os::onread(s);
  Ok(if f.is_null() { js::undefined(env) } else { f })
});

// Node aborts on a non-function here; pipewrap throws.
pipe_fn!(set_onread, 1, |env, s, a| {
  if !js::is_function(env, a.argv[0]) {
    return Err(arg_error(env, "The \"onread\" property must be a function"));
  }
  os::set_onread(s, a.argv[0]);
  Ok(js::undefined(env))
});

/// Makes the `Pipe` class. Its constructor asks the native side for a new
/// state (`create`) and keeps the number in a private field: JS can neither
/// read nor forge it, and only a Pipe has it. The private field is put on
/// the object through a base class whose constructor returns the object it
/// is given (so `Pipe` stays a plain function, which can tell a call without
/// `new` apart and throw Node's error code). The prototype's methods and
/// accessors read the field and call their native function with it first,
/// and `this` as the receiver; a foreign receiver (reading the field throws
/// for anything but a Pipe) passes 0, which no state has
/// (`ERR_INVALID_THIS`). The read is written out in each method, inside the
/// class body that declares the field: as a helper function, V8 did not
/// inline it (a try/catch), which cost ~130 instructions a call. The natives are called through
/// `Function.prototype.call` taken once, so a program that replaces it
/// later does not reach them. A method that takes a request also passes,
/// last, whether it is one of the kind it takes (see `req_arg`).
const CLASS_SOURCE: &str = "(function (create, constructCallRequired, methods, accessors, reqClasses) { \
  'use strict'; \
  const getPrototypeOf = Object.getPrototypeOf; \
  const defineProperty = Object.defineProperty; \
  const uncurry = Function.prototype.bind.bind(Function.prototype.call); \
  let wrap, wrapWithReq, wrapGet, wrapSet; \
  class ReturnsItsArgument { constructor(o) { return o; } } \
  class PipeState extends ReturnsItsArgument { \
    #state; \
    constructor(o, state) { super(o); this.#state = state; } \
    static { \
      wrap = (native, n) => { const fn = uncurry(native); switch (n) { \
        case 0: return function () { let s; try { s = this.#state; } catch { s = 0; } return fn(this, s); }; \
        case 1: return function (a) { let s; try { s = this.#state; } catch { s = 0; } return fn(this, s, a); }; \
        case 2: return function (a, b) { let s; try { s = this.#state; } catch { s = 0; } return fn(this, s, a, b); }; \
        default: return function (a, b, c) { let s; try { s = this.#state; } catch { s = 0; } return fn(this, s, a, b, c); }; \
      } }; \
      wrapWithReq = (native, n, Req) => { \
        const fn = uncurry(native); \
        const reqProto = Req.prototype; \
        const isReq = (req) => (typeof req === 'object' ? req !== null : typeof req === 'function') && \
          (getPrototypeOf(req) === reqProto || req instanceof Req); \
        switch (n) { \
          case 1: return function (req) { let s; try { s = this.#state; } catch { s = 0; } return fn(this, s, req, isReq(req)); }; \
          case 2: return function (req, b) { let s; try { s = this.#state; } catch { s = 0; } return fn(this, s, req, b, isReq(req)); }; \
          default: return function (req, b, c) { let s; try { s = this.#state; } catch { s = 0; } return fn(this, s, req, b, c, isReq(req)); }; \
        } \
      }; \
      wrapGet = (get) => function () { let s; try { s = this.#state; } catch { s = 0; } return get(this, s); }; \
      wrapSet = (set) => function (v) { let s; try { s = this.#state; } catch { s = 0; } set(this, s, v); }; \
    } \
  } \
  function Pipe(type) { \
    if (new.target === undefined) return constructCallRequired(); \
    new PipeState(this, create(this, type)); \
  } \
  defineProperty(Pipe, 'length', { value: 0 }); \
  const proto = Pipe.prototype; \
  const named = (f, name) => defineProperty(f, 'name', { value: name }); \
  for (const [name, fn, n, req] of methods) { \
    const f = req < 0 ? wrap(fn, n) : wrapWithReq(fn, n, reqClasses[req]); \
    defineProperty(proto, name, { value: named(f, name), writable: true, configurable: true }); \
  } \
  for (const [name, nativeGet, nativeSet] of accessors) { \
    defineProperty(proto, name, { \
      get: named(wrapGet(uncurry(nativeGet)), 'get ' + name), \
      set: nativeSet ? named(wrapSet(uncurry(nativeSet)), 'set ' + name) : undefined, \
      configurable: true, \
    }); \
  } \
  return Pipe; \
})";

/// A prototype method: name, native function, how many arguments JS
/// passes, and the request kind its first argument must be, if any.
type Method = (&'static CStr, napi_sys::napi_callback, u32, Option<ReqKind>);

/// A native function, or null.
fn function(env: napi_env, name: &CStr, cb: napi_sys::napi_callback) -> napi_value {
  let mut f = ptr::null_mut();
  napi_call!(napi_create_function(
    env,
    name.as_ptr(),
    name.to_bytes().len() as isize,
    cb,
    ptr::null_mut(),
    &mut f
  ));
  f
}

/// Defines `Pipe` on `exports`: once per env, the same class for every load
/// of the addon (handles made natively use it too).
pub fn define(env: napi_env, exports: napi_value) {
  let existing = class::pipe_ctor(env);
  if !existing.is_null() {
    js::set(env, exports, c"Pipe", existing);
    return;
  }
  // (name, native function, arguments JS passes, the request kind its
  // first argument must be, if any)
  let mut methods: Vec<Method> = vec![
    (c"bind", Some(bind), 2, None),
    (c"listen", Some(listen), 1, None),
    (c"connect", Some(connect), 2, Some(ReqKind::Connect)),
    (c"open", Some(open), 1, None),
    (c"fchmod", Some(fchmod), 1, None),
    (c"close", Some(close), 1, None),
    (c"ref", Some(ref_), 0, None),
    (c"unref", Some(unref), 0, None),
    (c"hasRef", Some(has_ref), 0, None),
    (c"getAsyncId", Some(get_async_id), 0, None),
    (c"readStart", Some(read_start), 0, None),
    (c"readStop", Some(read_stop), 0, None),
    (c"shutdown", Some(shutdown), 1, Some(ReqKind::Shutdown)),
    (c"writeBuffer", Some(write_buffer), 3, Some(ReqKind::Write)),
    (c"writev", Some(writev), 3, Some(ReqKind::Write)),
    (
      c"writeUtf8String",
      Some(write_utf8_string),
      3,
      Some(ReqKind::Write),
    ),
    (
      c"writeAsciiString",
      Some(write_ascii_string),
      3,
      Some(ReqKind::Write),
    ),
    (
      c"writeLatin1String",
      Some(write_latin1_string),
      3,
      Some(ReqKind::Write),
    ),
    (
      c"writeUcs2String",
      Some(write_ucs2_string),
      3,
      Some(ReqKind::Write),
    ),
    (c"useUserBuffer", Some(use_user_buffer), 1, None),
    (c"setBlocking", Some(set_blocking), 1, None),
    (c"getPeerCredentials", Some(get_peer_credentials), 0, None),
    (c"getPeerPid", Some(get_peer_pid), 0, None),
    (c"setPeerPid", Some(set_peer_pid), 1, None),
    (c"setFdPassing", Some(set_fd_passing), 1, None),
    (c"setPooledReads", Some(set_pooled_reads), 1, None),
    (c"sendFds", Some(send_fds), 3, Some(ReqKind::Write)),
    (c"tryFlush", Some(try_flush), 0, None),
  ];
  if os::PENDING_INSTANCES {
    methods.push((c"setPendingInstances", Some(set_pending_instances), 1, None));
  }
  let accessors: [(&CStr, napi_sys::napi_callback, napi_sys::napi_callback); 5] = [
    (c"fd", Some(get_fd), None),
    (c"bytesRead", Some(get_bytes_read), None),
    (c"bytesWritten", Some(get_bytes_written), None),
    (c"writeQueueSize", Some(get_write_queue_size), None),
    (c"onread", Some(get_onread), Some(set_onread)),
  ];
  let ctor = define_class(env, &methods, &accessors);
  if ctor.is_null() {
    return;
  }
  class::set_pipe_ctor(env, ctor);
  js::set(env, exports, c"Pipe", ctor);
}

/// Runs `CLASS_SOURCE` with the natives: the `Pipe` class, or null if an
/// exception is pending.
fn define_class(
  env: napi_env,
  methods: &[Method],
  accessors: &[(&CStr, napi_sys::napi_callback, napi_sys::napi_callback)],
) -> napi_value {
  let Ok(req_classes) = reqs::classes(env) else {
    return ptr::null_mut();
  };
  let method_list: Vec<napi_value> = methods
    .iter()
    .map(|(name, cb, n, req)| {
      let name_v = js::string(env, name.to_str().unwrap_or_default());
      let req_v = js::int(env, req.map_or(-1, |k| k as i32));
      js::array_of(
        env,
        &[
          name_v,
          function(env, name, *cb),
          js::int(env, *n as i32),
          req_v,
        ],
      )
    })
    .collect();
  let accessor_list: Vec<napi_value> = accessors
    .iter()
    .map(|(name, get, set)| {
      let name_v = js::string(env, name.to_str().unwrap_or_default());
      let set_v = match set {
        Some(_) => function(env, name, *set),
        None => js::undefined(env),
      };
      js::array_of(env, &[name_v, function(env, name, *get), set_v])
    })
    .collect();
  let mut factory = ptr::null_mut();
  let script = js::string(env, CLASS_SOURCE);
  if napi_call!(napi_run_script(env, script, &mut factory)) != napi_sys::Status::napi_ok {
    return ptr::null_mut();
  }
  let args = [
    function(env, c"create", Some(create_pipe)),
    function(env, c"constructCallRequired", Some(construct_call_required)),
    js::array_of(env, &method_list),
    js::array_of(env, &accessor_list),
    js::array_of(env, &req_classes),
  ];
  let mut class = ptr::null_mut();
  if napi_call!(napi_call_function(
    env,
    js::undefined(env),
    factory,
    args.len(),
    args.as_ptr(),
    &mut class
  )) != napi_sys::Status::napi_ok
  {
    return ptr::null_mut();
  }
  class
}
