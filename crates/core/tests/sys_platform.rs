//! The platform-dependent parts of `sys` (the `os` module there): address
//! sizes, the flags every new fd gets, peer credentials, fd kinds, mode bits
//! and the writev clamp. Each test runs on Linux (x64 here, arm64 under
//! qemu in `npm run test:arm64`); the macOS expectations compile in CI's
//! darwin check and run only on a Mac.

use std::os::unix::io::RawFd;
use std::path::PathBuf;

use pipewrap_core::sys;

fn temp_dir(tag: &str) -> PathBuf {
  let dir = std::env::temp_dir().join(format!("pws-{tag}-{}", std::process::id()));
  let _ = std::fs::remove_dir_all(&dir);
  std::fs::create_dir_all(&dir).unwrap();
  dir
}

fn fd_flags(fd: RawFd) -> (bool, bool) {
  // SAFETY: plain fcntl queries on an fd the caller owns.
  let (fd_flags, fl_flags) = unsafe {
    (
      libc::fcntl(fd, libc::F_GETFD),
      libc::fcntl(fd, libc::F_GETFL),
    )
  };
  assert!(fd_flags >= 0 && fl_flags >= 0, "fcntl on {fd}");
  (
    fd_flags & libc::FD_CLOEXEC != 0,
    fl_flags & libc::O_NONBLOCK != 0,
  )
}

fn sun_path_offset() -> usize {
  std::mem::offset_of!(libc::sockaddr_un, sun_path)
}

#[test]
fn sun_path_is_the_platform_size() {
  #[cfg(target_os = "linux")]
  assert_eq!(sys::SUN_PATH_LEN, 108);
  #[cfg(target_os = "macos")]
  assert_eq!(sys::SUN_PATH_LEN, 104);
  // SAFETY: sockaddr_un is plain old data; all-zero is valid.
  let addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
  assert_eq!(sys::SUN_PATH_LEN, addr.sun_path.len());
}

#[test]
fn longest_path_binds_and_reads_back_exactly() {
  let dir = temp_dir("long");
  let prefix = dir.as_os_str().as_encoded_bytes().len() + 1;
  let max = sys::SUN_PATH_LEN - 1;
  assert!(
    prefix < max,
    "temp dir too long for this test: {}",
    dir.display()
  );
  let path = dir.join("s".repeat(max - prefix));
  let name = path.as_os_str().as_encoded_bytes().to_vec();
  assert_eq!(name.len(), max);

  let (_, len) = sys::unix_addr(&name).unwrap();
  assert_eq!(
    len as usize,
    sun_path_offset() + max + 1,
    "path plus its NUL"
  );
  let mut too_long = name.clone();
  too_long.push(b's');
  assert_eq!(sys::unix_addr(&too_long).unwrap_err(), -libc::ENAMETOOLONG);

  let fd = sys::unix_socket().unwrap();
  sys::bind(fd, &name).unwrap();
  assert_eq!(sys::socket_name(fd).unwrap(), name);
  sys::close(fd);
  std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn unbound_socket_has_an_empty_name() {
  let fd = sys::unix_socket().unwrap();
  assert_eq!(sys::socket_name(fd).unwrap(), Vec::<u8>::new());
  sys::close(fd);
}

#[cfg(target_os = "linux")]
#[test]
fn leading_nul_is_an_abstract_name_on_linux() {
  const { assert!(sys::ABSTRACT_NAMES) };
  let name = format!("\0pws-abs-{}", std::process::id());
  let (_, len) = sys::unix_addr(name.as_bytes()).unwrap();
  assert_eq!(len as usize, sun_path_offset() + name.len());
  let fd = sys::unix_socket().unwrap();
  sys::bind(fd, name.as_bytes()).unwrap();
  assert_eq!(sys::socket_name(fd).unwrap(), name.as_bytes());
  sys::close(fd);
  // The longest abstract name has no NUL to fit.
  let mut full = vec![b'a'; sys::SUN_PATH_LEN];
  full[0] = 0;
  assert!(sys::unix_addr(&full).is_ok());
}

#[cfg(target_os = "macos")]
#[test]
fn leading_nul_is_einval_on_macos() {
  // libuv's includes_nul() outside Linux: the whole name is checked.
  const { assert!(!sys::ABSTRACT_NAMES) };
  assert_eq!(sys::unix_addr(b"\0abc").unwrap_err(), -libc::EINVAL);
  let fd = sys::unix_socket().unwrap();
  assert_eq!(sys::bind(fd, b"\0abc").unwrap_err(), -libc::EINVAL);
  assert_eq!(sys::connect(fd, b"\0abc").unwrap_err(), -libc::EINVAL);
  sys::close(fd);
}

#[test]
fn new_fds_are_cloexec_and_nonblocking_as_documented() {
  let dir = temp_dir("flags");
  let path = dir.join("l.sock");
  let name = path.as_os_str().as_encoded_bytes().to_vec();

  let lfd = sys::unix_socket().unwrap();
  assert_eq!(
    fd_flags(lfd),
    (true, true),
    "unix_socket: cloexec, non-blocking"
  );
  sys::bind(lfd, &name).unwrap();
  sys::listen(lfd, 4).unwrap();
  assert_eq!(sys::accept(lfd).unwrap_err(), -libc::EAGAIN);

  let cfd = sys::unix_socket().unwrap();
  match sys::connect(cfd, &name) {
    Ok(()) => {}
    Err(e) => assert_eq!(e, -libc::EINPROGRESS, "connect"),
  }
  let afd = loop {
    match sys::accept(lfd) {
      Ok(fd) => break fd,
      Err(e) if e == -libc::EAGAIN => std::thread::yield_now(),
      Err(e) => panic!("accept: {e}"),
    }
  };
  assert_eq!(fd_flags(afd), (true, true), "accept: cloexec, non-blocking");

  let [a, b] = sys::socketpair().unwrap();
  assert_eq!(fd_flags(a), (true, false), "socketpair: cloexec, blocking");
  assert_eq!(fd_flags(b), (true, false), "socketpair: cloexec, blocking");

  // Writing to a closed peer is EPIPE, not a signal that kills the process.
  sys::close(b);
  assert_eq!(sys::send_with_fds(a, b"x", &[]).unwrap_err(), -libc::EPIPE);

  for fd in [a, afd, cfd, lfd] {
    sys::close(fd);
  }
  std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn peer_credentials_name_this_process() {
  // SAFETY: getuid/getgid cannot fail.
  let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
  let [a, b] = sys::socketpair().unwrap();
  for fd in [a, b] {
    let cred = sys::peer_credentials(fd).unwrap();
    assert_eq!(cred.pid as u32, std::process::id());
    assert_eq!((cred.uid, cred.gid), (uid, gid));
  }
  sys::close(a);
  sys::close(b);
  let (r, w) = pipe();
  assert!(
    sys::peer_credentials(r).is_err(),
    "a pipe has no peer credentials"
  );
  sys::close(r);
  sys::close(w);
}

fn pipe() -> (RawFd, RawFd) {
  let mut fds = [-1; 2];
  // SAFETY: fds has room for the two fds pipe() writes.
  assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
  (fds[0], fds[1])
}

#[test]
fn fd_kinds_without_so_domain_where_missing() {
  use std::os::unix::io::AsRawFd;
  let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
  assert_eq!(sys::fd_kind(tcp.as_raw_fd()), sys::FdKind::Tcp);
  let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
  assert_eq!(sys::fd_kind(udp.as_raw_fd()), sys::FdKind::Udp);
  let unbound = sys::unix_socket().unwrap();
  assert_eq!(sys::fd_kind(unbound), sys::FdKind::UnixStream);
  sys::close(unbound);
  let (r, w) = pipe();
  assert_eq!(sys::fd_kind(r), sys::FdKind::Other);
  sys::close(r);
  sys::close(w);
}

#[test]
fn mode_bits_round_trip() {
  let dir = temp_dir("mode");
  let path = dir.join("f");
  std::fs::write(&path, b"").unwrap();
  let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
  for mode in [0o600, 0o660, 0o755, 0o4750] {
    sys::chmod(&c, mode).unwrap();
    assert_eq!(sys::file_mode(&c).unwrap(), mode);
  }
  std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn writev_clamps_to_the_iovec_limit() {
  // More iovecs than the kernel takes in one call: a partial write, not
  // EINVAL. 3000 one-byte buffers fit the socket buffer either way.
  let [a, b] = sys::socketpair().unwrap();
  let byte = [7u8];
  let iov: Vec<libc::iovec> = (0..3000)
    .map(|_| libc::iovec {
      iov_base: byte.as_ptr() as *mut libc::c_void,
      iov_len: 1,
    })
    .collect();
  let n = sys::writev(a, &iov).unwrap();
  assert_eq!(n, 1024, "IOV_MAX / UIO_MAXIOV is 1024 on Linux and macOS");
  let mut buf = vec![0u8; 2048];
  assert_eq!(sys::read(b, &mut buf).unwrap(), n);
  sys::close(a);
  sys::close(b);
}

/// The fds open on /dev/null (no other test here opens it).
#[cfg(target_os = "linux")]
fn devnull_fds() -> Vec<RawFd> {
  let mut fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
    .unwrap()
    .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
    .filter(|&fd: &RawFd| {
      std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .is_ok_and(|p| p == std::path::Path::new("/dev/null"))
    })
    .collect();
  fds.sort();
  fds
}

/// More fds in one message than a read takes: we get MAX_FDS_PER_READ, the
/// kernel closes the rest (MSG_CTRUNC), nothing stays open.
///
/// Under qemu-user (`npm run test:arm64` sets PIPEWRAP_TEST_QEMU=1) the
/// count differs, and not because of pipewrap: qemu hands the host kernel a
/// control buffer twice the size the program asked for, so the kernel
/// installs as many fds as fit in that one; qemu copies back only what fits
/// in ours and neither reports nor closes the rest. Those fds never reach
/// `recv_with_fds`. The test asserts exactly that many and closes them, so
/// any other fd left open still fails it.
#[cfg(target_os = "linux")]
#[test]
fn more_fds_than_one_read_takes_are_closed_by_the_kernel() {
  const SENT: usize = 200;
  let was = devnull_fds();
  let [a, b] = sys::socketpair().unwrap();
  let devnull = std::ffi::CString::new("/dev/null").unwrap();
  // SAFETY: open of a NUL-terminated path; each fd is closed below.
  let fds: Vec<RawFd> = (0..SENT)
    .map(|_| unsafe { libc::open(devnull.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) })
    .collect();
  assert!(fds.iter().all(|&fd| fd >= 0));
  assert_eq!(sys::send_with_fds(a, b"x", &fds).unwrap(), 1);
  for &fd in &fds {
    sys::close(fd);
  }
  let mut buf = [0u8; 8];
  let mut got = Vec::new();
  assert_eq!(sys::recv_with_fds(b, &mut buf, &mut got).unwrap(), 1);
  assert_eq!(got.len(), sys::MAX_FDS_PER_READ);
  for &fd in &got {
    assert_eq!(sys::fd_kind(fd), sys::FdKind::Other, "a /dev/null fd");
    sys::close(fd);
  }
  let extra: Vec<RawFd> = devnull_fds()
    .into_iter()
    .filter(|fd| !was.contains(fd))
    .collect();
  let qemu = std::env::var_os("PIPEWRAP_TEST_QEMU").is_some_and(|v| v == "1");
  let expected_extra = if qemu {
    // The host kernel fills 2 * CMSG_SPACE(64 fds): one header and as many
    // 4-byte fds as fit after it.
    // SAFETY: CMSG_SPACE/CMSG_LEN are pure size computations.
    let (space, header) = unsafe {
      (
        libc::CMSG_SPACE((sys::MAX_FDS_PER_READ * 4) as u32) as usize,
        libc::CMSG_LEN(0) as usize,
      )
    };
    SENT.min((2 * space - header) / 4) - sys::MAX_FDS_PER_READ
  } else {
    0
  };
  for &fd in &extra {
    sys::close(fd);
  }
  assert_eq!(
    extra.len(),
    expected_extra,
    "/dev/null fds left open by the read (qemu: {qemu}): {extra:?}"
  );
  sys::close(a);
  sys::close(b);
}
