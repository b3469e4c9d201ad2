//! Embeds the freestanding workload executable in `vmvc` (see `workload::build`).
fn main() {
    workload::build::export("vmvc-workload", "VMVC_WORKLOAD_EXE");
}
