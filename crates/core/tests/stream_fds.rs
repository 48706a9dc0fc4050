//! Fd accounting of received SCM_RIGHTS fds: alone in its own test binary
//! (its own process), so no other test opens fds while it counts them.

use std::os::fd::{AsRawFd, IntoRawFd};
use std::os::unix::net::UnixStream;

use pipewrap_core::stream::{Kind, ReadResult, StreamCore};
use pipewrap_core::sys;

#[test]
fn ipc_closes_the_extra_fds_at_once() {
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
