//! The two ArrayBuffers this addon shares with JS: `streamBaseState` (an
//! Int32Array(4) written before every `onread` and after every write) and
//! the pool small reads are copied into. JS can detach either one (transfer
//! it to a worker, `structuredClone(..., { transfer })`), so no pointer into
//! them is kept: every use looks the backing store up again and checks it is
//! still attached. A detached state array is left alone (its JS views read
//! `undefined`); a detached pool is replaced.

use std::cell::RefCell;
use std::ptr;

use napi::sys::{napi_env, napi_ref, napi_value};

use crate::env;
use crate::js::{self, napi_call, RefEnv};

/// Slot indices of `streamBaseState`, as in Node's stream_base.h.
pub const K_READ_BYTES_OR_ERROR: usize = 0;
pub const K_ARRAY_BUFFER_OFFSET: usize = 1;
pub const K_BYTES_WRITTEN: usize = 2;
pub const K_LAST_WRITE_WAS_ASYNC: usize = 3;

/// Reads up to this size go to the pool; bigger ones get their own buffer.
pub const POOLED_READ_MAX: usize = 2048;
const READ_POOL_SIZE: usize = 16 * 1024;

struct Shared {
  /// The Int32Array(4), created on first use, and its ArrayBuffer.
  state: napi_ref,
  state_ab: napi_ref,
  /// The ArrayBuffer's backing store as last seen attached. An attached
  /// ArrayBuffer's store never moves, so one detach check revalidates it.
  state_data: *mut i32,
  /// The state's memory cannot be detached (see FIXED_STATE_SOURCE).
  state_fixed: bool,
  /// The pool's ArrayBuffer, handed out slice by slice and replaced when
  /// full (slices already given out keep the old one alive, like Buffer's
  /// own pool) or detached.
  pool: napi_ref,
  pool_data: *mut u8,
  pool_used: usize,
  /// The spare read buffer (see [`spare_read_buffer`]): an ArrayBuffer no
  /// JS has seen, held by `spare`, and its memory.
  spare: napi_ref,
  spare_data: *mut u8,
  spare_len: usize,
  teardown_hooked: bool,
}

thread_local! {
  static SHARED: RefCell<Shared> = const {
    RefCell::new(Shared {
      state: ptr::null_mut(),
      state_ab: ptr::null_mut(),
      state_data: ptr::null_mut(),
      state_fixed: false,
      pool: ptr::null_mut(),
      pool_data: ptr::null_mut(),
      pool_used: 0,
      spare: ptr::null_mut(),
      spare_data: ptr::null_mut(),
      spare_len: 0,
      teardown_hooked: false,
    })
  };
}

fn is_detached(env: napi_env, ab: napi_value) -> bool {
  let mut detached = true;
  napi_call!(napi_is_detached_arraybuffer(env, ab, &mut detached));
  detached
}

/// An Int32Array(4) over memory JS cannot detach: the buffer of a
/// one-page, non-growable `WebAssembly.Memory` (V8 never detaches those:
/// a transfer copies instead). None where WebAssembly is off (--jitless).
const FIXED_STATE_SOURCE: &str = "typeof WebAssembly === 'object' && \
  typeof WebAssembly.Memory === 'function' ? \
  new Int32Array(new WebAssembly.Memory({ initial: 1, maximum: 1 }).buffer, 0, 4) : null";

/// The Int32Array's ArrayBuffer and data pointer.
fn typed_array_store(env: napi_env, ta: napi_value) -> Option<(napi_value, *mut i32)> {
  let mut ab = ptr::null_mut();
  let mut len = 0;
  let mut data = ptr::null_mut();
  let mut kind = 0;
  let mut offset = 0;
  let status = napi_call!(napi_get_typedarray_info(
    env,
    ta,
    &mut kind,
    &mut len,
    &mut data,
    &mut ab,
    &mut offset
  ));
  let ok = status == napi::sys::Status::napi_ok
    && kind == napi::sys::TypedarrayType::int32_array
    && len == 4
    && !data.is_null();
  ok.then_some((ab, data as *mut i32))
}

/// Whether JS can never detach `ab`, asked of N-API itself: detaching a
/// Wasm memory's buffer is refused (`napi_detachable_arraybuffer_expected`),
/// while any other ArrayBuffer (say, one a replaced `WebAssembly` global
/// passed off as Wasm memory) is detached by the probe and so not used.
/// No global is consulted, so no script can fake the answer.
fn cannot_detach(env: napi_env, ab: napi_value) -> bool {
  let status = napi_call!(napi_detach_arraybuffer(env, ab));
  status == napi::sys::Status::napi_detachable_arraybuffer_expected && !is_detached(env, ab)
}

/// The shared `streamBaseState` Int32Array (created on first use).
pub fn stream_state(env: napi_env) -> napi_value {
  let existing = SHARED.with(|s| js::ref_value(env, s.borrow().state));
  if !existing.is_null() {
    return existing;
  }
  let mut fixed = ptr::null_mut();
  let script = js::string(env, FIXED_STATE_SOURCE);
  if napi_call!(napi_run_script(env, script, &mut fixed)) != napi::sys::Status::napi_ok {
    let mut err = ptr::null_mut();
    napi_call!(napi_get_and_clear_last_exception(env, &mut err));
    fixed = ptr::null_mut();
  }
  let (ta, ab, data, attached_for_good) = match (!fixed.is_null())
    .then(|| typed_array_store(env, fixed))
    .flatten()
    .filter(|(ab, _)| cannot_detach(env, *ab))
  {
    Some((ab, data)) => (fixed, ab, data, true),
    None => {
      let mut ab = ptr::null_mut();
      let mut data = ptr::null_mut();
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
      (ta, ab, data as *mut i32, false)
    }
  };
  let r = js::new_ref(env, ta, 1);
  let ab_ref = js::new_ref(env, ab, 1);
  SHARED.with(|s| {
    let mut s = s.borrow_mut();
    s.state = r;
    s.state_ab = ab_ref;
    s.state_data = data;
    s.state_fixed = attached_for_good;
  });
  hook_teardown(env);
  ta
}

/// Reads two slots of `streamBaseState` (None before JS has asked for the
/// array, or if it was detached). Runs no JS.
pub fn get_state(env: RefEnv, indexes: [usize; 2]) -> Option<[i32; 2]> {
  let (ab_ref, base, fixed) = SHARED.with(|s| {
    let s = s.borrow();
    (s.state_ab, s.state_data, s.state_fixed)
  });
  if ab_ref.is_null() || base.is_null() {
    return None;
  }
  if !fixed && is_detached(env.no_js(), env.ref_value(ab_ref)) {
    return None;
  }
  Some(indexes.map(|index| {
    debug_assert!(index < 4);
    // SAFETY: as in set_state: the store of this Int32Array(4), not
    // detachable or just seen attached with no JS run since; index < 4.
    unsafe { *base.add(index) }
  }))
}

/// Writes two slots of `streamBaseState` (one lookup for both). Runs no
/// JS (a `RefEnv` cannot): before JS has asked for the array there is
/// nobody to read the slots, so nothing is written.
pub fn set_state(env: RefEnv, slots: [(usize, i32); 2]) {
  let (ab_ref, base, fixed) = SHARED.with(|s| {
    let s = s.borrow();
    (s.state_ab, s.state_data, s.state_fixed)
  });
  if ab_ref.is_null() || base.is_null() {
    return;
  }
  // Memory JS cannot detach needs no check; any other is looked at again.
  if !fixed && is_detached(env.no_js(), env.ref_value(ab_ref)) {
    return;
  }
  for (index, value) in slots {
    debug_assert!(index < 4);
    // SAFETY: base is the backing store of this Int32Array(4)'s ArrayBuffer,
    // which JS cannot detach (N-API refused to detach it: Wasm memory) or
    // was just seen attached (so the store is the one cached: an attached
    // ArrayBuffer's store never moves) with no JS run since; index < 4.
    unsafe { *base.add(index) = value };
  }
}

/// A fresh ArrayBuffer of `len` bytes for the kernel to fill, without the
/// zero-fill napi_create_arraybuffer does (for 64 KiB reads that memset cost
/// as much as the kernel's copy): napi_create_buffer allocates uninitialised
/// memory (node::Buffer::New), and its ArrayBuffer is exactly `len` long.
pub fn new_uninit_array_buffer(env: RefEnv, len: usize) -> Option<(napi_value, *mut u8)> {
  let env = env.no_js();
  let mut buf = ptr::null_mut();
  let mut data = ptr::null_mut();
  let status = napi_call!(napi_create_buffer(env, len, &mut data, &mut buf));
  if status != napi::sys::Status::napi_ok || buf.is_null() || data.is_null() {
    return new_array_buffer(env, len);
  }
  let mut ab = ptr::null_mut();
  let mut ab_data = ptr::null_mut();
  let mut view_len = 0;
  let mut offset = 0;
  let mut kind = 0;
  let status = napi_call!(napi_get_typedarray_info(
    env,
    buf,
    &mut kind,
    &mut view_len,
    &mut ab_data,
    &mut ab,
    &mut offset
  ));
  if status != napi::sys::Status::napi_ok || ab.is_null() || offset != 0 || view_len != len {
    return new_array_buffer(env, len);
  }
  let mut ab_len = 0;
  let mut base = ptr::null_mut();
  napi_call!(napi_get_arraybuffer_info(env, ab, &mut base, &mut ab_len));
  if ab_len != len || base.is_null() {
    return new_array_buffer(env, len);
  }
  Some((ab, base as *mut u8))
}

/// A fresh, zeroed ArrayBuffer of `len` bytes and its data, or None if the
/// env can no longer make values (teardown).
fn new_array_buffer(env: napi_env, len: usize) -> Option<(napi_value, *mut u8)> {
  let mut data = ptr::null_mut();
  let mut ab = ptr::null_mut();
  let status = napi_call!(napi_create_arraybuffer(env, len, &mut data, &mut ab));
  if status != napi::sys::Status::napi_ok || data.is_null() || ab.is_null() {
    return None;
  }
  Some((ab, data as *mut u8))
}

/// Copies up to this size go to a zero-filled ArrayBuffer, bigger ones to
/// an uninitialised one (see [`array_buffer_from`]).
const ZEROED_COPY_MAX: usize = 16 * 1024;

/// A fresh ArrayBuffer holding a copy of `bytes` (no JS runs). Up to 16 KiB
/// it is made with napi_create_arraybuffer, whose zero-fill costs less than
/// the Buffer (Uint8Array, prototype switch, typed-array lookup) that
/// napi_create_buffer wraps an uninitialised one in (under callgrind, a
/// 64-byte read's buffer took 4.2k instructions that way, 1.9k this way);
/// above that the zero-fill costs more than the wrapper.
pub fn array_buffer_from(env: RefEnv, bytes: &[u8]) -> Option<napi_value> {
  let (ab, out) = if bytes.len() <= ZEROED_COPY_MAX {
    new_array_buffer(env.no_js(), bytes.len())?
  } else {
    new_uninit_array_buffer(env, bytes.len())?
  };
  // SAFETY: out has bytes.len() fresh bytes, not overlapping `bytes`.
  unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), out, bytes.len()) };
  Some(ab)
}

/// Copies `bytes` (at most POOLED_READ_MAX) into a fresh slice of the read
/// pool: the pool's ArrayBuffer and the slice's offset. None if the env can
/// no longer run JS.
pub fn copy_to_pool(env: RefEnv, bytes: &[u8]) -> Option<(napi_value, usize)> {
  let env = env.no_js();
  debug_assert!(bytes.len() <= POOLED_READ_MAX);
  let (pool, mut data, mut off) = SHARED.with(|s| {
    let s = s.borrow();
    (js::ref_value(env, s.pool), s.pool_data, s.pool_used)
  });
  let mut ab = pool;
  if ab.is_null() || off + bytes.len() > READ_POOL_SIZE || is_detached(env, ab) {
    let mut base = ptr::null_mut();
    let status = napi_call!(napi_create_arraybuffer(
      env,
      READ_POOL_SIZE,
      &mut base,
      &mut ab
    ));
    if status != napi::sys::Status::napi_ok || base.is_null() {
      return None;
    }
    let r = js::new_ref(env, ab, 1);
    SHARED.with(|s| {
      let mut s = s.borrow_mut();
      let mut old = std::mem::replace(&mut s.pool, r);
      js::drop_ref(env, &mut old);
      s.pool_data = base as *mut u8;
    });
    hook_teardown(env);
    data = base as *mut u8;
    off = 0;
  }
  // SAFETY: off + len <= READ_POOL_SIZE bytes of the pool's backing store,
  // seen attached (or created) just now with no JS run since.
  unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), data.add(off), bytes.len()) };
  // Keep slices 8-byte aligned, as Buffer's pool does.
  SHARED.with(|s| s.borrow_mut().pool_used = (off + bytes.len() + 7) & !7);
  Some((ab, off))
}

/// A buffer for the next read: the memory of the spare, a `len`-byte
/// ArrayBuffer made for reads that no JS has seen (made now if there is
/// none), so nothing can detach it while it is ours. A read that fills it
/// hands it to JS as it is ([`take_spare_read_buffer`]): a full 64 KiB read
/// costs neither a copy nor the FIONREAD that sizing a buffer beforehand
/// would; a shorter one is copied out of it (warm in the cache, just
/// written) into a buffer of its exact size, and the spare stays for the
/// next read. None if the env can no longer make values.
pub fn spare_read_buffer(env: RefEnv, len: usize) -> Option<*mut u8> {
  let (spare, data, have) = SHARED.with(|s| {
    let s = s.borrow();
    (s.spare, s.spare_data, s.spare_len)
  });
  if !spare.is_null() && have == len {
    return Some(data);
  }
  // Uninitialised, as Node's own read buffers are: its bytes reach JS only
  // once a read has written all of them (a shorter read is copied out). The
  // zero-fill napi_create_arraybuffer would do was 16% of a bulk sink's
  // samples under perf; it warmed the lines for the kernel's copy, so rates
  // came out the same either way (bench/RESULTS.md), but without it there is
  // one 64 KiB memset per chunk less on the memory bus.
  let (ab, data) = new_uninit_array_buffer(env, len)?;
  let r = env.new_ref(ab, 1);
  if r.is_null() {
    return None;
  }
  // One spare per env at most, released at teardown: not a reference a
  // handle holds, so not in `js::live_refs` (which tests hold to its
  // baseline once handles close).
  js::count_held(-1);
  SHARED.with(|s| {
    let mut s = s.borrow_mut();
    let mut old = std::mem::replace(&mut s.spare, r);
    if !old.is_null() {
      js::count_held(1);
    }
    env.drop_ref(&mut old);
    s.spare_data = data;
    s.spare_len = len;
  });
  hook_teardown(env.no_js());
  Some(data)
}

/// Hands the spare read buffer to the caller (for JS, with the bytes a read
/// just put in it); the next read makes a new one.
pub fn take_spare_read_buffer(env: RefEnv) -> Option<napi_value> {
  let mut r = SHARED.with(|s| {
    let mut s = s.borrow_mut();
    s.spare_data = ptr::null_mut();
    s.spare_len = 0;
    std::mem::replace(&mut s.spare, ptr::null_mut())
  });
  let ab = env.ref_value(r);
  if !r.is_null() {
    js::count_held(1);
  }
  env.drop_ref(&mut r);
  (!ab.is_null()).then_some(ab)
}

fn hook_teardown(env: napi_env) {
  let first = SHARED.with(|s| !std::mem::replace(&mut s.borrow_mut().teardown_hooked, true));
  if first {
    env::on_teardown(env, Box::new(teardown));
  }
}

fn teardown(env: napi_env) {
  SHARED.with(|s| {
    let mut s = s.borrow_mut();
    s.teardown_hooked = false;
    if !s.spare.is_null() {
      js::count_held(1);
    }
    js::drop_ref(env, &mut s.spare);
    s.spare_data = ptr::null_mut();
    s.spare_len = 0;
    js::drop_ref(env, &mut s.state);
    js::drop_ref(env, &mut s.state_ab);
    s.state_data = ptr::null_mut();
    s.state_fixed = false;
    js::drop_ref(env, &mut s.pool);
    s.pool_data = ptr::null_mut();
    s.pool_used = 0;
  });
}
