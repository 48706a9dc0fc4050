//! Node's `advanced` serialization: V8's `ValueSerializer` format (version
//! 15, as Node 20–24 write it) with Node's host-object wrapping for
//! `ArrayBufferView`s (`lib/internal/child_process/serialization.js` on top
//! of `v8.DefaultSerializer`).
//!
//! Writing goes straight from serde into the wire bytes ([`Writer`]).
//! Reading decodes a payload into a [`JsValue`] tree first (V8 payloads can
//! refer back to objects seen earlier), then serde deserializes from that
//! tree.
//!
//! Supported: `undefined`, `null`, booleans, numbers, strings, plain objects,
//! arrays (dense and sparse), repeated references to the same object or
//! array, Node `Buffer`s, every typed array and `DataView`, and host objects
//! Node writes as plain-object copies. Anything else (Date, RegExp, Map, Set,
//! BigInt, Error, ArrayBuffer, boxed primitives, a circular structure) is a
//! [`DecodeError`] for that one message.

use std::fmt;

use serde::de::{self, IntoDeserializer};
use serde::ser::{self, Serialize};

/// The `ValueSerializer` format version written in each header.
pub(crate) const VERSION: u32 = 15;
/// Oldest version read: 13 is the first with explicit host-object tags.
const MIN_VERSION: u32 = 13;
/// Deepest nesting read or written (serde_json's limit too, so both
/// serializations accept the same messages).
pub(crate) const MAX_DEPTH: usize = 128;
/// Holes allowed in one sparse array: a tiny message can declare an array of
/// 2^32 - 1 elements; this many `null`s is as far as one is materialised.
pub(crate) const MAX_HOLES: usize = 1 << 20;

// Tags (V8 `SerializationTag`).
const PADDING: u8 = 0;
const VERIFY_OBJECT_COUNT: u8 = b'?';
const THE_HOLE: u8 = b'-';
const UNDEFINED: u8 = b'_';
const NULL: u8 = b'0';
const TRUE: u8 = b'T';
const FALSE: u8 = b'F';
const INT32: u8 = b'I';
const UINT32: u8 = b'U';
const DOUBLE: u8 = b'N';
const UTF8_STRING: u8 = b'S';
const ONE_BYTE_STRING: u8 = b'"';
const TWO_BYTE_STRING: u8 = b'c';
const OBJECT_REFERENCE: u8 = b'^';
const BEGIN_OBJECT: u8 = b'o';
const END_OBJECT: u8 = b'{';
const BEGIN_SPARSE_ARRAY: u8 = b'a';
const END_SPARSE_ARRAY: u8 = b'@';
const BEGIN_DENSE_ARRAY: u8 = b'A';
const END_DENSE_ARRAY: u8 = b'$';
const HOST_OBJECT: u8 = b'\\';
const VERSION_TAG: u8 = 0xff;

// Node's host-object sub-tags (child_process serialization.js).
const HOST_ARRAY_BUFFER_VIEW: u32 = 0;
const HOST_PLAIN_OBJECT: u32 = 1;

/// Which `ArrayBufferView` a typed value was, by Node's `DefaultSerializer`
/// type index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewKind {
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  DataView,
  /// A Node `Buffer`.
  Buffer,
  BigInt64Array,
  BigUint64Array,
}

impl ViewKind {
  fn from_index(i: u32) -> Option<ViewKind> {
    use ViewKind::*;
    Some(match i {
      0 => Int8Array,
      1 => Uint8Array,
      2 => Uint8ClampedArray,
      3 => Int16Array,
      4 => Uint16Array,
      5 => Int32Array,
      6 => Uint32Array,
      7 => Float32Array,
      8 => Float64Array,
      9 => DataView,
      10 => Buffer,
      11 => BigInt64Array,
      12 => BigUint64Array,
      _ => return None,
    })
  }

  /// Bytes per element.
  fn width(self) -> usize {
    use ViewKind::*;
    match self {
      Int8Array | Uint8Array | Uint8ClampedArray | DataView | Buffer => 1,
      Int16Array | Uint16Array => 2,
      Int32Array | Uint32Array | Float32Array => 4,
      Float64Array | BigInt64Array | BigUint64Array => 8,
    }
  }

  /// Whether the view is bytes (read as a byte buffer, not a number list).
  pub fn is_bytes(self) -> bool {
    use ViewKind::*;
    matches!(self, Uint8Array | Uint8ClampedArray | DataView | Buffer)
  }
}

/// A decoded JavaScript value (the subset described in the module docs).
#[derive(Debug, Clone, PartialEq)]
pub enum JsValue {
  Undefined,
  Null,
  Bool(bool),
  Number(f64),
  String(String),
  /// Holes read as `Undefined`.
  Array(Vec<JsValue>),
  /// Own enumerable properties in order; integer keys as their decimal text.
  Object(Vec<(String, JsValue)>),
  /// A Buffer, typed array or DataView: its kind and its bytes.
  Typed(ViewKind, Vec<u8>),
}

/// Why an advanced-serialization payload could not be decoded (or a value
/// not encoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
  msg: String,
}

impl DecodeError {
  fn new(msg: impl Into<String>) -> Self {
    DecodeError { msg: msg.into() }
  }

  pub(crate) fn custom_msg(msg: &str) -> Self {
    DecodeError::new(msg)
  }
}

impl fmt::Display for DecodeError {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.write_str(&self.msg)
  }
}

impl std::error::Error for DecodeError {}

impl de::Error for DecodeError {
  fn custom<T: fmt::Display>(msg: T) -> Self {
    DecodeError::new(msg.to_string())
  }
}

impl ser::Error for DecodeError {
  fn custom<T: fmt::Display>(msg: T) -> Self {
    DecodeError::new(msg.to_string())
  }
}

fn tag_name(tag: u8) -> &'static str {
  match tag {
    b'Z' => "BigInt",
    b'D' => "Date",
    b'y' | b'x' => "Boolean object",
    b'n' => "Number object",
    b'z' => "BigInt object",
    b's' => "String object",
    b'R' => "RegExp",
    b';' => "Map",
    b'\'' => "Set",
    b'B' | b'~' => "ArrayBuffer",
    b't' => "transferred ArrayBuffer",
    b'u' => "SharedArrayBuffer",
    b'V' => "ArrayBufferView (not as a host object)",
    b'p' => "shared object",
    b'w' | b'm' => "WebAssembly object",
    b'r' => "Error",
    _ => "unknown tag",
  }
}

// ------------------------------------------------------------------ reading

/// Decodes one payload (header included, no length prefix).
pub fn decode(payload: &[u8]) -> Result<JsValue, DecodeError> {
  let mut r = Reader {
    buf: payload,
    pos: 0,
    next_id: 0,
    ids: Vec::new(),
    depth: 0,
    // Shared references can multiply a small payload; bound what one
    // message may expand to.
    budget: payload.len().saturating_mul(4).saturating_add(MAX_HOLES),
  };
  r.header()?;
  let v = r.value()?;
  Ok(v)
}

/// Where an object with an id was read: replayed for back references.
#[derive(Clone, Copy)]
enum Seen {
  Open,
  Done { start: usize, end: usize },
}

struct Reader<'a> {
  buf: &'a [u8],
  pos: usize,
  next_id: u32,
  ids: Vec<Seen>,
  depth: usize,
  budget: usize,
}

impl<'a> Reader<'a> {
  fn err<T>(&self, msg: impl fmt::Display) -> Result<T, DecodeError> {
    Err(DecodeError::new(format!(
      "advanced serialization: {msg} (at byte {})",
      self.pos
    )))
  }

  fn byte(&mut self) -> Result<u8, DecodeError> {
    match self.buf.get(self.pos) {
      Some(&b) => {
        self.pos += 1;
        Ok(b)
      }
      None => self.err("truncated payload"),
    }
  }

  fn tag(&mut self) -> Result<u8, DecodeError> {
    loop {
      let t = self.byte()?;
      if t != PADDING {
        return Ok(t);
      }
    }
  }

  fn peek_tag(&mut self) -> Result<u8, DecodeError> {
    let save = self.pos;
    let t = self.tag()?;
    self.pos = save;
    Ok(t)
  }

  fn varint(&mut self) -> Result<u32, DecodeError> {
    let mut value: u64 = 0;
    let mut shift = 0;
    loop {
      let b = self.byte()?;
      if shift < 35 {
        value |= u64::from(b & 0x7f) << shift;
      }
      shift += 7;
      if b & 0x80 == 0 {
        break;
      }
      if shift > 70 {
        return self.err("varint too long");
      }
    }
    u32::try_from(value).or_else(|_| self.err("varint out of range"))
  }

  fn raw(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
    if self.buf.len() - self.pos < len {
      return self.err(format!("{len} bytes announced, fewer left"));
    }
    let s = &self.buf[self.pos..self.pos + len];
    self.pos += len;
    Ok(s)
  }

  fn header(&mut self) -> Result<(), DecodeError> {
    if self.byte()? != VERSION_TAG {
      return self.err("missing version header");
    }
    let v = self.varint()?;
    if !(MIN_VERSION..=VERSION).contains(&v) {
      return self.err(format!(
        "format version {v} not supported (reads {MIN_VERSION}..={VERSION})"
      ));
    }
    Ok(())
  }

  fn spend(&mut self, n: usize) -> Result<(), DecodeError> {
    if n > self.budget {
      return self.err("message expands past its decoding budget (shared references or holes)");
    }
    self.budget -= n;
    Ok(())
  }

  fn value(&mut self) -> Result<JsValue, DecodeError> {
    self.spend(1)?;
    let tag = self.tag()?;
    match tag {
      VERIFY_OBJECT_COUNT => {
        self.varint()?;
        self.value()
      }
      UNDEFINED => Ok(JsValue::Undefined),
      NULL => Ok(JsValue::Null),
      TRUE => Ok(JsValue::Bool(true)),
      FALSE => Ok(JsValue::Bool(false)),
      INT32 => {
        let z = self.varint()?;
        Ok(JsValue::Number(f64::from(
          ((z >> 1) as i32) ^ -((z & 1) as i32),
        )))
      }
      UINT32 => Ok(JsValue::Number(f64::from(self.varint()?))),
      DOUBLE => {
        let b = self.raw(8)?;
        Ok(JsValue::Number(f64::from_le_bytes(
          b.try_into().expect("8 bytes"),
        )))
      }
      ONE_BYTE_STRING | TWO_BYTE_STRING | UTF8_STRING => self.string_body(tag).map(JsValue::String),
      OBJECT_REFERENCE => {
        let id = self.varint()?;
        self.replay(id)
      }
      BEGIN_OBJECT | BEGIN_SPARSE_ARRAY | BEGIN_DENSE_ARRAY | HOST_OBJECT => {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
          return self.err(format!("nesting deeper than {MAX_DEPTH}"));
        }
        let start = self.pos - 1;
        let id = self.next_id as usize;
        self.next_id += 1;
        if id == self.ids.len() {
          self.ids.push(Seen::Open);
        }
        let v = match tag {
          BEGIN_OBJECT => self.object(),
          BEGIN_SPARSE_ARRAY => self.sparse_array(),
          BEGIN_DENSE_ARRAY => self.dense_array(),
          _ => self.host_object(),
        }?;
        if let Some(slot @ Seen::Open) = self.ids.get_mut(id) {
          *slot = Seen::Done {
            start,
            end: self.pos,
          };
        }
        self.depth -= 1;
        Ok(v)
      }
      THE_HOLE => self.err("a hole outside an array"),
      other => self.err(format!(
        "cannot decode a {} (tag 0x{other:02x})",
        tag_name(other)
      )),
    }
  }

  /// Reads object `id` again from where it was first read.
  fn replay(&mut self, id: u32) -> Result<JsValue, DecodeError> {
    let (start, end) = match self.ids.get(id as usize) {
      Some(Seen::Done { start, end }) => (*start, *end),
      Some(Seen::Open) => return self.err("circular reference (not representable)"),
      None => return self.err(format!("reference to unknown object {id}")),
    };
    self.spend(end - start)?;
    let (save_pos, save_id) = (self.pos, self.next_id);
    self.pos = start;
    self.next_id = id;
    let v = self.value();
    self.pos = save_pos;
    self.next_id = save_id;
    v
  }

  fn string_body(&mut self, tag: u8) -> Result<String, DecodeError> {
    let len = self.varint()? as usize;
    let bytes = self.raw(len)?;
    match tag {
      ONE_BYTE_STRING => Ok(if bytes.is_ascii() {
        String::from_utf8(bytes.to_vec()).expect("ASCII")
      } else {
        bytes.iter().map(|&b| char::from(b)).collect()
      }),
      TWO_BYTE_STRING => {
        if !len.is_multiple_of(2) {
          return self.err("two-byte string of odd length");
        }
        let units = bytes
          .chunks_exact(2)
          .map(|c| u16::from_le_bytes([c[0], c[1]]));
        char::decode_utf16(units)
          .collect::<Result<String, _>>()
          .or_else(|_| self.err("string with a lone surrogate"))
      }
      _ => String::from_utf8(bytes.to_vec()).or_else(|_| self.err("invalid UTF-8 string")),
    }
  }

  fn key(&mut self) -> Result<String, DecodeError> {
    match self.tag()? {
      t @ (ONE_BYTE_STRING | TWO_BYTE_STRING | UTF8_STRING) => self.string_body(t),
      INT32 => {
        let z = self.varint()?;
        Ok((((z >> 1) as i32) ^ -((z & 1) as i32)).to_string())
      }
      UINT32 => Ok(self.varint()?.to_string()),
      DOUBLE => {
        let b = self.raw(8)?;
        let d = f64::from_le_bytes(b.try_into().expect("8 bytes"));
        Ok(number_key(d))
      }
      t => self.err(format!("property key with tag 0x{t:02x}")),
    }
  }

  /// Properties up to `end`; returns them and checks the count after `end`.
  fn properties(&mut self, end: u8) -> Result<Vec<(String, JsValue)>, DecodeError> {
    let mut props = Vec::new();
    loop {
      if self.peek_tag()? == end {
        self.tag()?;
        return Ok(props);
      }
      let k = self.key()?;
      let v = self.value()?;
      props.push((k, v));
    }
  }

  fn check_count(&mut self, got: usize, what: &str) -> Result<(), DecodeError> {
    let want = self.varint()? as usize;
    if want != got {
      return self.err(format!("{what}: {got} read, {want} announced"));
    }
    Ok(())
  }

  fn object(&mut self) -> Result<JsValue, DecodeError> {
    let props = self.properties(END_OBJECT)?;
    self.check_count(props.len(), "object properties")?;
    Ok(JsValue::Object(props))
  }

  fn dense_array(&mut self) -> Result<JsValue, DecodeError> {
    let len = self.varint()? as usize;
    if len > self.buf.len() - self.pos {
      return self.err("array longer than the payload");
    }
    let mut items = Vec::with_capacity(len);
    for _ in 0..len {
      if self.peek_tag()? == THE_HOLE {
        self.tag()?;
        items.push(JsValue::Undefined);
      } else {
        items.push(self.value()?);
      }
    }
    // Named properties on an array: read, then dropped (JSON drops them).
    let props = self.properties(END_DENSE_ARRAY)?;
    self.check_count(props.len(), "array properties")?;
    self.check_count(len, "array length")?;
    Ok(JsValue::Array(items))
  }

  fn sparse_array(&mut self) -> Result<JsValue, DecodeError> {
    let len = self.varint()? as usize;
    let props = self.properties(END_SPARSE_ARRAY)?;
    self.check_count(props.len(), "array properties")?;
    self.check_count(len, "array length")?;
    let mut present = Vec::new();
    for (k, v) in props {
      if let Ok(i) = k.parse::<u32>() {
        if (i as usize) < len && i.to_string() == k {
          present.push((i as usize, v));
        }
      }
    }
    let holes = len - present.len().min(len);
    if holes > MAX_HOLES {
      return self.err(format!(
        "sparse array of length {len} with {holes} holes (at most {MAX_HOLES})"
      ));
    }
    self.spend(holes)?;
    let mut items = vec![JsValue::Undefined; len];
    for (i, v) in present {
      items[i] = v;
    }
    Ok(JsValue::Array(items))
  }

  fn host_object(&mut self) -> Result<JsValue, DecodeError> {
    match self.varint()? {
      HOST_ARRAY_BUFFER_VIEW => {
        let index = self.varint()?;
        let Some(kind) = ViewKind::from_index(index) else {
          return self.err(format!("unknown ArrayBufferView type index {index}"));
        };
        let len = self.varint()? as usize;
        if !len.is_multiple_of(kind.width()) {
          return self.err(format!("{kind:?} of {len} bytes"));
        }
        let bytes = self.raw(len)?.to_vec();
        Ok(JsValue::Typed(kind, bytes))
      }
      HOST_PLAIN_OBJECT => self.value(),
      t => self.err(format!("unknown host object tag {t}")),
    }
  }
}

/// A number as a property key, as JavaScript prints it (keys V8 writes as
/// numbers are array indices, so integers in practice).
fn number_key(d: f64) -> String {
  if d.fract() == 0.0 && d.abs() < 1e21 {
    format!("{d:.0}")
  } else {
    d.to_string()
  }
}

// ----------------------------------------------------- JsValue -> serde_json

impl JsValue {
  /// The value as `serde_json` sees it, shaped like the same message sent
  /// with json serialization would be: `undefined` properties dropped,
  /// `undefined` array items `null`, integral numbers as integers, NaN and
  /// infinities `null`, Buffers (and `Uint8Array`s, `DataView`s) as
  /// `{ "type": "Buffer", "data": [...] }` (`Buffer#toJSON`), other typed
  /// arrays as arrays of numbers.
  pub fn into_json(self) -> serde_json::Value {
    use serde_json::Value;
    match self {
      JsValue::Undefined | JsValue::Null => Value::Null,
      JsValue::Bool(b) => Value::Bool(b),
      JsValue::Number(n) => number_json(n),
      JsValue::String(s) => Value::String(s),
      JsValue::Array(items) => Value::Array(items.into_iter().map(JsValue::into_json).collect()),
      JsValue::Object(props) => Value::Object(
        props
          .into_iter()
          .filter(|(_, v)| *v != JsValue::Undefined)
          .map(|(k, v)| (k, v.into_json()))
          .collect(),
      ),
      JsValue::Typed(kind, bytes) if kind.is_bytes() => {
        let mut m = serde_json::Map::new();
        m.insert("type".into(), Value::String("Buffer".into()));
        m.insert(
          "data".into(),
          Value::Array(bytes.into_iter().map(Value::from).collect()),
        );
        Value::Object(m)
      }
      JsValue::Typed(kind, bytes) => Value::Array(
        typed_numbers(kind, &bytes)
          .into_iter()
          .map(|n| match n {
            Num::F(f) => number_json(f),
            Num::I(i) => Value::from(i),
            Num::U(u) => Value::from(u),
          })
          .collect(),
      ),
    }
  }
}

fn number_json(n: f64) -> serde_json::Value {
  match integral(n) {
    Some(Num::I(i)) => i.into(),
    Some(Num::U(u)) => u.into(),
    _ => serde_json::Number::from_f64(n).map_or(serde_json::Value::Null, serde_json::Value::Number),
  }
}

#[derive(Clone, Copy)]
enum Num {
  F(f64),
  I(i64),
  U(u64),
}

/// An integral double as the integer JSON.stringify would print (so it reads
/// as an integer, as in json mode).
fn integral(n: f64) -> Option<Num> {
  if n.fract() != 0.0 || !n.is_finite() {
    return None;
  }
  if (0.0..18_446_744_073_709_551_616.0).contains(&n) {
    Some(Num::U(n as u64))
  } else if (-9_223_372_036_854_775_808.0..0.0).contains(&n) {
    Some(Num::I(n as i64))
  } else {
    None
  }
}

fn typed_numbers(kind: ViewKind, b: &[u8]) -> Vec<Num> {
  use ViewKind::*;
  let w = kind.width();
  b.chunks_exact(w)
    .map(|c| match kind {
      Int8Array => Num::I(i64::from(c[0] as i8)),
      Int16Array => Num::I(i64::from(i16::from_le_bytes([c[0], c[1]]))),
      Uint16Array => Num::U(u64::from(u16::from_le_bytes([c[0], c[1]]))),
      Int32Array => Num::I(i64::from(i32::from_le_bytes(c.try_into().expect("4")))),
      Uint32Array => Num::U(u64::from(u32::from_le_bytes(c.try_into().expect("4")))),
      Float32Array => Num::F(f64::from(f32::from_le_bytes(c.try_into().expect("4")))),
      Float64Array => Num::F(f64::from_le_bytes(c.try_into().expect("8"))),
      BigInt64Array => Num::I(i64::from_le_bytes(c.try_into().expect("8"))),
      BigUint64Array => Num::U(u64::from_le_bytes(c.try_into().expect("8"))),
      Uint8Array | Uint8ClampedArray | DataView | Buffer => Num::U(u64::from(c[0])),
    })
    .collect()
}

// ------------------------------------------------------ JsValue -> serde

/// Deserializes `T` from a decoded value.
pub fn from_value<T: de::DeserializeOwned>(v: JsValue) -> Result<T, DecodeError> {
  T::deserialize(v)
}

struct SeqAccess<I>(I);

impl<'de, I: Iterator<Item = JsValue>> de::SeqAccess<'de> for SeqAccess<I> {
  type Error = DecodeError;
  fn next_element_seed<S: de::DeserializeSeed<'de>>(
    &mut self,
    seed: S,
  ) -> Result<Option<S::Value>, DecodeError> {
    self.0.next().map(|v| seed.deserialize(v)).transpose()
  }
}

struct NumSeq(std::vec::IntoIter<Num>);

impl<'de> de::SeqAccess<'de> for NumSeq {
  type Error = DecodeError;
  fn next_element_seed<S: de::DeserializeSeed<'de>>(
    &mut self,
    seed: S,
  ) -> Result<Option<S::Value>, DecodeError> {
    match self.0.next() {
      None => Ok(None),
      Some(Num::F(f)) => seed.deserialize(f.into_deserializer()).map(Some),
      Some(Num::I(i)) => seed.deserialize(i.into_deserializer()).map(Some),
      Some(Num::U(u)) => seed.deserialize(u.into_deserializer()).map(Some),
    }
  }
}

struct MapAccess {
  iter: std::vec::IntoIter<(String, JsValue)>,
  value: Option<JsValue>,
}

impl<'de> de::MapAccess<'de> for MapAccess {
  type Error = DecodeError;
  fn next_key_seed<K: de::DeserializeSeed<'de>>(
    &mut self,
    seed: K,
  ) -> Result<Option<K::Value>, DecodeError> {
    for (k, v) in self.iter.by_ref() {
      // As in json mode, an undefined property is no property.
      if v == JsValue::Undefined {
        continue;
      }
      self.value = Some(v);
      return seed.deserialize(Key(k)).map(Some);
    }
    Ok(None)
  }
  fn next_value_seed<V: de::DeserializeSeed<'de>>(
    &mut self,
    seed: V,
  ) -> Result<V::Value, DecodeError> {
    seed.deserialize(self.value.take().unwrap_or(JsValue::Undefined))
  }
}

/// An object key: a string, parsed as a number when a number is asked
/// for (as serde_json does for integer-keyed maps).
struct Key(String);

macro_rules! key_number {
  ($($method:ident $ty:ty => $visit:ident),* $(,)?) => {$(
    fn $method<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
      match self.0.parse::<$ty>() {
        Ok(n) => visitor.$visit(n),
        Err(_) => visitor.visit_string(self.0),
      }
    }
  )*};
}

impl<'de> de::Deserializer<'de> for Key {
  type Error = DecodeError;

  fn deserialize_any<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
    visitor.visit_string(self.0)
  }

  key_number! {
    deserialize_i8 i8 => visit_i8,
    deserialize_i16 i16 => visit_i16,
    deserialize_i32 i32 => visit_i32,
    deserialize_i64 i64 => visit_i64,
    deserialize_u8 u8 => visit_u8,
    deserialize_u16 u16 => visit_u16,
    deserialize_u32 u32 => visit_u32,
    deserialize_u64 u64 => visit_u64,
    deserialize_f32 f32 => visit_f32,
    deserialize_f64 f64 => visit_f64,
  }

  fn deserialize_newtype_struct<V: de::Visitor<'de>>(
    self,
    _name: &'static str,
    visitor: V,
  ) -> Result<V::Value, DecodeError> {
    visitor.visit_newtype_struct(self)
  }

  fn deserialize_enum<V: de::Visitor<'de>>(
    self,
    _name: &'static str,
    _variants: &'static [&'static str],
    visitor: V,
  ) -> Result<V::Value, DecodeError> {
    visitor.visit_enum(EnumAccess(self.0, None))
  }

  serde::forward_to_deserialize_any! {
    bool i128 u128 char str string bytes byte_buf option unit unit_struct seq tuple
    tuple_struct map struct identifier ignored_any
  }
}

struct EnumAccess(String, Option<JsValue>);

impl<'de> de::EnumAccess<'de> for EnumAccess {
  type Error = DecodeError;
  type Variant = VariantAccess;
  fn variant_seed<V: de::DeserializeSeed<'de>>(
    self,
    seed: V,
  ) -> Result<(V::Value, VariantAccess), DecodeError> {
    let v = seed.deserialize(self.0.into_deserializer())?;
    Ok((v, VariantAccess(self.1)))
  }
}

struct VariantAccess(Option<JsValue>);

impl<'de> de::VariantAccess<'de> for VariantAccess {
  type Error = DecodeError;
  fn unit_variant(self) -> Result<(), DecodeError> {
    match self.0 {
      None | Some(JsValue::Null) | Some(JsValue::Undefined) => Ok(()),
      Some(_) => Err(DecodeError::new("expected a unit variant")),
    }
  }
  fn newtype_variant_seed<T: de::DeserializeSeed<'de>>(
    self,
    seed: T,
  ) -> Result<T::Value, DecodeError> {
    seed.deserialize(self.0.unwrap_or(JsValue::Undefined))
  }
  fn tuple_variant<V: de::Visitor<'de>>(
    self,
    _len: usize,
    visitor: V,
  ) -> Result<V::Value, DecodeError> {
    de::Deserializer::deserialize_seq(self.0.unwrap_or(JsValue::Undefined), visitor)
  }
  fn struct_variant<V: de::Visitor<'de>>(
    self,
    _fields: &'static [&'static str],
    visitor: V,
  ) -> Result<V::Value, DecodeError> {
    de::Deserializer::deserialize_map(self.0.unwrap_or(JsValue::Undefined), visitor)
  }
}

impl<'de> de::Deserializer<'de> for JsValue {
  type Error = DecodeError;

  fn deserialize_any<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
    match self {
      JsValue::Undefined | JsValue::Null => visitor.visit_unit(),
      JsValue::Bool(b) => visitor.visit_bool(b),
      JsValue::Number(n) => match integral(n) {
        Some(Num::U(u)) => visitor.visit_u64(u),
        Some(Num::I(i)) => visitor.visit_i64(i),
        _ => visitor.visit_f64(n),
      },
      JsValue::String(s) => visitor.visit_string(s),
      JsValue::Array(items) => {
        let len = items.len();
        let mut seq = SeqAccess(items.into_iter());
        let v = visitor.visit_seq(&mut seq)?;
        if seq.0.next().is_some() {
          return Err(de::Error::invalid_length(len, &"fewer elements"));
        }
        Ok(v)
      }
      JsValue::Object(props) => visitor.visit_map(MapAccess {
        iter: props.into_iter(),
        value: None,
      }),
      JsValue::Typed(kind, bytes) if kind.is_bytes() => visitor.visit_byte_buf(bytes),
      JsValue::Typed(kind, bytes) => {
        visitor.visit_seq(NumSeq(typed_numbers(kind, &bytes).into_iter()))
      }
    }
  }

  fn deserialize_option<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
    match self {
      JsValue::Undefined | JsValue::Null => visitor.visit_none(),
      v => visitor.visit_some(v),
    }
  }

  fn deserialize_seq<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
    match self {
      // A `Vec<u8>` from a Buffer: its bytes as a sequence.
      JsValue::Typed(kind, bytes) => {
        let nums = if kind.is_bytes() {
          bytes.into_iter().map(|b| Num::U(u64::from(b))).collect()
        } else {
          typed_numbers(kind, &bytes)
        };
        visitor.visit_seq(NumSeq(nums.into_iter()))
      }
      v => v.deserialize_any(visitor),
    }
  }

  fn deserialize_newtype_struct<V: de::Visitor<'de>>(
    self,
    _name: &'static str,
    visitor: V,
  ) -> Result<V::Value, DecodeError> {
    visitor.visit_newtype_struct(self)
  }

  fn deserialize_enum<V: de::Visitor<'de>>(
    self,
    _name: &'static str,
    _variants: &'static [&'static str],
    visitor: V,
  ) -> Result<V::Value, DecodeError> {
    match self {
      JsValue::String(s) => visitor.visit_enum(EnumAccess(s, None)),
      JsValue::Object(props) => {
        let mut it = props.into_iter().filter(|(_, v)| *v != JsValue::Undefined);
        match (it.next(), it.next()) {
          (Some((k, v)), None) => visitor.visit_enum(EnumAccess(k, Some(v))),
          _ => Err(DecodeError::new(
            "expected an object with exactly one key for an enum",
          )),
        }
      }
      _ => Err(DecodeError::new(
        "expected a string or an object for an enum",
      )),
    }
  }

  serde::forward_to_deserialize_any! {
    bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
    bytes byte_buf unit unit_struct tuple tuple_struct map struct identifier ignored_any
  }
}

// ------------------------------------------------------------------ writing

/// Appends the V8 header and `value` to `out` (a frame under construction;
/// two-byte strings are aligned relative to the start of `out`, which is
/// the frame with its 4-byte length prefix, as Node aligns them).
pub fn encode_into<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<(), DecodeError> {
  out.push(VERSION_TAG);
  varint(out, VERSION);
  value.serialize(&mut Writer { out, depth: 0 })
}

fn varint(out: &mut Vec<u8>, mut v: u32) {
  loop {
    let b = (v & 0x7f) as u8;
    v >>= 7;
    if v == 0 {
      out.push(b);
      return;
    }
    out.push(b | 0x80);
  }
}

/// A varint padded to 5 bytes (V8 reads non-minimal varints), patched in
/// once a length only known at the end is known.
fn varint5(out: &mut [u8], mut v: u32) {
  for (i, b) in out.iter_mut().enumerate() {
    *b = (v & 0x7f) as u8 | if i < 4 { 0x80 } else { 0 };
    v >>= 7;
  }
}

/// The serde serializer writing V8's format.
pub struct Writer<'a> {
  out: &'a mut Vec<u8>,
  depth: usize,
}

impl Writer<'_> {
  fn int(&mut self, v: i64) {
    if let Ok(i) = i32::try_from(v) {
      self.out.push(INT32);
      varint(self.out, ((i << 1) ^ (i >> 31)) as u32);
    } else {
      self.double(v as f64);
    }
  }

  fn double(&mut self, d: f64) {
    if d.fract() == 0.0 && d.abs() <= f64::from(i32::MAX) && !(d == 0.0 && d.is_sign_negative()) {
      return self.int(d as i64);
    }
    self.out.push(DOUBLE);
    self.out.extend_from_slice(&d.to_le_bytes());
  }

  fn string(&mut self, s: &str) {
    if s.is_ascii() {
      self.out.push(ONE_BYTE_STRING);
      varint(self.out, s.len() as u32);
      self.out.extend_from_slice(s.as_bytes());
    } else if s.chars().all(|c| (c as u32) < 0x100) {
      self.out.push(ONE_BYTE_STRING);
      varint(self.out, s.chars().count() as u32);
      self.out.extend(s.chars().map(|c| c as u8));
    } else {
      let units = s.encode_utf16().count();
      let bytes = (units * 2) as u32;
      let mut vlen = 1;
      while bytes >> (7 * vlen) != 0 {
        vlen += 1;
      }
      // V8 keeps two-byte string data at an even offset.
      if (self.out.len() + 1 + vlen) & 1 == 1 {
        self.out.push(PADDING);
      }
      self.out.push(TWO_BYTE_STRING);
      varint(self.out, bytes);
      for u in s.encode_utf16() {
        self.out.extend_from_slice(&u.to_le_bytes());
      }
    }
  }

  /// The depth one level down, or an error past [`MAX_DEPTH`].
  fn deeper(&self) -> Result<usize, DecodeError> {
    if self.depth >= MAX_DEPTH {
      return Err(DecodeError::new(format!("nesting deeper than {MAX_DEPTH}")));
    }
    Ok(self.depth + 1)
  }

  fn begin_object(&mut self, variant: bool) -> Result<Compound<'_>, DecodeError> {
    let depth = self.deeper()?;
    self.out.push(BEGIN_OBJECT);
    Ok(Compound {
      w: Writer {
        out: &mut *self.out,
        depth,
      },
      count: 0,
      len_at: None,
      variant,
    })
  }

  fn begin_array(
    &mut self,
    len: Option<usize>,
    variant: bool,
  ) -> Result<Compound<'_>, DecodeError> {
    let depth = self.deeper()?;
    self.out.push(BEGIN_DENSE_ARRAY);
    let len_at = match len {
      Some(n) => {
        varint(self.out, n as u32);
        None
      }
      None => {
        let at = self.out.len();
        self.out.extend_from_slice(&[0; 5]);
        Some(at)
      }
    };
    Ok(Compound {
      w: Writer {
        out: &mut *self.out,
        depth,
      },
      count: 0,
      len_at,
      variant,
    })
  }

  /// Opens the `{ variant: ... }` object an enum variant with content is
  /// written as (serde_json's external tagging); the content follows.
  fn begin_variant(&mut self, variant: &str) -> Result<Writer<'_>, DecodeError> {
    let depth = self.deeper()?;
    self.out.push(BEGIN_OBJECT);
    self.string(variant);
    Ok(Writer {
      out: &mut *self.out,
      depth,
    })
  }
}

/// An object or array being written.
pub struct Compound<'a> {
  w: Writer<'a>,
  count: u32,
  /// Where a 5-byte length placeholder waits (arrays of unknown length).
  len_at: Option<usize>,
  /// Whether an enum variant's `{ variant: ... }` object closes after this.
  variant: bool,
}

impl Compound<'_> {
  fn end_array(self) -> Result<(), DecodeError> {
    if let Some(at) = self.len_at {
      varint5(&mut self.w.out[at..at + 5], self.count);
    }
    self.w.out.push(END_DENSE_ARRAY);
    varint(self.w.out, 0);
    varint(self.w.out, self.count);
    self.close_variant();
    Ok(())
  }

  fn end_object(self) -> Result<(), DecodeError> {
    self.w.out.push(END_OBJECT);
    varint(self.w.out, self.count);
    self.close_variant();
    Ok(())
  }

  fn close_variant(self) {
    if self.variant {
      self.w.out.push(END_OBJECT);
      varint(self.w.out, 1);
    }
  }

  fn element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), DecodeError> {
    self.count += 1;
    v.serialize(&mut self.w)
  }

  fn field<T: Serialize + ?Sized>(&mut self, key: &str, v: &T) -> Result<(), DecodeError> {
    self.count += 1;
    self.w.string(key);
    v.serialize(&mut self.w)
  }
}

/// serde's four array-like compound traits, each an element per call and
/// the array's end last.
macro_rules! array_like {
  ($($trait:ident :: $method:ident),* $(,)?) => {$(
    impl ser::$trait for Compound<'_> {
      type Ok = ();
      type Error = DecodeError;
      fn $method<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), DecodeError> {
        self.element(v)
      }
      fn end(self) -> Result<(), DecodeError> {
        self.end_array()
      }
    }
  )*};
}

array_like!(
  SerializeSeq::serialize_element,
  SerializeTuple::serialize_element,
  SerializeTupleStruct::serialize_field,
  SerializeTupleVariant::serialize_field,
);

impl ser::SerializeMap for Compound<'_> {
  type Ok = ();
  type Error = DecodeError;
  fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), DecodeError> {
    self.count += 1;
    let k = key.serialize(KeyWriter)?;
    self.w.string(&k);
    Ok(())
  }
  fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), DecodeError> {
    v.serialize(&mut self.w)
  }
  fn end(self) -> Result<(), DecodeError> {
    self.end_object()
  }
}

/// serde's two struct-like compound traits: a named field per call.
macro_rules! struct_like {
  ($($trait:ident),* $(,)?) => {$(
    impl ser::$trait for Compound<'_> {
      type Ok = ();
      type Error = DecodeError;
      fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
      ) -> Result<(), DecodeError> {
        self.field(key, v)
      }
      fn end(self) -> Result<(), DecodeError> {
        self.end_object()
      }
    }
  )*};
}

struct_like!(SerializeStruct, SerializeStructVariant);

impl<'a, 'b> ser::Serializer for &'a mut Writer<'b> {
  type Ok = ();
  type Error = DecodeError;
  type SerializeSeq = Compound<'a>;
  type SerializeTuple = Compound<'a>;
  type SerializeTupleStruct = Compound<'a>;
  type SerializeTupleVariant = Compound<'a>;
  type SerializeMap = Compound<'a>;
  type SerializeStruct = Compound<'a>;
  type SerializeStructVariant = Compound<'a>;

  fn serialize_bool(self, v: bool) -> Result<(), DecodeError> {
    self.out.push(if v { TRUE } else { FALSE });
    Ok(())
  }
  fn serialize_i8(self, v: i8) -> Result<(), DecodeError> {
    self.int(v.into());
    Ok(())
  }
  fn serialize_i16(self, v: i16) -> Result<(), DecodeError> {
    self.int(v.into());
    Ok(())
  }
  fn serialize_i32(self, v: i32) -> Result<(), DecodeError> {
    self.int(v.into());
    Ok(())
  }
  fn serialize_i64(self, v: i64) -> Result<(), DecodeError> {
    self.int(v);
    Ok(())
  }
  fn serialize_u8(self, v: u8) -> Result<(), DecodeError> {
    self.int(v.into());
    Ok(())
  }
  fn serialize_u16(self, v: u16) -> Result<(), DecodeError> {
    self.int(v.into());
    Ok(())
  }
  fn serialize_u32(self, v: u32) -> Result<(), DecodeError> {
    self.int(v.into());
    Ok(())
  }
  fn serialize_u64(self, v: u64) -> Result<(), DecodeError> {
    match i64::try_from(v) {
      Ok(i) => self.int(i),
      Err(_) => self.double(v as f64),
    }
    Ok(())
  }
  fn serialize_f32(self, v: f32) -> Result<(), DecodeError> {
    self.double(v.into());
    Ok(())
  }
  fn serialize_f64(self, v: f64) -> Result<(), DecodeError> {
    self.double(v);
    Ok(())
  }
  fn serialize_char(self, v: char) -> Result<(), DecodeError> {
    self.string(v.encode_utf8(&mut [0; 4]));
    Ok(())
  }
  fn serialize_str(self, v: &str) -> Result<(), DecodeError> {
    self.string(v);
    Ok(())
  }
  /// Bytes become a Node `Buffer`.
  fn serialize_bytes(self, v: &[u8]) -> Result<(), DecodeError> {
    let len = u32::try_from(v.len()).map_err(|_| DecodeError::new("a Buffer of 4 GiB or more"))?;
    self.out.push(HOST_OBJECT);
    varint(self.out, HOST_ARRAY_BUFFER_VIEW);
    varint(self.out, 10); // Node's type index of Buffer (FastBuffer)
    varint(self.out, len);
    self.out.extend_from_slice(v);
    Ok(())
  }
  fn serialize_none(self) -> Result<(), DecodeError> {
    self.out.push(NULL);
    Ok(())
  }
  fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<(), DecodeError> {
    v.serialize(self)
  }
  fn serialize_unit(self) -> Result<(), DecodeError> {
    self.out.push(NULL);
    Ok(())
  }
  fn serialize_unit_struct(self, _name: &'static str) -> Result<(), DecodeError> {
    self.serialize_unit()
  }
  fn serialize_unit_variant(
    self,
    _name: &'static str,
    _index: u32,
    variant: &'static str,
  ) -> Result<(), DecodeError> {
    self.string(variant);
    Ok(())
  }
  fn serialize_newtype_struct<T: Serialize + ?Sized>(
    self,
    _name: &'static str,
    v: &T,
  ) -> Result<(), DecodeError> {
    v.serialize(self)
  }
  fn serialize_newtype_variant<T: Serialize + ?Sized>(
    self,
    _name: &'static str,
    _index: u32,
    variant: &'static str,
    v: &T,
  ) -> Result<(), DecodeError> {
    v.serialize(&mut self.begin_variant(variant)?)?;
    self.out.push(END_OBJECT);
    varint(self.out, 1);
    Ok(())
  }
  fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'a>, DecodeError> {
    self.begin_array(len, false)
  }
  fn serialize_tuple(self, len: usize) -> Result<Compound<'a>, DecodeError> {
    self.begin_array(Some(len), false)
  }
  fn serialize_tuple_struct(
    self,
    _name: &'static str,
    len: usize,
  ) -> Result<Compound<'a>, DecodeError> {
    self.begin_array(Some(len), false)
  }
  fn serialize_tuple_variant(
    self,
    _name: &'static str,
    _index: u32,
    variant: &'static str,
    len: usize,
  ) -> Result<Compound<'a>, DecodeError> {
    self.begin_variant(variant)?;
    let depth = self.deeper()?;
    let mut c = self.begin_array(Some(len), true)?;
    c.w.depth = depth + 1;
    Ok(c)
  }
  fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'a>, DecodeError> {
    self.begin_object(false)
  }
  fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Compound<'a>, DecodeError> {
    self.begin_object(false)
  }
  fn serialize_struct_variant(
    self,
    _name: &'static str,
    _index: u32,
    variant: &'static str,
    _len: usize,
  ) -> Result<Compound<'a>, DecodeError> {
    self.begin_variant(variant)?;
    let depth = self.deeper()?;
    let mut c = self.begin_object(true)?;
    c.w.depth = depth + 1;
    Ok(c)
  }
}

/// Map keys: strings, or numbers and chars written as their text (as
/// serde_json does).
struct KeyWriter;

impl ser::Serializer for KeyWriter {
  type Ok = String;
  type Error = DecodeError;
  type SerializeSeq = ser::Impossible<String, DecodeError>;
  type SerializeTuple = ser::Impossible<String, DecodeError>;
  type SerializeTupleStruct = ser::Impossible<String, DecodeError>;
  type SerializeTupleVariant = ser::Impossible<String, DecodeError>;
  type SerializeMap = ser::Impossible<String, DecodeError>;
  type SerializeStruct = ser::Impossible<String, DecodeError>;
  type SerializeStructVariant = ser::Impossible<String, DecodeError>;

  fn serialize_str(self, v: &str) -> Result<String, DecodeError> {
    Ok(v.to_owned())
  }
  fn serialize_char(self, v: char) -> Result<String, DecodeError> {
    Ok(v.to_string())
  }
  fn serialize_bool(self, v: bool) -> Result<String, DecodeError> {
    Ok(v.to_string())
  }
  fn serialize_i8(self, v: i8) -> Result<String, DecodeError> {
    Ok(v.to_string())
  }
  fn serialize_i16(self, v: i16) -> Result<String, DecodeError> {
    Ok(v.to_string())
  }
  fn serialize_i32(self, v: i32) -> Result<String, DecodeError> {
    Ok(v.to_string())
  }
  fn serialize_i64(self, v: i64) -> Result<String, DecodeError> {
    Ok(v.to_string())
  }
  fn serialize_u8(self, v: u8) -> Result<String, DecodeError> {
    Ok(v.to_string())
  }
  fn serialize_u16(self, v: u16) -> Result<String, DecodeError> {
    Ok(v.to_string())
  }
  fn serialize_u32(self, v: u32) -> Result<String, DecodeError> {
    Ok(v.to_string())
  }
  fn serialize_u64(self, v: u64) -> Result<String, DecodeError> {
    Ok(v.to_string())
  }
  fn serialize_f32(self, v: f32) -> Result<String, DecodeError> {
    Ok(v.to_string())
  }
  fn serialize_f64(self, v: f64) -> Result<String, DecodeError> {
    Ok(v.to_string())
  }
  fn serialize_bytes(self, _v: &[u8]) -> Result<String, DecodeError> {
    Err(key_error())
  }
  fn serialize_none(self) -> Result<String, DecodeError> {
    Err(key_error())
  }
  fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<String, DecodeError> {
    v.serialize(self)
  }
  fn serialize_unit(self) -> Result<String, DecodeError> {
    Err(key_error())
  }
  fn serialize_unit_struct(self, _name: &'static str) -> Result<String, DecodeError> {
    Err(key_error())
  }
  fn serialize_unit_variant(
    self,
    _name: &'static str,
    _index: u32,
    variant: &'static str,
  ) -> Result<String, DecodeError> {
    Ok(variant.to_owned())
  }
  fn serialize_newtype_struct<T: Serialize + ?Sized>(
    self,
    _name: &'static str,
    v: &T,
  ) -> Result<String, DecodeError> {
    v.serialize(self)
  }
  fn serialize_newtype_variant<T: Serialize + ?Sized>(
    self,
    _name: &'static str,
    _index: u32,
    _variant: &'static str,
    _v: &T,
  ) -> Result<String, DecodeError> {
    Err(key_error())
  }
  fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, DecodeError> {
    Err(key_error())
  }
  fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, DecodeError> {
    Err(key_error())
  }
  fn serialize_tuple_struct(
    self,
    _name: &'static str,
    _len: usize,
  ) -> Result<Self::SerializeTupleStruct, DecodeError> {
    Err(key_error())
  }
  fn serialize_tuple_variant(
    self,
    _name: &'static str,
    _index: u32,
    _variant: &'static str,
    _len: usize,
  ) -> Result<Self::SerializeTupleVariant, DecodeError> {
    Err(key_error())
  }
  fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, DecodeError> {
    Err(key_error())
  }
  fn serialize_struct(
    self,
    _name: &'static str,
    _len: usize,
  ) -> Result<Self::SerializeStruct, DecodeError> {
    Err(key_error())
  }
  fn serialize_struct_variant(
    self,
    _name: &'static str,
    _index: u32,
    _variant: &'static str,
    _len: usize,
  ) -> Result<Self::SerializeStructVariant, DecodeError> {
    Err(key_error())
  }
}

fn key_error() -> DecodeError {
  DecodeError::new("an object key must be a string, a number or a char")
}

#[cfg(test)]
mod tests {
  use super::*;

  fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
      .step_by(2)
      .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
      .collect()
  }

  fn enc<T: Serialize + ?Sized>(v: &T) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(&mut out, v).unwrap();
    out
  }

  // Bytes below were produced by Node 20's v8.DefaultSerializer with
  // child_process's host-object tag (see the module docs).
  #[test]
  fn reads_what_node_writes() {
    let obj = decode(&hex("ff0f6f2202686949027b01")).unwrap();
    assert_eq!(
      obj,
      JsValue::Object(vec![("hi".into(), JsValue::Number(1.0))])
    );
    let buf = decode(&hex("ff0f5c000a03010203")).unwrap();
    assert_eq!(buf, JsValue::Typed(ViewKind::Buffer, vec![1, 2, 3]));
    let s = decode(&hex("ff0f6304df00ac20")).unwrap();
    assert_eq!(s, JsValue::String("ß€".into()));
    let sparse = decode(&hex("ff0f61034900490249044904400203")).unwrap();
    assert_eq!(
      sparse,
      JsValue::Array(vec![
        JsValue::Number(1.0),
        JsValue::Undefined,
        JsValue::Number(2.0)
      ])
    );
    let keys = decode(&hex("ff0f6f4900490222016149047b02")).unwrap();
    assert_eq!(
      keys,
      JsValue::Object(vec![
        ("0".into(), JsValue::Number(1.0)),
        ("a".into(), JsValue::Number(2.0))
      ])
    );
    // [o, o]: the second is a back reference to object 1.
    let shared = decode(&hex("ff0f41026f22016149027b015e01240002")).unwrap();
    let o = JsValue::Object(vec![("a".into(), JsValue::Number(1.0))]);
    assert_eq!(shared, JsValue::Array(vec![o.clone(), o]));
    let f64s = decode(&hex("ff0f5c000808000000000000f03f")).unwrap();
    assert_eq!(f64s.into_json(), serde_json::json!([1]));
  }

  #[test]
  fn writes_what_node_writes() {
    #[derive(serde::Serialize)]
    struct Hi {
      hi: u8,
    }
    assert_eq!(enc(&Hi { hi: 1 }), hex("ff0f6f2202686949027b01"));
    assert_eq!(enc("xxx"), hex("ff0f2203787878"));
    assert_eq!(enc(&-0.0f64), hex("ff0f4e0000000000000080"));
    assert_eq!(enc(&1.5f64), hex("ff0f4e000000000000f83f"));
    // Two-byte data at an even offset: a padding byte when needed.
    assert_eq!(enc("ß€"), hex("ff0f6304df00ac20"));
    let mut framed = vec![0u8; 5];
    encode_into(&mut framed, "€").unwrap();
    assert_eq!(&framed[5..], hex("ff0f006302ac20"));
  }

  #[test]
  fn round_trips_through_serde() {
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    enum E {
      Unit,
      New(u32),
      Tup(i8, String),
      Rec { a: Option<bool> },
    }
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct S {
      n: i64,
      big: u64,
      f: f32,
      s: String,
      list: Vec<E>,
      map: std::collections::BTreeMap<u32, String>,
      none: Option<u8>,
      unit: (),
    }
    let v = S {
      n: -5_000_000_000,
      big: 1 << 40,
      f: 0.25,
      s: "ÿ and 😀".into(),
      list: vec![
        E::Unit,
        E::New(7),
        E::Tup(-1, "t".into()),
        E::Rec { a: Some(true) },
      ],
      map: [(1, "one".into()), (20, "twenty".into())]
        .into_iter()
        .collect(),
      none: None,
      unit: (),
    };
    let bytes = enc(&v);
    let back: S = from_value(decode(&bytes).unwrap()).unwrap();
    assert_eq!(back, v);
  }

  #[test]
  fn bad_payloads_are_errors() {
    for (bytes, what) in [
      ("", "truncated"),
      ("ff0f", "truncated"),
      ("ff10", "version 16"),
      ("ff0f44000000000000f03f", "Date"),
      ("ff0f6f22016149027b02", "2 announced"),
      ("ff0f41ffffffff0f", "longer than the payload"),
      ("ff0f61ffffffff0f4000ffffffff0f", "holes"),
      ("ff0f5e00", "unknown object"),
      ("ff0f6f2201615e007b01", "circular"),
      ("ff0f630200d8", "lone surrogate"),
      ("ff0f5c000a0501", "announced"),
      ("ff0f5c000303010203", "Int16Array of 3 bytes"),
    ] {
      let err = decode(&hex(bytes)).unwrap_err().to_string();
      assert!(err.contains(what), "{bytes}: {err}");
    }
    let deep = [hex("ff0f"), [b'A', 1].repeat(200)].concat();
    assert!(decode(&deep).unwrap_err().to_string().contains("nesting"));
  }

  #[test]
  fn mutated_payloads_never_panic() {
    // Payloads Node writes (objects, arrays, strings, Buffers, references),
    // cut and flipped at random: every one decodes or is an error.
    let seeds = [
      "ff0f6f2202686949027b01",
      "ff0f5c000a03010203",
      "ff0f6304df00ac20",
      "ff0f61034900490249044904400203",
      "ff0f41026f22016149027b015e01240002",
      "ff0f5c000808000000000000f03f",
    ];
    let mut x: u64 = 0x9e3779b97f4a7c15;
    let mut next = move || {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      x
    };
    for seed in seeds {
      let base = hex(seed);
      for _ in 0..20_000 {
        let mut b = base.clone();
        for _ in 0..1 + next() % 4 {
          let i = (next() as usize) % b.len();
          match next() % 3 {
            0 => b[i] = next() as u8,
            1 => b.truncate(i.max(1)),
            _ => b.insert(i, next() as u8),
          }
        }
        if let Ok(v) = decode(&b) {
          let _ = v.clone().into_json();
          let _ = from_value::<serde_json::Value>(v);
        }
      }
    }
  }

  #[test]
  fn unknown_length_sequences_are_patched() {
    struct Unsized;
    impl Serialize for Unsized {
      fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq((0..3).filter(|_| true))
      }
    }
    let v = decode(&enc(&Unsized)).unwrap();
    assert_eq!(v.into_json(), serde_json::json!([0, 1, 2]));
  }
}
