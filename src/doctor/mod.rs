//! `nsr doctor`: whether this machine can do what nsr does, one check per line, each
//! problem with the command or setting that fixes it. Nothing here changes the system:
//! the checks read /proc and /sys, look programs up, and probe the kernel in a child
//! process that exits at once (a user namespace, the Landlock ABI).

mod cgroups;
mod check;
mod kernel;
mod programs;
mod state;

pub use check::{Check, Status};

/// Every check, in the order a user reads them: who runs, the kernel's isolation
/// features, the programs nsr calls, then nsr's own state on this machine.
pub fn run() -> Vec<Check> {
    let mut checks = vec![kernel::root(), kernel::release()];
    checks.extend(kernel::user_namespaces());
    checks.extend(programs::id_mapping());
    checks.push(programs::nft());
    checks.push(state::run_netns());
    checks.extend(cgroups::checks());
    checks.push(kernel::landlock());
    checks.push(kernel::seccomp());
    checks.push(kernel::overlayfs());
    checks.extend(programs::rootless_network());
    checks.push(programs::oci_runtime());
    checks.push(state::environments());
    checks.push(state::cache());
    checks
}

/// The checks as text: `STATUS  NAME  DETAIL`, and `fix: ...` under each problem.
pub fn render(checks: &[Check]) -> String {
    let mut out = String::new();
    for c in checks {
        out.push_str(&format!(
            "{:<8} {:<22} {}\n",
            c.status.word(),
            c.name,
            c.detail
        ));
        if let Some(fix) = &c.fix {
            out.push_str(&format!("{:<8} {:<22} fix: {fix}\n", "", ""));
        }
    }
    let missing = checks
        .iter()
        .filter(|c| c.status == Status::Missing)
        .count();
    let warn = checks.iter().filter(|c| c.status == Status::Warn).count();
    out.push_str(&format!(
        "\n{} check(s): {} ok, {warn} warn, {missing} missing\n",
        checks.len(),
        checks.len() - warn - missing
    ));
    out
}

/// `nsr doctor --json`: `{ "checks": [{ name, status, detail, fix }] }`.
pub fn json(checks: &[Check]) -> String {
    serde_json::to_string_pretty(&serde_json::json!({ "checks": checks })).unwrap_or_default()
}
