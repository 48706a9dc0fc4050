//! The limit of the same-process `raw-bulk` shape: one thread, one
//! level-triggered epoll loop, a connected pair of non-blocking Unix sockets
//! (bound, connected, accepted, as the workload does); 64 KiB writes on one
//! end until EAGAIN, and on the other end up to 32 reads of up to 64 KiB per
//! readable event (stopping at a short read), as libuv reads.
//!
//!   cargo run --release -p pipewrap-core --example bulk_limit -- [MiB] [keep]
//!
//! Each read goes into a fresh 64 KiB allocation, as a JS runtime must (the
//! reader owns every chunk); the last `keep` chunks stay allocated (freed
//! oldest first), which stands in for the garbage collector's delay in
//! freeing them: 512 (32 MiB, about what V8 lets pile up between
//! scavenges under external memory pressure, measured with --trace-gc) is
//! the default; `keep` 0 reads into one fixed buffer (cache-hot: the
//! physical best, which no runtime that hands out the chunks can reach).
//!
//! Prints one JSON line: { "value": MB/s, "unit": "MB/s", "cpuPerOp": µs of
//! CPU per MB }.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Instant;

const CHUNK: usize = 64 * 1024;
const READS_PER_EVENT: usize = 32;

fn cpu_us() -> f64 {
  // SAFETY: rusage is plain integers, for which all-zero bytes are valid.
  let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
  // SAFETY: ru is a valid, writable rusage.
  unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
  let tv = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
  tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn epoll_ctl(ep: i32, op: i32, fd: i32, events: u32, token: u64) {
  let mut ev = libc::epoll_event { events, u64: token };
  // SAFETY: ev is a valid epoll_event for the duration of the call.
  let rc = unsafe { libc::epoll_ctl(ep, op, fd, &mut ev) };
  assert!(rc == 0, "epoll_ctl: {}", std::io::Error::last_os_error());
}

fn main() {
  let mut args = std::env::args().skip(1);
  let mib: usize = args.next().map_or(512, |a| a.parse().expect("MiB"));
  let keep: usize = args.next().map_or(512, |a| a.parse().expect("keep"));
  let total = mib * 1024 * 1024;
  // PWB_ZERO=1: zero each chunk before the read (what a zero-filling
  // ArrayBuffer allocation does).
  let zero = std::env::var("PWB_ZERO").is_ok_and(|v| v == "1");

  let path = std::env::temp_dir().join(format!("pw-bulk-{}.sock", std::process::id()));
  let _ = std::fs::remove_file(&path);
  let listener = UnixListener::bind(&path).expect("bind");
  let mut a = UnixStream::connect(&path).expect("connect");
  let (mut b, _) = listener.accept().expect("accept");
  let _ = std::fs::remove_file(&path);
  a.set_nonblocking(true).unwrap();
  b.set_nonblocking(true).unwrap();

  // SAFETY: plain syscall, result checked.
  let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
  assert!(ep >= 0);
  epoll_ctl(
    ep,
    libc::EPOLL_CTL_ADD,
    b.as_raw_fd(),
    libc::EPOLLIN as u32,
    1,
  );
  let mut a_watched = false;
  let mut events = [libc::epoll_event { events: 0, u64: 0 }; 8];

  let chunk = vec![120u8; CHUNK];
  let mut fixed = vec![0u8; CHUNK];
  let mut kept: VecDeque<Vec<u8>> = VecDeque::with_capacity(keep + 1);
  let (mut sent, mut got) = (0usize, 0usize);
  let mut partial = 0usize; // bytes of the current chunk already written

  let cpu0 = cpu_us();
  let t0 = Instant::now();
  while got < total {
    // Write until the socket is full (or everything is sent).
    while sent < total {
      match a.write(&chunk[partial..]) {
        Ok(n) => {
          partial += n;
          if partial == CHUNK {
            partial = 0;
            sent += CHUNK;
          }
        }
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
        Err(e) => panic!("write: {e}"),
      }
    }
    let want_out = sent < total;
    if want_out != a_watched {
      let op = if want_out {
        libc::EPOLL_CTL_ADD
      } else {
        libc::EPOLL_CTL_DEL
      };
      epoll_ctl(ep, op, a.as_raw_fd(), libc::EPOLLOUT as u32, 0);
      a_watched = want_out;
    }
    // SAFETY: events is a valid, writable buffer of events.len() entries.
    let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, -1) };
    assert!(n >= 0, "epoll_wait: {}", std::io::Error::last_os_error());
    for e in &events[..n as usize] {
      if e.u64 != 1 {
        continue; // writable: the loop writes again
      }
      for _ in 0..READS_PER_EVENT {
        let r = if keep == 0 {
          b.read(&mut fixed)
        } else {
          let mut buf = Vec::with_capacity(CHUNK);
          if zero {
            // SAFETY: CHUNK bytes of capacity.
            unsafe { std::ptr::write_bytes(buf.as_mut_ptr(), 0, CHUNK) };
          }
          // SAFETY: the kernel writes the bytes read; only those are used.
          let dst = unsafe { std::slice::from_raw_parts_mut(buf.as_mut_ptr(), CHUNK) };
          let r = b.read(dst);
          if let Ok(n) = r {
            // SAFETY: n bytes were written by read(2).
            unsafe { buf.set_len(n) };
            kept.push_back(buf);
            if kept.len() > keep {
              kept.pop_front();
            }
          }
          r
        };
        match r {
          Ok(0) => panic!("peer closed"),
          Ok(n) => {
            got += n;
            if n < CHUNK {
              break;
            }
          }
          Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
          Err(e) => panic!("read: {e}"),
        }
      }
    }
  }
  let secs = t0.elapsed().as_secs_f64();
  let cpu = cpu_us() - cpu0;
  let mb = total as f64 / 1e6;
  println!(
    "{{\"value\":{},\"unit\":\"MB/s\",\"cpuPerOp\":{}}}",
    mb / secs,
    cpu / mb
  );
  let _ = a.flush();
}
