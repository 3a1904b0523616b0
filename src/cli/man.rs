//! `nsr man`: the nsr(1) manual page, from the same clap definition as `--help`
//! (clap_mangen), with a section per subcommand and the parts a page of section 1 has:
//! exit status, environment, files, see also.

use std::io::Write;

/// Writes nsr(1) as roff (`nsr man | man -l -`).
pub fn print() -> std::io::Result<()> {
    let mut cmd = super::args::command();
    cmd.build();
    let mut page: Vec<u8> = Vec::new();
    let man = clap_mangen::Man::new(cmd.clone())
        .title("NSR")
        .section("1")
        .source(format!("nsr {}", env!("CARGO_PKG_VERSION")))
        .manual("User Commands");
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    page.extend_from_slice(DESCRIPTION.as_bytes());
    man.render_options_section(&mut page)?;
    for sub in cmd.get_subcommands() {
        subcommand_sections(sub, &mut page)?;
    }
    page.extend_from_slice(TRAILER.as_bytes());
    std::io::stdout().lock().write_all(&page)
}

/// `.SH "NSR RUN"` with the subcommand's synopsis, description and options as
/// subsections; a subcommand with subcommands of its own gets a section for each.
fn subcommand_sections(sub: &clap::Command, page: &mut Vec<u8>) -> std::io::Result<()> {
    if sub.get_name() == "help" {
        return Ok(());
    }
    if sub.has_subcommands() {
        for inner in sub.get_subcommands() {
            subcommand_sections(inner, page)?;
        }
        return Ok(());
    }
    let bin = sub.get_bin_name().unwrap_or(sub.get_name()).to_string();
    writeln!(page, ".SH \"{}\"", bin.to_uppercase())?;
    let man = clap_mangen::Man::new(sub.clone());
    let mut part: Vec<u8> = Vec::new();
    man.render_synopsis_section(&mut part)?;
    man.render_description_section(&mut part)?;
    if sub.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut part)?;
    }
    // The parts' own headings become subsections of this command's section.
    for line in String::from_utf8_lossy(&part).lines() {
        match line.strip_prefix(".SH ") {
            Some(heading) => writeln!(page, ".SS {}", title_case(heading))?,
            None => writeln!(page, "{line}")?,
        }
    }
    Ok(())
}

/// "SYNOPSIS" to "Synopsis".
fn title_case(heading: &str) -> String {
    let heading = heading.trim_matches('"');
    let mut chars = heading.chars();
    match chars.next() {
        Some(first) => format!("{first}{}", chars.as_str().to_lowercase()),
        None => String::new(),
    }
}

const DESCRIPTION: &str = r#".PP
A recipe (a file ending in .nsr, written in the Rhai language) calls primitives named
after the tools of the namespaces tutorial: \fBunshare\fR, \fBchroot\fR,
\fBpivot_root\fR, \fBmount\fR, \fBhostname\fR, \fBnetns\fR, \fBveth\fR, \fBroute\fR,
\fBip_forward\fR, \fBmasquerade\fR. Each primitive records how to undo what it did
before it returns; when the recipe ends, fails or is interrupted, everything is undone
in reverse order. Every run keeps a journal under /run/nsr/envs, so that
\fBnsr down\fR undoes what a run killed with SIGKILL left.
.PP
\fBnsr doc\fR lists the primitives and the standard library; the README has the
tutorial's commands side by side with them.
"#;

const TRAILER: &str = r#".SH "EXIT STATUS"
.TP
.B 0
The recipe finished (or called \fBexit(0)\fR) and everything was undone.
.TP
.I N
The recipe called \fBexit(\fIN\fB)\fR, or its last step was \fBexec\fR of a command
that exited with status \fIN\fR (as after \fBunshare ... sh\fR).
.TP
.B 1
A recipe error, or an undo that failed (\fBnsr down\fR tries again).
.TP
.B 2
Bad usage: an unknown option, a missing recipe parameter.
.TP
.I 128+N
Interrupted by signal \fIN\fR (130 for SIGINT, 143 for SIGTERM), after rollback.
.SH ENVIRONMENT
.TP
.B NSR_PATH
Directories (colon-separated) searched for imported modules, after the importer's
directory and \fB\-\-lib\fR, before the standard library.
.TP
.B NSR_STATE_DIR
Where environments keep their journals (default /run/nsr/envs).
.TP
.B NSR_CACHE_DIR
The cache of extracted roots (default /var/cache/nsr/rootfs for root,
~/.cache/nsr/rootfs otherwise).
.TP
.B NSR_NFT
The nft program that applies NAT and forwarding rules (default: nft on PATH).
.TP
.B NSR_HISTORY
The REPL's history file (default $XDG_STATE_HOME/nsr/history).
.TP
.B NO_COLOR
No colours in the REPL.
.SH FILES
.TP
.I /run/nsr/envs/NAME/journal.jsonl
An environment's journal: each action before and after it is taken.
.TP
.I /run/netns
Named network namespaces, shared with \fBip netns\fR.
.SH EXAMPLES
.nf
nsr run                                  # the built-in default recipe
nsr run recipes/tutorial-sandbox.nsr root=./go_root
nsr plan \-\-format shell recipes/tutorial-network.nsr
nsr run \-\-keep recipes/bridge-lab.nsr && nsr enter bridge-lab
nsr doctor
.fi
.SH "SEE ALSO"
\fBunshare\fR(1), \fBnsenter\fR(1), \fBchroot\fR(8), \fBmount\fR(8), \fBip\-netns\fR(8),
\fBip\-link\fR(8), \fBnft\fR(8), \fBnamespaces\fR(7), \fBuser_namespaces\fR(7)
"#;
