//! A Rust parent and a plain Node child (`tests/fixtures/child.js`), both
//! serializations: messages both ways, values only advanced mode carries,
//! handles both ways, disconnects and a killed child.

mod common;

use common::{spawn_child, within, MODES};
use pipewrap_ipc::{Buffer, Error, Serialization, Socket};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Job {
  id: u32,
  name: String,
  tags: Vec<String>,
  weight: f64,
  parent: Option<Box<Job>>,
}

#[tokio::test]
async fn messages_round_trip_both_serializations() {
  for ser in MODES {
    let (mut child, ch) = spawn_child("echo", &[], ser);
    let ready = within("ready", ch.recv_value()).await.unwrap().unwrap();
    assert_eq!(
      ready,
      json!({ "ready": true, "serialization": ser.as_str() })
    );
    let job = Job {
      id: 7,
      name: "façade €".into(),
      tags: vec!["a".into(), "".into()],
      weight: -0.5,
      parent: Some(Box::new(Job {
        id: 1,
        name: "root".into(),
        tags: vec![],
        weight: 1e300,
        parent: None,
      })),
    };
    ch.send(&job).await.unwrap();
    let back: Job = within("echo", ch.recv()).await.unwrap().unwrap();
    assert_eq!(back, job, "{ser:?}");
    // Plain values and serde_json::Value.
    for v in [
      json!("text"),
      json!(12),
      json!(null),
      json!([1, [2, [3]]]),
      json!({"k": {"x": false}}),
    ] {
      ch.send(&v).await.unwrap();
      assert_eq!(
        within("echo value", ch.recv_value())
          .await
          .unwrap()
          .unwrap(),
        v,
        "{ser:?}"
      );
    }
    drop(ch);
    assert!(within("exit", child.wait()).await.unwrap().success());
  }
}

#[tokio::test]
async fn node_values_arrive_and_rust_values_land_as_node_expects() {
  for ser in MODES {
    let (mut child, ch) = spawn_child("rich", &[], ser);
    let v = within("rich", ch.recv_value()).await.unwrap().unwrap();
    assert_eq!(v["text"], json!("ascii, latin1 ÿé, two-byte € and 😀"));
    assert_eq!(
      v["nested"],
      json!({ "deep": [[{ "a": null }]], "t": true, "f": false })
    );
    assert_eq!(v["sparse"], json!([1, null, 3]));
    assert_eq!(v["refs"], json!([{ "k": "v" }, { "k": "v" }]));
    assert!(v.get("gone").is_none(), "undefined properties are dropped");
    assert_eq!(v["negZero"], json!(0));
    assert_eq!(v["big"], json!(1u64 << 40));
    assert_eq!(v["frac"], json!(0.1));
    assert_eq!(v["neg"], json!(-123456));
    assert_eq!(
      v["buf"],
      json!({ "type": "Buffer", "data": [0, 1, 2, 255] })
    );
    match ser {
      Serialization::Advanced => {
        assert_eq!(v["u8"], json!({ "type": "Buffer", "data": [9, 8] }));
        assert_eq!(v["f64"], json!([1.5, -2]));
        assert_eq!(v["i32"], json!([-7, 7]));
      }
      Serialization::Json => {
        // JSON.stringify of a typed array: an object with index keys.
        assert_eq!(v["u8"], json!({ "0": 9, "1": 8 }));
      }
    }
    #[derive(Serialize)]
    struct Out {
      data: Buffer,
      text: &'static str,
      latin1: &'static str,
      list: (i32, i64, f64, u64, Option<u8>, bool),
      map: serde_json::Value,
      nan: f64,
    }
    ch.send(&Out {
      data: Buffer::from(vec![1, 2, 3, 250]),
      text: "ß€😀 and \"quotes\"\n",
      latin1: "ÿé",
      list: (1, -1, 2.5, 1 << 32, None, true),
      map: json!({ "1": "one", "b": { "c": [] } }),
      nan: f64::NAN,
    })
    .await
    .unwrap();
    let verdict = within("verdict", ch.recv_value()).await.unwrap().unwrap();
    assert_eq!(verdict, json!({ "ok": true }), "{ser:?}");
    drop(ch);
    within("exit", child.wait()).await.unwrap();
  }
}

#[tokio::test]
async fn typed_reads_of_buffers_and_typed_arrays() {
  #[derive(Deserialize)]
  struct Rich {
    buf: Buffer,
    u8: Vec<u8>,
    f64: Vec<f64>,
    i32: Vec<i32>,
    sparse: Vec<Option<u8>>,
    big: u64,
    #[serde(rename = "negZero")]
    neg_zero: i32,
  }
  let (mut child, ch) = spawn_child("rich", &[], Serialization::Advanced);
  let r: Rich = within("rich", ch.recv()).await.unwrap().unwrap();
  assert_eq!(r.buf.0, vec![0, 1, 2, 255]);
  assert_eq!(r.u8, vec![9, 8]);
  assert_eq!(r.f64, vec![1.5, -2.0]);
  assert_eq!(r.i32, vec![-7, 7]);
  assert_eq!(r.sparse, vec![Some(1), None, Some(3)]);
  assert_eq!(r.big, 1 << 40);
  assert_eq!(r.neg_zero, 0);
  drop(ch);
  within("exit", child.wait()).await.unwrap();
}

#[tokio::test]
async fn an_undecodable_value_fails_that_message_only() {
  let (mut child, ch) = spawn_child("unsupported", &[], Serialization::Advanced);
  let e = within("date", ch.recv_value()).await.unwrap_err();
  assert!(
    matches!(e, Error::Advanced(_)) && e.to_string().contains("Date"),
    "{e}"
  );
  let e = within("map", ch.recv_value()).await.unwrap_err();
  assert!(e.to_string().contains("Map"), "{e}");
  assert_eq!(
    within("after", ch.recv_value()).await.unwrap().unwrap(),
    json!({ "after": 1 })
  );
  // The child has nothing else to say; it exits, the channel ends.
  assert!(within("end", ch.recv_value()).await.unwrap().is_none());
  within("exit", child.wait()).await.unwrap();
}

#[tokio::test]
async fn node_sends_a_socket_and_a_server() {
  for ser in MODES {
    let (mut child, ch) = spawn_child("send-handles", &[], ser);
    within("handles from node", node_handles(&ch, ser)).await;
    drop(ch);
    within("exit", child.wait()).await.unwrap();
  }
}

async fn node_handles(ch: &pipewrap_ipc::Channel, ser: Serialization) {
  let mut listener = None;
  let mut client_got = None;
  let mut closed = false;
  while listener.is_none() || client_got.is_none() || !closed {
    let mut m = ch.recv_message().await.unwrap().unwrap();
    let v = m.value().unwrap();
    match v["kind"].as_str() {
      Some("socket") => {
        let h = m
          .take_handle()
          .unwrap_or_else(|| panic!("{ser:?}: no handle with {v}"));
        assert_eq!(h.wire_type(), "net.Socket");
        let Socket::UnixStream(mut s) = h.into_socket().unwrap() else {
          panic!("not a UnixStream")
        };
        s.write_all(b"hello from the rust side\n").await.unwrap();
      }
      Some("server") => {
        let h = m
          .take_handle()
          .unwrap_or_else(|| panic!("{ser:?}: no handle with {v}"));
        assert_eq!(h.wire_type(), "net.Server");
        let Socket::UnixListener(l) = h.into_socket().unwrap() else {
          panic!("not a UnixListener")
        };
        listener = Some((l, v["path"].as_str().unwrap().to_owned()));
      }
      Some("closed") => closed = true,
      _ if v.get("clientGot").is_some() => client_got = Some(v["clientGot"].clone()),
      _ => panic!("unexpected {v}"),
    }
  }
  // Node's client read what Rust wrote on the socket it handed over.
  assert_eq!(
    client_got.unwrap(),
    json!("hello from the rust side\n"),
    "{ser:?}"
  );
  // The listening socket Node made, closed on Node's side: a connection to
  // its (abstract) name is accepted here.
  let (l, _name) = listener.unwrap();
  let l = l.into_std().unwrap();
  let addr = l.local_addr().unwrap();
  assert!(addr.as_pathname().is_none(), "an abstract name");
  let client = std::os::unix::net::UnixStream::connect_addr(&addr).unwrap();
  client.set_nonblocking(true).unwrap();
  let l = tokio::net::UnixListener::from_std(l).unwrap();
  let (mut a, _) = l.accept().await.unwrap();
  let mut c = tokio::net::UnixStream::from_std(client).unwrap();
  c.write_all(b"x").await.unwrap();
  let mut b = [0u8; 1];
  a.read_exact(&mut b).await.unwrap();
  assert_eq!(&b, b"x");
}

#[tokio::test]
async fn rust_sends_a_listener_and_a_stream() {
  for ser in MODES {
    let (mut child, ch) = spawn_child("receive-handles", &[], ser);
    assert_eq!(
      within("ready", ch.recv_value()).await.unwrap().unwrap(),
      json!("ready")
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    within(
      "send listener",
      ch.send_with_handle(&json!({ "n": 1 }), l.try_into().unwrap()),
    )
    .await
    .unwrap();
    let r = within("report", ch.recv_value()).await.unwrap().unwrap();
    assert_eq!(
      r,
      json!({ "got": { "n": 1 }, "type": "net.Server", "listening": true, "port": port }),
      "{ser:?}"
    );
    let (ours, theirs) = tokio::net::UnixStream::pair().unwrap();
    within(
      "send stream",
      ch.send_with_handle("stream", theirs.try_into().unwrap()),
    )
    .await
    .unwrap();
    // A message sent right after a handle waits for the ACK, then goes.
    ch.send("plain after handle").await.unwrap();
    let r = within("report", ch.recv_value()).await.unwrap().unwrap();
    assert_eq!(r, json!({ "got": "stream", "type": "net.Socket" }));
    let mut ours = ours;
    let mut text = String::new();
    within("pong", ours.read_to_string(&mut text))
      .await
      .unwrap();
    assert_eq!(text, "pong from node\n");
    let r = within("no-handle report", ch.recv_value())
      .await
      .unwrap()
      .unwrap();
    assert_eq!(r["error"], json!("no handle"));
    drop(ours);
    drop(ch);
    within("exit", child.wait()).await.unwrap();
  }
}

#[tokio::test]
async fn dropping_the_channel_makes_node_see_disconnect() {
  let mut cmd = tokio::process::Command::new(common::node());
  cmd
    .arg(common::fixture("child.js"))
    .arg("wait-disconnect")
    .stdout(std::process::Stdio::piped())
    .kill_on_drop(true);
  let (child, ch) =
    pipewrap_ipc::Channel::spawn(&mut cmd, Serialization::Json, Default::default()).unwrap();
  assert_eq!(
    within("ready", ch.recv_value()).await.unwrap().unwrap(),
    json!("ready")
  );
  drop(ch);
  // The child has a 'message' listener: only 'disconnect' lets it exit.
  let out = within("child exit", child.wait_with_output())
    .await
    .unwrap();
  assert!(out.status.success());
  assert_eq!(String::from_utf8_lossy(&out.stdout), "disconnected\n");
}

#[tokio::test]
async fn disconnect_by_node_ends_recv() {
  for ser in MODES {
    let (mut child, ch) = spawn_child("disconnect-self", &[], ser);
    assert_eq!(
      within("bye", ch.recv_value()).await.unwrap().unwrap(),
      json!("bye")
    );
    assert!(within("none", ch.recv_value()).await.unwrap().is_none());
    assert!(within("still none", ch.recv_value())
      .await
      .unwrap()
      .is_none());
    assert!(matches!(ch.send("late").await, Err(Error::Disconnected)));
    within("exit", child.wait()).await.unwrap();
  }
}

#[tokio::test]
async fn a_killed_child_ends_the_channel() {
  let (mut child, ch) = spawn_child("hang", &[], Serialization::Json);
  assert_eq!(
    within("ready", ch.recv_value()).await.unwrap().unwrap(),
    json!("ready")
  );
  // A receiver is waiting when the child dies.
  let waiting = async { ch.recv_value().await };
  let kill = async {
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    child.start_kill().unwrap();
  };
  let (got, ()) = within("recv after kill", async { tokio::join!(waiting, kill) }).await;
  assert!(got.unwrap().is_none());
  assert!(matches!(ch.send("anyone?").await, Err(Error::Disconnected)));
  within("reap", child.wait()).await.unwrap();
}

#[tokio::test]
async fn a_flood_arrives_whole_and_in_order() {
  for ser in MODES {
    let n = 20_000;
    let (mut child, ch) = spawn_child("flood", &[&n.to_string()], ser);
    #[derive(Deserialize)]
    struct M {
      i: usize,
      pad: String,
    }
    for want in 0..n {
      let m: M = within("flood", ch.recv()).await.unwrap().unwrap();
      assert_eq!(m.i, want);
      assert_eq!(m.pad.len(), want % 300);
    }
    ch.send("done").await.unwrap();
    assert!(within("end", ch.recv_value()).await.unwrap().is_none());
    within("exit", child.wait()).await.unwrap();
  }
}
