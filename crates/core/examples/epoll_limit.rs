//! Limits for the event-loop-shaped benchmarks: what an event loop with
//! nothing else to do reaches on this machine. Both shapes use non-blocking
//! Unix sockets (bound to a path, connected, accepted, as the workloads do),
//! level-triggered epoll and one read per readable event, as libuv does; the
//! only thing missing is everything a JavaScript runtime adds per event.
//!
//!   cargo run --release -p pipewrap-core --example epoll_limit -- single [round trips]
//!     both ends in one thread, one epoll loop: the limit of the same-process
//!     64 B `pingpong` / `raw-pingpong` workloads.
//!   cargo run --release -p pipewrap-core --example epoll_limit -- pair [round trips]
//!     this process pings, a second process of this binary (spawned with
//!     `echo <path>`) echoes, each in its own epoll loop: the limit of
//!     `xproc-pingpong`. Run it under `taskset -c 0` to pin both to one CPU;
//!     with PWB_PEER_CPU=1 as well, the echo side moves to CPU 1.
//!
//! Prints one JSON line: { "value": round trips/s, "unit": "round trips/s",
//! "cpuPerOp": µs of CPU per round trip (both processes for `pair`) }.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const MSG: usize = 64;

struct Epoll(i32);

impl Epoll {
  fn new() -> Epoll {
    // SAFETY: plain syscall, result checked.
    let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    assert!(
      fd >= 0,
      "epoll_create1: {}",
      std::io::Error::last_os_error()
    );
    Epoll(fd)
  }

  fn add(&self, fd: i32, token: u64) {
    let mut ev = libc::epoll_event {
      events: libc::EPOLLIN as u32,
      u64: token,
    };
    // SAFETY: ev is a valid epoll_event for the duration of the call.
    let rc = unsafe { libc::epoll_ctl(self.0, libc::EPOLL_CTL_ADD, fd, &mut ev) };
    assert!(rc == 0, "epoll_ctl: {}", std::io::Error::last_os_error());
  }

  /// Waits for readiness; returns the tokens of the ready fds.
  fn wait<'a>(&self, events: &'a mut [libc::epoll_event]) -> impl Iterator<Item = u64> + 'a {
    let n = loop {
      // SAFETY: events is a valid, writable buffer of events.len() entries.
      let n = unsafe { libc::epoll_wait(self.0, events.as_mut_ptr(), events.len() as i32, -1) };
      if n >= 0 {
        break n as usize;
      }
      let err = std::io::Error::last_os_error();
      assert!(
        err.kind() == std::io::ErrorKind::Interrupted,
        "epoll_wait: {err}"
      );
    };
    events[..n].iter().map(|e| e.u64)
  }
}

impl Drop for Epoll {
  fn drop(&mut self) {
    // SAFETY: we own the fd.
    unsafe { libc::close(self.0) };
  }
}

/// One read, as an event loop does per readable event; `None` on EAGAIN.
fn read_once(s: &mut UnixStream, buf: &mut [u8]) -> Option<usize> {
  match s.read(buf) {
    Ok(n) => Some(n),
    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
    Err(e) => panic!("read: {e}"),
  }
}

fn cpu_us(who: i32) -> f64 {
  // SAFETY: rusage is plain integers, for which all-zero bytes are valid.
  let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
  // SAFETY: ru is a valid, writable rusage.
  unsafe { libc::getrusage(who, &mut ru) };
  let tv = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
  tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn temp_path(tag: &str) -> PathBuf {
  std::env::temp_dir().join(format!("pw-epoll-{tag}-{}.sock", std::process::id()))
}

fn connected_pair(path: &Path) -> (UnixStream, UnixStream) {
  let _ = std::fs::remove_file(path);
  let listener = UnixListener::bind(path).expect("bind");
  let a = UnixStream::connect(path).expect("connect");
  let (b, _) = listener.accept().expect("accept");
  let _ = std::fs::remove_file(path);
  (a, b)
}

/// The pinging side got `n` echoed bytes: counts whole round trips and
/// sends the next ping; true once `left` reaches zero.
fn pong(a: &mut UnixStream, n: usize, got: &mut usize, left: &mut usize) -> bool {
  assert!(n > 0, "peer closed");
  *got += n;
  while *got >= MSG {
    *got -= MSG;
    *left -= 1;
    if *left == 0 {
      return true;
    }
    a.write_all(&[97u8; MSG]).unwrap();
  }
  false
}

/// Both ends in one thread: write on `a`; the loop reads `b` and echoes,
/// reads `a` and sends the next ping.
fn single(rounds: usize) -> (f64, f64) {
  let path = temp_path("single");
  let (mut a, mut b) = connected_pair(&path);
  a.set_nonblocking(true).unwrap();
  b.set_nonblocking(true).unwrap();
  let ep = Epoll::new();
  ep.add(a.as_raw_fd(), 0);
  ep.add(b.as_raw_fd(), 1);
  let mut events = [libc::epoll_event { events: 0, u64: 0 }; 64];
  let mut buf = vec![0u8; 64 * 1024];
  let msg = [97u8; MSG];
  let mut left = rounds;
  let mut got = 0;

  let cpu0 = cpu_us(libc::RUSAGE_SELF);
  let t0 = Instant::now();
  a.write_all(&msg).unwrap();
  'run: loop {
    let ready: Vec<u64> = ep.wait(&mut events).collect();
    for token in ready {
      if token == 1 {
        if let Some(n) = read_once(&mut b, &mut buf) {
          assert!(n > 0, "peer closed");
          b.write_all(&buf[..n]).unwrap();
        }
      } else if let Some(n) = read_once(&mut a, &mut buf) {
        if pong(&mut a, n, &mut got, &mut left) {
          break 'run;
        }
      }
    }
  }
  let secs = t0.elapsed().as_secs_f64();
  let cpu = cpu_us(libc::RUSAGE_SELF) - cpu0;
  (rounds as f64 / secs, cpu / rounds as f64)
}

/// Pins this process to `cpu`.
fn pin(cpu: usize) {
  // SAFETY: set is a valid cpu_set_t, zeroed then filled by CPU_SET.
  unsafe {
    let mut set: libc::cpu_set_t = std::mem::zeroed();
    libc::CPU_SET(cpu, &mut set);
    let rc = libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    assert!(
      rc == 0,
      "sched_setaffinity({cpu}): {}",
      std::io::Error::last_os_error()
    );
  }
}

/// The echo side of `pair`, in the second process: connect, then echo in an
/// epoll loop until the peer closes. Pinned to PWB_PEER_CPU if set (as
/// bench/workload.js pins its peer); else it inherits the parent's affinity.
fn echo(path: &str) {
  if let Some(cpu) = std::env::var("PWB_PEER_CPU").ok().filter(|c| !c.is_empty()) {
    pin(cpu.parse().expect("PWB_PEER_CPU"));
  }
  let mut s = UnixStream::connect(path).expect("connect");
  s.set_nonblocking(true).unwrap();
  let ep = Epoll::new();
  ep.add(s.as_raw_fd(), 0);
  let mut events = [libc::epoll_event { events: 0, u64: 0 }; 64];
  let mut buf = vec![0u8; 64 * 1024];
  loop {
    let ready = ep.wait(&mut events).count();
    for _ in 0..ready {
      match read_once(&mut s, &mut buf) {
        Some(0) => return,
        // 64 B into an empty socket buffer: never EAGAIN in ping-pong.
        Some(n) => s.write_all(&buf[..n]).unwrap(),
        None => {}
      }
    }
  }
}

/// This process pings, a second process of this binary echoes.
fn pair(rounds: usize) -> (f64, f64) {
  let path = temp_path("pair");
  let _ = std::fs::remove_file(&path);
  let listener = UnixListener::bind(&path).expect("bind");
  let exe = std::env::current_exe().expect("current_exe");
  let mut child = Command::new(exe)
    .arg("echo")
    .arg(&path)
    .spawn()
    .expect("spawn echo side");
  let (mut a, _) = listener.accept().expect("accept");
  let _ = std::fs::remove_file(&path);
  a.set_nonblocking(true).unwrap();
  let ep = Epoll::new();
  ep.add(a.as_raw_fd(), 0);
  let mut events = [libc::epoll_event { events: 0, u64: 0 }; 64];
  let mut buf = vec![0u8; 64 * 1024];
  let msg = [97u8; MSG];
  let mut left = rounds;
  let mut got = 0;

  let cpu0 = cpu_us(libc::RUSAGE_SELF);
  let t0 = Instant::now();
  a.write_all(&msg).unwrap();
  'run: loop {
    let ready = ep.wait(&mut events).count();
    for _ in 0..ready {
      if let Some(n) = read_once(&mut a, &mut buf) {
        if pong(&mut a, n, &mut got, &mut left) {
          break 'run;
        }
      }
    }
  }
  let secs = t0.elapsed().as_secs_f64();
  let cpu = cpu_us(libc::RUSAGE_SELF) - cpu0;
  drop(a);
  let status = child.wait().expect("wait echo side");
  assert!(status.success(), "echo side failed: {status}");
  // The child's whole life (exec, connect, the loop): a few hundred µs more
  // than its share of the window.
  let child_cpu = cpu_us(libc::RUSAGE_CHILDREN);
  (rounds as f64 / secs, (cpu + child_cpu) / rounds as f64)
}

fn main() {
  let mut args = std::env::args().skip(1);
  let mode = args.next().unwrap_or_else(|| "single".into());
  if mode == "echo" {
    echo(&args.next().expect("usage: epoll_limit echo <path>"));
    return;
  }
  let default = if mode == "pair" { 50_000 } else { 100_000 };
  let rounds: usize = args
    .next()
    .map_or(default, |c| c.parse().expect("round trips"));
  let (rate, cpu) = match mode.as_str() {
    "single" => single(rounds),
    "pair" => pair(rounds),
    other => panic!("unknown mode {other}; have single, pair, echo"),
  };
  println!("{{\"value\":{rate},\"unit\":\"round trips/s\",\"cpuPerOp\":{cpu}}}");
}
