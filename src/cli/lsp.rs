//! `nsr lsp`: the language server, on stdin and stdout until the editor says exit.

use std::process::ExitCode;

pub fn lsp(libs: Vec<String>) -> ExitCode {
    let libs = libs.into_iter().map(std::path::PathBuf::from).collect();
    ExitCode::from(nsr::lsp::serve(libs) as u8)
}
