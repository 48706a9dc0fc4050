//! The OS layer: thin, typed wrappers over the socket syscalls pipewrap needs.
//!
//! Every function returns `Result<T, i32>` where the error is a negative errno,
//! which is exactly libuv's error convention on Unix (and so Node's).

use std::mem;
use std::os::unix::io::RawFd;

/// Runs a libc call and turns `-1` into `Err(-errno)`. Private to this
/// module: a public macro that calls any libc function would be unsound.
macro_rules! syscall {
  ($fn:ident ( $($arg:expr),* $(,)? )) => {{
    #[allow(clippy::macro_metavars_in_unsafe)]
    // SAFETY: every call site passes pointers to live, correctly sized memory
    // and plain integers, which is all these libc functions require.
    let res = unsafe { libc::$fn($($arg),*) };
    if res == -1 {
      Err(last_errno())
    } else {
      Ok(res)
    }
  }};
}

/// The current `errno`, negated (libuv style).
pub fn last_errno() -> i32 {
  -std::io::Error::last_os_error()
    .raw_os_error()
    .unwrap_or(libc::EIO)
}

/// Where `sun_path` starts in a `sockaddr_un`: after the 2-byte family on
/// Linux, after the `sun_len` and `sun_family` bytes on macOS.
const SUN_PATH_OFFSET: usize = mem::offset_of!(libc::sockaddr_un, sun_path);

/// Room for the name in a `sockaddr_un`: 108 on Linux, 104 on macOS.
pub const SUN_PATH_LEN: usize = mem::size_of::<libc::sockaddr_un>() - SUN_PATH_OFFSET;

/// Whether a leading NUL names a socket in the abstract namespace (Linux
/// only). Elsewhere such a name is a path with a NUL in it, which libuv (and
/// so Node) refuses with EINVAL.
pub const ABSTRACT_NAMES: bool = os::ABSTRACT_NAMES;

/// Builds a `sockaddr_un` for a filesystem path or a Linux abstract name
/// (leading NUL). Abstract names get their exact length, so peers that are not
/// Node (Python, Rust, libuv >= 1.48) see the same name. Paths are never
/// truncated: too long is ENAMETOOLONG. Where abstract names do not exist
/// (macOS), a leading NUL is EINVAL, as libuv says there.
pub fn unix_addr(name: &[u8]) -> Result<(libc::sockaddr_un, libc::socklen_t), i32> {
  if name.is_empty() {
    return Err(-libc::EINVAL);
  }
  let abstract_name = ABSTRACT_NAMES && name[0] == 0;
  if !abstract_name && name.contains(&0) {
    return Err(-libc::EINVAL);
  }
  // A path needs room for its terminating NUL; an abstract name does not.
  let max = if abstract_name {
    SUN_PATH_LEN
  } else {
    SUN_PATH_LEN - 1
  };
  if name.len() > max {
    return Err(-libc::ENAMETOOLONG);
  }
  // SAFETY: sockaddr_un is plain old data; all-zero is a valid value.
  let mut addr: libc::sockaddr_un = unsafe { mem::zeroed() };
  addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
  for (dst, src) in addr.sun_path.iter_mut().zip(name) {
    *dst = *src as libc::c_char;
  }
  let len = if abstract_name {
    SUN_PATH_OFFSET + name.len()
  } else {
    SUN_PATH_OFFSET + name.len() + 1
  };
  os::set_addr_len(&mut addr, len);
  Ok((addr, len as libc::socklen_t))
}

/// A new non-blocking, close-on-exec AF_UNIX stream socket.
pub fn unix_socket() -> Result<RawFd, i32> {
  os::unix_socket()
}

pub fn bind(fd: RawFd, name: &[u8]) -> Result<(), i32> {
  let (addr, len) = unix_addr(name)?;
  syscall!(bind(fd, &addr as *const _ as *const libc::sockaddr, len)).map(drop)
}

pub fn listen(fd: RawFd, backlog: i32) -> Result<(), i32> {
  syscall!(listen(fd, backlog)).map(drop)
}

/// Connects, retrying on EINTR. EINPROGRESS comes back as an error for the
/// caller to wait on.
pub fn connect(fd: RawFd, name: &[u8]) -> Result<(), i32> {
  let (addr, len) = unix_addr(name)?;
  loop {
    match syscall!(connect(fd, &addr as *const _ as *const libc::sockaddr, len)) {
      Err(e) if e == -libc::EINTR => continue,
      other => return other.map(drop),
    }
  }
}

/// A connection from the listening socket `fd`: non-blocking, close-on-exec.
pub fn accept(fd: RawFd) -> Result<RawFd, i32> {
  os::accept(fd)
}

pub fn read(fd: RawFd, buf: &mut [u8]) -> Result<usize, i32> {
  syscall!(read(fd, buf.as_mut_ptr().cast(), buf.len())).map(|n| n as usize)
}

/// Bytes waiting to be read on a stream socket (FIONREAD).
pub fn bytes_available(fd: RawFd) -> Result<usize, i32> {
  let mut n: libc::c_int = 0;
  syscall!(ioctl(fd, libc::FIONREAD, &mut n as *mut libc::c_int)).map(|_| n.max(0) as usize)
}

pub fn writev(fd: RawFd, iov: &[libc::iovec]) -> Result<usize, i32> {
  let n = iov.len().min(os::IOV_MAX) as libc::c_int;
  syscall!(writev(fd, iov.as_ptr(), n)).map(|n| n as usize)
}

pub fn write(fd: RawFd, buf: &[u8]) -> Result<usize, i32> {
  syscall!(write(fd, buf.as_ptr().cast(), buf.len())).map(|n| n as usize)
}

/// Control-message space for up to `n` fds.
fn cmsg_space(n: usize) -> usize {
  // SAFETY: CMSG_SPACE is a pure size computation.
  unsafe { libc::CMSG_SPACE((n * mem::size_of::<RawFd>()) as u32) as usize }
}

/// Sends `buf` with the fds riding along as one SCM_RIGHTS record.
pub fn send_with_fds(fd: RawFd, buf: &[u8], fds: &[RawFd]) -> Result<usize, i32> {
  let mut iov = libc::iovec {
    iov_base: buf.as_ptr() as *mut libc::c_void,
    iov_len: buf.len(),
  };
  let mut control = vec![0u8; cmsg_space(fds.len())];
  // SAFETY: msghdr is plain old data; all-zero is valid.
  let mut msg: libc::msghdr = unsafe { mem::zeroed() };
  msg.msg_iov = &mut iov;
  msg.msg_iovlen = 1;
  if !fds.is_empty() {
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = control.len() as _;
    // SAFETY: msg_control points at a buffer of CMSG_SPACE(len) bytes, so the
    // first header and its data fit.
    unsafe {
      let cmsg = libc::CMSG_FIRSTHDR(&msg);
      (*cmsg).cmsg_level = libc::SOL_SOCKET;
      (*cmsg).cmsg_type = libc::SCM_RIGHTS;
      (*cmsg).cmsg_len = libc::CMSG_LEN(mem::size_of_val(fds) as u32) as _;
      std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(cmsg) as *mut RawFd, fds.len());
    }
  }
  loop {
    match syscall!(sendmsg(fd, &msg, libc::MSG_NOSIGNAL)) {
      Err(e) if e == -libc::EINTR => continue,
      other => return other.map(|n| n as usize),
    }
  }
}

/// Most fds taken from one read (libuv's limit too).
pub const MAX_FDS_PER_READ: usize = 64;

/// Reads data and any SCM_RIGHTS fds (made close-on-exec by the kernel on
/// Linux, right after the read on macOS).
/// Received fds are appended to `fds` even when the read itself carries
/// the error, so none leaks.
pub fn recv_with_fds(fd: RawFd, buf: &mut [u8], fds: &mut Vec<RawFd>) -> Result<usize, i32> {
  let mut iov = libc::iovec {
    iov_base: buf.as_mut_ptr().cast(),
    iov_len: buf.len(),
  };
  let mut control = [0u64; 64 * mem::size_of::<RawFd>() / 8 + 8];
  // SAFETY: msghdr is plain old data; all-zero is valid.
  let mut msg: libc::msghdr = unsafe { mem::zeroed() };
  msg.msg_iov = &mut iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.as_mut_ptr().cast();
  msg.msg_controllen = cmsg_space(MAX_FDS_PER_READ).min(mem::size_of_val(&control)) as _;
  let n = loop {
    match syscall!(recvmsg(fd, &mut msg, os::RECV_FLAGS)) {
      Err(e) if e == -libc::EINTR => continue,
      other => break other?,
    }
  };
  // SAFETY: the kernel filled msg_control with msg_controllen bytes of
  // well-formed cmsg records; CMSG_* walk exactly those.
  unsafe {
    let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
    while !cmsg.is_null() {
      if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
        let data = libc::CMSG_DATA(cmsg) as *const RawFd;
        let bytes = (*cmsg).cmsg_len as usize - (data as usize - cmsg as usize);
        for i in 0..bytes / mem::size_of::<RawFd>() {
          let received = std::ptr::read_unaligned(data.add(i));
          os::received_fd(received);
          fds.push(received);
        }
      }
      cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
    }
  }
  Ok(n as usize)
}

/// A close-on-exec duplicate of `fd`, owned by the caller: a queued
/// `sendFds` keeps its own copy, so the caller closing (and the process
/// reusing) the number before the write flushes cannot send another file.
/// An fd that is not open is `EBADF`.
pub fn dup_cloexec(fd: RawFd) -> Result<std::os::fd::OwnedFd, i32> {
  if fd < 0 {
    return Err(-libc::EBADF);
  }
  let copy = syscall!(fcntl(fd, libc::F_DUPFD_CLOEXEC, 0))?;
  // SAFETY: fcntl(F_DUPFD_CLOEXEC) just returned this fd; nothing else owns it.
  Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(copy) })
}

pub fn shutdown_write(fd: RawFd) -> Result<(), i32> {
  syscall!(shutdown(fd, libc::SHUT_WR)).map(drop)
}

pub fn close(fd: RawFd) {
  // Nothing useful can be done about a failed close (Linux frees the fd
  // anyway), so the result is ignored on purpose.
  let _ = syscall!(close(fd));
}

pub fn set_nonblocking(fd: RawFd, on: bool) -> Result<(), i32> {
  let flags = syscall!(fcntl(fd, libc::F_GETFL))?;
  let want = if on {
    flags | libc::O_NONBLOCK
  } else {
    flags & !libc::O_NONBLOCK
  };
  if want != flags {
    syscall!(fcntl(fd, libc::F_SETFL, want))?;
  }
  Ok(())
}

/// `O_ACCMODE` of an fd, or EBADF.
pub fn access_mode(fd: RawFd) -> Result<i32, i32> {
  syscall!(fcntl(fd, libc::F_GETFL)).map(|f| f & libc::O_ACCMODE)
}

fn getsockopt_int(fd: RawFd, level: i32, name: i32) -> Result<i32, i32> {
  let mut val: libc::c_int = 0;
  let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
  syscall!(getsockopt(
    fd,
    level,
    name,
    &mut val as *mut _ as *mut libc::c_void,
    &mut len
  ))?;
  Ok(val)
}

/// The pending error of a socket (for a finished non-blocking connect).
pub fn socket_error(fd: RawFd) -> i32 {
  match getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_ERROR) {
    Ok(e) => -e,
    Err(e) => e,
  }
}

/// What kind of fd this is, for handles received over a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FdKind {
  UnixStream,
  Tcp,
  Udp,
  Other,
}

pub fn fd_kind(fd: RawFd) -> FdKind {
  let domain = os::socket_domain(fd);
  let ty = getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_TYPE);
  match (domain, ty) {
    (Ok(libc::AF_UNIX), Ok(libc::SOCK_STREAM)) => FdKind::UnixStream,
    (Ok(libc::AF_INET | libc::AF_INET6), Ok(libc::SOCK_STREAM)) => FdKind::Tcp,
    (Ok(libc::AF_INET | libc::AF_INET6), Ok(libc::SOCK_DGRAM)) => FdKind::Udp,
    _ => FdKind::Other,
  }
}

/// Who is at the other end of a Unix socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerCredentials {
  pub pid: libc::pid_t,
  pub uid: libc::uid_t,
  pub gid: libc::gid_t,
}

/// Credentials of the process at the other end: SO_PEERCRED on Linux;
/// `getpeereid` (uid, gid) and LOCAL_PEERPID (pid) on macOS.
pub fn peer_credentials(fd: RawFd) -> Result<PeerCredentials, i32> {
  os::peer_credentials(fd)
}

/// A connected pair of AF_UNIX stream sockets, close-on-exec, blocking.
pub fn socketpair() -> Result<[RawFd; 2], i32> {
  os::socketpair()
}

/// The name a socket is bound to (bytes, abstract names keep their NUL).
pub fn socket_name(fd: RawFd) -> Result<Vec<u8>, i32> {
  // SAFETY: sockaddr_un is plain old data; all-zero is valid.
  let mut addr: libc::sockaddr_un = unsafe { mem::zeroed() };
  let mut len = mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
  syscall!(getsockname(
    fd,
    &mut addr as *mut _ as *mut libc::sockaddr,
    &mut len
  ))?;
  let n = (len as usize)
    .saturating_sub(SUN_PATH_OFFSET)
    .min(SUN_PATH_LEN);
  let mut name: Vec<u8> = addr.sun_path[..n].iter().map(|&c| c as u8).collect();
  // Only an abstract name keeps NULs; a path ends at its first one (macOS
  // pads even an unbound socket's name with zeros).
  if !(ABSTRACT_NAMES && name.first() == Some(&0)) {
    if let Some(end) = name.iter().position(|&b| b == 0) {
      name.truncate(end);
    }
  }
  Ok(name)
}

/// Tries a connect to `name` without waiting: 0 when something accepted (or
/// its backlog is full: -EAGAIN), else the negative errno (ECONNREFUSED for a
/// stale socket file).
pub fn probe(name: &[u8]) -> i32 {
  let fd = match unix_socket() {
    Ok(fd) => fd,
    Err(e) => return e,
  };
  let res = match connect(fd, name) {
    Ok(()) => 0,
    Err(e) if e == -libc::EINPROGRESS => 0,
    Err(e) => e,
  };
  close(fd);
  res
}

/// Permission bits of the file at `path`.
pub fn file_mode(path: &std::ffi::CStr) -> Result<u32, i32> {
  // SAFETY: stat is plain old data; all-zero is valid.
  let mut st: libc::stat = unsafe { mem::zeroed() };
  syscall!(stat(path.as_ptr(), &mut st))?;
  Ok(os::mode_bits(st.st_mode) & 0o7777)
}

/// Removes the file at `path` (a bound socket's name); errors are ignored:
/// the name may be gone already.
pub fn unlink(path: &[u8]) {
  if let Ok(c) = std::ffi::CString::new(path) {
    let _ = syscall!(unlink(c.as_ptr()));
  }
}

pub fn chmod(path: &std::ffi::CStr, mode: u32) -> Result<(), i32> {
  syscall!(chmod(path.as_ptr(), os::to_mode(mode)?)).map(drop)
}

// Everything that differs between the platforms, in one place. Linux has the
// atomic flags (SOCK_CLOEXEC, accept4, MSG_CMSG_CLOEXEC) and SO_PEERCRED;
// macOS sets close-on-exec and non-blocking with fcntl right after the call,
// as libuv does there, so a fork+exec on another thread in between could
// inherit the fd (nothing in Node execs without its own fd cleanup).

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
compile_error!("pipewrap-core supports Linux and macOS");

#[cfg(target_os = "linux")]
mod os {
  use super::{getsockopt_int, last_errno, PeerCredentials};
  use std::mem;
  use std::os::unix::io::RawFd;

  pub const ABSTRACT_NAMES: bool = true;
  pub const IOV_MAX: usize = libc::UIO_MAXIOV as usize;
  /// Received fds are close-on-exec from the kernel, atomically.
  pub const RECV_FLAGS: libc::c_int = libc::MSG_CMSG_CLOEXEC;

  /// Linux's `sockaddr_un` has no length field.
  pub fn set_addr_len(_addr: &mut libc::sockaddr_un, _len: usize) {}

  pub fn received_fd(_fd: RawFd) {}

  pub fn unix_socket() -> Result<RawFd, i32> {
    syscall!(socket(
      libc::AF_UNIX,
      libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
      0
    ))
  }

  pub fn accept(fd: RawFd) -> Result<RawFd, i32> {
    syscall!(accept4(
      fd,
      std::ptr::null_mut(),
      std::ptr::null_mut(),
      libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC
    ))
  }

  pub fn socketpair() -> Result<[RawFd; 2], i32> {
    let mut fds = [-1; 2];
    syscall!(socketpair(
      libc::AF_UNIX,
      libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
      0,
      fds.as_mut_ptr()
    ))?;
    Ok(fds)
  }

  pub fn socket_domain(fd: RawFd) -> Result<i32, i32> {
    getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_DOMAIN)
  }

  pub fn peer_credentials(fd: RawFd) -> Result<PeerCredentials, i32> {
    // SAFETY: ucred is plain old data; all-zero is valid.
    let mut cred: libc::ucred = unsafe { mem::zeroed() };
    let mut len = mem::size_of::<libc::ucred>() as libc::socklen_t;
    syscall!(getsockopt(
      fd,
      libc::SOL_SOCKET,
      libc::SO_PEERCRED,
      &mut cred as *mut _ as *mut libc::c_void,
      &mut len
    ))?;
    Ok(PeerCredentials {
      pid: cred.pid,
      uid: cred.uid,
      gid: cred.gid,
    })
  }

  /// `mode_t` is 32 bits here.
  pub fn mode_bits(mode: libc::mode_t) -> u32 {
    mode
  }

  pub fn to_mode(mode: u32) -> Result<libc::mode_t, i32> {
    Ok(mode)
  }
}

#[cfg(target_os = "macos")]
mod os {
  use super::{close, last_errno, set_nonblocking, PeerCredentials};
  use std::mem;
  use std::os::unix::io::RawFd;

  pub const ABSTRACT_NAMES: bool = false;
  /// `IOV_MAX` from <limits.h> (1024).
  pub const IOV_MAX: usize = libc::IOV_MAX as usize;
  /// No MSG_CMSG_CLOEXEC: `received_fd` marks each fd after the read.
  pub const RECV_FLAGS: libc::c_int = 0;

  /// BSD's `sockaddr_un` starts with its own length.
  pub fn set_addr_len(addr: &mut libc::sockaddr_un, len: usize) {
    addr.sun_len = len as u8;
  }

  fn set_cloexec(fd: RawFd) -> Result<(), i32> {
    syscall!(fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC)).map(drop)
  }

  pub fn received_fd(fd: RawFd) {
    // A failure here leaves a valid fd that is only inheritable; the caller
    // still gets (and closes) it, so none leaks.
    let _ = set_cloexec(fd);
  }

  /// Close-on-exec, optionally non-blocking, and no SIGPIPE on a write to a
  /// closed peer (macOS has no MSG_NOSIGNAL for write/writev); the fd is
  /// closed if any of it fails.
  fn own(fd: RawFd, nonblocking: bool) -> Result<RawFd, i32> {
    let one: libc::c_int = 1;
    let res = set_cloexec(fd)
      .and_then(|()| {
        if nonblocking {
          set_nonblocking(fd, true)
        } else {
          Ok(())
        }
      })
      .and_then(|()| {
        syscall!(setsockopt(
          fd,
          libc::SOL_SOCKET,
          libc::SO_NOSIGPIPE,
          &one as *const _ as *const libc::c_void,
          mem::size_of::<libc::c_int>() as libc::socklen_t
        ))
        .map(drop)
      });
    match res {
      Ok(()) => Ok(fd),
      Err(e) => {
        close(fd);
        Err(e)
      }
    }
  }

  pub fn unix_socket() -> Result<RawFd, i32> {
    own(syscall!(socket(libc::AF_UNIX, libc::SOCK_STREAM, 0))?, true)
  }

  pub fn accept(fd: RawFd) -> Result<RawFd, i32> {
    let conn = syscall!(accept(fd, std::ptr::null_mut(), std::ptr::null_mut()))?;
    own(conn, true)
  }

  pub fn socketpair() -> Result<[RawFd; 2], i32> {
    let mut fds = [-1; 2];
    syscall!(socketpair(
      libc::AF_UNIX,
      libc::SOCK_STREAM,
      0,
      fds.as_mut_ptr()
    ))?;
    if let Err(e) = own(fds[0], false) {
      close(fds[1]);
      return Err(e);
    }
    if let Err(e) = own(fds[1], false) {
      close(fds[0]);
      return Err(e);
    }
    Ok(fds)
  }

  /// No SO_DOMAIN: the family of the socket's own address, as libuv's
  /// `uv_guess_handle` does on macOS.
  pub fn socket_domain(fd: RawFd) -> Result<i32, i32> {
    // SAFETY: sockaddr_storage is plain old data; all-zero is valid.
    let mut ss: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let mut len = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    syscall!(getsockname(
      fd,
      &mut ss as *mut _ as *mut libc::sockaddr,
      &mut len
    ))?;
    Ok(i32::from(ss.ss_family))
  }

  pub fn peer_credentials(fd: RawFd) -> Result<PeerCredentials, i32> {
    let mut uid: libc::uid_t = 0;
    let mut gid: libc::gid_t = 0;
    syscall!(getpeereid(fd, &mut uid, &mut gid))?;
    let mut pid: libc::pid_t = 0;
    let mut len = mem::size_of::<libc::pid_t>() as libc::socklen_t;
    syscall!(getsockopt(
      fd,
      libc::SOL_LOCAL,
      libc::LOCAL_PEERPID,
      &mut pid as *mut _ as *mut libc::c_void,
      &mut len
    ))?;
    Ok(PeerCredentials { pid, uid, gid })
  }

  /// `mode_t` is 16 bits here.
  pub fn mode_bits(mode: libc::mode_t) -> u32 {
    u32::from(mode)
  }

  pub fn to_mode(mode: u32) -> Result<libc::mode_t, i32> {
    libc::mode_t::try_from(mode).map_err(|_| -libc::EINVAL)
  }
}
