//! The socket layer against tokio peers: real sockets in a temp dir, no Node.

use std::os::unix::io::FromRawFd;
use std::path::PathBuf;

use pipewrap_core::{framing, sys};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn temp_dir(tag: &str) -> PathBuf {
  let dir = std::env::temp_dir().join(format!("pwc-{tag}-{}", std::process::id()));
  let _ = std::fs::remove_dir_all(&dir);
  std::fs::create_dir_all(&dir).unwrap();
  dir
}

fn wait_writable(fd: i32) {
  let mut pfd = libc::pollfd {
    fd,
    events: libc::POLLOUT,
    revents: 0,
  };
  // SAFETY: one valid pollfd.
  unsafe { libc::poll(&mut pfd, 1, 5000) };
}

#[tokio::test]
async fn connect_to_tokio_listener_and_echo() {
  let dir = temp_dir("echo");
  let path = dir.join("s.sock");
  let listener = tokio::net::UnixListener::bind(&path).unwrap();
  let server = tokio::spawn(async move {
    let (mut s, _) = listener.accept().await.unwrap();
    let mut buf = vec![0u8; 5];
    s.read_exact(&mut buf).await.unwrap();
    s.write_all(&buf).await.unwrap();
  });
  let fd = sys::unix_socket().unwrap();
  match sys::connect(fd, path.as_os_str().as_encoded_bytes()) {
    Ok(()) => {}
    Err(e) if e == -libc::EINPROGRESS || e == -libc::EAGAIN => wait_writable(fd),
    Err(e) => panic!("connect failed: {e}"),
  }
  assert_eq!(sys::socket_error(fd), 0);
  assert_eq!(sys::write(fd, b"hello").unwrap(), 5);
  server.await.unwrap();
  // SAFETY: fd is ours and open; the std stream takes it over.
  let mut std_stream = unsafe { std::os::unix::net::UnixStream::from_raw_fd(fd) };
  std_stream.set_nonblocking(false).unwrap();
  let mut back = [0u8; 5];
  std::io::Read::read_exact(&mut std_stream, &mut back).unwrap();
  assert_eq!(&back, b"hello");
  std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn tokio_client_reaches_our_listener() {
  let dir = temp_dir("listen");
  let path = dir.join("l.sock");
  let lfd = sys::unix_socket().unwrap();
  sys::bind(lfd, path.as_os_str().as_encoded_bytes()).unwrap();
  sys::listen(lfd, 16).unwrap();
  let p2 = path.clone();
  let client = tokio::spawn(async move {
    let mut s = tokio::net::UnixStream::connect(p2).await.unwrap();
    s.write_all(b"ping\n").await.unwrap();
    s.shutdown().await.unwrap();
  });
  client.await.unwrap();
  let cfd = loop {
    match sys::accept(lfd) {
      Ok(fd) => break fd,
      Err(e) if e == -libc::EAGAIN => tokio::task::yield_now().await,
      Err(e) => panic!("accept: {e}"),
    }
  };
  let mut framer = framing::LineFramer::new(1024);
  let mut buf = [0u8; 64];
  let mut lines = Vec::new();
  loop {
    match sys::read(cfd, &mut buf) {
      Ok(0) => break,
      Ok(n) => lines.extend(framer.push(&buf[..n]).unwrap()),
      Err(e) if e == -libc::EAGAIN => tokio::task::yield_now().await,
      Err(e) => panic!("read: {e}"),
    }
  }
  assert_eq!(lines, vec![b"ping".to_vec()]);
  sys::close(cfd);
  sys::close(lfd);
  std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn long_paths_are_refused_not_truncated() {
  let long = vec![b'a'; 200];
  assert_eq!(sys::unix_addr(&long).unwrap_err(), -libc::ENAMETOOLONG);
  assert_eq!(sys::unix_addr(b"").unwrap_err(), -libc::EINVAL);
  assert_eq!(sys::unix_addr(b"/tmp/a\0b").unwrap_err(), -libc::EINVAL);
  // Abstract names carry their exact length (no NUL padding to 108 bytes);
  // Linux only (tests/sys_platform.rs has the macOS side).
  #[cfg(target_os = "linux")]
  {
    let (_, len) = sys::unix_addr(b"\0abc").unwrap();
    assert_eq!(len as usize, std::mem::size_of::<libc::sa_family_t>() + 4);
  }
}

// Abstract names are Linux-only (elsewhere a leading NUL is EINVAL).
#[cfg(target_os = "linux")]
#[tokio::test]
async fn abstract_name_exact_length_interops_with_tokio() {
  let name = format!("\0pwc-abs-{}", std::process::id());
  let lfd = sys::unix_socket().unwrap();
  sys::bind(lfd, name.as_bytes()).unwrap();
  sys::listen(lfd, 4).unwrap();
  // std/tokio use the exact length for abstract names too.
  use std::os::linux::net::SocketAddrExt;
  let addr = std::os::unix::net::SocketAddr::from_abstract_name(&name.as_bytes()[1..]).unwrap();
  let std_client = std::os::unix::net::UnixStream::connect_addr(&addr).unwrap();
  drop(std_client);
  sys::close(lfd);
}

#[test]
fn fds_travel_with_scm_rights() {
  let [a, b] = sys::socketpair().unwrap();
  let [x, y] = sys::socketpair().unwrap();
  assert_eq!(sys::send_with_fds(a, b"h", &[x]).unwrap(), 1);
  let mut buf = [0u8; 8];
  let mut fds = Vec::new();
  assert_eq!(sys::recv_with_fds(b, &mut buf, &mut fds).unwrap(), 1);
  assert_eq!(fds.len(), 1);
  assert_eq!(sys::fd_kind(fds[0]), sys::FdKind::UnixStream);
  // The received fd is close-on-exec.
  // SAFETY: plain fcntl query on an fd we own.
  let flags = unsafe { libc::fcntl(fds[0], libc::F_GETFD) };
  assert!(flags & libc::FD_CLOEXEC != 0);
  // It is the same socket: writing to it reaches y.
  assert_eq!(sys::write(fds[0], b"z").unwrap(), 1);
  assert_eq!(sys::read(y, &mut buf).unwrap(), 1);
  assert_eq!(buf[0], b'z');
  let cred = sys::peer_credentials(a).unwrap();
  assert_eq!(cred.pid as u32, std::process::id());
  for fd in [a, b, x, y, fds[0]] {
    sys::close(fd);
  }
}

#[test]
fn probe_tells_stale_from_live() {
  let dir = temp_dir("probe");
  let path = dir.join("p.sock");
  let p = path.as_os_str().as_encoded_bytes().to_vec();
  let lfd = sys::unix_socket().unwrap();
  sys::bind(lfd, &p).unwrap();
  sys::listen(lfd, 4).unwrap();
  assert_eq!(sys::probe(&p), 0);
  sys::close(lfd);
  // The file is left behind with nobody listening: stale.
  assert_eq!(sys::probe(&p), -libc::ECONNREFUSED);
  std::fs::remove_dir_all(dir).unwrap();
}
