//! pipewrap's Node-free core: the Unix-socket syscall layer and the IPC wire
//! framing. The napi addon builds on it; `cargo test` exercises it against
//! tokio peers without Node.

pub mod framing;
pub mod queue;
// The Unix backend's OS layer and state machine; on Windows the addon uses
// libuv's named pipes and only the OS-free queue from here.
#[cfg(unix)]
pub mod stream;
#[cfg(unix)]
pub mod sys;
