//! The state machine against real sockets and tokio peers: request order,
//! completions exactly once, close flushing the queue.

use std::os::fd::{AsRawFd, IntoRawFd};
use std::os::unix::net::UnixStream;

use pipewrap_core::stream::{
  Completion, ConnectStart, Done, Kind, ReadResult, StreamCore, WriteStart,
};
use pipewrap_core::sys;
use tokio::io::AsyncReadExt;

fn temp_dir(tag: &str) -> std::path::PathBuf {
  let dir = std::env::temp_dir().join(format!("pwcs-{tag}-{}", std::process::id()));
  let _ = std::fs::remove_dir_all(&dir);
  std::fs::create_dir_all(&dir).unwrap();
  dir
}

/// A core stream over one end of a socketpair, the other end returned.
fn pair() -> (StreamCore, UnixStream) {
  let (a, b) = UnixStream::pair().unwrap();
  a.set_nonblocking(true).unwrap();
  let mut core = StreamCore::new(Kind::Socket);
  core.adopt(a.into_raw_fd());
  core.readable = true;
  core.writable = true;
  (core, b)
}

fn drain(core: &mut StreamCore) -> Vec<Completion> {
  std::iter::from_fn(|| core.take_completion()).collect()
}

fn write_status(req: u64, status: i32) -> Completion {
  Completion {
    req,
    done: Done::Write { status },
  }
}

#[test]
fn zero_length_write_completes_in_queue_order() {
  let (mut core, peer) = pair();
  let big = vec![7u8; 4 << 20];
  assert_eq!(core.write(1, &[&big], Vec::new()), Ok(WriteStart::Async));
  assert_eq!(core.write(2, &[b""], Vec::new()), Ok(WriteStart::Async));
  assert_eq!(core.write(3, &[b"tail"], Vec::new()), Ok(WriteStart::Async));
  assert!(drain(&mut core).is_empty(), "nothing finished while queued");
  let reader = std::thread::spawn(move || {
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut &peer, &mut got).unwrap();
    got.len()
  });
  let mut done = Vec::new();
  while done.len() < 3 {
    core.flush(&mut |_| None);
    done.extend(drain(&mut core));
  }
  assert_eq!(
    done,
    vec![write_status(1, 0), write_status(2, 0), write_status(3, 0)]
  );
  assert_eq!(core.write_queue_size(), 0);
  core.close();
  assert_eq!(reader.join().unwrap(), big.len() + 4);
}

#[test]
fn close_cancels_pending_after_finished_ones() {
  let (mut core, _peer) = pair();
  let (fd_a, _fd_b) = UnixStream::pair().unwrap();
  // A handle write that goes out at once still completes asynchronously.
  assert_eq!(
    core.write(
      1,
      &[b"h"],
      vec![sys::dup_cloexec(fd_a.as_raw_fd()).unwrap()]
    ),
    Ok(WriteStart::Async)
  );
  let big = vec![0u8; 4 << 20];
  assert_eq!(core.write(2, &[&big], Vec::new()), Ok(WriteStart::Async));
  assert_eq!(core.shutdown(3), 0);
  core.close();
  let canceled = -libc::ECANCELED;
  assert_eq!(
    drain(&mut core),
    vec![
      write_status(1, 0),
      write_status(2, canceled),
      Completion {
        req: 3,
        done: Done::Shutdown { status: canceled }
      },
    ]
  );
  assert_eq!(core.write(4, &[b"x"], Vec::new()), Err(-libc::EBADF));
  core.close();
  assert!(
    drain(&mut core).is_empty(),
    "a second close completes nothing twice"
  );
}

#[test]
fn shutdown_waits_for_the_queue() {
  let (mut core, peer) = pair();
  assert_eq!(core.write(1, &[b"abc"], Vec::new()), Ok(WriteStart::Sync));
  assert_eq!(core.shutdown(2), 0);
  assert_eq!(core.write(3, &[b"x"], Vec::new()), Err(-libc::EPIPE));
  core.flush(&mut |_| None);
  assert_eq!(
    drain(&mut core),
    vec![Completion {
      req: 2,
      done: Done::Shutdown { status: 0 }
    }]
  );
  let mut got = String::new();
  std::io::Read::read_to_string(&mut &peer, &mut got).unwrap();
  assert_eq!(got, "abc");
}

#[test]
fn reads_data_then_eof() {
  let (mut core, peer) = pair();
  let mut buf = [0u8; 16];
  assert_eq!(core.read(&mut buf), ReadResult::Again, "not reading yet");
  assert_eq!(core.read_start(), 0);
  assert_eq!(core.read(&mut buf), ReadResult::Again);
  std::io::Write::write_all(&mut &peer, b"hey").unwrap();
  assert_eq!(core.read(&mut buf), ReadResult::Data(3));
  assert_eq!(&buf[..3], b"hey");
  drop(peer);
  assert_eq!(
    core.read(&mut buf),
    ReadResult::Stopped(pipewrap_core::stream::UV_EOF)
  );
  assert!(!core.readable);
  assert_eq!(core.read_start(), -libc::ENOTCONN);
  assert_eq!(core.bytes_read(), 3);
}

#[tokio::test]
async fn connects_to_tokio_listener_and_writes_wait_for_the_connect() {
  let dir = temp_dir("connect");
  let path = dir.join("c.sock");
  let listener = tokio::net::UnixListener::bind(&path).unwrap();
  let mut core = StreamCore::new(Kind::Socket);
  core.adopt(sys::unix_socket().unwrap());
  let start = core.connect(10, path.as_os_str().as_encoded_bytes());
  assert_eq!(start, ConnectStart::Connected);
  // Written while the connect is undelivered: queued, not sent.
  assert_eq!(
    core.write(11, &[b"ping"], Vec::new()),
    Ok(WriteStart::Async)
  );
  assert!(drain(&mut core).is_empty());
  core.finish_connect();
  assert_eq!(
    drain(&mut core),
    vec![Completion {
      req: 10,
      done: Done::Connect {
        status: 0,
        readable: true,
        writable: true
      }
    }]
  );
  core.flush(&mut |_| None);
  assert_eq!(drain(&mut core), vec![write_status(11, 0)]);
  let (mut s, _) = listener.accept().await.unwrap();
  let mut got = [0u8; 4];
  s.read_exact(&mut got).await.unwrap();
  assert_eq!(&got, b"ping");
  core.close();
  std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn failed_connect_cancels_queued_writes_behind_it() {
  let dir = temp_dir("refused");
  let mut core = StreamCore::new(Kind::Socket);
  core.adopt(sys::unix_socket().unwrap());
  let start = core.connect(1, dir.join("missing.sock").as_os_str().as_encoded_bytes());
  assert_eq!(start, ConnectStart::Failed(-libc::ENOENT));
  assert_eq!(core.write(2, &[b"x"], Vec::new()), Ok(WriteStart::Async));
  core.finish_connect();
  assert_eq!(
    drain(&mut core),
    vec![
      Completion {
        req: 1,
        done: Done::Connect {
          status: -libc::ENOENT,
          readable: false,
          writable: false
        }
      },
      write_status(2, -libc::ECANCELED),
    ]
  );
  std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn close_cancels_an_undelivered_connect_first() {
  let dir = temp_dir("cancel");
  let path = dir.join("l.sock");
  let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
  let mut core = StreamCore::new(Kind::Socket);
  core.adopt(sys::unix_socket().unwrap());
  core.connect(1, path.as_os_str().as_encoded_bytes());
  core.close();
  core.finish_connect();
  assert_eq!(
    drain(&mut core),
    vec![Completion {
      req: 1,
      done: Done::Connect {
        status: -libc::ECANCELED,
        readable: false,
        writable: false
      }
    }]
  );
  std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn ipc_keeps_one_fd_per_message() {
  let (a, peer) = UnixStream::pair().unwrap();
  a.set_nonblocking(true).unwrap();
  let mut core = StreamCore::new(Kind::Ipc);
  core.adopt(a.into_raw_fd());
  core.readable = true;
  core.read_start();
  let (x, y) = UnixStream::pair().unwrap();
  sys::send_with_fds(peer.as_raw_fd(), b"m", &[x.as_raw_fd(), y.as_raw_fd()]).unwrap();
  let mut buf = [0u8; 8];
  assert_eq!(core.read(&mut buf), ReadResult::Data(1));
  assert!(core.take_pending_fd().is_some());
  assert!(core.take_pending_fd().is_none(), "the extra fd was closed");
}

#[test]
fn lent_writes_are_read_again_at_each_flush_and_fail_once_gone() {
  let (mut core, peer) = pair();
  let big = vec![5u8; 4 << 20];
  let small = b"after".to_vec();
  assert_eq!(core.write_lent(1, &big), Ok(WriteStart::Async));
  assert_eq!(core.write_lent(2, b"gone soon"), Ok(WriteStart::Async));
  assert_eq!(core.write(3, &[&small], Vec::new()), Ok(WriteStart::Async));
  assert!(
    core.write_queue_size() > 14,
    "the big write was queued, partly sent"
  );
  let reader = std::thread::spawn(move || {
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut &peer, &mut got).unwrap();
    got
  });
  let mut done = Vec::new();
  while done.len() < 3 {
    // Request 2's buffer is gone (detached): its write fails alone.
    core.flush(&mut |req| match req {
      1 => Some(&big[..]),
      _ => None,
    });
    done.extend(drain(&mut core));
  }
  assert_eq!(
    done,
    vec![
      write_status(1, 0),
      write_status(2, -libc::EFAULT),
      write_status(3, 0)
    ]
  );
  assert_eq!(core.write_queue_size(), 0);
  core.close();
  let got = reader.join().unwrap();
  assert_eq!(got.len(), big.len() + small.len());
  assert!(got.ends_with(b"after"));
}

#[test]
fn a_lent_buffer_that_changed_size_is_not_sent() {
  let (mut core, _peer) = pair();
  let big = vec![1u8; 4 << 20];
  assert_eq!(core.write_lent(1, &big), Ok(WriteStart::Async));
  let shorter = &big[..1024];
  core.flush(&mut |_| Some(shorter));
  assert_eq!(drain(&mut core), vec![write_status(1, -libc::EFAULT)]);
}
