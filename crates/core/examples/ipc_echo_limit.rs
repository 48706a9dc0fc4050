//! The best any parent can do in the `ipc-echo` benchmark: a blocking Rust
//! parent speaking Node's json channel protocol to the same plain Node child
//! (`bench/ipc-child.js echo`). The child is unchanged, so this bounds what
//! pipewrap's parent side could ever gain over `child_process.fork`.
//!
//!   cargo run --release -p pipewrap-core --example ipc_echo_limit -- \
//!     <node> <bench/ipc-child.js> [round trips]
//!
//! Prints one JSON line: { "value": round trips/s, "unit": "round trips/s" }.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::IntoRawFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Instant;

fn main() {
  let mut args = std::env::args().skip(1);
  let node = args.next().unwrap_or_else(|| "node".into());
  let script = args
    .next()
    .expect("usage: ipc_echo_limit <node> <ipc-child.js> [count]");
  let count: usize = args.next().map_or(20_000, |c| c.parse().expect("count"));

  let (parent, child_end) = UnixStream::pair().expect("socketpair");
  let child_fd = child_end.into_raw_fd();
  let mut cmd = Command::new(node);
  cmd
    .arg(script)
    .args(["echo", "0"])
    .env("NODE_CHANNEL_FD", "3")
    .env("NODE_CHANNEL_SERIALIZATION_MODE", "json");
  // SAFETY: between fork and exec only async-signal-safe dup2 runs; it puts
  // the child's end of the channel on fd 3 (without close-on-exec).
  unsafe {
    cmd.pre_exec(move || {
      if libc::dup2(child_fd, 3) == -1 {
        return Err(std::io::Error::last_os_error());
      }
      Ok(())
    });
  }
  let mut child = cmd.spawn().expect("spawn node");
  // SAFETY: child_fd is ours and no longer needed once the child has it.
  unsafe { libc::close(child_fd) };

  let mut writer = parent.try_clone().expect("clone");
  let mut reader = BufReader::with_capacity(64 * 1024, parent);
  let mut line = String::new();
  reader.read_line(&mut line).expect("ready");
  assert_eq!(line.trim_end(), "\"ready\"", "child did not say ready");

  let t0 = Instant::now();
  for left in (1..=count).rev() {
    writer
      .write_all(format!("{{\"n\":{left}}}\n").as_bytes())
      .expect("send");
    line.clear();
    if reader.read_line(&mut line).expect("reply") == 0 {
      panic!("child closed the channel");
    }
  }
  let rate = count as f64 / t0.elapsed().as_secs_f64();
  let _ = child.kill();
  let _ = child.wait();
  println!("{{\"value\":{rate},\"unit\":\"round trips/s\"}}");
}
