#![allow(dead_code)] // each test file uses some of these

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use pipewrap_ipc::{Channel, Options, Serialization};

pub const MODES: [Serialization; 2] = [Serialization::Json, Serialization::Advanced];

/// The node binary: `$NODE` or `node` on PATH.
pub fn node() -> String {
  std::env::var("NODE").unwrap_or_else(|_| "node".into())
}

pub fn fixture(name: &str) -> PathBuf {
  PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    .join("tests/fixtures")
    .join(name)
}

/// Starts `node tests/fixtures/child.js <mode> [args]` with a channel.
pub fn spawn_child(
  mode: &str,
  args: &[&str],
  ser: Serialization,
) -> (tokio::process::Child, Channel) {
  let mut cmd = tokio::process::Command::new(node());
  cmd
    .arg(fixture("child.js"))
    .arg(mode)
    .args(args)
    .env("PWIPC_MODE", ser.as_str())
    .kill_on_drop(true);
  Channel::spawn(&mut cmd, ser, Options::new()).expect("spawn node")
}

/// Fails the test instead of hanging it.
pub async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
  match tokio::time::timeout(Duration::from_secs(20), f).await {
    Ok(v) => v,
    Err(_) => panic!("timed out: {what}"),
  }
}
