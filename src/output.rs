//! Where nsr's own words go: stdout for what a recipe prints, stderr for notes and
//! errors, `-q` for errors only. Imports nothing of nsr, so every layer may write.

use std::fmt::Display;

/// Writes to stdout, ignoring a closed pipe (`nsr run x | head`): output must never be
/// the reason a run stops before its rollback.
pub fn out(text: &str) {
    use std::io::Write as _;
    if STDOUT_RESERVED.load(std::sync::atomic::Ordering::Relaxed) {
        let _ = std::io::stderr().write_all(text.as_bytes());
    } else {
        let _ = std::io::stdout().write_all(text.as_bytes());
    }
}

static STDOUT_RESERVED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `nsr lsp`: stdout carries the protocol, so what would be printed there goes to stderr.
pub fn reserve_stdout() {
    STDOUT_RESERVED.store(true, std::sync::atomic::Ordering::Relaxed);
}

static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `nsr -q`: from now on only errors reach stderr.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, std::sync::atomic::Ordering::Relaxed);
}

pub fn quiet() -> bool {
    QUIET.load(std::sync::atomic::Ordering::Relaxed)
}

/// Writes what is not an error (a warning, that an environment is kept or down, a
/// banner) to stderr, unless `-q` asked for errors only.
pub fn note(text: &str) {
    if !quiet() {
        err(text);
    }
}

/// Writes to stderr, ignoring errors, for the same reason.
pub fn err(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stderr().write_all(text.as_bytes());
}

/// A warning about an operation that succeeded: `nsr: warning: FILE:LINE:COL: TEXT`.
pub fn render_warning(origin: &dyn Display, text: &str) -> String {
    format!("nsr: warning: {origin}: {text}\n")
}
