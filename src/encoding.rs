//! Turning the JS values a write is given into bytes: strings in Node's
//! encodings (UTF-8, Latin-1, UCS-2 through N-API; the rarer ones through
//! `Buffer.from`), and Uint8Array views whose memory is looked up only for
//! the scope of a closure, when no JS can run any more before the write.

use std::ptr;

use napi::sys::{self as napi_sys, napi_env, napi_value};

use crate::class::{self, Thrown};
use crate::js::{self, napi_call};

type Result<T> = std::result::Result<T, Thrown>;

fn arg_error(env: napi_env, what: &str) -> Thrown {
  class::type_error(env, "ERR_INVALID_ARG_TYPE", what)
}

#[derive(Clone, Copy)]
pub enum Encoding {
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

/// The string's length in UTF-16 code units (O(1): no scan, no flattening).
fn utf16_len(env: napi_env, v: napi_value) -> usize {
  let mut len = 0usize;
  napi_call!(napi_get_value_string_utf16(
    env,
    v,
    ptr::null_mut(),
    0,
    &mut len
  ));
  len
}

/// A string's bytes through one of N-API's one-byte getters (UTF-8 or
/// Latin-1), written once into a buffer of exactly their size, not zeroed
/// first. Latin-1 has one byte per UTF-16 unit; a UTF-8 length is measured
/// (V8's writer is several times slower when handed a worst-case buffer of
/// three bytes per unit than the exact size: measured with 20 kB strings).
fn one_byte_string(env: napi_env, v: napi_value, get: GetOneByteString, latin1: bool) -> Vec<u8> {
  let cap = if latin1 {
    utf16_len(env, v)
  } else {
    let mut len = 0usize;
    // SAFETY: env/v are live for this call; a null buffer asks for the length.
    unsafe { get(env, v, ptr::null_mut(), 0, &mut len) };
    len
  };
  let mut buf: Vec<u8> = Vec::with_capacity(cap + 1);
  let mut len = 0usize;
  // SAFETY: buf has cap + 1 bytes of capacity, the size passed (the getter
  // writes at most cap bytes and a NUL, and reports the bytes it wrote).
  let status = unsafe { get(env, v, buf.as_mut_ptr().cast(), cap + 1, &mut len) };
  if status != napi_sys::Status::napi_ok {
    // Callers pass strings only; whatever a failed call wrote is not used.
    return Vec::new();
  }
  // SAFETY: on success Node's getters report exactly the bytes they wrote
  // (N-API's contract for napi_get_value_string_*), at most cap of them.
  unsafe { buf.set_len(len.min(cap)) };
  buf
}

/// A JS string's bytes in the given encoding.
pub fn encode(env: napi_env, v: napi_value, enc: Encoding) -> Vec<u8> {
  match enc {
    Encoding::Utf8 => one_byte_string(env, v, napi_sys::napi_get_value_string_utf8, false),
    Encoding::Latin1 => one_byte_string(env, v, napi_sys::napi_get_value_string_latin1, true),
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

/// Calls `Buffer.from(chunk, enc)` for encodings N-API cannot convert
/// (base64, hex, ...). Runs JS: only before any raw slice is taken.
fn buffer_from(env: napi_env, chunk: napi_value, enc: napi_value) -> Result<napi_value> {
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
  if js::uint8_bytes(env, out).is_none() {
    return Err(arg_error(env, "unsupported encoding"));
  }
  Ok(out)
}

/// One `writev` chunk after the JS-running conversions: either bytes
/// already copied out, or a Uint8Array whose memory is looked up only when
/// no more JS can run before the write.
pub enum Chunk {
  Owned(Vec<u8>),
  View(napi_value),
}

/// Converts one `[chunk, encoding]` pair: a Uint8Array is kept as a view,
/// a string is encoded now (or through `Buffer.from` for rare encodings).
pub fn convert_chunk(env: napi_env, chunk: napi_value, enc: napi_value) -> Result<Chunk> {
  if js::uint8_bytes(env, chunk).is_some() {
    return Ok(Chunk::View(chunk));
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
  match fast {
    Some(e) => Ok(Chunk::Owned(encode(env, chunk, e))),
    None => buffer_from(env, chunk, enc).map(Chunk::View),
  }
}

/// Runs `f` with the bytes of Uint8Array `v`, looked up now (a detached
/// view reads as empty). The slice lives only for the call: `f` must not
/// run JS (which could detach or resize the view).
pub fn with_view<R>(env: napi_env, v: napi_value, f: impl FnOnce(&[u8]) -> R) -> R {
  match js::uint8_bytes(env, v) {
    // SAFETY: v is alive in the current handle scope and its memory was
    // looked up just now; the slice does not outlive `f`, which runs no JS.
    Some((p, len)) => f(unsafe { std::slice::from_raw_parts(p, len) }),
    None => f(&[]),
  }
}

/// Runs `f` with the bytes of every chunk (views looked up now, after every
/// conversion that may run JS is done). As for [`with_view`], `f` must not
/// run JS.
pub fn with_chunks<R>(env: napi_env, chunks: &[Chunk], f: impl FnOnce(&[&[u8]]) -> R) -> R {
  let slices: Vec<&[u8]> = chunks
    .iter()
    .map(|c| match c {
      Chunk::Owned(v) => v.as_slice(),
      Chunk::View(v) => match js::uint8_bytes(env, *v) {
        // SAFETY: as in with_view: the slices do not outlive `f`, which
        // runs no JS; each view is alive in the current handle scope.
        Some((p, len)) => unsafe { std::slice::from_raw_parts(p as *const u8, len) },
        None => &[],
      },
    })
    .collect();
  f(&slices)
}

const STRING_SCRATCH: usize = 16 * 1024;

thread_local! {
  /// Scratch space strings are converted into before being written.
  static STRING_BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; STRING_SCRATCH]);
}

/// Runs `f` with string `v`'s bytes in `enc`. Most strings fit the scratch
/// buffer: one conversion, no allocation (a write copies them only if the
/// kernel does not take them all at once).
pub fn with_string_bytes<R>(
  env: napi_env,
  v: napi_value,
  enc: Encoding,
  f: impl FnOnce(&[u8]) -> R,
) -> R {
  let get: GetOneByteString = match enc {
    Encoding::Utf8 => napi_sys::napi_get_value_string_utf8,
    Encoding::Latin1 => napi_sys::napi_get_value_string_latin1,
    Encoding::Ucs2 => return f(&encode(env, v, enc)),
  };
  // A string longer than the scratch cannot fit it: converted once, into a
  // buffer of its own, rather than cut in the scratch first.
  if utf16_len(env, v) >= STRING_SCRATCH {
    return f(&encode(env, v, enc));
  }
  let mut f = Some(f);
  let fitted = STRING_BUF.with(|b| {
    let mut b = b.try_borrow_mut().ok()?;
    let mut len = 0usize;
    // SAFETY: b has STRING_SCRATCH writable bytes, the size passed.
    unsafe { get(env, v, b.as_mut_ptr().cast(), STRING_SCRATCH, &mut len) };
    // Within a UTF-8 sequence of the end, the string may have been cut.
    if len + 4 >= STRING_SCRATCH {
      return None;
    }
    f.take().map(|f| f(&b[..len]))
  });
  match (fitted, f) {
    (Some(r), _) => r,
    (None, Some(f)) => f(&encode(env, v, enc)),
    (None, None) => unreachable!("f runs at most once"),
  }
}
