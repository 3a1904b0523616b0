//! Environments: `nsr enter`, `nsr ls`, `nsr down`, `nsr gc`.

use super::exit::{usage, EXIT_RECIPE_ERROR};
use nsr::{output, report};
use std::process::ExitCode;

/// What to do with an environment a run or the REPL kept.
pub fn kept_note(name: &str) {
    output::note(&format!(
        "nsr: environment {name} is kept: nsr enter {name}, nsr down {name}\n"
    ));
}

/// `nsr enter NAME [SANDBOX] [-- CMD]`.
pub fn enter(name: &str, sandbox: Option<&str>, command: Vec<String>) -> ExitCode {
    match nsr::env::enter::enter(name, sandbox, &command) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            output::err(&report::op_error_line(&format!("enter {name}"), &e));
            ExitCode::from(EXIT_RECIPE_ERROR)
        }
    }
}

/// `nsr gc [--apply]`.
pub fn gc(apply: bool) -> ExitCode {
    let found = match nsr::env::gc::find() {
        Ok(f) => f,
        Err(e) => return usage(format!("gc: {}", e.message)),
    };
    if found.is_empty() {
        output::out("nothing of nsr's is left outside an environment\n");
        return ExitCode::SUCCESS;
    }
    let mut code = ExitCode::SUCCESS;
    for o in &found {
        if apply {
            match nsr::env::gc::remove(o) {
                Ok(()) => output::out(&format!("removed {o}\n")),
                Err(e) => {
                    output::err(&format!("nsr: gc: {o}: {}\n", e.message));
                    code = ExitCode::from(EXIT_RECIPE_ERROR);
                }
            }
        } else {
            output::out(&format!("{o}\n"));
        }
    }
    if !apply {
        output::err("nsr gc --apply removes these\n");
    }
    code
}

/// `nsr ls`.
pub fn ls(json: bool) -> ExitCode {
    let envs = nsr::env::recover::list();
    if json {
        output::out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&envs).unwrap_or_default()
        ));
        return ExitCode::SUCCESS;
    }
    if envs.is_empty() {
        output::out("no environments\n");
    }
    for e in envs {
        output::out(&format!(
            "{:<30} {:<10} pid {:<7} {:>6}s  {} resource(s){}  {}\n",
            e.name,
            if e.running {
                "running"
            } else if e.kept && (e.sandboxes.is_empty() || !e.alive_sandboxes.is_empty()) {
                "kept"
            } else {
                "LEFT OVER"
            },
            e.pid,
            e.age,
            e.resources,
            if e.sandboxes.is_empty() {
                String::new()
            } else {
                format!(", sandboxes {:?}", e.sandboxes)
            },
            e.recipe
        ));
        for (pid, u) in &e.usage {
            output::out(&format!("  sandbox {pid}: {}\n", usage_line(u)));
        }
    }
    ExitCode::SUCCESS
}

/// "memory 3.7 MiB (peak 5.2 MiB), 19 tasks, cpu 0.124 s, 1 OOM kill".
fn usage_line(u: &std::collections::BTreeMap<String, i64>) -> String {
    let mib = |k: &str| {
        u.get(k)
            .map(|b| format!("{:.1} MiB", *b as f64 / 1048576.0))
    };
    let mut parts = Vec::new();
    if let Some(m) = mib("memory_current") {
        parts.push(match mib("memory_peak") {
            Some(p) => format!("memory {m} (peak {p})"),
            None => format!("memory {m}"),
        });
    }
    if let Some(p) = u.get("pids_current") {
        parts.push(format!("{p} tasks"));
    }
    if let Some(c) = u.get("cpu_usec") {
        parts.push(format!("cpu {:.3} s", *c as f64 / 1e6));
    }
    match u.get("oom_kills") {
        Some(1) => parts.push("1 OOM kill".into()),
        Some(n) if *n > 1 => parts.push(format!("{n} OOM kills")),
        _ => {}
    }
    parts.join(", ")
}

/// `nsr down NAME... | --all`.
pub fn down(names: Vec<String>, all: bool, verbose: bool) -> ExitCode {
    let names: Vec<String> = if all {
        nsr::env::recover::list()
            .into_iter()
            .filter(|e| !e.running)
            .map(|e| e.name)
            .collect()
    } else {
        names
    };
    if names.is_empty() {
        return usage("name the environments to take down (nsr ls), or --all");
    }
    let mut code = ExitCode::SUCCESS;
    for name in names {
        match nsr::env::recover::down(&name) {
            Ok(r) => {
                for p in &r.problems {
                    output::err(&format!("nsr: {name}: {p}\n"));
                }
                output::err(&report::render_undo(&r.undone, true, verbose));
                if r.removed {
                    output::note(&format!("nsr: environment {name} is down\n"));
                } else {
                    output::err(&format!(
                        "nsr: environment {name}: some undos failed; it stays for another try\n"
                    ));
                    code = ExitCode::from(EXIT_RECIPE_ERROR);
                }
            }
            Err(e) => {
                output::err(&report::op_error_line(&format!("down {name}"), &e));
                code = ExitCode::from(EXIT_RECIPE_ERROR);
            }
        }
    }
    code
}
