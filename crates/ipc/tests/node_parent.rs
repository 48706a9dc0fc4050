//! A plain Node parent (`tests/fixtures/parent.js`, `child_process.spawn`
//! with an `'ipc'` stdio entry) and a Rust child on `Channel::from_env`,
//! both serializations. This binary is both: run by cargo, it runs every
//! scenario, each a `node parent.js <this binary> <scenario> <mode>` that
//! starts this binary again with `PWIPC_CHILD=<scenario>` as the child.

mod common;

use std::time::Duration;

use pipewrap_ipc::{Channel, Socket};
use serde_json::json;
use tokio::io::AsyncWriteExt;

fn main() {
  if let Ok(scenario) = std::env::var("PWIPC_CHILD") {
    let rt = tokio::runtime::Builder::new_current_thread()
      .enable_all()
      .build()
      .unwrap();
    std::process::exit(match rt.block_on(child(&scenario)) {
      Ok(()) => 0,
      Err(e) => {
        eprintln!("rust child ({scenario}): {e}");
        1
      }
    });
  }
  let me = std::env::current_exe().unwrap();
  let mut failed = 0;
  for scenario in ["echo", "handles", "drop"] {
    for mode in ["json", "advanced"] {
      let out = std::process::Command::new(common::node())
        .arg(common::fixture("parent.js"))
        .arg(&me)
        .args([scenario, mode])
        .output()
        .expect("run node");
      let stdout = String::from_utf8_lossy(&out.stdout);
      if out.status.success() {
        println!("ok   {scenario} {mode}: {}", stdout.trim());
      } else {
        failed += 1;
        println!(
          "FAIL {scenario} {mode}: {}\n{}",
          stdout.trim(),
          String::from_utf8_lossy(&out.stderr)
        );
      }
    }
  }
  if failed > 0 {
    println!("{failed} node-parent scenario(s) failed");
    std::process::exit(1);
  }
}

async fn child(scenario: &str) -> Result<(), pipewrap_ipc::Error> {
  let ch = Channel::from_env()?;
  // The channel is ours now: the variables are gone (as Node's child does).
  assert!(std::env::var_os("NODE_CHANNEL_FD").is_none());
  ch.send(&json!({ "hello": "from rust", "serialization": ch.serialization().as_str() }))
    .await?;
  match scenario {
    "echo" => {
      while let Some(v) = ch.recv_value().await? {
        ch.send(&v).await?;
      }
    }
    "handles" => {
      while let Some(mut m) = ch.recv_message().await? {
        let v = m.value()?;
        if let Some(h) = m.take_handle() {
          match h.into_socket()? {
            Socket::UnixStream(mut s) => {
              s.write_all(format!("rust got: {}\n", v.as_str().unwrap_or("?")).as_bytes())
                .await?
            }
            other => panic!("unexpected {other:?}"),
          }
        } else if v == json!("send me a server") {
          let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
          let port = l.local_addr()?.port();
          ch.send_with_handle(&json!({ "port": port }), l.try_into()?)
            .await?;
        }
      }
    }
    "drop" => {
      let _ = ch.recv_value().await?;
      drop(ch);
      tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    other => panic!("unknown scenario {other}"),
  }
  Ok(())
}
