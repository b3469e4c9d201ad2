//! What can go wrong with a Linux guest, and what its console showed.
//!
//! A bare guest fails in ways its registers explain (`crate::error`). A
//! Linux guest mostly fails in ways only its kernel can tell: a panic, a
//! reset, an `/init` that never ran. So every [`LinuxError`] from a running
//! guest carries the last lines of its serial console (`super::devices`),
//! and names the cases a reader meets: the kernel panicked (`panic=-1`
//! makes a panicking kernel reset at once), the guest reset itself, it
//! never said READY. Errors before the guest exists are the layout's
//! (`super::layout`).

use super::layout::LayoutError;
use crate::error::Error;
use std::time::Duration;

/// How many console lines an error carries.
pub const ERROR_LINES: usize = 25;

/// Errors of a Linux guest: what failed, and what the console showed.
#[derive(Debug, thiserror::Error)]
pub enum LinuxError {
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error("{error}{}", console_section(.console))]
    Vm { error: Error, console: String },
    #[error("the guest kernel panicked: {message}{}", console_section(.console))]
    Panic { message: String, console: String },
    #[error("the guest reset itself ({how}) {when}{}", console_section(.console))]
    Reset {
        how: &'static str,
        when: &'static str,
        console: String,
    },
    #[error("the guest never said READY within {after:?}: the kernel did not reach /init, or /init is not the vmvc workload{}", console_section(.console))]
    NeverReady { after: Duration, console: String },
}

fn console_section(console: &str) -> String {
    if console.trim().is_empty() {
        "\n(the guest printed nothing on its serial console: the default command line has `quiet`; boot with one without it (`Config::cmdline`, or `vmvc run --kernel-cmdline`) to see how far the kernel got)".into()
    } else {
        format!("\n--- last lines of the guest's serial console ---\n{console}")
    }
}

/// A VMM error with no console to show (e.g. the launcher's socket failed).
impl From<Error> for LinuxError {
    fn from(error: Error) -> LinuxError {
        LinuxError::Vm {
            error,
            console: String::new(),
        }
    }
}

impl LinuxError {
    /// The console lines attached to this error.
    pub fn console(&self) -> Option<&str> {
        match self {
            LinuxError::Layout(_) => None,
            LinuxError::Vm { console, .. }
            | LinuxError::Panic { console, .. }
            | LinuxError::Reset { console, .. }
            | LinuxError::NeverReady { console, .. } => Some(console),
        }
    }
}
