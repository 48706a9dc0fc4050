//! pipewrap's Node-free core: the Unix-socket syscall layer and the IPC wire
//! framing. The napi addon builds on it; `cargo test` exercises it against
//! tokio peers without Node.

pub mod framing;
pub mod queue;
pub mod stream;
pub mod sys;
