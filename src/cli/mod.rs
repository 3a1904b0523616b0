//! Command-line parsing and the edge where results become messages and exit codes.

mod completions;
mod man;

use clap::{ArgAction, Parser, Subcommand};
use clap_complete::engine::{ArgValueCandidates, ArgValueCompleter};
use nsr::backend::kernel::KernelBackend;
use nsr::engine::error::RecipeError;
use nsr::engine::limits::Limits;
use nsr::engine::{self, Recipe, RunEnd};
use nsr::signals::Signals;
use nsr::{output, report};
use std::collections::BTreeMap;
use std::process::ExitCode;

/// The recipe `nsr run` runs when no file is given: it needs nothing but this binary.
const DEFAULT_RECIPE: &str = include_str!("../../recipes/default.nsr");
const DEFAULT_NAME: &str = "recipes/default.nsr";

pub const EXIT_RECIPE_ERROR: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

#[derive(Parser)]
#[command(
    name = "nsr",
    version,
    about = "Script Linux sandboxes: namespaces, mounts and roots from Rhai recipes, undone in reverse when the recipe ends, fails or is interrupted."
)]
struct Cli {
    /// Show every teardown step, not only those after a failure.
    #[arg(short, long, global = true, action = ArgAction::Count)]
    verbose: u8,
    /// Print only errors.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum PlanFormat {
    Text,
    Shell,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run a recipe against the kernel, then undo everything it created.
    ///
    /// Without FILE, runs the built-in default recipe (recipes/default.nsr).
    /// NAME=VALUE pairs after the file are the recipe's `args` (args.NAME);
    /// `nsr run FILE --help` lists the parameters the recipe declares.
    #[command(disable_help_flag = true)]
    Run {
        /// The recipe (.nsr), then its NAME=VALUE parameters.
        #[arg(value_name = "FILE] [NAME=VALUE", add = ArgValueCompleter::new(completions::recipe_files))]
        words: Vec<String>,
        /// Raise or lower an engine limit: operations, call-depth, expr-depth,
        /// string-size, array-size, map-size, modules, memory (MiB) (repeatable).
        #[arg(long = "limit", value_name = "NAME=VALUE", add = ArgValueCandidates::new(completions::limit_names))]
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
        #[arg(value_name = "FILE] [NAME=VALUE", add = ArgValueCompleter::new(completions::recipe_files))]
        words: Vec<String>,
        /// text: steps with recipe lines and commands, then the rollback; shell: a
        /// script that does it by hand, its teardown as a trap; json: the same as data.
        #[arg(long, value_enum, default_value = "text")]
        format: PlanFormat,
        /// Raise or lower an engine limit (as for `run`).
        #[arg(long = "limit", value_name = "NAME=VALUE", add = ArgValueCandidates::new(completions::limit_names))]
        limits: Vec<String>,
        /// Also look for imported modules in DIR.
        #[arg(long = "lib", value_name = "DIR")]
        libs: Vec<String>,
    },
    /// Report every syntax error and every call of an unknown function, without
    /// touching the system.
    Check {
        /// The recipe (.nsr).
        #[arg(add = ArgValueCompleter::new(completions::recipe_files))]
        file: String,
    },
    /// Explore step by step: each statement runs at once against the kernel, with
    /// :undo, :state, :save; leaving (Ctrl-D, :quit) undoes everything.
    Repl {
        /// A recipe to run first, to explore from there.
        #[arg(add = ArgValueCompleter::new(completions::recipe_files))]
        file: Option<String>,
        /// Raise or lower an engine limit (as for `run`).
        #[arg(long = "limit", value_name = "NAME=VALUE", add = ArgValueCandidates::new(completions::limit_names))]
        limits: Vec<String>,
    },
    /// Run a shell (or CMD) in a kept environment's sandbox: its namespaces and root,
    /// as `nsenter -t PID -a` plus chroot does by hand.
    Enter {
        /// The environment (nsr ls).
        #[arg(add = ArgValueCandidates::new(completions::environment_names))]
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
        #[arg(add = ArgValueCandidates::new(completions::environment_names))]
        names: Vec<String>,
        /// Every environment not in use.
        #[arg(long)]
        all: bool,
    },
    /// List what carries nsr's marks but belongs to no environment (holder processes,
    /// nsr_<pid> nft tables, links in nsr's link groups, nsr overlay roots); --apply removes it.
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
        shell: completions::Shell,
    },
    /// Print the nsr(1) manual page (roff): `nsr man | man -l -`.
    Man,
}

#[derive(Subcommand)]
enum CacheAction {
    /// List the cached roots: digest, size, files, the archive they came from.
    Ls,
    /// Remove cached roots: those whose digest starts with one of DIGEST, or all.
    Clear {
        /// Digests (or their first characters); none means every entry.
        #[arg(add = ArgValueCandidates::new(completions::cache_digests))]
        digests: Vec<String>,
    },
}

/// The whole command line as clap sees it (for help, completions and the man page).
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

pub fn main() -> ExitCode {
    // A Tab in a shell with `nsr completions` loaded calls nsr back for candidates.
    completions::answer_if_asked();
    // Not dumpable: a sandbox without a pid namespace sees nsr's process, whose root,
    // working directory and fds (namespaces, sockets) are the host's.
    nsr::sys::set_dumpable(false);
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    output::set_quiet(cli.quiet);
    match cli.command {
        Command::Run {
            words,
            limits,
            libs,
            json,
            name,
            keep,
            help,
        } => {
            if help {
                return run_help(&words);
            }
            run(
                words,
                limits,
                libs,
                json,
                name,
                keep,
                cli.verbose > 0 && !cli.quiet,
            )
        }
        Command::Enter {
            name,
            sandbox,
            command,
        } => enter(&name, sandbox.as_deref(), command),
        Command::Ls { json } => ls(json),
        Command::Gc { apply } => gc(apply),
        Command::Down { names, all } => down(names, all, cli.verbose > 0 && !cli.quiet),
        Command::Doc { json: true, .. } => {
            let meta = nsr::editors::metadata();
            output::out(&format!(
                "{}\n",
                serde_json::to_string_pretty(&meta).unwrap_or_default()
            ));
            ExitCode::SUCCESS
        }
        Command::Doc { name, libs, .. } => doc(name.as_deref(), &libs),
        Command::Check { file } => check(&file),
        Command::Plan {
            words,
            format,
            limits,
            libs,
        } => plan(words, format, limits, libs),
        Command::Cache { action } => cache(action),
        Command::Doctor { json } => doctor(json),
        Command::Completions { shell } => written(completions::print(shell)),
        Command::Man => written(man::print()),
        Command::Repl { file, limits } => repl(file, limits, cli.verbose > 0 && !cli.quiet),
    }
}

/// `nsr doctor [--json]`: 1 when a check says something is missing.
fn doctor(json: bool) -> ExitCode {
    let checks = nsr::doctor::run();
    if json {
        output::out(&format!("{}\n", nsr::doctor::json(&checks)));
    } else {
        output::out(&nsr::doctor::render(&checks));
    }
    if checks
        .iter()
        .any(|c| c.status == nsr::doctor::Status::Missing)
    {
        ExitCode::from(EXIT_RECIPE_ERROR)
    } else {
        ExitCode::SUCCESS
    }
}

/// What to do with an environment a run or the REPL kept.
fn kept_note(name: &str) {
    output::note(&format!(
        "nsr: environment {name} is kept: nsr enter {name}, nsr down {name}\n"
    ));
}

/// The end of a command that only writes to stdout (a closed pipe is not an error).
fn written(result: std::io::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            output::err(&format!("nsr: cannot write: {e}\n"));
            ExitCode::from(EXIT_RECIPE_ERROR)
        }
    }
}

fn cache(action: CacheAction) -> ExitCode {
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

fn usage(msg: impl std::fmt::Display) -> ExitCode {
    output::err(&format!("nsr: {msg}\n"));
    ExitCode::from(EXIT_USAGE)
}

/// `--limit NAME=VALUE` words over the default limits.
fn parse_limits(words: &[String]) -> Result<Limits, String> {
    let mut limits = Limits::default();
    for w in words {
        limits.set(w)?;
    }
    Ok(limits)
}

/// The recipe with its parameters and `--lib` directories, and the `--limit`s.
fn prepare(
    words: &[String],
    limit_words: &[String],
    libs: &[String],
) -> Result<(Recipe, Limits), String> {
    let limits = parse_limits(limit_words)?;
    let mut recipe = read_recipe(words)?;
    recipe.libs = libs.iter().map(std::path::PathBuf::from).collect();
    Ok((recipe, limits))
}

fn read_recipe(words: &[String]) -> Result<Recipe, String> {
    let file_given = words
        .first()
        .is_some_and(|w| !w.contains('=') || w.ends_with(".nsr"));
    let (path, source) = if file_given {
        let path = words[0].clone();
        let source = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read recipe {path}: {e}"))?;
        (path, source)
    } else {
        (DEFAULT_NAME.to_string(), DEFAULT_RECIPE.to_string())
    };
    let mut args = BTreeMap::new();
    for pair in words.iter().skip(usize::from(file_given)) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("recipe parameter '{pair}' is not NAME=VALUE"))?;
        if k.is_empty() || !k.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Err(format!(
                "recipe parameter name '{k}' must be letters, digits and _"
            ));
        }
        if args.insert(k.to_string(), v.to_string()).is_some() {
            return Err(format!("recipe parameter '{k}' is given twice"));
        }
    }
    engine::apply_params(&engine::declared_params(&source), &mut args)?;
    Ok(Recipe {
        path,
        source,
        args,
        ..Default::default()
    })
}

/// `nsr run FILE --help`: the parameters the recipe declares (`//! param ...`).
fn run_help(words: &[String]) -> ExitCode {
    let Some(file) = words.first() else {
        let mut cmd = command();
        // Built, so that the subcommand's usage line says `nsr run`, not `run`.
        cmd.build();
        if let Some(run) = cmd.find_subcommand_mut("run") {
            let _ = run.print_long_help();
        }
        return ExitCode::SUCCESS;
    };
    let source = match std::fs::read_to_string(file) {
        Ok(s) => s,
        Err(e) => return usage(format!("cannot read recipe {file}: {e}")),
    };
    let header: Vec<&str> = source
        .lines()
        .take_while(|l| l.starts_with("//"))
        .filter(|l| !l.starts_with("//!"))
        // One space after the slashes goes; the header's own indentation stays.
        .map(|l| {
            l.strip_prefix("// ")
                .unwrap_or_else(|| l.trim_start_matches('/'))
        })
        .collect();
    let mut out = format!("{}\n", header.join("\n"));
    let decls = engine::declared_params(&source);
    if decls.is_empty() {
        out.push_str("\nThis recipe declares no parameters (//! param NAME[=DEFAULT]: WHAT).\n");
    } else {
        out.push_str(&format!(
            "\nparameters of {file} (nsr run {file} NAME=VALUE ...):\n"
        ));
        for d in decls {
            let default = match &d.default {
                Some(v) => format!(" (default: \"{v}\")"),
                None => " (required)".into(),
            };
            out.push_str(&format!("  {:<12} {}{default}\n", d.name, d.help));
        }
    }
    output::out(&out);
    ExitCode::SUCCESS
}

/// `nsr enter NAME [SANDBOX] [-- CMD]`.
fn enter(name: &str, sandbox: Option<&str>, command: Vec<String>) -> ExitCode {
    match nsr::env::enter::enter(name, sandbox, &command) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            output::err(&report::op_error_line(&format!("enter {name}"), &e));
            ExitCode::from(EXIT_RECIPE_ERROR)
        }
    }
}

/// `nsr gc [--apply]`.
fn gc(apply: bool) -> ExitCode {
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
fn ls(json: bool) -> ExitCode {
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
    }
    ExitCode::SUCCESS
}

/// `nsr down NAME... | --all`.
fn down(names: Vec<String>, all: bool, verbose: bool) -> ExitCode {
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

/// `nsr doc [MODULE[::FUNCTION]]`.
fn doc(name: Option<&str>, libs: &[String]) -> ExitCode {
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
    let Some(source) = modules::find_source(module, &libs) else {
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

fn lookup(recipe: &Recipe) -> impl Fn(&str) -> Option<String> + '_ {
    move |file: &str| {
        if file == recipe.path {
            Some(recipe.source.clone())
        } else {
            std::fs::read_to_string(file)
                .ok()
                .or_else(|| nsr::engine::modules::stdlib_source(file).map(str::to_string))
        }
    }
}

fn run(
    words: Vec<String>,
    limit_words: Vec<String>,
    libs: Vec<String>,
    json: bool,
    name: Option<String>,
    keep: bool,
    verbose: bool,
) -> ExitCode {
    let (mut recipe, limits) = match prepare(&words, &limit_words, &libs) {
        Ok(r) => r,
        Err(e) => return usage(e),
    };
    recipe.verbose = verbose;
    recipe.keep = keep;
    let env_name = name.unwrap_or_else(|| {
        let stem = std::path::Path::new(&recipe.path)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "recipe".into());
        let stem: String = stem
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        if keep {
            stem
        } else {
            format!("{stem}-{}", std::process::id())
        }
    });
    match nsr::env::store::EnvJournal::create(&env_name, &recipe.path) {
        Ok(env) => *recipe.env.borrow_mut() = Some(env),
        Err(e) => {
            output::err(&report::op_error_line("run", &e));
            return ExitCode::from(EXIT_USAGE);
        }
    }
    let signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => return usage(format!("cannot install signal handlers: {e}")),
    };
    let outcome = engine::run(
        &recipe,
        Box::new(KernelBackend::new(signals.clone())),
        &limits,
        &signals,
    );
    let failed = outcome.result.is_err();
    let undo_failed = outcome.undone.iter().any(|r| r.failed());
    let code = match &outcome.result {
        Err(RecipeError::Interrupted { .. }) => 128 + signals.pending().unwrap_or(2),
        Err(_) => EXIT_RECIPE_ERROR as i32,
        Ok(_) if undo_failed => EXIT_RECIPE_ERROR as i32,
        Ok(RunEnd::Exit(code)) => (*code).clamp(0, 255),
        Ok(RunEnd::Finished | RunEnd::Kept) => 0,
    };
    if matches!(outcome.result, Ok(RunEnd::Kept)) {
        kept_note(&env_name);
    }
    if json {
        output::err(&format!(
            "{}\n",
            report::json_report(&recipe.path, &outcome.result, &outcome.undone, code)
        ));
    } else {
        if let Err(err) = &outcome.result {
            output::err(&report::render_error(err, &lookup(&recipe)));
        }
        output::err(&report::render_undo(&outcome.undone, failed, verbose));
    }
    match outcome.result {
        Err(RecipeError::Interrupted { .. }) => {
            ExitCode::from(128u8.saturating_add(signals.pending().unwrap_or(2) as u8))
        }
        Err(_) => ExitCode::from(EXIT_RECIPE_ERROR),
        Ok(_) if undo_failed => ExitCode::from(EXIT_RECIPE_ERROR),
        Ok(RunEnd::Exit(code)) => ExitCode::from(code.clamp(0, 255) as u8),
        Ok(RunEnd::Finished | RunEnd::Kept) => ExitCode::SUCCESS,
    }
}

fn repl(file: Option<String>, limit_words: Vec<String>, verbose: bool) -> ExitCode {
    let limits = match parse_limits(&limit_words) {
        Ok(l) => l,
        Err(e) => return usage(e),
    };
    let signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => return usage(format!("cannot install signal handlers: {e}")),
    };
    let mut session = nsr::repl::Repl::new(
        Box::new(KernelBackend::new(signals.clone())),
        &limits,
        signals,
        verbose,
    );
    match nsr::env::store::EnvJournal::create(&format!("repl-{}", std::process::id()), "nsr repl") {
        Ok(env) => session.set_env(env),
        Err(e) => {
            output::err(&report::op_error_line("repl", &e));
            return ExitCode::from(EXIT_USAGE);
        }
    }
    let (end, undone) = session.run(file);
    output::err(&report::render_undo(&undone, !undone.is_empty(), verbose));
    let undo_failed = undone.iter().any(|r| r.failed());
    match end {
        _ if undo_failed => ExitCode::from(EXIT_RECIPE_ERROR),
        nsr::repl::ReplEnd::Quit => ExitCode::SUCCESS,
        nsr::repl::ReplEnd::Kept(name) => {
            kept_note(&name);
            ExitCode::SUCCESS
        }
        nsr::repl::ReplEnd::Exit(code) => ExitCode::from(code.clamp(0, 255) as u8),
    }
}

fn plan(
    words: Vec<String>,
    format: PlanFormat,
    limit_words: Vec<String>,
    libs: Vec<String>,
) -> ExitCode {
    let (recipe, limits) = match prepare(&words, &limit_words, &libs) {
        Ok(r) => r,
        Err(e) => return usage(e),
    };
    let plan = nsr::plan::plan(&recipe, &limits);
    let error = plan
        .error
        .as_ref()
        .map(|e| report::render_error(e, &lookup(&recipe)));
    output::out(&match format {
        PlanFormat::Text => plan.text(error.as_deref()),
        PlanFormat::Shell => plan.shell(),
        PlanFormat::Json => format!("{:#}\n", plan.json(error.as_deref())),
    });
    if let (Some(e), PlanFormat::Shell) = (&error, format) {
        output::err(e);
    }
    if plan.error.is_some() {
        ExitCode::from(EXIT_RECIPE_ERROR)
    } else {
        ExitCode::SUCCESS
    }
}

fn check(file: &str) -> ExitCode {
    // The recipe as written: its parameters are not needed to check it.
    let recipe = match std::fs::read_to_string(file) {
        Ok(source) => Recipe {
            path: file.to_string(),
            source,
            ..Default::default()
        },
        Err(e) => return usage(format!("cannot read recipe {file}: {e}")),
    };
    let found = engine::check_recipe(&recipe);
    for e in &found.errors {
        output::err(&report::render_error(e, &lookup(&recipe)));
    }
    for (origin, text) in &found.warnings {
        output::note(&output::render_warning(origin, text));
    }
    let errors = found.errors;
    if errors.is_empty() && !found.warnings.is_empty() {
        output::note(&format!(
            "{}: ok, {} warning(s)\n",
            recipe.path,
            found.warnings.len()
        ));
        ExitCode::SUCCESS
    } else if errors.is_empty() {
        output::note(&format!("{}: ok\n", recipe.path));
        ExitCode::SUCCESS
    } else {
        output::err(&format!("{}: {} problem(s)\n", recipe.path, errors.len()));
        ExitCode::from(EXIT_RECIPE_ERROR)
    }
}
