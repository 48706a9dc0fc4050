//! The physical reference for the benchmark: blocking Rust threads over a
//! `UnixStream::pair`, ping-pong (64-byte round trips) and bulk (64 KiB
//! writes). Prints one summary line.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Instant;

fn pingpong(rounds: usize) -> f64 {
  let (mut a, mut b) = UnixStream::pair().unwrap();
  let echo = std::thread::spawn(move || {
    let mut buf = [0u8; 64];
    for _ in 0..rounds {
      b.read_exact(&mut buf).unwrap();
      b.write_all(&buf).unwrap();
    }
  });
  let msg = [97u8; 64];
  let mut buf = [0u8; 64];
  let t0 = Instant::now();
  for _ in 0..rounds {
    a.write_all(&msg).unwrap();
    a.read_exact(&mut buf).unwrap();
  }
  let rate = rounds as f64 / t0.elapsed().as_secs_f64();
  echo.join().unwrap();
  rate
}

fn bulk(total: usize) -> f64 {
  let (mut a, mut b) = UnixStream::pair().unwrap();
  let sink = std::thread::spawn(move || {
    let mut buf = vec![0u8; 64 * 1024];
    let mut n = 0;
    while n < total {
      n += b.read(&mut buf).unwrap();
    }
  });
  let chunk = vec![120u8; 64 * 1024];
  let t0 = Instant::now();
  let mut sent = 0;
  while sent < total {
    a.write_all(&chunk).unwrap();
    sent += chunk.len();
  }
  sink.join().unwrap();
  total as f64 / 1e6 / t0.elapsed().as_secs_f64()
}

fn main() {
  let pp = pingpong(100_000);
  let mb = bulk(512 * 1024 * 1024);
  println!("pingpong {pp:.0} round trips/s, bulk {mb:.0} MB/s");
}
