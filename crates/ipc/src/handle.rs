//! Handles (sockets and servers) passed over the channel with SCM_RIGHTS,
//! under Node's `NODE_HANDLE` / `NODE_HANDLE_ACK` / `NODE_HANDLE_NACK`
//! protocol.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use pipewrap_core::sys::{self, FdKind};

use crate::Error;

/// A handle received from Node: the fd that came with a `NODE_HANDLE`
/// message and the `type` Node gave it (`'net.Socket'`, `'net.Server'`,
/// `'net.Native'`, `'dgram.Socket'`, `'dgram.Native'`).
///
/// Dropping it closes the fd. The conversions need a tokio runtime (they
/// register the socket with it).
#[derive(Debug)]
pub struct Handle {
  wire_type: String,
  fd: OwnedFd,
}

/// A received handle as the tokio type its fd and wire type call for.
#[derive(Debug)]
#[non_exhaustive]
pub enum Socket {
  /// A `net.Socket` (or raw `Pipe`) on a Unix socket.
  UnixStream(tokio::net::UnixStream),
  /// A `net.Socket` (or raw `TCP` handle) on a TCP connection.
  TcpStream(tokio::net::TcpStream),
  /// A listening `net.Server` on a Unix socket.
  UnixListener(tokio::net::UnixListener),
  /// A listening `net.Server` on TCP.
  TcpListener(tokio::net::TcpListener),
  /// A `dgram.Socket`.
  UdpSocket(tokio::net::UdpSocket),
}

fn is_listening(fd: BorrowedFd<'_>) -> bool {
  let mut val: libc::c_int = 0;
  let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
  // SAFETY: getsockopt writes at most `len` bytes into `val`, an int.
  let rc = unsafe {
    libc::getsockopt(
      fd.as_raw_fd(),
      libc::SOL_SOCKET,
      libc::SO_ACCEPTCONN,
      (&mut val as *mut libc::c_int).cast(),
      &mut len,
    )
  };
  rc == 0 && val != 0
}

fn nonblocking(fd: &OwnedFd) -> Result<(), Error> {
  sys::set_nonblocking(fd.as_raw_fd(), true)
    .map_err(|e| Error::Io(std::io::Error::from_raw_os_error(-e)))
}

impl Handle {
  pub(crate) fn new(wire_type: String, fd: OwnedFd) -> Self {
    Handle { wire_type, fd }
  }

  /// The `type` field of the `NODE_HANDLE` message.
  pub fn wire_type(&self) -> &str {
    &self.wire_type
  }

  /// The fd itself (close-on-exec).
  pub fn into_fd(self) -> OwnedFd {
    self.fd
  }

  /// The tokio socket for this handle: by wire type (`net.Server` is a
  /// listener, `net.Socket` a stream, `dgram.*` a UDP socket; `net.Native`
  /// by whether the socket listens), and by the fd's address family.
  pub fn into_socket(self) -> Result<Socket, Error> {
    let kind = sys::fd_kind(self.fd.as_raw_fd());
    let listening = is_listening(self.fd.as_fd());
    let want_listener = match self.wire_type.as_str() {
      "net.Server" => true,
      "net.Socket" => false,
      "net.Native" => listening,
      "dgram.Socket" | "dgram.Native" => {
        return self.into_udp_socket().map(Socket::UdpSocket);
      }
      other => {
        return Err(Error::InvalidHandle(format!(
          "unknown handle type {other:?}"
        )))
      }
    };
    match (kind, want_listener) {
      (FdKind::UnixStream, false) => self.into_unix_stream().map(Socket::UnixStream),
      (FdKind::UnixStream, true) => self.into_unix_listener().map(Socket::UnixListener),
      (FdKind::Tcp, false) => self.into_tcp_stream().map(Socket::TcpStream),
      (FdKind::Tcp, true) => self.into_tcp_listener().map(Socket::TcpListener),
      (k, _) => Err(Error::InvalidHandle(format!(
        "a {} handle whose fd is {k:?}",
        self.wire_type
      ))),
    }
  }

  fn check(&self, want: FdKind, listening: bool, what: &str) -> Result<(), Error> {
    let kind = sys::fd_kind(self.fd.as_raw_fd());
    if kind != want || (want != FdKind::Udp && is_listening(self.fd.as_fd()) != listening) {
      return Err(Error::InvalidHandle(format!(
        "the {} handle is not a {what} (fd is {kind:?})",
        self.wire_type
      )));
    }
    nonblocking(&self.fd)
  }

  /// A connected Unix stream socket (`net.Socket` over a pipe).
  pub fn into_unix_stream(self) -> Result<tokio::net::UnixStream, Error> {
    self.check(FdKind::UnixStream, false, "connected Unix socket")?;
    Ok(tokio::net::UnixStream::from_std(self.fd.into())?)
  }

  /// A listening Unix socket (`net.Server` on a path).
  pub fn into_unix_listener(self) -> Result<tokio::net::UnixListener, Error> {
    self.check(FdKind::UnixStream, true, "listening Unix socket")?;
    Ok(tokio::net::UnixListener::from_std(self.fd.into())?)
  }

  /// A TCP connection (`net.Socket`).
  pub fn into_tcp_stream(self) -> Result<tokio::net::TcpStream, Error> {
    self.check(FdKind::Tcp, false, "TCP connection")?;
    Ok(tokio::net::TcpStream::from_std(self.fd.into())?)
  }

  /// A listening TCP socket (`net.Server` on a port).
  pub fn into_tcp_listener(self) -> Result<tokio::net::TcpListener, Error> {
    self.check(FdKind::Tcp, true, "listening TCP socket")?;
    Ok(tokio::net::TcpListener::from_std(self.fd.into())?)
  }

  /// A UDP socket (`dgram.Socket`).
  pub fn into_udp_socket(self) -> Result<tokio::net::UdpSocket, Error> {
    self.check(FdKind::Udp, false, "UDP socket")?;
    Ok(tokio::net::UdpSocket::from_std(self.fd.into())?)
  }
}

impl AsFd for Handle {
  fn as_fd(&self) -> BorrowedFd<'_> {
    self.fd.as_fd()
  }
}

/// A socket to hand to Node with
/// [`Channel::send_with_handle`](crate::Channel::send_with_handle). It is
/// moved: this side closes its copy once Node acknowledges it, as Node does
/// for a `net.Socket` sent without `keepOpen` (send a `try_clone` /
/// `dup` to keep using it here).
///
/// Node sees a stream as a `net.Socket`, a listener as a listening
/// `net.Server`, a UDP socket as a bound `dgram.Socket`.
#[derive(Debug)]
pub struct SendHandle {
  pub(crate) wire_type: &'static str,
  pub(crate) dgram_type: Option<&'static str>,
  pub(crate) fd: OwnedFd,
}

impl SendHandle {
  fn new(wire_type: &'static str, fd: OwnedFd) -> Self {
    SendHandle {
      wire_type,
      dgram_type: None,
      fd,
    }
  }

  /// Any stream, listening or UDP socket fd, typed by what it is (Node
  /// aborts on an fd that is not a socket, so anything else is refused).
  pub fn from_fd(fd: OwnedFd) -> Result<Self, Error> {
    let kind = sys::fd_kind(fd.as_raw_fd());
    let listening = is_listening(fd.as_fd());
    match kind {
      FdKind::UnixStream | FdKind::Tcp if listening => Ok(SendHandle::new("net.Server", fd)),
      FdKind::UnixStream | FdKind::Tcp => Ok(SendHandle::new("net.Socket", fd)),
      FdKind::Udp => Ok(udp(fd)),
      FdKind::Other => Err(Error::InvalidHandle(
        "only stream, listening and UDP sockets can be sent to Node".into(),
      )),
    }
  }

  /// The wire type Node will see (`'net.Socket'`, `'net.Server'`, `'dgram.Socket'`).
  pub fn wire_type(&self) -> &'static str {
    self.wire_type
  }
}

fn udp(fd: OwnedFd) -> SendHandle {
  let mut storage: libc::sockaddr_storage = unsafe_zeroed();
  let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
  // SAFETY: getsockname writes at most `len` bytes into `storage`.
  let rc = unsafe {
    libc::getsockname(
      fd.as_raw_fd(),
      (&mut storage as *mut libc::sockaddr_storage).cast(),
      &mut len,
    )
  };
  let v6 = rc == 0 && i32::from(storage.ss_family) == libc::AF_INET6;
  SendHandle {
    wire_type: "dgram.Socket",
    dgram_type: Some(if v6 { "udp6" } else { "udp4" }),
    fd,
  }
}

fn unsafe_zeroed() -> libc::sockaddr_storage {
  // SAFETY: sockaddr_storage is plain old data; all-zero is valid.
  unsafe { std::mem::zeroed() }
}

macro_rules! from_tokio {
  ($($ty:ty => $wire:expr),* $(,)?) => {$(
    impl TryFrom<$ty> for SendHandle {
      type Error = Error;
      fn try_from(s: $ty) -> Result<Self, Error> {
        Ok(SendHandle::new($wire, OwnedFd::from(s.into_std()?)))
      }
    }
  )*};
}

from_tokio! {
  tokio::net::UnixStream => "net.Socket",
  tokio::net::TcpStream => "net.Socket",
  tokio::net::UnixListener => "net.Server",
  tokio::net::TcpListener => "net.Server",
}

impl TryFrom<tokio::net::UdpSocket> for SendHandle {
  type Error = Error;
  fn try_from(s: tokio::net::UdpSocket) -> Result<Self, Error> {
    Ok(udp(OwnedFd::from(s.into_std()?)))
  }
}

macro_rules! from_std {
  ($($ty:ty => $wire:expr),* $(,)?) => {$(
    impl TryFrom<$ty> for SendHandle {
      type Error = Error;
      fn try_from(s: $ty) -> Result<Self, Error> {
        Ok(SendHandle::new($wire, OwnedFd::from(s)))
      }
    }
  )*};
}

from_std! {
  std::os::unix::net::UnixStream => "net.Socket",
  std::net::TcpStream => "net.Socket",
  std::os::unix::net::UnixListener => "net.Server",
  std::net::TcpListener => "net.Server",
}

impl TryFrom<std::net::UdpSocket> for SendHandle {
  type Error = Error;
  fn try_from(s: std::net::UdpSocket) -> Result<Self, Error> {
    Ok(udp(OwnedFd::from(s)))
  }
}

impl TryFrom<OwnedFd> for SendHandle {
  type Error = Error;
  fn try_from(fd: OwnedFd) -> Result<Self, Error> {
    SendHandle::from_fd(fd)
  }
}
