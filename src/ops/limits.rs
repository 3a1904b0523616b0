//! What a recipe asks of a sandbox's cgroups: caps on memory, tasks, CPU and block I/O,
//! and the files of each cgroup version that say them. Data only: `crate::cgroup` finds
//! the hierarchies and writes the files.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The controllers nsr uses, by what they do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Controller {
    Memory,
    Pids,
    /// CPU bandwidth and weight.
    Cpu,
    /// CPU usage accounting (v1's cpuacct; v2's cpu.stat, which every cgroup has).
    CpuUsage,
    /// Block I/O throttling (v1 blkio, v2 io).
    Io,
}

impl Controller {
    /// The name of its v1 hierarchy's controller.
    pub fn v1_name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Pids => "pids",
            Controller::Cpu => "cpu",
            Controller::CpuUsage => "cpuacct",
            Controller::Io => "blkio",
        }
    }

    /// Its name in a v2 cgroup.subtree_control; None where v2 needs no controller.
    pub fn v2_name(self) -> Option<&'static str> {
        match self {
            Controller::Memory => Some("memory"),
            Controller::Pids => Some("pids"),
            Controller::Cpu => Some("cpu"),
            Controller::CpuUsage => None,
            Controller::Io => Some("io"),
        }
    }
}

impl fmt::Display for Controller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.v2_name().unwrap_or("cpu usage"))
    }
}

/// Throttling of one block device (by its device number).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IoLimit {
    /// The device as the recipe named it (`/dev/vda`).
    pub device: String,
    pub major: u32,
    pub minor: u32,
    pub read_bps: Option<u64>,
    pub write_bps: Option<u64>,
    pub read_iops: Option<u64>,
    pub write_iops: Option<u64>,
}

impl IoLimit {
    pub fn number(&self) -> String {
        format!("{}:{}", self.major, self.minor)
    }

    fn v1_fields(&self) -> [(&'static str, Option<u64>); 4] {
        [
            ("blkio.throttle.read_bps_device", self.read_bps),
            ("blkio.throttle.write_bps_device", self.write_bps),
            ("blkio.throttle.read_iops_device", self.read_iops),
            ("blkio.throttle.write_iops_device", self.write_iops),
        ]
    }

    /// v2's io.max line: unset fields stay as they are.
    fn v2_line(&self) -> String {
        let mut line = self.number();
        for (key, v) in [
            ("rbps", self.read_bps),
            ("wbps", self.write_bps),
            ("riops", self.read_iops),
            ("wiops", self.write_iops),
        ] {
            if let Some(v) = v {
                line.push_str(&format!(" {key}={v}"));
            }
        }
        line
    }
}

/// The counters `box.usage()` gives where the sandbox has the groups for them.
pub const USAGE_KEYS: [&str; 7] = [
    "memory_current",
    "memory_peak",
    "oom_kills",
    "pids_current",
    "pids_limit_hits",
    "cpu_usec",
    "cpu_throttled_usec",
];

/// CPU bandwidth: `quota_us` of CPU time in every `period_us` (cpu: 0.5 is 50000 in 100000).
pub const CPU_PERIOD_US: u64 = 100_000;

/// The limits of one sandbox; what is None is not limited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupLimits {
    /// Bytes of memory (v2 memory.max, v1 memory.limit_in_bytes).
    pub memory: Option<u64>,
    /// Bytes of swap on top of `memory` (v2 memory.swap.max; v1 memsw is their sum).
    pub memory_swap: Option<u64>,
    /// Tasks (processes and threads).
    pub pids: Option<u64>,
    /// Thousandths of a core.
    pub cpu_millis: Option<u64>,
    /// Relative weight, 1..10000, 100 by default (v2 cpu.weight; v1 cpu.shares).
    pub cpu_weight: Option<u64>,
    pub io: Vec<IoLimit>,
}

/// One write to a limit file: `value` into `file` of the controller's cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitWrite {
    pub controller: Controller,
    pub file: &'static str,
    pub value: String,
}

fn write(controller: Controller, file: &'static str, value: String) -> LimitWrite {
    LimitWrite {
        controller,
        file,
        value,
    }
}

/// v1 cpu.shares for a v2 weight, in proportion, so that each version's default (100,
/// 1024) is the other's. (runc's conversion maps 1024 shares to weight 39.)
pub fn weight_to_shares(weight: u64) -> u64 {
    (weight * 1024 / 100).max(2)
}

impl CgroupLimits {
    pub fn is_empty(&self) -> bool {
        *self == CgroupLimits::default()
    }

    /// The controllers these limits need.
    pub fn controllers(&self) -> Vec<Controller> {
        let mut out = Vec::new();
        if self.memory.is_some() || self.memory_swap.is_some() {
            out.push(Controller::Memory);
        }
        if self.pids.is_some() {
            out.push(Controller::Pids);
        }
        if self.cpu_millis.is_some() || self.cpu_weight.is_some() {
            out.push(Controller::Cpu);
        }
        if !self.io.is_empty() {
            out.push(Controller::Io);
        }
        out
    }

    /// The files to write, in order, where `v2(controller)` says which version holds
    /// each controller.
    pub fn writes(&self, v2: &dyn Fn(Controller) -> bool) -> Vec<LimitWrite> {
        let mut out = Vec::new();
        let m = Controller::Memory;
        if v2(m) {
            out.extend(self.memory.map(|b| write(m, "memory.max", b.to_string())));
            out.extend(
                self.memory_swap
                    .map(|b| write(m, "memory.swap.max", b.to_string())),
            );
        } else {
            out.extend(
                self.memory
                    .map(|b| write(m, "memory.limit_in_bytes", b.to_string())),
            );
            // memsw counts memory and swap together, and may not be below the memory limit.
            if let (Some(mem), Some(swap)) = (self.memory, self.memory_swap) {
                out.push(write(
                    m,
                    "memory.memsw.limit_in_bytes",
                    mem.saturating_add(swap).to_string(),
                ));
            }
        }
        let p = Controller::Pids;
        out.extend(self.pids.map(|n| write(p, "pids.max", n.to_string())));
        let c = Controller::Cpu;
        if v2(c) {
            out.extend(
                self.cpu_millis
                    .map(|ms| write(c, "cpu.max", format!("{} {CPU_PERIOD_US}", ms * 100))),
            );
            out.extend(
                self.cpu_weight
                    .map(|w| write(c, "cpu.weight", w.to_string())),
            );
        } else {
            if self.cpu_millis.is_some() {
                out.push(write(c, "cpu.cfs_period_us", CPU_PERIOD_US.to_string()));
            }
            out.extend(
                self.cpu_millis
                    .map(|ms| write(c, "cpu.cfs_quota_us", (ms * 100).to_string())),
            );
            out.extend(
                self.cpu_weight
                    .map(|w| write(c, "cpu.shares", weight_to_shares(w).to_string())),
            );
        }
        let i = Controller::Io;
        for dev in &self.io {
            if v2(i) {
                out.push(write(i, "io.max", dev.v2_line()));
            } else {
                for (file, v) in dev.v1_fields() {
                    out.extend(v.map(|v| write(i, file, format!("{} {v}", dev.number()))));
                }
            }
        }
        out
    }

    /// Validates what the kernel would refuse, before anything is made.
    pub fn validate(&self) -> Result<(), String> {
        if self.memory_swap.is_some() && self.memory.is_none() {
            return Err(
                "memory_swap needs memory: swap is allowed on top of a memory limit".into(),
            );
        }
        if let Some(ms) = self.cpu_millis {
            // The kernel's smallest quota is 1 ms per 100 ms period.
            if ms < 10 {
                return Err(format!(
                    "cpu {} is below the smallest share the kernel enforces (0.01 core)",
                    ms as f64 / 1000.0
                ));
            }
        }
        if let Some(w) = self.cpu_weight {
            if !(1..=10_000).contains(&w) {
                return Err(format!("cpu_weight {w} is not between 1 and 10000"));
            }
        }
        Ok(())
    }
}

/// A size with an optional K, M, G or T suffix (powers of 1024): "256M", "64k", "1048576".
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (digits, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => t.split_at(at),
        None => (t, ""),
    };
    let shift = match unit
        .trim_end_matches(['B', 'b', 'i'])
        .to_ascii_uppercase()
        .as_str()
    {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => {
            return Err(format!(
                "'{text}' is not a size (a number with K, M, G or T: \"256M\")"
            ))
        }
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("'{text}' is not a size (a number with K, M, G or T: \"256M\")"))?;
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("'{text}' is too large"))
}

impl fmt::Display for CgroupLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(m) = self.memory {
            parts.push(format!("memory={m}"));
        }
        if let Some(s) = self.memory_swap {
            parts.push(format!("memory_swap={s}"));
        }
        if let Some(p) = self.pids {
            parts.push(format!("pids={p}"));
        }
        if let Some(c) = self.cpu_millis {
            parts.push(format!("cpu={}", c as f64 / 1000.0));
        }
        if let Some(w) = self.cpu_weight {
            parts.push(format!("cpu_weight={w}"));
        }
        for d in &self.io {
            parts.push(format!("io[{}]", d.device));
        }
        f.write_str(&parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_suffixes() {
        assert_eq!(parse_size("256M"), Ok(256 << 20));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("0"), Ok(0));
        assert!(parse_size("lots").unwrap_err().contains("not a size"));
        assert!(parse_size("12Q").is_err());
        assert!(parse_size("-5M").is_err());
        assert!(parse_size("99999999999T")
            .unwrap_err()
            .contains("too large"));
    }

    fn example() -> CgroupLimits {
        CgroupLimits {
            memory: Some(256 << 20),
            memory_swap: Some(0),
            pids: Some(128),
            cpu_millis: Some(500),
            cpu_weight: Some(100),
            io: vec![IoLimit {
                device: "/dev/vda".into(),
                major: 254,
                minor: 0,
                read_bps: Some(20 << 20),
                write_bps: Some(10 << 20),
                ..Default::default()
            }],
        }
    }

    fn lines(w: Vec<LimitWrite>) -> Vec<String> {
        w.into_iter()
            .map(|w| format!("{} {}", w.file, w.value))
            .collect()
    }

    #[test]
    fn cgroup2_files_say_the_limits() {
        assert_eq!(
            lines(example().writes(&|_| true)),
            [
                "memory.max 268435456",
                "memory.swap.max 0",
                "pids.max 128",
                "cpu.max 50000 100000",
                "cpu.weight 100",
                "io.max 254:0 rbps=20971520 wbps=10485760",
            ]
        );
    }

    #[test]
    fn cgroup1_files_say_the_same_limits() {
        assert_eq!(
            lines(example().writes(&|_| false)),
            [
                "memory.limit_in_bytes 268435456",
                "memory.memsw.limit_in_bytes 268435456",
                "pids.max 128",
                "cpu.cfs_period_us 100000",
                "cpu.cfs_quota_us 50000",
                "cpu.shares 1024",
                "blkio.throttle.read_bps_device 254:0 20971520",
                "blkio.throttle.write_bps_device 254:0 10485760",
            ]
        );
        assert_eq!(weight_to_shares(1), 10);
        assert_eq!(weight_to_shares(10_000), 102_400);
    }

    #[test]
    fn what_the_kernel_would_refuse_is_refused_first() {
        let swap_alone = CgroupLimits {
            memory_swap: Some(0),
            ..Default::default()
        };
        assert!(swap_alone.validate().unwrap_err().contains("needs memory"));
        let tiny = CgroupLimits {
            cpu_millis: Some(5),
            ..Default::default()
        };
        assert!(tiny.validate().unwrap_err().contains("0.01 core"));
        let heavy = CgroupLimits {
            cpu_weight: Some(20_000),
            ..Default::default()
        };
        assert!(heavy.validate().is_err());
        assert!(example().validate().is_ok());
        assert_eq!(
            example().controllers(),
            [
                Controller::Memory,
                Controller::Pids,
                Controller::Cpu,
                Controller::Io
            ]
        );
    }
}
