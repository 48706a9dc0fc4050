use std::fmt;
use std::ops::{Deref, DerefMut};

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::ser::{Serialize, Serializer};

/// Bytes that travel as a Node `Buffer`.
///
/// * advanced serialization: sent as a real `Buffer`; read from a `Buffer`,
///   any typed array or `DataView` of bytes.
/// * json serialization: sent as an array of numbers (`Buffer.from(msg.data)`
///   on the Node side makes it a Buffer again); read from an array of
///   numbers or from what Node sends for a Buffer in json mode,
///   `{ "type": "Buffer", "data": [...] }`.
///
/// ```
/// use pipewrap_ipc::Buffer;
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Chunk {
///   offset: u64,
///   data: Buffer,
/// }
/// let chunk = Chunk { offset: 0, data: Buffer::from(vec![1, 2, 3]) };
/// assert_eq!(&chunk.data[..], &[1, 2, 3]);
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Buffer(pub Vec<u8>);

impl fmt::Debug for Buffer {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    write!(f, "Buffer({} bytes)", self.0.len())
  }
}

impl From<Vec<u8>> for Buffer {
  fn from(v: Vec<u8>) -> Self {
    Buffer(v)
  }
}

impl From<Buffer> for Vec<u8> {
  fn from(b: Buffer) -> Self {
    b.0
  }
}

impl Deref for Buffer {
  type Target = Vec<u8>;
  fn deref(&self) -> &Vec<u8> {
    &self.0
  }
}

impl DerefMut for Buffer {
  fn deref_mut(&mut self) -> &mut Vec<u8> {
    &mut self.0
  }
}

impl Serialize for Buffer {
  fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bytes(&self.0)
  }
}

impl<'de> Deserialize<'de> for Buffer {
  fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
    d.deserialize_any(BufferVisitor)
  }
}

struct BufferVisitor;

impl<'de> Visitor<'de> for BufferVisitor {
  type Value = Buffer;

  fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.write_str("a Buffer, an array of bytes or { type: 'Buffer', data: [...] }")
  }

  fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Buffer, E> {
    Ok(Buffer(v.to_vec()))
  }

  fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Buffer, E> {
    Ok(Buffer(v))
  }

  fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Buffer, A::Error> {
    let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
    while let Some(b) = seq.next_element::<u8>()? {
      v.push(b);
    }
    Ok(Buffer(v))
  }

  fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Buffer, A::Error> {
    let mut data = None;
    let mut is_buffer = false;
    while let Some(key) = map.next_key::<String>()? {
      match key.as_str() {
        "type" => is_buffer = map.next_value::<String>()? == "Buffer",
        "data" => data = Some(map.next_value::<Buffer>()?),
        _ => {
          map.next_value::<de::IgnoredAny>()?;
        }
      }
    }
    match data {
      Some(d) if is_buffer => Ok(d),
      _ => Err(de::Error::custom(
        "expected { type: 'Buffer', data: [...] }",
      )),
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn reads_nodes_json_buffer_shape() {
    let b: Buffer = serde_json::from_str(r#"{"type":"Buffer","data":[1,2,255]}"#).unwrap();
    assert_eq!(b.0, vec![1, 2, 255]);
    let b: Buffer = serde_json::from_str("[4,5]").unwrap();
    assert_eq!(b.0, vec![4, 5]);
    assert!(serde_json::from_str::<Buffer>(r#"{"type":"Other","data":[1]}"#).is_err());
    assert!(serde_json::from_str::<Buffer>("[256]").is_err());
    assert_eq!(serde_json::to_string(&Buffer(vec![7, 8])).unwrap(), "[7,8]");
  }
}
