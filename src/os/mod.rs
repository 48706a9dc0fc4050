//! The seam between the binding and the operating system. Above it, the
//! same on every OS: the `Pipe` class's methods (`pipe.rs`: argument
//! checks, JS values, return codes), the request classes, the ArrayBuffers
//! shared with JS and the JS layers. Below it, one backend per OS that
//! performs the handle operations (bind, listen/accept, connect, open,
//! read start/stop, write, shutdown, close, ref/unref, handle transfer)
//! and delivers their results. The backend is picked here and only here:
//! no other module carries an OS `cfg`.
//!
//! Unix (Linux, macOS): the Node-free state machine (`pipewrap_core`), a
//! `uv_poll_t` per fd on Node's loop (`driver`), one handle's state
//! (`stream`) and natively made `Pipe` objects (`handles`).
//!
//! Windows: libuv's own named pipes (`uv_pipe_t`), exported by node.exe,
//! on the same loop (`windows`).
//!
//! Each backend exports the same names: `Handle`, `Kind`, `SendHandle`,
//! `errno`, `stream_of_state`, the operations, and `PENDING_INSTANCES` (whether
//! `Pipe` has Windows' `setPendingInstances`).

#[cfg(unix)]
pub mod driver;
#[cfg(unix)]
pub mod handles;
#[cfg(unix)]
pub mod stream;
#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;
