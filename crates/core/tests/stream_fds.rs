//! Fd accounting of received SCM_RIGHTS fds: alone in its own test binary
//! (its own process), so no other test opens fds while it counts them.

use std::os::fd::{AsRawFd, IntoRawFd};
use std::os::unix::net::UnixStream;

use pipewrap_core::stream::{Kind, ReadResult, StreamCore};
use pipewrap_core::sys;

/// The tests here count or reuse fd numbers: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
  SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn ipc_closes_the_extra_fds_at_once() {
  let _serial = serial();
  let (a, peer) = UnixStream::pair().unwrap();
  a.set_nonblocking(true).unwrap();
  let mut core = StreamCore::new(Kind::Ipc);
  core.adopt(a.into_raw_fd());
  core.readable = true;
  core.read_start();
  let (x, y) = UnixStream::pair().unwrap();
  sys::send_with_fds(
    peer.as_raw_fd(),
    b"m",
    &[x.as_raw_fd(), y.as_raw_fd(), x.as_raw_fd()],
  )
  .unwrap();
  let open_before = std::fs::read_dir("/proc/self/fd").unwrap().count();
  let mut buf = [0u8; 8];
  assert_eq!(core.read(&mut buf), ReadResult::Data(1));
  let open_after = std::fs::read_dir("/proc/self/fd").unwrap().count();
  assert_eq!(open_after, open_before + 1, "only the first fd is kept");
}

/// A queued fd-carrying write holds its own duplicate: the caller closing
/// its fd before the flush, and the number then naming another file, still
/// sends the file it asked to send (issue 20, item 6).
#[test]
fn queued_fds_survive_the_callers_close() {
  use std::io::{Read, Seek, Write};
  let _serial = serial();
  let (a, peer) = UnixStream::pair().unwrap();
  a.set_nonblocking(true).unwrap();
  let mut core = StreamCore::new(Kind::Socket);
  core.adopt(a.into_raw_fd());
  core.writable = true;
  let dir = std::env::temp_dir().join(format!("pwfds-{}", std::process::id()));
  std::fs::create_dir_all(&dir).unwrap();
  let rw = || {
    let mut o = std::fs::OpenOptions::new();
    o.read(true).write(true).create(true).truncate(true);
    o
  };
  let mut wanted = rw().open(dir.join("wanted")).unwrap();
  wanted.write_all(b"the file asked for").unwrap();
  let other = rw().open(dir.join("other")).unwrap();
  // Fill the socket so the fd write queues behind the big one.
  let big = vec![7u8; 8 << 20];
  core.write(1, &[&big], Vec::new()).unwrap();
  let number = wanted.as_raw_fd();
  let copy = sys::dup_cloexec(number).unwrap();
  core.write(2, &[b"h"], vec![copy]).unwrap();
  // The caller closes its fd and the number is reused for another file.
  drop(wanted);
  // SAFETY: dup2 onto a number this test just closed; `other` stays open.
  assert_eq!(unsafe { libc::dup2(other.as_raw_fd(), number) }, number);
  let reader = std::thread::spawn(move || {
    let mut got = 0usize;
    let mut fds = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    while got < (8 << 20) + 1 {
      let n = sys::recv_with_fds(peer.as_raw_fd(), &mut buf, &mut fds).unwrap();
      assert!(n > 0, "peer saw EOF early");
      got += n;
    }
    fds
  });
  while core.write_queue_size() > 0 {
    core.flush(&mut |_| None);
    std::thread::yield_now();
  }
  let fds = reader.join().unwrap();
  assert_eq!(fds.len(), 1);
  // SAFETY: the kernel installed this fd for the reader.
  let mut received = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fds[0]) };
  received.rewind().unwrap();
  let mut text = String::new();
  received.read_to_string(&mut text).unwrap();
  assert_eq!(text, "the file asked for");
  sys::close(number);
  std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn dup_of_a_closed_fd_is_ebadf() {
  let _serial = serial();
  assert_eq!(sys::dup_cloexec(-1).err(), Some(-libc::EBADF));
  let (x, _y) = UnixStream::pair().unwrap();
  let number = x.as_raw_fd();
  drop(x);
  assert_eq!(sys::dup_cloexec(number).err(), Some(-libc::EBADF));
}
