//! The seam between the binding and the operating system. Above it, the
//! same on every OS: the `Pipe` class's methods (`pipe.rs`: argument
//! checks, JS values, return codes), the request classes, the ArrayBuffers
//! shared with JS and the JS layers. Below it, one backend per OS that
//! performs the handle operations (bind, listen/accept, connect, open,
//! read start/stop, write, shutdown, close, ref/unref, handle transfer)
//! and delivers their results. The backend is picked here and only here:
//! no other module carries an OS `cfg`.
//!
//! Unix (Linux; macOS being ported): the Node-free state machine
//! (`pipewrap_core`), a `uv_poll_t` per fd on Node's loop (`driver`), one
//! handle's state (`stream`) and natively made `Pipe` objects (`handles`).

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

#[cfg(not(unix))]
compile_error!("pipewrap has a Unix backend only so far; the Windows one is issue 19");
