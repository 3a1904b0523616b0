//! The command line as clap parses it: the raw words of every subcommand, before
//! anything is read or checked.

use super::candidates;
use clap::{ArgAction, Parser, Subcommand};
use clap_complete::engine::{ArgValueCandidates, ArgValueCompleter};

#[derive(Parser)]
#[command(
    name = "nsr",
    version,
    about = "Script Linux sandboxes: namespaces, mounts and roots from Rhai recipes, undone in reverse when the recipe ends, fails or is interrupted."
)]
pub struct Cli {
    /// Show every teardown step, not only those after a failure.
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,
    /// Print only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum PlanFormat {
    Text,
    Shell,
    Json,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum GraphFormat {
    Svg,
    Html,
    Dot,
    Mermaid,
    Json,
}

/// `nsr graph`'s words (cli/graph.rs).
#[derive(clap::Args)]
pub struct GraphArgs {
    /// The recipe (.nsr), then its NAME=VALUE parameters (not with --env).
    #[arg(value_name = "FILE] [NAME=VALUE", add = ArgValueCompleter::new(candidates::recipe_files))]
    pub words: Vec<String>,
    /// Draw the environment NAME (nsr ls) as the kernel shows it now.
    #[arg(long, value_name = "NAME", add = ArgValueCandidates::new(candidates::environment_names))]
    pub env: Option<String>,
    /// svg (drawn by nsr), html (the svg with details on hover or click, one file
    /// that needs nothing else), dot (Graphviz), mermaid (GitHub, Markdown), json
    /// (the model).
    #[arg(long, value_enum)]
    pub format: Option<GraphFormat>,
    /// Write to FILE (`-` for stdout); its ending picks the format when --format is
    /// not given.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<String>,
    /// Raise or lower an engine limit (as for `run`).
    #[arg(long = "limit", value_name = "NAME=VALUE", add = ArgValueCandidates::new(candidates::limit_names))]
    pub limits: Vec<String>,
    /// Also look for imported modules in DIR.
    #[arg(long = "lib", value_name = "DIR")]
    pub libs: Vec<String>,
}

/// `nsr export oci`'s words (cli/export.rs).
#[derive(clap::Args)]
pub struct ExportOciArgs {
    /// The recipe (.nsr).
    #[arg(value_name = "FILE", add = ArgValueCompleter::new(candidates::recipe_files))]
    pub recipe: String,
    /// The bundle directory (new, or empty): config.json and rootfs/ go there.
    #[arg(value_name = "DIR")]
    pub dir: String,
    /// The recipe's NAME=VALUE parameters.
    #[arg(value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Which of the recipe's sandboxes (1 for the first), when it makes several.
    #[arg(long, value_name = "N")]
    pub sandbox: Option<usize>,
    /// Reference this root filesystem directory instead of making DIR/rootfs.
    #[arg(long, value_name = "PATH")]
    pub rootfs: Option<String>,
    /// Raise or lower an engine limit (as for `run`).
    #[arg(long = "limit", value_name = "NAME=VALUE", add = ArgValueCandidates::new(candidates::limit_names))]
    pub limits: Vec<String>,
    /// Also look for imported modules in DIR.
    #[arg(long = "lib", value_name = "DIR")]
    pub libs: Vec<String>,
}

/// What `nsr export` writes.
#[derive(Subcommand)]
pub enum ExportKind {
    /// An OCI runtime bundle (runtime-spec 1.0.2 config.json and rootfs/) for one
    /// sandbox of the recipe's plan, which `runc run -b DIR NAME` or crun runs. Nothing
    /// is done but writing the bundle (and extracting the root the recipe extracts);
    /// what the bundle cannot say is listed on stderr and in its annotations.
    Oci(ExportOciArgs),
}

#[derive(Subcommand)]
pub enum Command {
    /// Run a recipe against the kernel, then undo everything it created.
    ///
    /// Without FILE, runs the built-in default recipe (recipes/default.nsr).
    /// NAME=VALUE pairs after the file are the recipe's `args` (args.NAME);
    /// `nsr run FILE --help` lists the parameters the recipe declares.
    #[command(disable_help_flag = true)]
    Run {
        /// The recipe (.nsr), then its NAME=VALUE parameters.
        #[arg(value_name = "FILE] [NAME=VALUE", add = ArgValueCompleter::new(candidates::recipe_files))]
        words: Vec<String>,
        /// Raise or lower an engine limit: operations, call-depth, expr-depth,
        /// string-size, array-size, map-size, modules, memory (MiB) (repeatable).
        #[arg(long = "limit", value_name = "NAME=VALUE", add = ArgValueCandidates::new(candidates::limit_names))]
        limits: Vec<String>,
        /// Also look for imported modules in DIR (before NSR_PATH and the standard library).
        #[arg(long = "lib", value_name = "DIR")]
        libs: Vec<String>,
        /// Report the run as JSON on stderr (resources created and undone, the error).
        #[arg(long)]
        json: bool,
        /// The environment's name (its journal on disk, for `nsr ls` and `nsr down`);
        /// by default RECIPE-PID (RECIPE with --keep).
        #[arg(long)]
        name: Option<String>,
        /// Keep what the recipe made when it finishes: the sandboxes go on running;
        /// `nsr enter NAME`, `nsr down NAME` later.
        #[arg(long)]
        keep: bool,
        /// With FILE, list the recipe's parameters; without, this help.
        #[arg(short, long)]
        help: bool,
    },
    /// Print the documentation of a module of the standard library (or of NSR_PATH,
    /// --lib, the current directory), or of one of its functions: MODULE::FUNCTION.
    /// Without a name, the primitives and the standard library's modules.
    Doc {
        /// MODULE, MODULE::FUNCTION, or a file: FILE.nsr, FILE.nsr::FUNCTION.
        name: Option<String>,
        #[arg(long = "lib", value_name = "DIR")]
        libs: Vec<String>,
        /// Everything as JSON: primitives, standard library modules and functions,
        /// keywords (what editors/ is generated from).
        #[arg(long)]
        json: bool,
    },
    /// Show what a recipe will do, as the tutorial's own commands, and the rollback,
    /// without doing any of it (no root needed): the recipe runs against a recording
    /// backend; values read back from the kernel are marked placeholders.
    Plan {
        /// The recipe (.nsr), then its NAME=VALUE parameters.
        #[arg(value_name = "FILE] [NAME=VALUE", add = ArgValueCompleter::new(candidates::recipe_files))]
        words: Vec<String>,
        /// text: steps with recipe lines and commands, then the rollback; shell: a
        /// script that does it by hand, its teardown as a trap; json: the same as data.
        #[arg(long, value_enum, default_value = "text")]
        format: PlanFormat,
        /// Raise or lower an engine limit (as for `run`).
        #[arg(long = "limit", value_name = "NAME=VALUE", add = ArgValueCandidates::new(candidates::limit_names))]
        limits: Vec<String>,
        /// Also look for imported modules in DIR.
        #[arg(long = "lib", value_name = "DIR")]
        libs: Vec<String>,
    },
    /// Draw a recipe's network and sandboxes: namespaces, veth pairs with their
    /// interfaces and addresses, bridges, routes, forwarding, NAT, port forwards. From
    /// the recipe's plan (nothing done, no root needed), or with --env from a running or
    /// kept environment, read back from the kernel.
    ///
    /// Without --format and -o: an SVG file named after the recipe (or environment) when
    /// stdout is a terminal, else the dot text on stdout.
    Graph(GraphArgs),
    /// Write a sandbox of a recipe for another engine to run (OCI runtime bundle).
    Export {
        #[command(subcommand)]
        kind: ExportKind,
    },
    /// Report every syntax error and every call of an unknown function, without
    /// touching the system.
    Check {
        /// The recipe (.nsr).
        #[arg(add = ArgValueCompleter::new(candidates::recipe_files))]
        file: String,
    },
    /// A language server for recipes (Language Server Protocol over stdin and stdout):
    /// diagnostics as `nsr check` finds them, completion, hover, signature help, go to
    /// definition, symbols, and "show the plan". It runs nothing and touches nothing.
    Lsp {
        /// Also look for imported modules in DIR (as `nsr run --lib`).
        #[arg(long = "lib", value_name = "DIR")]
        libs: Vec<String>,
        /// Accepted for editors that pass it (the server always speaks over stdio).
        #[arg(long, hide = true)]
        stdio: bool,
    },
    /// Explore step by step: each statement runs at once against the kernel, with
    /// :undo, :state, :save; leaving (Ctrl-D, :quit) undoes everything.
    Repl {
        /// A recipe to run first, to explore from there.
        #[arg(add = ArgValueCompleter::new(candidates::recipe_files))]
        file: Option<String>,
        /// Raise or lower an engine limit (as for `run`).
        #[arg(long = "limit", value_name = "NAME=VALUE", add = ArgValueCandidates::new(candidates::limit_names))]
        limits: Vec<String>,
    },
    /// Run a shell (or CMD) in a kept environment's sandbox: its namespaces and root,
    /// as `nsenter -t PID -a` plus chroot does by hand.
    Enter {
        /// The environment (nsr ls).
        #[arg(add = ArgValueCandidates::new(candidates::environment_names))]
        name: String,
        /// Which sandbox: its number in creation order (1, 2, ...) or its pid; the last
        /// one by default.
        sandbox: Option<String>,
        /// The command (after --); /bin/sh by default.
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// List environments: running ones, and ones a crashed run left (with what is left).
    Ls {
        #[arg(long)]
        json: bool,
    },
    /// Undo what an environment left (a run killed with kill -9, or an undo that
    /// failed), newest first, and remove it.
    Down {
        /// The environments (nsr ls).
        #[arg(add = ArgValueCandidates::new(candidates::environment_names))]
        names: Vec<String>,
        /// Every environment not in use.
        #[arg(long)]
        all: bool,
    },
    /// List what carries nsr's marks but belongs to no environment (holder processes,
    /// nsr_<pid> nft tables, links in nsr's link groups, nsr overlay roots, sandbox
    /// cgroups, your own pasta and slirp4netns processes); --apply removes it.
    Gc {
        #[arg(long)]
        apply: bool,
    },
    /// The cache of extracted roots that rootfs_cache() fills (kept across runs).
    Cache {
        #[command(subcommand)]
        action: CacheAction,
    },
    /// Check whether this machine can do what nsr does: root, user namespaces, id
    /// mapping, nft, /run/netns, cgroups, Landlock, seccomp, overlayfs, rootless
    /// networking, nsr's state and cache. Each problem comes with its fix. Exits 1 when
    /// something is missing.
    Doctor {
        /// The checks as JSON: { "checks": [{ name, status, detail, fix }] }.
        #[arg(long)]
        json: bool,
    },
    /// Print the shell code that completes nsr's commands, recipe files, environment
    /// names and --limit names: `source <(nsr completions bash)` in ~/.bashrc.
    Completions {
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Print the nsr(1) manual page (roff): `nsr man | man -l -`.
    Man,
}

#[derive(Subcommand)]
pub enum CacheAction {
    /// List the cached roots: digest, size, files, the archive they came from.
    Ls,
    /// Remove cached roots: those whose digest starts with one of DIGEST, or all.
    Clear {
        /// Digests (or their first characters); none means every entry.
        #[arg(add = ArgValueCandidates::new(candidates::cache_digests))]
        digests: Vec<String>,
    },
}

/// The whole command line as clap sees it (for help, completions and the man page).
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

/// A shell `nsr completions` writes for.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}
