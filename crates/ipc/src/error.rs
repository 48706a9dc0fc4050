use std::fmt;
use std::io;

use crate::v8::DecodeError;

/// Everything that can go wrong on a [`Channel`](crate::Channel).
///
/// Per-message errors ([`Error::Json`], [`Error::Advanced`]) leave the
/// channel usable: the next `recv` reads the next message. [`Error::TooLarge`]
/// ends the channel (a stream cannot be resynchronised past a message it
/// did not read), as do I/O errors.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
  /// A system call on the channel failed.
  Io(io::Error),
  /// `NODE_CHANNEL_FD` / `NODE_CHANNEL_SERIALIZATION_MODE` missing or
  /// invalid, or the fd is not a socket.
  Env(String),
  /// A json-mode message could not be encoded or decoded (into the type
  /// asked for).
  Json(serde_json::Error),
  /// An advanced-mode (V8 format) message could not be encoded or decoded.
  Advanced(DecodeError),
  /// An incoming message is larger than
  /// [`Options::max_message_size`](crate::Options::max_message_size); the
  /// channel is closed.
  TooLarge {
    /// Bytes of the message seen (at least).
    size: usize,
    /// The limit.
    limit: usize,
  },
  /// The channel is closed (the peer disconnected or exited, or this side
  /// disconnected); nothing more can be sent.
  Disconnected,
  /// The peer answered `NODE_HANDLE_NACK` to a handle 3 times (Node's
  /// retransmission limit); the handle was closed.
  HandleNotReceived,
  /// The fd cannot be sent as a handle or turned into the type asked for.
  InvalidHandle(String),
}

impl fmt::Display for Error {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match self {
      Error::Io(e) => write!(f, "IPC channel I/O error: {e}"),
      Error::Env(msg) => write!(f, "no usable Node IPC channel: {msg}"),
      Error::Json(e) => write!(f, "bad IPC message (json): {e}"),
      Error::Advanced(e) => write!(f, "bad IPC message (advanced): {e}"),
      Error::TooLarge { size, limit } => write!(
        f,
        "IPC message of at least {size} bytes exceeds maxMessageSize ({limit} bytes); channel closed"
      ),
      Error::Disconnected => f.write_str("IPC channel closed"),
      Error::HandleNotReceived => f.write_str("the peer did not receive the handle (NODE_HANDLE_NACK 3 times)"),
      Error::InvalidHandle(msg) => write!(f, "invalid handle: {msg}"),
    }
  }
}

impl std::error::Error for Error {
  fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
    match self {
      Error::Io(e) => Some(e),
      Error::Json(e) => Some(e),
      Error::Advanced(e) => Some(e),
      _ => None,
    }
  }
}

impl From<io::Error> for Error {
  fn from(e: io::Error) -> Self {
    Error::Io(e)
  }
}

impl From<serde_json::Error> for Error {
  fn from(e: serde_json::Error) -> Self {
    Error::Json(e)
  }
}

impl From<DecodeError> for Error {
  fn from(e: DecodeError) -> Self {
    Error::Advanced(e)
  }
}

impl Error {
  /// Whether this error concerned one message only (the channel goes on).
  pub fn is_message_error(&self) -> bool {
    matches!(self, Error::Json(_) | Error::Advanced(_))
  }
}
