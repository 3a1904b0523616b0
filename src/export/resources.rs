//! A sandbox's cgroup limits and device policy as the runtime-spec's `linux.resources`
//! (cgroup v1 terms, which runc and crun translate for cgroup v2).

use crate::confine::devices::{DeviceRule, Devices, STANDARD};
use crate::ops::limits::{weight_to_shares, CgroupLimits, CPU_PERIOD_US};
use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxDeviceCgroup, LinuxDeviceType, LinuxMemory, LinuxPids,
    LinuxResources, LinuxThrottleDevice, LinuxThrottleDeviceBuilder,
};

fn device_rule(allow: bool, rule: Option<&DeviceRule>) -> LinuxDeviceCgroup {
    let mut d = LinuxDeviceCgroup::default();
    d.set_allow(allow);
    d.set_access(Some("rwm".into()));
    match rule {
        None => {
            d.set_typ(Some(LinuxDeviceType::A));
        }
        Some(r) => {
            d.set_typ(Some(if r.block {
                LinuxDeviceType::B
            } else {
                LinuxDeviceType::C
            }));
            d.set_major(Some(i64::from(r.major)));
            d.set_minor(r.minor.map(i64::from));
        }
    }
    d
}

/// Everything refused, then the standard nodes and the recipe's extra ones allowed; or
/// everything allowed.
fn devices(d: &Devices) -> Vec<LinuxDeviceCgroup> {
    match d {
        Devices::All => vec![device_rule(true, None)],
        Devices::Standard { extra } => std::iter::once(device_rule(false, None))
            .chain(
                STANDARD
                    .iter()
                    .chain(extra)
                    .map(|r| device_rule(true, Some(r))),
            )
            .collect(),
    }
}

fn throttle(major: u32, minor: u32, rate: u64) -> LinuxThrottleDevice {
    LinuxThrottleDeviceBuilder::default()
        .major(i64::from(major))
        .minor(i64::from(minor))
        .rate(rate)
        .build()
        .expect("every field given")
}

fn block_io(l: &CgroupLimits) -> Option<LinuxBlockIo> {
    if l.io.is_empty() {
        return None;
    }
    let list = |pick: &dyn Fn(&crate::ops::limits::IoLimit) -> Option<u64>| {
        let v: Vec<_> =
            l.io.iter()
                .filter_map(|d| pick(d).map(|r| throttle(d.major, d.minor, r)))
                .collect();
        (!v.is_empty()).then_some(v)
    };
    let mut b = LinuxBlockIo::default();
    b.set_throttle_read_bps_device(list(&|d| d.read_bps));
    b.set_throttle_write_bps_device(list(&|d| d.write_bps));
    b.set_throttle_read_iops_device(list(&|d| d.read_iops));
    b.set_throttle_write_iops_device(list(&|d| d.write_iops));
    Some(b)
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub fn of_sandbox(limits: Option<&CgroupLimits>, devs: &Devices) -> LinuxResources {
    let mut r = LinuxResources::default();
    r.set_devices(Some(devices(devs)));
    let Some(l) = limits else { return r };
    if l.memory.is_some() || l.memory_swap.is_some() {
        let mut m = LinuxMemory::default();
        m.set_limit(l.memory.map(to_i64));
        // The spec's swap is memory and swap together, as v1's memsw.
        m.set_swap(match (l.memory, l.memory_swap) {
            (Some(mem), Some(swap)) => Some(to_i64(mem.saturating_add(swap))),
            _ => None,
        });
        r.set_memory(Some(m));
    }
    if let Some(p) = l.pids {
        let mut pids = LinuxPids::default();
        pids.set_limit(to_i64(p));
        r.set_pids(Some(pids));
    }
    if l.cpu_millis.is_some() || l.cpu_weight.is_some() {
        let mut c = LinuxCpu::default();
        if let Some(m) = l.cpu_millis {
            c.set_quota(Some(to_i64(m * CPU_PERIOD_US / 1000)));
            c.set_period(Some(CPU_PERIOD_US));
        }
        c.set_shares(l.cpu_weight.map(weight_to_shares));
        r.set_cpu(Some(c));
    }
    r.set_block_io(block_io(l));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_in_the_spec_s_units() {
        let l = CgroupLimits {
            memory: Some(64 << 20),
            memory_swap: Some(0),
            pids: Some(20),
            cpu_millis: Some(500),
            cpu_weight: Some(100),
            io: vec![],
        };
        let r = of_sandbox(Some(&l), &Devices::Standard { extra: vec![] });
        let m = r.memory().unwrap();
        assert_eq!(m.limit(), Some(64 << 20));
        assert_eq!(m.swap(), Some(64 << 20), "memory + swap");
        assert_eq!(r.pids().unwrap().limit(), 20);
        let c = r.cpu().clone().unwrap();
        assert_eq!(
            (c.quota(), c.period(), c.shares()),
            (Some(50_000), Some(100_000), Some(1024))
        );
        let d = r.devices().clone().unwrap();
        assert!(!d[0].allow() && d.len() == 1 + STANDARD.len());
    }
}
