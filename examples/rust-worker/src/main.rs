//! A Rust worker for a Node parent: jobs come in over Node's own IPC
//! channel, results go back, no protocol of our own. The parent starts it
//! with `child_process.spawn(bin, { stdio: [..., 'ipc'] })` (or pipewrap's
//! `fork`) and uses `worker.send(job)` / `worker.on('message')`; see
//! `parent.js`. Copy this file and replace `run` with your own work.

use pipewrap_ipc::{Buffer, Channel, Socket};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

/// What the parent asks for (`{ kind: 'primes', id: 1, n: 100000 }`).
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
enum Job {
  /// Count the primes below `n`: the kind of hot loop worth moving out of
  /// Node.
  Primes { id: u64, n: u64 },
  /// FNV-1a of some bytes (a Buffer with `serialization: 'advanced'`, an
  /// array of numbers with json).
  Checksum { id: u64, data: Buffer },
  /// Sends `value` back unchanged.
  Echo { id: u64, value: serde_json::Value },
  /// Writes a greeting on the socket that came with the message, closes it.
  Greet { id: u64 },
}

/// What goes back (`{ id: 1, result: 9592 }`).
#[derive(Serialize)]
struct Done<T: Serialize> {
  id: u64,
  result: T,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), pipewrap_ipc::Error> {
  let channel = Channel::from_env()?;
  // Ok(None): the parent disconnected or exited, so the worker is done.
  while let Some(mut msg) = channel.recv_message().await? {
    let job: Job = match msg.decode() {
      Ok(job) => job,
      Err(e) => {
        // One bad message is reported; the channel goes on.
        channel
          .send(&serde_json::json!({ "error": e.to_string() }))
          .await?;
        continue;
      }
    };
    match job {
      Job::Primes { id, n } => {
        channel
          .send(&Done {
            id,
            result: count_primes(n),
          })
          .await?
      }
      Job::Checksum { id, data } => {
        channel
          .send(&Done {
            id,
            result: fnv1a(&data),
          })
          .await?
      }
      Job::Echo { id, value } => channel.send(&Done { id, result: value }).await?,
      Job::Greet { id } => {
        let greeted = match msg.take_handle().map(|h| h.into_socket()) {
          Some(Ok(Socket::UnixStream(mut s))) => s.write_all(b"hello from rust\n").await.is_ok(),
          Some(Ok(Socket::TcpStream(mut s))) => s.write_all(b"hello from rust\n").await.is_ok(),
          _ => false,
        };
        channel
          .send(&Done {
            id,
            result: greeted,
          })
          .await?;
      }
    }
  }
  Ok(())
}

fn count_primes(n: u64) -> u64 {
  let n = n as usize;
  if n < 3 {
    return 0;
  }
  let mut composite = vec![false; n];
  let mut count = 0;
  for i in 2..n {
    if !composite[i] {
      count += 1;
      let mut j = i * i;
      while j < n {
        composite[j] = true;
        j += i;
      }
    }
  }
  count
}

fn fnv1a(data: &[u8]) -> String {
  let mut h: u32 = 0x811c9dc5;
  for &b in data {
    h ^= u32::from(b);
    h = h.wrapping_mul(0x01000193);
  }
  format!("{h:08x}")
}
