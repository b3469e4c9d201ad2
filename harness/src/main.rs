//! `vmvc`: the command line. See `vmvc --help`.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "vmvc",
    version,
    about = "Measure the same workload natively, in containers and in KVM virtual machines",
    long_about = "vmvc starts one workload natively, in containers built from Linux primitives \
                  and in KVM virtual machines, measures startup time, memory overhead and \
                  throughput, and writes raw results (JSON) and a self-contained HTML report."
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the suite: writes DIR/results.json and DIR/report.html and prints a table.
    Run {
        /// Environments to measure, comma-separated (default: all). `native` is
        /// always measured too: every ratio is relative to it.
        #[arg(long, value_delimiter = ',', value_name = "LIST")]
        env: Vec<String>,
        /// Fewer samples and smaller workloads: seconds instead of minutes.
        #[arg(long)]
        quick: bool,
        /// Output folder [default: results/<timestamp>/].
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// No progress bars and no table; only the paths written.
        #[arg(long, short)]
        quiet: bool,
        /// Print the results JSON on stdout instead of the table (progress
        /// and paths go to stderr).
        #[arg(long)]
        json: bool,
        /// Pin the run (the launcher and every instance) to these CPUs, e.g.
        /// `1` or `0-1` [default: the last CPU this process may use, so that
        /// round trips between launcher and workload never depend on where the
        /// scheduler put them]. Recorded in the results.
        #[arg(long, value_name = "CPUS", allow_negative_numbers = true, value_parser = |s: &str| harness::run::parse_cpu_list(s).map(CpuList))]
        pin: Option<CpuList>,
        /// Do not pin: let the scheduler place everything.
        #[arg(long, conflicts_with = "pin")]
        no_pin: bool,
        /// The guest kernel for vm-linux: any x86-64 Linux bzImage [default:
        /// one fetched by `vmvc kernel fetch`, else the host's
        /// /boot/vmlinuz-$(uname -r), else fetched now].
        #[arg(long, value_name = "PATH")]
        kernel: Option<PathBuf>,
        /// The Linux guest's kernel command line, replacing the default
        /// (bench-vm's DEFAULT_CMDLINE, which has `quiet`), e.g. to see the
        /// guest's boot messages when it fails.
        #[arg(long, value_name = "ARGS")]
        kernel_cmdline: Option<String>,
        /// Attempt environments this host is known not to support (vm-linux
        /// on a PVM host), with a short timeout, instead of skipping them.
        #[arg(long)]
        force: bool,
        /// The firecracker binary for peer:firecracker [default: `firecracker`
        /// on PATH; releases: https://github.com/firecracker-microvm/firecracker/releases].
        #[arg(long, value_name = "PATH")]
        firecracker: Option<PathBuf>,
        /// The cloud-hypervisor binary for peer:cloud-hypervisor [default:
        /// `cloud-hypervisor` on PATH; releases:
        /// https://github.com/cloud-hypervisor/cloud-hypervisor/releases].
        #[arg(long, value_name = "PATH")]
        cloud_hypervisor: Option<PathBuf>,
    },
    /// Render one or more results.json files into one HTML report (several
    /// files give a comparison page).
    Report {
        /// results.json files written by `vmvc run`.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Where to write the page [default: report.html beside the first file].
        #[arg(short, long, value_name = "OUT.html")]
        output: Option<PathBuf>,
    },
    /// Print what this host can run (KVM and its kind, root, cgroups,
    /// namespaces, peers) with the fix for each missing piece.
    Doctor,
    /// List the environment names `--env` accepts.
    Envs,
    /// One launch of an environment narrated system call by system call
    /// (under strace): each namespace, mount and cgroup step of a
    /// container, each KVM ioctl and VM exit of a VM, with its time and what
    /// it does.
    Trace {
        /// The environment, e.g. container:full, container:chroot, native, vm-bare.
        env: String,
    },
    /// A shell inside an environment, to look around: `vmvc shell container`
    /// (busybox sh in a container like the measured rows; needs root) or
    /// `vmvc shell vm`. Everything it made is removed when the shell exits.
    Shell {
        /// `container` or `vm`.
        #[arg(value_parser = ["container", "vm"])]
        kind: String,
        /// The container profile: chroot, chroot+cgroup, full, or
        /// full-nosec (full without the security defaults).
        #[arg(long, default_value = "full")]
        profile: String,
        /// No messages from vmvc itself, only the shell's.
        #[arg(long, short)]
        quiet: bool,
        /// Hold the container to this much memory (its cgroup's limit), e.g.
        /// 64M; past it the kernel's OOM killer ends a process inside.
        #[arg(long, value_name = "SIZE")]
        memory: Option<String>,
        /// At most this many processes and threads in the container at once.
        #[arg(long, value_name = "N")]
        pids: Option<u64>,
        /// CPU time per 100 ms period, in CPUs (0.5 = half of one CPU).
        #[arg(long, value_name = "CPUS")]
        cpus: Option<f64>,
        /// A command to run instead of an interactive shell, e.g.
        /// `vmvc shell container -- uname -r`.
        #[arg(last = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// Many launches round robin over every environment this host can run,
    /// with faults mixed in (SIGKILL of an instance's processes or its VMM
    /// at a random point, OOM in a memory-limited container), and the
    /// leftovers counted with every environment dropped: processes, VM fds,
    /// cgroups, mounts, network namespaces, temp dirs, OCI state. Exits 1
    /// if anything was left or a clean launch failed.
    Stress {
        /// How many launches in all.
        #[arg(long, default_value_t = 1000)]
        launches: usize,
        /// Share of launches that get a fault.
        #[arg(long, default_value_t = 0.2, value_name = "0..1")]
        fault_rate: f64,
        /// Take the leftover census every N launches (and at the end).
        #[arg(long, default_value_t = 100, value_name = "N")]
        check_every: usize,
        /// Random seed, to replay a run [default: from the clock].
        #[arg(long)]
        seed: Option<u64>,
        /// Environments, comma-separated [default: every stress row available].
        #[arg(long, value_delimiter = ',', value_name = "LIST")]
        env: Vec<String>,
    },
    /// What vmvc runs own on this host (processes, VM fds, cgroups, mounts,
    /// network namespaces, temp dirs, OCI state, run files), per run.
    Leftovers {
        /// First remove what runs that are gone (killed) left; live runs are never touched.
        #[arg(long)]
        clean: bool,
    },
    /// The guest kernel vm-linux boots: fetch it or show which one is used.
    #[command(subcommand)]
    Kernel(KernelCmd),
}

#[derive(Subcommand)]
enum KernelCmd {
    /// Download the distribution's current kernel image package (Debian:
    /// linux-image-amd64, Ubuntu: linux-image-generic) with `apt-get
    /// download` and unpack it into the cache, without installing it; then
    /// extract its vmlinux.
    Fetch,
    /// Show the guest kernel `vmvc run` would boot, and where it comes from.
    Show {
        /// A kernel to check instead of the default one.
        #[arg(long, value_name = "PATH")]
        kernel: Option<PathBuf>,
    },
}

/// A parsed `--pin` list (a newtype: clap reads a bare `Vec` as "many values").
#[derive(Clone)]
struct CpuList(Vec<usize>);

fn main() {
    // Hidden modes: this process is the VMM of one vm-bare:process or
    // vm-linux:process VM.
    match std::env::args().nth(1).as_deref() {
        Some(harness::env::vm_bare::VMM_SUBCOMMAND) => {
            std::process::exit(harness::env::vm_bare::vmm_main(std::env::args().skip(2)))
        }
        Some(harness::env::vm_linux::VMM_SUBCOMMAND) => {
            std::process::exit(harness::env::vm_linux::vmm_main(std::env::args().skip(2)))
        }
        Some(harness::trace::target::SUBCOMMAND) => {
            std::process::exit(harness::trace::target::main(std::env::args().skip(2)))
        }
        _ => {}
    }
    let cli = Cli::parse();
    if matches!(cli.command, Cmd::Run { .. } | Cmd::Stress { .. }) {
        // Still one thread: the owner tag every child inherits (it is how
        // leftovers are told apart), and Ctrl-C turned into a clean stop.
        harness::leftovers::mark_owner();
        if let Err(e) = harness::interrupt::install() {
            eprintln!("vmvc: error: {e:#}");
            std::process::exit(1);
        }
    }
    match real_main(cli) {
        Ok(code) => std::process::exit(code),
        Err(e)
            if e.downcast_ref::<harness::interrupt::Interrupted>()
                .is_some() =>
        {
            std::process::exit(harness::interrupt::report(&e))
        }
        Err(e) => {
            eprintln!("vmvc: error: {}", error_chain(&e));
            std::process::exit(1);
        }
    }
}

/// The error and its causes, `: `-joined like `{:#}`, leaving out a cause
/// whose text its parent already quotes (our error types name their source
/// in their own message).
fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

fn real_main(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Cmd::Run {
            env,
            quick,
            out,
            quiet,
            json,
            pin,
            no_pin,
            kernel,
            kernel_cmdline,
            force,
            firecracker,
            cloud_hypervisor,
        } => {
            harness::validate::run_inputs(&harness::validate::RunInputs {
                kernel: kernel.as_deref(),
                kernel_cmdline: kernel_cmdline.as_deref(),
                pin: pin.as_ref().map(|p| p.0.as_slice()),
                out: out.as_deref(),
                peers: &[
                    ("--firecracker", firecracker.as_deref()),
                    ("--cloud-hypervisor", cloud_hypervisor.as_deref()),
                ],
            })?;
            let opts = harness::run::RunOptions {
                envs: env,
                quick,
                out,
                quiet,
                pin: match (pin, no_pin) {
                    (Some(p), _) => Some(p.0),
                    (None, true) => None,
                    (None, false) => harness::run::default_pin(),
                },
                kernel,
                kernel_cmdline,
                force,
                vmvc_exe: None,
                firecracker,
                cloud_hypervisor,
            };
            let o = harness::run::run(&opts)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&o.results)?);
                eprintln!("results: {}", o.json.display());
                eprintln!("report:  {}", o.html.display());
            } else {
                if !quiet {
                    println!("{}", harness::table::render(&o.results));
                }
                println!("results: {}", o.json.display());
                println!("report:  {}", o.html.display());
            }
            if !o.failed.is_empty() {
                eprintln!("vmvc: measurement failed for: {}", o.failed.join(", "));
                return Ok(1);
            }
            Ok(0)
        }
        Cmd::Stress {
            launches,
            fault_rate,
            check_every,
            seed,
            env,
        } => harness::stress::cli(harness::stress::StressOptions {
            launches,
            fault_rate,
            check_every,
            seed: seed.unwrap_or(0),
            envs: env,
        }),
        Cmd::Leftovers { clean } => {
            print!("{}", harness::leftovers::report(clean));
            Ok(0)
        }
        Cmd::Report { files, output } => {
            let runs = files
                .iter()
                .map(|f| reports::load(f))
                .collect::<Result<Vec<_>, _>>()?;
            let out = output.unwrap_or_else(|| {
                files[0]
                    .parent()
                    .map_or_else(|| PathBuf::from("report.html"), |d| d.join("report.html"))
            });
            harness::output::write_atomic(&out, reports::render_html(&runs).as_bytes())
                .with_context(|| {
                    format!(
                        "cannot write the report {}; give -o a file path in a writable folder",
                        out.display()
                    )
                })?;
            println!("report: {}", out.display());
            Ok(0)
        }
        Cmd::Doctor => {
            print!("{}", harness::doctor::render(&harness::doctor::checks()));
            println!("\nenvironments (`vmvc run` measures those marked ok):");
            print!(
                "{}",
                harness::doctor::render(&harness::doctor::environments())
            );
            Ok(0)
        }
        Cmd::Kernel(KernelCmd::Fetch) => {
            let k = harness::kernel::fetch(&mut |m| eprintln!("vmvc: {m}"))?;
            if k.vmlinux_cached().is_none() {
                eprintln!("vmvc: extracting vmlinux (the guest then skips decompressing itself)");
            }
            let vmlinux = k.vmlinux()?;
            println!("kernel:  {}", k.bzimage.display());
            println!("vmlinux: {}", vmlinux.display());
            Ok(0)
        }
        Cmd::Kernel(KernelCmd::Show { kernel }) => {
            let k = harness::kernel::locate(kernel.as_deref())?;
            println!("kernel:  {}", k.bzimage.display());
            println!("origin:  {}", k.origin);
            println!(
                "version: {}",
                k.version
                    .as_deref()
                    .unwrap_or("unknown (no version string)")
            );
            println!("size:    {} bytes", k.size);
            match k.vmlinux_cached() {
                Some(p) => println!("vmlinux: {}", p.display()),
                None => println!("vmlinux: not extracted yet (done on first use)"),
            }
            Ok(0)
        }
        Cmd::Envs => {
            for e in harness::env::KNOWN {
                println!("{e}");
            }
            for e in harness::env::OPT_IN {
                println!("{e}  (only when asked with --env: it changes a setting of the whole host while it runs)");
            }
            Ok(0)
        }
        Cmd::Trace { env } => {
            print!("{}", harness::trace::narrate(&env)?);
            Ok(0)
        }
        Cmd::Shell {
            kind,
            profile,
            quiet,
            memory,
            pids,
            cpus,
            command,
        } => match kind.as_str() {
            "vm" => harness::shell::vm(&command, quiet),
            _ => {
                let limits = harness::shell::LimitArgs { memory, pids, cpus };
                harness::shell::container(&profile, &limits, &command, quiet)
            }
        },
    }
}
