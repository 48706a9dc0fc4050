//! Request objects: `PipeConnectWrap`, `WriteWrap`, `ShutdownWrap`. They carry
//! no native state; the JS layer hangs `oncomplete` and friends on them, and
//! the Pipe methods check that they really are instances (Node aborts when they
//! are not; pipewrap throws a TypeError instead).

use napi_derive::napi;

#[napi]
pub struct PipeConnectWrap {}

#[napi]
impl PipeConnectWrap {
  #[napi(constructor)]
  #[allow(clippy::new_without_default)]
  pub fn new() -> Self {
    PipeConnectWrap {}
  }
}

#[napi]
pub struct WriteWrap {}

#[napi]
impl WriteWrap {
  #[napi(constructor)]
  #[allow(clippy::new_without_default)]
  pub fn new() -> Self {
    WriteWrap {}
  }
}

#[napi]
pub struct ShutdownWrap {}

#[napi]
impl ShutdownWrap {
  #[napi(constructor)]
  #[allow(clippy::new_without_default)]
  pub fn new() -> Self {
    ShutdownWrap {}
  }
}
