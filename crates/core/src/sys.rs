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

/// Room for the name in a `sockaddr_un` (108 on Linux).
pub const SUN_PATH_LEN: usize = 108;

/// Builds a `sockaddr_un` for a filesystem path or a Linux abstract name
/// (leading NUL). Abstract names get their exact length, so peers that are not
/// Node (Python, Rust, libuv >= 1.48) see the same name. Paths are never
/// truncated: too long is ENAMETOOLONG.
pub fn unix_addr(name: &[u8]) -> Result<(libc::sockaddr_un, libc::socklen_t), i32> {
  if name.is_empty() {
    return Err(-libc::EINVAL);
  }
  let abstract_name = name[0] == 0;
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
  let base = mem::size_of::<libc::sa_family_t>();
  let len = if abstract_name {
    base + name.len()
  } else {
    base + name.len() + 1
  };
  Ok((addr, len as libc::socklen_t))
}

/// A new non-blocking, close-on-exec AF_UNIX stream socket.
pub fn unix_socket() -> Result<RawFd, i32> {
  syscall!(socket(
    libc::AF_UNIX,
    libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
    0
  ))
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

pub fn accept(fd: RawFd) -> Result<RawFd, i32> {
  syscall!(accept4(
    fd,
    std::ptr::null_mut(),
    std::ptr::null_mut(),
    libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC
  ))
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
  let n = iov.len().min(libc::UIO_MAXIOV as usize) as libc::c_int;
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

/// Reads data and any SCM_RIGHTS fds (made close-on-exec by the kernel).
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
    match syscall!(recvmsg(fd, &mut msg, libc::MSG_CMSG_CLOEXEC)) {
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
          fds.push(std::ptr::read_unaligned(data.add(i)));
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
  let domain = getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_DOMAIN);
  let ty = getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_TYPE);
  match (domain, ty) {
    (Ok(libc::AF_UNIX), Ok(libc::SOCK_STREAM)) => FdKind::UnixStream,
    (Ok(libc::AF_INET | libc::AF_INET6), Ok(libc::SOCK_STREAM)) => FdKind::Tcp,
    (Ok(libc::AF_INET | libc::AF_INET6), Ok(libc::SOCK_DGRAM)) => FdKind::Udp,
    _ => FdKind::Other,
  }
}

/// Credentials of the process at the other end (SO_PEERCRED).
pub fn peer_credentials(fd: RawFd) -> Result<libc::ucred, i32> {
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
  Ok(cred)
}

/// A connected pair of AF_UNIX stream sockets, close-on-exec, blocking.
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
  let base = mem::size_of::<libc::sa_family_t>();
  let n = (len as usize).saturating_sub(base).min(SUN_PATH_LEN);
  let mut name: Vec<u8> = addr.sun_path[..n].iter().map(|&c| c as u8).collect();
  if name.first() != Some(&0) {
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
  Ok(st.st_mode & 0o7777)
}

/// Removes the file at `path` (a bound socket's name); errors are ignored:
/// the name may be gone already.
pub fn unlink(path: &[u8]) {
  if let Ok(c) = std::ffi::CString::new(path) {
    let _ = syscall!(unlink(c.as_ptr()));
  }
}

pub fn chmod(path: &std::ffi::CStr, mode: u32) -> Result<(), i32> {
  syscall!(chmod(path.as_ptr(), mode)).map(drop)
}
