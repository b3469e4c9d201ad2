//! The results schema: what one `vmvc run` writes to `results.json`.
//!
//! Every figure keeps its raw samples next to the statistics computed from
//! them, so a reader can recompute (or distrust) any number in a report.
//! `schema_version` changes whenever a field changes meaning; readers refuse
//! files of another version with a clear error instead of guessing.

use serde::{Deserialize, Serialize};

/// Bumped on any incompatible change of the structures below.
pub const SCHEMA_VERSION: u32 = 1;

/// One run of the suite on one host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    pub schema_version: u32,
    /// `<timestamp>` folder name of the run, e.g. `2026-11-28T08-30-00Z`.
    pub run_id: String,
    /// RFC 3339 UTC time the run started.
    pub started_at: String,
    /// Wall time of the whole run, seconds.
    pub wall_time_s: f64,
    /// `vmvc` version that produced the file.
    pub vmvc_version: String,
    /// `--quick` runs take fewer samples; their figures are noisier.
    pub quick: bool,
    /// CPUs the run was pinned to (`--pin`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned_cpus: Option<Vec<usize>>,
    pub host: Host,
    pub workload: WorkloadBuild,
    /// The Linux guest kernel, when a `vm-linux` environment ran or was considered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_kernel: Option<GuestKernel>,
    /// One entry per environment asked for, in the order they ran.
    pub environments: Vec<EnvResult>,
    /// "Which kernel are you on?", asked inside some environments: the
    /// direct demonstrations behind the report's claims section. Absent in
    /// files written before it existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identities: Vec<Identity>,
    /// Other `vmvc run`s that were live on the host while this one measured:
    /// they shared its CPUs, so its timings may be disturbed. Empty (and
    /// absent from the file) when it ran alone, and in files written before
    /// it existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub concurrent_runs: Vec<ConcurrentRun>,
}

/// Another `vmvc run` live during this one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConcurrentRun {
    /// Its process id.
    pub pid: u32,
    /// The output folder it was writing, if it said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out: Option<String>,
}

/// The one-line warning about [`Results::concurrent_runs`], for the table
/// and the report.
pub fn concurrent_warning(runs: &[ConcurrentRun]) -> String {
    let list: Vec<String> = runs
        .iter()
        .map(|r| match &r.out {
            Some(out) => format!("pid {} writing {out}", r.pid),
            None => format!("pid {}", r.pid),
        })
        .collect();
    format!(
        "{} other vmvc run(s) measured on this host at the same time ({}): the runs shared the \
         CPUs, so these timings may be disturbed; re-run alone for figures to compare",
        runs.len(),
        list.join("; ")
    )
}

/// What a shell started inside an environment says about the system it
/// sees (`uname -r`, the boot id, the hostname, its own pid), and what the
/// host sees of the same process. Two environments on one kernel give the
/// same release and boot id; a VM with a kernel of its own gives its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The environment (row name) it was asked in; `native` is the host's own view.
    pub env: String,
    /// How it was asked, in one sentence.
    pub how: String,
    /// `uname -r` inside; `None` where nothing could answer (see `error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_release: Option<String>,
    /// `/proc/sys/kernel/random/boot_id` inside: random at each boot of a kernel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_id: Option<String>,
    /// `hostname` inside (the UTS namespace's, for a container that has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// The shell's own pid as it sees it (1 in a new pid namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_inside: Option<u32>,
    /// The same process's pid in the host's /proc, when the host lists it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_on_host: Option<u32>,
    /// Why the question could not be asked or answered, if it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Facts about the machine the run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Host {
    pub hostname: String,
    pub cpu_model: String,
    /// Logical CPUs online.
    pub cores: u32,
    pub memory_bytes: u64,
    /// `uname -r`.
    pub kernel: String,
    /// Effective uid 0.
    pub root: bool,
    pub cgroup: CgroupLayout,
    /// What `/dev/kvm` is on this host.
    pub virtualization: Virtualization,
    /// Human explanation of `virtualization` (e.g. which module provides it).
    pub virtualization_detail: String,
    /// The `hypervisor` CPU flag: this host is itself a virtual machine.
    pub inside_vm: bool,
    /// Time-stamp counter rate used to turn workload cycle counts into time.
    pub tsc_hz: f64,
}

/// How cgroups are mounted (see `bench-container`'s cgroup module).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupLayout {
    /// Only cgroup v1 hierarchies.
    V1,
    /// Only the unified cgroup v2 hierarchy (most current distributions).
    V2,
    /// v1 controllers plus a v2 hierarchy (usually with few controllers).
    Hybrid,
    /// No cgroup filesystem mounted.
    None,
}

/// The kind of virtualization `/dev/kvm` offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Virtualization {
    /// KVM on VT-x (vmx) or AMD-V (svm): guest code runs natively at every privilege level.
    Hardware,
    /// KVM on PVM (`kvm_pvm`): a software hypervisor; guest kernel-mode code is emulated.
    Pvm,
    /// No usable `/dev/kvm`.
    None,
}

impl Virtualization {
    pub fn as_str(self) -> &'static str {
        match self {
            Virtualization::Hardware => "hardware",
            Virtualization::Pvm => "pvm",
            Virtualization::None => "none",
        }
    }
}

impl CgroupLayout {
    pub fn as_str(self) -> &'static str {
        match self {
            CgroupLayout::V1 => "v1",
            CgroupLayout::V2 => "v2",
            CgroupLayout::Hybrid => "hybrid",
            CgroupLayout::None => "none",
        }
    }
}

/// The workload binary every process-based environment ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadBuild {
    /// Size of the freestanding Linux executable, bytes.
    pub linux_binary_bytes: u64,
    /// FNV-1a 64 of the executable, hex: two runs with the same value ran the same code.
    pub linux_binary_fnv64: String,
    /// Size of the bare-guest image, when one was used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_image_bytes: Option<u64>,
    /// Parameters of the throughput workloads (name -> value), e.g. buffer sizes.
    pub parameters: Vec<Parameter>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parameter {
    pub name: String,
    pub value: u64,
    pub unit: String,
}

/// The Linux kernel booted by `vm-linux`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuestKernel {
    pub version: String,
    pub path: String,
    pub size_bytes: u64,
    pub cmdline: String,
}

/// Everything measured for one environment (one row of every table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvResult {
    /// `native`, `container:full`, `vm-bare`, ...
    pub name: String,
    /// One sentence: what runs the workload here.
    pub description: String,
    /// Run without root, in user namespaces (the name then ends in
    /// ` (rootless)`). Absent in files written before it existed: false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rootless: bool,
    /// Set when the environment was asked for but not measured, with the reason
    /// in plain words (e.g. why a Linux guest cannot run on a PVM host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup: Option<Startup>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    #[serde(default)]
    pub throughput: Vec<Throughput>,
    /// Things a reader must know to interpret the figures.
    #[serde(default)]
    pub notes: Vec<String>,
    /// N idle instances at once, for growing N.
    #[serde(default)]
    pub density: Vec<DensityPoint>,
}

/// Startup of one instance: time to READY, to fully torn down, and the phases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Startup {
    /// From `t0` (just before the first environment-specific step) to READY.
    pub ready: Metric,
    /// From `t0` to the instance fully torn down.
    pub torn_down: Metric,
    /// Named phases in the order they happen; for each launch they add up to
    /// `torn_down`, with `teardown` last.
    pub phases: Vec<Phase>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    pub name: String,
    pub time: Metric,
}

/// What one idle instance costs the host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    /// The working set the workload touched before the measurement, bytes.
    pub working_set_bytes: u64,
    /// Parts of the instance's cost, e.g. `workload` (PSS), `vmm_own`,
    /// `guest_ram_touched`, `kvm_kernel`, `cgroup_charge`, `guest_kernel`.
    pub components: Vec<MemComponent>,
    /// Sum of the components that are host cost (bytes).
    pub total: Metric,
    /// `total` minus native's `total`, median bytes; `None` for native itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overhead_vs_native_bytes: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemComponent {
    pub name: String,
    /// What this part is, one sentence.
    pub description: String,
    /// False for figures shown for information that are not host cost
    /// (e.g. the guest kernel's use as the guest sees it, already inside guest RAM).
    pub counts_in_total: bool,
    pub bytes: Metric,
}

/// One throughput workload in one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// `cpu`, `mem_bw`, `random_access`, `syscall`, `boundary`.
    pub workload: String,
    /// Unit of `rate`, e.g. `ops/s`, `bytes/s`.
    pub unit: String,
    /// Operations per second, one sample per repetition.
    pub rate: Metric,
    /// Median rate divided by native's median rate in the same run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio_to_native: Option<f64>,
    /// What the operation crosses in this environment (e.g. "host kernel", "VM exit").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// Raw samples of one quantity and the statistics over them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// `s`, `bytes`, `ops/s`, `bytes/s`.
    pub unit: String,
    /// Every measured sample, warm-up excluded, in measurement order.
    pub samples: Vec<f64>,
    pub stats: Stats,
}

/// Summary statistics over a metric's samples.
///
/// JSON has no NaN: serde_json writes a NaN (statistics of no samples) as
/// `null`, and `null` reads back as NaN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub n: usize,
    #[serde(deserialize_with = "nan_if_null")]
    pub median: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub p5: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub p95: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub mean: f64,
    /// Sample standard deviation (n - 1).
    #[serde(deserialize_with = "nan_if_null")]
    pub stddev: f64,
    /// Coefficient of variation, stddev / mean: above 0.10 the machine was noisy.
    #[serde(default = "nan", deserialize_with = "nan_if_null")]
    pub cv: f64,
    /// Indices into `samples` of outliers by Tukey's fences (outside
    /// [Q1 - 1.5 IQR, Q3 + 1.5 IQR]). Flagged, never dropped: every statistic
    /// above includes them.
    #[serde(default)]
    pub outliers: Vec<usize>,
    /// Distribution-free confidence interval for the median (order statistics).
    #[serde(deserialize_with = "nan_if_null")]
    pub median_ci_low: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub median_ci_high: f64,
    /// Confidence level of the interval, e.g. 0.95; lower when n is too small for 95 %.
    pub ci_level: f64,
}

/// Noisy-machine threshold for [`Stats::cv`].
pub const NOISY_CV: f64 = 0.10;

fn nan() -> f64 {
    f64::NAN
}

fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// Many idle instances at once (DESIGN.md, "Memory overhead", density).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DensityPoint {
    /// Instances running at once, each idle and holding the working set.
    pub instances: u32,
    /// Drop of the host's available memory (MemAvailable plus the kernel's
    /// per-CPU free page lists, which MemAvailable leaves out) from before the
    /// first launch to all `instances` READY and holding, per instance, bytes.
    pub mem_available_drop_per_instance: f64,
    /// The per-instance accounting (sum of the memory components counted in
    /// the total) averaged over the instances, bytes.
    pub accounted_per_instance: f64,
    /// Time to READY of each launch while the others were running, seconds.
    pub ready: Metric,
    /// Pages the instances share from one file (a snapshot restored
    /// copy-on-write), per instance; absent where nothing is shared that way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_pages: Option<SharedPages>,
}

/// Shared file pages of N instances, per instance: counted whole in each
/// (RSS) and divided among the instances mapping them (PSS), bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SharedPages {
    pub rss_per_instance: f64,
    pub pss_per_instance: f64,
}
