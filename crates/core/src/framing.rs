//! Node's fork-channel framing, byte level:
//! * `json`: one UTF-8 JSON text per message, terminated by `\n`;
//! * `advanced`: a 4-byte big-endian length, then that many payload bytes.
//!
//! Both framers are incremental (a message may arrive split across any number
//! of reads, the length field included) and bounded: a peer cannot make us
//! buffer more than `max_message` bytes for one message.
//!
//! This is the one Rust implementation of the framing: `pipewrap-ipc` (the
//! tokio channel in `crates/ipc`) frames with it.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
  /// A message grew past the limit before it was complete.
  TooLarge { limit: usize, seen: usize },
}

impl fmt::Display for FrameError {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match self {
      FrameError::TooLarge { limit, seen } => {
        write!(
          f,
          "IPC message of at least {seen} bytes exceeds the limit of {limit} bytes"
        )
      }
    }
  }
}

impl std::error::Error for FrameError {}

/// Splits a byte stream into `\n`-terminated lines (without the `\n`).
#[derive(Debug)]
pub struct LineFramer {
  pending: Vec<u8>,
  max_message: usize,
}

impl LineFramer {
  pub fn new(max_message: usize) -> Self {
    LineFramer {
      pending: Vec::new(),
      max_message,
    }
  }

  /// Bytes held for a line not yet complete.
  pub fn buffered(&self) -> usize {
    self.pending.len()
  }

  /// Feeds bytes; returns the complete lines. After an error the framer is
  /// empty again and must not be fed the rest of that message.
  pub fn push(&mut self, data: &[u8]) -> Result<Vec<Vec<u8>>, FrameError> {
    let mut lines = Vec::new();
    self.push_into(data, &mut lines)?;
    Ok(lines)
  }

  /// Like [`push`](Self::push), appending the complete lines to `out`; lines
  /// completed before an oversized one are in `out` when the error returns.
  pub fn push_into(&mut self, mut data: &[u8], out: &mut Vec<Vec<u8>>) -> Result<(), FrameError> {
    while let Some(pos) = data.iter().position(|&b| b == b'\n') {
      let (head, rest) = data.split_at(pos);
      self.check(self.pending.len() + head.len())?;
      let mut line = std::mem::take(&mut self.pending);
      line.extend_from_slice(head);
      out.push(line);
      data = &rest[1..];
    }
    self.check(self.pending.len() + data.len())?;
    self.pending.extend_from_slice(data);
    Ok(())
  }

  fn check(&mut self, len: usize) -> Result<(), FrameError> {
    if len > self.max_message {
      self.pending.clear();
      return Err(FrameError::TooLarge {
        limit: self.max_message,
        seen: len,
      });
    }
    Ok(())
  }
}

/// Splits a byte stream into length-prefixed frames (payloads only).
#[derive(Debug)]
pub struct LengthFramer {
  pending: Vec<u8>,
  max_message: usize,
}

impl LengthFramer {
  pub fn new(max_message: usize) -> Self {
    LengthFramer {
      pending: Vec::new(),
      max_message,
    }
  }

  /// Bytes held for a frame not yet complete (its length field included).
  pub fn buffered(&self) -> usize {
    self.pending.len()
  }

  /// Feeds bytes; returns the complete payloads. After an error the framer
  /// is empty again; the stream cannot be resynchronised.
  pub fn push(&mut self, data: &[u8]) -> Result<Vec<Vec<u8>>, FrameError> {
    let mut frames = Vec::new();
    self.push_into(data, &mut frames)?;
    Ok(frames)
  }

  /// Like [`push`](Self::push), appending the payloads to `frames`; frames
  /// completed before an oversized one are in `frames` when the error
  /// returns.
  pub fn push_into(&mut self, data: &[u8], frames: &mut Vec<Vec<u8>>) -> Result<(), FrameError> {
    self.pending.extend_from_slice(data);
    let mut at = 0;
    while self.pending.len() - at >= 4 {
      let len = u32::from_be_bytes(self.pending[at..at + 4].try_into().expect("4 bytes")) as usize;
      if len > self.max_message {
        self.pending.clear();
        return Err(FrameError::TooLarge {
          limit: self.max_message,
          seen: len,
        });
      }
      if self.pending.len() - at - 4 < len {
        break;
      }
      frames.push(self.pending[at + 4..at + 4 + len].to_vec());
      at += 4 + len;
    }
    self.pending.drain(..at);
    Ok(())
  }
}

/// Encodes one advanced-mode frame.
pub fn length_prefixed(payload: &[u8]) -> Vec<u8> {
  let mut out = Vec::with_capacity(payload.len() + 4);
  out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
  out.extend_from_slice(payload);
  out
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn lines_split_anywhere() {
    let input = b"{\"a\":1}\n{\"b\":\"\xc3\x9f\"}\n{\"c\":3}\n";
    for cut in 0..input.len() {
      let mut f = LineFramer::new(1 << 20);
      let mut got = f.push(&input[..cut]).unwrap();
      got.extend(f.push(&input[cut..]).unwrap());
      assert_eq!(got.len(), 3, "cut at {cut}");
      assert_eq!(got[1], "{\"b\":\"ß\"}".as_bytes());
      assert_eq!(f.buffered(), 0);
    }
  }

  #[test]
  fn endless_line_is_bounded() {
    let mut f = LineFramer::new(16);
    assert!(f.push(&[b'x'; 10]).unwrap().is_empty());
    let err = f.push(&[b'x'; 10]).unwrap_err();
    assert_eq!(
      err,
      FrameError::TooLarge {
        limit: 16,
        seen: 20
      }
    );
    assert_eq!(f.buffered(), 0);
    // The framer is usable again for the next, well-formed message.
    assert_eq!(f.push(b"ok\n").unwrap(), vec![b"ok".to_vec()]);
  }

  #[test]
  fn length_field_split_across_reads() {
    let mut stream = Vec::new();
    for i in 0..10u8 {
      stream.extend(length_prefixed(&vec![i; 65521]));
    }
    for step in [1usize, 3, 4, 5, 4096, 65525] {
      let mut f = LengthFramer::new(1 << 20);
      let mut frames = Vec::new();
      for chunk in stream.chunks(step) {
        frames.extend(f.push(chunk).unwrap());
      }
      assert_eq!(frames.len(), 10, "step {step}");
      for (i, fr) in frames.iter().enumerate() {
        assert_eq!(fr.len(), 65521);
        assert!(fr.iter().all(|&b| b == i as u8));
      }
    }
  }

  #[test]
  fn frames_before_an_oversized_one_are_kept() {
    let mut lines = Vec::new();
    let mut f = LineFramer::new(8);
    let err = f
      .push_into(b"one\ntwo\nfar too long\n", &mut lines)
      .unwrap_err();
    assert_eq!(lines, vec![b"one".to_vec(), b"two".to_vec()]);
    assert_eq!(err, FrameError::TooLarge { limit: 8, seen: 12 });
    let mut frames = Vec::new();
    let mut f = LengthFramer::new(8);
    let input = [length_prefixed(b"ok"), 100u32.to_be_bytes().to_vec()].concat();
    assert!(f.push_into(&input, &mut frames).is_err());
    assert_eq!(frames, vec![b"ok".to_vec()]);
    assert_eq!(f.buffered(), 0);
  }

  #[test]
  fn declared_length_over_limit_errors() {
    let mut f = LengthFramer::new(100);
    let err = f.push(&1000u32.to_be_bytes()).unwrap_err();
    assert_eq!(
      err,
      FrameError::TooLarge {
        limit: 100,
        seen: 1000
      }
    );
  }
}
