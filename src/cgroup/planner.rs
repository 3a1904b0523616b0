//! Where the sandboxes of one nsr run get their cgroups, and their names.

use super::sandbox::SandboxGroups;
use super::{devices, layout};
use crate::ops::sandbox::SandboxSpec;
use crate::ops::OpError;

/// Plans the cgroups of one nsr run's sandboxes, named `nsr-<pid>-<tag>-<sandbox>`.
pub struct Planner {
    layout: Option<layout::Layout>,
    /// Tells this run's names from an earlier nsr's with the same pid.
    tag: String,
    warned: bool,
}

impl Default for Planner {
    fn default() -> Self {
        Planner {
            layout: None,
            tag: crate::sys::run_tag().to_string(),
            warned: false,
        }
    }
}

impl Planner {
    /// The groups sandbox number `id` of `spec` gets: the same answer before and after
    /// it is made (the journal's intent says them).
    pub fn groups_for(&mut self, spec: &SandboxSpec, id: usize) -> Result<SandboxGroups, OpError> {
        let layout = self.layout.get_or_insert_with(layout::Layout::detect);
        let name = format!("nsr-{}-{}-{id}", std::process::id(), self.tag);
        let devices = devices::wanted(spec) && devices::clone3_works();
        SandboxGroups::plan(layout, &name, spec.limits.as_ref(), devices)
    }

    /// The warning for a sandbox that should have a device cgroup where the machine
    /// gives nsr none (once per run).
    pub fn missing_warning(
        &mut self,
        spec: &SandboxSpec,
        groups: &SandboxGroups,
    ) -> Option<String> {
        if !devices::wanted(spec) || self.warned || groups.devices.is_some() {
            return None;
        }
        self.warned = true;
        Some(devices::missing_warning())
    }
}
