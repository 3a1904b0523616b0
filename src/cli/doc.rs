//! `nsr doc`: the primitives, the standard library modules, a module's functions.

use super::exit::usage;
use nsr::engine::{self, limits::Limits};
use nsr::output;
use nsr::signals::Signals;
use std::process::ExitCode;

/// `nsr doc [MODULE[::FUNCTION] | FILE.nsr[::FUNCTION]]`.
pub fn doc(name: Option<&str>, libs: &[String]) -> ExitCode {
    use nsr::engine::modules;
    let Some(name) = name else {
        let session = std::rc::Rc::new(std::cell::RefCell::new(nsr::session::Session::new(
            Box::new(nsr::backend::recording::RecordingBackend::default()),
        )));
        let (_, docs) = engine::build_engine(session, &Limits::default(), &Signals::none());
        let mut out = String::from("primitives:\n");
        for d in docs {
            out.push_str(&format!(
                "  {}({})\n      {}\n",
                d.name,
                d.params.join(", "),
                d.doc
            ));
        }
        out.push_str("\nstandard library modules (nsr doc MODULE): ");
        out.push_str(
            &modules::STDLIB
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", "),
        );
        out.push('\n');
        output::out(&out);
        return ExitCode::SUCCESS;
    };
    let (module, function) = match name.split_once("::") {
        Some((m, f)) => (m, Some(f)),
        None => (name, None),
    };
    let libs: Vec<std::path::PathBuf> = libs.iter().map(std::path::PathBuf::from).collect();
    // A file named by its path (`nsr doc lib/net.nsr`) documents that file, called by
    // its stem as an import would alias it.
    let (module, found) = match module.strip_suffix(".nsr") {
        Some(stem) => {
            let path = std::path::Path::new(module);
            match std::fs::read_to_string(path) {
                Ok(text) => (
                    path.file_stem().and_then(|s| s.to_str()).unwrap_or(stem),
                    Some(text),
                ),
                Err(e) => {
                    let errno = nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0));
                    return usage(format!(
                        "cannot read {module}: {errno:?} ({})",
                        errno.desc()
                    ));
                }
            }
        }
        None => (module, modules::find_source(module, &libs)),
    };
    let Some(source) = found else {
        return usage(format!(
            "no module '{module}' (standard library: {})",
            modules::STDLIB
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    };
    let fns = modules::fn_docs(&source);
    let chosen: Vec<_> = fns
        .iter()
        .filter(|f| function.is_none_or(|n| n == f.name))
        .collect();
    if chosen.is_empty() {
        return usage(format!(
            "module '{module}' has no function '{}' (it has: {})",
            function.unwrap_or(""),
            fns.iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mut out = String::new();
    for f in chosen {
        out.push_str(&format!("{module}::{}({})\n", f.name, f.params));
        for l in f.doc.lines() {
            out.push_str(&format!("    {l}\n"));
        }
        out.push('\n');
    }
    output::out(&out);
    ExitCode::SUCCESS
}
