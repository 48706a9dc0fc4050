//! The Rust counterpart of `bench/ipc-child.js` for the `rust-ipc-*`
//! benchmark rows: a child of a Node parent that says "ready", then echoes
//! every message (`echo`) or counts `count` messages and says "done"
//! (`oneway`). Messages are decoded to `serde_json::Value`s, as Node's child
//! parses them into objects.
//!
//! `echo-blocking` is the bound for the echo: the same child with no async
//! runtime and no channel type, blocking reads and writes of json lines on
//! `NODE_CHANNEL_FD` (json serialization only).
//!
//!   cargo build --release -p pipewrap-ipc --example bench_child
//!   (started by crates/ipc/bench/parent.js, which bench/run.js runs)

use std::io::{BufRead, BufReader, Write};
use std::os::fd::FromRawFd;

use pipewrap_ipc::Channel;

fn main() -> Result<(), pipewrap_ipc::Error> {
  let mut args = std::env::args().skip(1);
  let mode = args.next().unwrap_or_else(|| "echo".into());
  let count: u64 = args.next().map_or(0, |c| c.parse().expect("count"));
  if mode == "echo-blocking" {
    return echo_blocking();
  }
  let rt = tokio::runtime::Builder::new_current_thread()
    .enable_all()
    .build()?;
  // The loop runs as a spawned task: waking it then costs nothing, where
  // waking the future given to block_on makes the scheduler poll its
  // reactor once more (one more epoll_wait per message).
  rt.block_on(async { tokio::spawn(serve(mode, count)).await.expect("serve task") })
}

async fn serve(mode: String, count: u64) -> Result<(), pipewrap_ipc::Error> {
  let channel = Channel::from_env()?;
  channel.send("ready").await?;
  if mode == "oneway" {
    let mut n = 0;
    while let Some(_msg) = channel.recv_value().await? {
      n += 1;
      if n == count {
        channel.send("done").await?;
      }
    }
  } else {
    while let Some(msg) = channel.recv_value().await? {
      channel.send(&msg).await?;
    }
  }
  Ok(())
}

fn echo_blocking() -> Result<(), pipewrap_ipc::Error> {
  let fd: i32 = std::env::var("NODE_CHANNEL_FD")
    .ok()
    .and_then(|v| v.parse().ok())
    .ok_or_else(|| pipewrap_ipc::Error::Env("NODE_CHANNEL_FD".into()))?;
  // SAFETY: the fd Node passed for the channel, owned by nobody else here.
  let sock = unsafe { std::os::unix::net::UnixStream::from_raw_fd(fd) };
  sock.set_nonblocking(false)?;
  let mut writer = sock.try_clone()?;
  let mut reader = BufReader::with_capacity(64 * 1024, sock);
  writer.write_all(b"\"ready\"\n")?;
  let mut line = Vec::new();
  loop {
    line.clear();
    if reader.read_until(b'\n', &mut line)? == 0 {
      return Ok(());
    }
    let v: serde_json::Value = serde_json::from_slice(&line)?;
    let mut out = serde_json::to_vec(&v)?;
    out.push(b'\n');
    writer.write_all(&out)?;
  }
}
