//! vmvc's harness: environments, experiments, statistics and the CLI.
//!
//! The harness adapts every way of running the workload (a native process,
//! `bench-container`, `bench-vm`, external peers) to one [`env::Environment`]
//! trait and owns everything about measuring: the [`experiment`]s, the
//! [`stats`] and the host facts ([`host`]). Results go out through the
//! `reports` crate.

pub mod cache;
pub mod doctor;
pub mod env;
pub mod experiment;
pub mod host;
pub mod identity;
pub mod inside;
pub mod interrupt;
pub mod kernel;
pub mod leftovers;
pub mod measure;
pub mod output;
pub mod procfs;
pub mod run;
pub mod shell;
pub mod shell_vm;
pub mod stats;
pub mod stress;
pub mod table;
pub mod trace;
pub mod validate;
pub mod workload_exe;
