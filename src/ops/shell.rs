//! Words of the shell commands an operation stands for (`nsr plan`, `--format shell`).

use super::sandbox::SandboxId;

/// How shell commands name the pid of sandbox `id` (`nsr plan --format shell` sets it).
pub fn sandbox_pid_var(id: SandboxId) -> String {
    format!("$SANDBOX{id}_PID")
}

pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-=:,+@%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
