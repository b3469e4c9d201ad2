//! Builds the bare guest (`vmvc-guest`, from the workload crate) and embeds
//! it in this library (see `workload::build`).
fn main() {
    workload::build::export("vmvc-guest", "VMVC_GUEST_IMAGE");
}
