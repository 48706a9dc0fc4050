//! The channel against a scripted peer (the other end of a socketpair, no
//! Node): malformed and oversized input, the NODE_HANDLE exchange at the
//! byte level, backpressure, cancellation.

mod common;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream as StdStream;
use std::time::Duration;

use common::within;
use pipewrap_core::sys;
use pipewrap_ipc::{Channel, Error, Options, Serialization};
use serde_json::json;

fn pair(ser: Serialization, options: Options) -> (Channel, StdStream) {
  let (a, b) = StdStream::pair().unwrap();
  let ch = Channel::from_fd(OwnedFd::from(a), ser, options).unwrap();
  (ch, b)
}

fn v8_frame(payload_hex: &str) -> Vec<u8> {
  let payload: Vec<u8> = (0..payload_hex.len())
    .step_by(2)
    .map(|i| u8::from_str_radix(&payload_hex[i..i + 2], 16).unwrap())
    .collect();
  let mut f = (payload.len() as u32).to_be_bytes().to_vec();
  f.extend(payload);
  f
}

/// Reads json lines from the peer end until `n` arrived.
fn read_lines(peer: &mut StdStream, n: usize) -> Vec<serde_json::Value> {
  peer
    .set_read_timeout(Some(Duration::from_secs(10)))
    .unwrap();
  let mut buf = Vec::new();
  let mut chunk = [0u8; 4096];
  while buf.iter().filter(|&&b| b == b'\n').count() < n {
    let k = peer.read(&mut chunk).expect("peer read");
    assert!(k > 0, "channel closed early");
    buf.extend_from_slice(&chunk[..k]);
  }
  buf
    .split(|&b| b == b'\n')
    .filter(|l| !l.is_empty())
    .map(|l| serde_json::from_slice(l).unwrap())
    .collect()
}

#[tokio::test]
async fn a_malformed_json_line_is_an_error_and_the_next_one_reads() {
  let (ch, mut peer) = pair(Serialization::Json, Options::new());
  peer
    .write_all(b"{\"a\":1}\n{not json\n\xff\xfe\n[1,2]\n")
    .unwrap();
  assert_eq!(
    within("1", ch.recv_value()).await.unwrap().unwrap(),
    json!({ "a": 1 })
  );
  let e = within("2", ch.recv_value()).await.unwrap_err();
  assert!(matches!(e, Error::Json(_)) && e.is_message_error(), "{e}");
  assert!(within("3", ch.recv_value())
    .await
    .unwrap_err()
    .is_message_error());
  assert_eq!(
    within("4", ch.recv_value()).await.unwrap().unwrap(),
    json!([1, 2])
  );
  // A type mismatch is an error for that message too.
  peer.write_all(b"\"text\"\n7\n").unwrap();
  assert!(matches!(
    within("5", ch.recv::<u32>()).await,
    Err(Error::Json(_))
  ));
  assert_eq!(within("6", ch.recv::<u32>()).await.unwrap(), Some(7));
  drop(peer);
  assert!(within("eof", ch.recv_value()).await.unwrap().is_none());
}

#[tokio::test]
async fn a_malformed_v8_frame_is_an_error_and_the_next_one_reads() {
  let (ch, mut peer) = pair(Serialization::Advanced, Options::new());
  let frames = [
    v8_frame("ff0f6f22016149"),         // an object cut short
    v8_frame("ff0f44000000000000f03f"), // a Date
    v8_frame("00"),                     // no header
    v8_frame("ff0f22026869"),           // "hi"
  ];
  peer.write_all(&frames.concat()).unwrap();
  for what in ["truncated", "Date", "version header"] {
    let e = within(what, ch.recv_value()).await.unwrap_err();
    assert!(
      matches!(e, Error::Advanced(_)) && e.to_string().contains(what),
      "{what}: {e}"
    );
  }
  assert_eq!(
    within("hi", ch.recv_value()).await.unwrap().unwrap(),
    json!("hi")
  );
  drop(peer);
  assert!(within("eof", ch.recv_value()).await.unwrap().is_none());
}

#[tokio::test]
async fn an_oversized_message_ends_the_channel() {
  for ser in common::MODES {
    let (ch, mut peer) = pair(ser, Options::new().max_message_size(1000));
    let ok: Vec<u8> = match ser {
      Serialization::Json => b"\"fine\"\n".to_vec(),
      Serialization::Advanced => v8_frame("ff0f220466696e65"),
    };
    let big: Vec<u8> = match ser {
      Serialization::Json => [vec![b'"'; 1], vec![b'x'; 5000]].concat(),
      Serialization::Advanced => 5000u32.to_be_bytes().to_vec(),
    };
    peer.write_all(&[ok, big].concat()).unwrap();
    assert_eq!(
      within("ok", ch.recv_value()).await.unwrap().unwrap(),
      json!("fine")
    );
    let e = within("big", ch.recv_value()).await.unwrap_err();
    assert!(
      matches!(e, Error::TooLarge { limit: 1000, .. }),
      "{ser:?}: {e}"
    );
    assert!(within("closed", ch.recv_value()).await.unwrap().is_none());
    // The peer sees the channel closed.
    peer
      .set_read_timeout(Some(Duration::from_secs(10)))
      .unwrap();
    let mut rest = Vec::new();
    assert_eq!(peer.read_to_end(&mut rest).unwrap(), 0);
    assert!(matches!(ch.send("x").await, Err(Error::Disconnected)));
  }
}

// Multi-threaded: the scripted peer reads with blocking calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_handle_without_an_fd_is_nacked_and_with_one_acked() {
  let (ch, mut peer) = pair(Serialization::Json, Options::new());
  // No fd: NACK, and nothing reaches recv.
  peer
    .write_all(b"{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Socket\",\"msg\":\"lost\"}\n")
    .unwrap();
  assert_eq!(
    read_lines(&mut peer, 1),
    vec![json!({ "cmd": "NODE_HANDLE_NACK" })]
  );
  // With an fd in the same write: ACK, and the message with its handle.
  let (mine, theirs) = StdStream::pair().unwrap();
  let frame = b"{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Socket\",\"msg\":{\"n\":1}}\n";
  assert_eq!(
    sys::send_with_fds(peer.as_raw_fd(), frame, &[theirs.as_raw_fd()]),
    Ok(frame.len())
  );
  drop(theirs);
  assert_eq!(
    read_lines(&mut peer, 1),
    vec![json!({ "cmd": "NODE_HANDLE_ACK" })]
  );
  let mut m = within("message", ch.recv_message()).await.unwrap().unwrap();
  assert_eq!(m.value().unwrap(), json!({ "n": 1 }));
  let h = m.take_handle().unwrap();
  assert_eq!(h.wire_type(), "net.Socket");
  let mut s = h.into_unix_stream().unwrap();
  tokio::io::AsyncWriteExt::write_all(&mut s, b"through")
    .await
    .unwrap();
  let mut got = [0u8; 7];
  (&mine).read_exact(&mut got).unwrap();
  assert_eq!(&got, b"through");
  // Other internal messages and fds riding on plain messages are dropped.
  let (x, y) = StdStream::pair().unwrap();
  let plain = b"{\"cmd\":\"NODE_CLUSTER\",\"x\":1}\n\"plain\"\n";
  sys::send_with_fds(peer.as_raw_fd(), plain, &[x.as_raw_fd()]).unwrap();
  drop(x);
  assert_eq!(
    within("plain", ch.recv_value()).await.unwrap().unwrap(),
    json!("plain")
  );
  // Our copy of that fd was closed: the other end reads EOF.
  y.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
  assert_eq!((&y).read(&mut [0u8; 1]).unwrap(), 0);
}

#[tokio::test]
async fn a_handle_nacked_past_the_limit_fails_and_later_sends_go_on() {
  let (ch, peer) = pair(Serialization::Json, Options::new());
  let (a, _b) = tokio::net::UnixStream::pair().unwrap();
  let send = ch.send_with_handle("h", a.try_into().unwrap());
  let later = async {
    // Queued behind the handle until it is settled.
    ch.send("after").await.unwrap();
  };
  let script = async {
    let mut peer = tokio::net::UnixStream::from_std({
      peer.set_nonblocking(true).unwrap();
      peer.try_clone().unwrap()
    })
    .unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    // The first try and 3 retransmissions, each NACKed.
    while seen.iter().filter(|&&b| b == b'\n').count() < 4 {
      let n = peer.read(&mut buf).await.unwrap();
      seen.extend_from_slice(&buf[..n]);
      for _ in buf[..n].iter().filter(|&&b| b == b'\n') {
        peer
          .write_all(b"{\"cmd\":\"NODE_HANDLE_NACK\"}\n")
          .await
          .unwrap();
      }
    }
    let text = String::from_utf8(seen).unwrap();
    assert_eq!(text.matches("NODE_HANDLE\"").count(), 4, "{text}");
    assert!(!text.contains("after"), "nothing passes a handle in flight");
    let mut rest = [0u8; 64];
    let n = peer.read(&mut rest).await.unwrap();
    assert_eq!(&rest[..n], b"\"after\"\n");
  };
  let (r, (), ()) = within("nack", async { tokio::join!(send, later, script) }).await;
  assert!(matches!(r, Err(Error::HandleNotReceived)), "{r:?}");
}

#[tokio::test]
async fn send_waits_while_the_peer_does_not_read() {
  let (ch, mut peer) = pair(Serialization::Json, Options::new());
  let payload = "y".repeat(64 * 1024);
  let count = 64; // 4 MiB: far more than the socket buffers hold
  let sender = async {
    for i in 0..count {
      ch.send(&json!({ "i": i, "p": payload })).await.unwrap();
    }
  };
  // Unread, the sender cannot finish.
  let stalled = tokio::time::timeout(Duration::from_millis(300), sender).await;
  assert!(stalled.is_err(), "send finished with nobody reading");
  // The sender future was dropped mid-way (cancelled): every message it
  // had queued still arrives whole, in order. Then drain and count.
  let reader = std::thread::spawn(move || {
    let mut all = Vec::new();
    peer.read_to_end(&mut all).unwrap();
    all
  });
  ch.send(&json!({ "i": "last" })).await.unwrap();
  ch.disconnect().await.unwrap();
  let all = reader.join().unwrap();
  let lines: Vec<serde_json::Value> = all
    .split(|&b| b == b'\n')
    .filter(|l| !l.is_empty())
    .map(|l| serde_json::from_slice(l).expect("whole messages only"))
    .collect();
  assert_eq!(lines.last().unwrap(), &json!({ "i": "last" }));
  for (n, l) in lines[..lines.len() - 1].iter().enumerate() {
    assert_eq!(l["i"], json!(n));
  }
  assert!(lines.len() > 2);
}

#[tokio::test]
async fn a_cancelled_recv_loses_nothing() {
  let (ch, mut peer) = pair(Serialization::Json, Options::new());
  let n = 2000;
  let writer = std::thread::spawn(move || {
    for i in 0..n {
      peer.write_all(format!("{i}\n").as_bytes()).unwrap();
      if i % 100 == 0 {
        std::thread::sleep(Duration::from_millis(3));
      }
    }
  });
  let mut next = 0u32;
  let mut cancelled = 0;
  while next < n {
    // A recv raced against a timer that often wins.
    tokio::select! {
      r = ch.recv::<u32>() => {
        assert_eq!(r.unwrap(), Some(next));
        next += 1;
      }
      _ = tokio::time::sleep(Duration::from_micros(50)) => cancelled += 1,
    }
  }
  writer.join().unwrap();
  assert!(within("eof", ch.recv::<u32>()).await.unwrap().is_none());
  assert!(cancelled > 0, "no recv was cancelled");
}

#[tokio::test]
async fn concurrent_senders_never_interleave() {
  let (ch, peer) = pair(Serialization::Advanced, Options::new());
  let ch = std::sync::Arc::new(ch);
  let reader = std::thread::spawn(move || {
    let mut peer = peer;
    let mut all = Vec::new();
    peer.read_to_end(&mut all).unwrap();
    all
  });
  let mut tasks = Vec::new();
  for t in 0..4 {
    let ch = ch.clone();
    tasks.push(tokio::spawn(async move {
      for i in 0..500 {
        ch.send(&json!({ "t": t, "i": i, "pad": "z".repeat(i * 7 % 3000) }))
          .await
          .unwrap();
      }
    }));
  }
  for t in tasks {
    t.await.unwrap();
  }
  ch.disconnect().await.unwrap();
  let all = reader.join().unwrap();
  // Every frame decodes, and each sender's messages are in order.
  let mut at = 0;
  let mut last = [-1i64; 4];
  let mut count = 0;
  while at < all.len() {
    let len = u32::from_be_bytes(all[at..at + 4].try_into().unwrap()) as usize;
    let v = pipewrap_ipc::v8::decode(&all[at + 4..at + 4 + len])
      .unwrap()
      .into_json();
    let (t, i) = (v["t"].as_u64().unwrap() as usize, v["i"].as_i64().unwrap());
    assert_eq!(i, last[t] + 1);
    last[t] = i;
    at += 4 + len;
    count += 1;
  }
  assert_eq!(count, 2000);
}

#[test]
fn from_env_refuses_a_missing_or_bad_channel() {
  // The only test in this binary touching the environment.
  std::env::remove_var("NODE_CHANNEL_FD");
  let rt = tokio::runtime::Builder::new_current_thread()
    .enable_all()
    .build()
    .unwrap();
  rt.block_on(async {
    let e = Channel::from_env().unwrap_err();
    assert!(matches!(&e, Error::Env(m) if m.contains("not set")), "{e}");
    std::env::set_var("NODE_CHANNEL_FD", "nope");
    assert!(matches!(Channel::from_env().unwrap_err(), Error::Env(m) if m.contains("not an fd")));
    // An open fd that is not a socket.
    let file = std::fs::File::open("/dev/null").unwrap();
    std::env::set_var("NODE_CHANNEL_FD", file.as_raw_fd().to_string());
    assert!(matches!(Channel::from_env().unwrap_err(), Error::Env(m) if m.contains("not an open Unix stream socket")));
    let (a, _b) = StdStream::pair().unwrap();
    std::env::set_var("NODE_CHANNEL_FD", a.as_raw_fd().to_string());
    std::env::set_var("NODE_CHANNEL_SERIALIZATION_MODE", "xml");
    assert!(matches!(Channel::from_env().unwrap_err(), Error::Env(m) if m.contains("xml")));
    std::env::remove_var("NODE_CHANNEL_FD");
    std::env::remove_var("NODE_CHANNEL_SERIALIZATION_MODE");
  });
}
