//! A one-line progress report on a terminal for long extractions (entries, bytes, rate);
//! nothing at all when stderr is not a terminal.

use std::io::Write;
use std::time::{Duration, Instant};

pub struct Progress {
    label: String,
    enabled: bool,
    start: Instant,
    last: Instant,
}

const EVERY: Duration = Duration::from_millis(100);

impl Progress {
    pub fn new(label: String, wanted: bool) -> Progress {
        // SAFETY: isatty only queries fd 2.
        let tty = unsafe { libc::isatty(2) == 1 };
        let now = Instant::now();
        Progress {
            label,
            enabled: wanted && tty && !crate::output::quiet(),
            start: now,
            last: now,
        }
    }

    pub fn tick(&mut self, entries: u64, bytes: u64) {
        if !self.enabled || self.last.elapsed() < EVERY {
            return;
        }
        self.last = Instant::now();
        let line = line(&self.label, entries, bytes, self.start.elapsed());
        let _ = write!(std::io::stderr(), "\r\x1b[K{line}");
    }

    /// On a terminal the last line stays, whether or not updates were needed.
    pub fn finish(&mut self, entries: u64, bytes: u64) {
        if self.enabled {
            let line = line(&self.label, entries, bytes, self.start.elapsed());
            let _ = writeln!(std::io::stderr(), "\r\x1b[K{line}");
        }
    }
}

fn line(label: &str, entries: u64, bytes: u64, took: Duration) -> String {
    let mb = bytes as f64 / 1e6;
    let rate = mb / took.as_secs_f64().max(1e-3);
    format!("{label}: {entries} entries, {mb:.1} MB, {rate:.1} MB/s")
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_as_entries_bytes_and_rate() {
        let l = super::line(
            "go_root.tar",
            120,
            50_000_000,
            std::time::Duration::from_secs(2),
        );
        assert_eq!(l, "go_root.tar: 120 entries, 50.0 MB, 25.0 MB/s");
    }
}
