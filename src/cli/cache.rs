//! `nsr cache ls|clear`: the root cache.

use super::args::CacheAction;
use super::exit::EXIT_RECIPE_ERROR;
use nsr::{output, report};
use std::process::ExitCode;

pub fn cache(action: CacheAction) -> ExitCode {
    use nsr::rootfs::cache;
    let result = match action {
        CacheAction::Ls => cache::list().map(|entries| {
            output::out(&format!("cache: {}\n", cache::dir().display()));
            for e in entries {
                output::out(&format!(
                    "{}  {:>8.1} MB  {:>7} files  {}\n",
                    e.digest,
                    e.bytes as f64 / 1e6,
                    e.files,
                    e.source
                ));
            }
        }),
        CacheAction::Clear { digests } => cache::clear(&digests).map(|removed| {
            for e in removed {
                output::out(&format!("removed {} ({})\n", e.digest, e.source));
            }
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            output::err(&report::op_error_line("cache", &e));
            ExitCode::from(EXIT_RECIPE_ERROR)
        }
    }
}
