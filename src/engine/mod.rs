//! The Rhai layer: builds an engine that is safe to hand untrusted recipes, binds the
//! primitives to a session, and runs or checks a recipe.

mod call;
mod cgroup_options;
mod cgroup_primitives;
pub mod check;
mod check_literals;
mod closest;
mod confine_options;
pub use call::PrimitiveDoc;
pub use recipe::{apply_params, declared_params, ParamDecl, Recipe};
mod convert;
pub mod error;
pub mod limits;
pub mod modules;
mod net;
pub mod net_values;
pub mod option_keys;
mod pasta_options;
pub mod primitives;
mod read;
mod recipe;
mod rootfs_primitives;
pub mod values;

use crate::backend::Backend;
use crate::journal::UndoReport;
use crate::output;
use crate::session::{Session, Trace, TraceItem};
use crate::signals::{signal_name, Signals};
use crate::undo::Ending;
use error::RecipeError;
use limits::Limits;
use rhai::{Dynamic, Engine, EvalAltResult, OptimizationLevel, Scope};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use values::RecipeArgs;

pub struct RunOutcome {
    pub result: Result<RunEnd, RecipeError>,
    /// Every undo, newest first, as rollback or teardown ran them.
    pub undone: Vec<UndoReport>,
}

/// How a recipe ended without error.
#[derive(Debug, PartialEq, Eq)]
pub enum RunEnd {
    Finished,
    /// The recipe called `exit(code)`.
    Exit(i32),
    /// Finished, and what it made is kept (`--keep`).
    Kept,
}

/// An engine with nsr's limits and rules, and no primitives.
pub fn base_engine(limits: &Limits) -> Engine {
    let mut engine = Engine::new();
    // Never Full: it would call functions with constant arguments at compile time.
    engine.set_optimization_level(OptimizationLevel::Simple);
    engine.disable_symbol("eval");
    engine.set_strict_variables(true);
    limits.apply(&mut engine);
    values::register_types(&mut engine);
    net_values::register_types(&mut engine);
    engine.on_print(|s| output::out(&format!("{s}\n")));
    engine.on_debug(|s, src, pos| match (src, pos.line()) {
        (Some(src), Some(line)) => output::out(&format!("{src}:{line}: {s}\n")),
        _ => output::out(&format!("{s}\n")),
    });
    engine
}

/// An engine whose primitives act through `session`.
pub fn engine_for(session: Rc<RefCell<Session>>, limits: &Limits, signals: &Signals) -> Engine {
    build_engine(session, limits, signals).0
}

/// The engine, and the primitives it has as `nsr check` and `nsr doc` describe them.
pub fn build_engine(
    session: Rc<RefCell<Session>>,
    limits: &Limits,
    signals: &Signals,
) -> (Engine, Vec<PrimitiveDoc>) {
    let mut engine = base_engine(limits);
    // In the order `nsr doc` lists them.
    let mut docs = Vec::new();
    primitives::register(&mut engine, &mut docs, &session);
    net::register(&mut engine, &mut docs, &session);
    rootfs_primitives::register(&mut engine, &mut docs, &session);
    primitives::register_inspection(&mut engine, &mut docs, &session);
    cgroup_primitives::register(&mut engine, &mut docs, &session);
    let flag = signals.flag();
    let memory_kib = limits.memory_mib.saturating_mul(1024);
    engine.on_progress(move |ops| {
        if let sig @ 1.. = flag.load(Ordering::SeqCst) {
            return Some(Dynamic::from(sig as i64));
        }
        // Rhai's size limits are not checked on every write (a map grows through index
        // assignment unchecked): the process's peak memory is the backstop.
        if ops % 16384 == 0 && peak_rss_kib() > memory_kib {
            return Some(Dynamic::from(values::MemoryLimit));
        }
        None
    });
    (engine, docs)
}

fn peak_rss_kib() -> u64 {
    nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)
        .map(|u| u.max_rss() as u64)
        .unwrap_or(0)
}

fn scope_for(recipe: &Recipe) -> Scope<'static> {
    let mut scope = Scope::new();
    scope.push_constant(
        "args",
        RecipeArgs {
            values: Rc::new(recipe.args.clone()),
        },
    );
    scope
}

/// Runs a recipe and then undoes everything it created, in reverse order, whether it
/// finished, failed, or was interrupted.
pub fn run(
    recipe: &Recipe,
    backend: Box<dyn Backend>,
    limits: &Limits,
    signals: &Signals,
    options: RunOptions,
) -> RunOutcome {
    run_with(recipe, backend, limits, signals, options, None)
}

/// Where a run's undo is written besides memory, and whether what it made is kept.
#[derive(Default)]
pub struct RunOptions {
    /// The run's journal on disk (`nsr down` after a crash).
    pub env: Option<crate::env::store::EnvJournal>,
    /// Or the environment (name, recipe) to make before the run's first action that may
    /// create something.
    pub deferred_env: Option<(String, String)>,
    /// `nsr run --keep`: when the recipe finishes, keep what it made.
    pub keep: bool,
}

/// `nsr plan`: runs the recipe against the recording backend, which touches nothing;
/// every operation, and what the recipe prints, goes to `trace` instead of the screen.
pub fn run_traced(recipe: &Recipe, limits: &Limits, trace: Trace) -> RunOutcome {
    let backend = crate::backend::recording::RecordingBackend::default();
    run_with(
        recipe,
        Box::new(backend),
        limits,
        &Signals::none(),
        RunOptions::default(),
        Some(trace),
    )
}

fn run_with(
    recipe: &Recipe,
    backend: Box<dyn Backend>,
    limits: &Limits,
    signals: &Signals,
    options: RunOptions,
    trace: Option<Trace>,
) -> RunOutcome {
    let session = Rc::new(RefCell::new(Session::new(backend)));
    if let Some(env) = options.env {
        session.borrow_mut().set_env(env);
    }
    if let Some((name, recipe)) = options.deferred_env {
        session.borrow_mut().defer_env(name, recipe);
    }
    let mut engine = engine_for(session.clone(), limits, signals);
    if let Some(trace) = trace {
        session.borrow_mut().set_trace(trace.clone());
        engine.on_print(move |s| trace.borrow_mut().push(TraceItem::Print(s.to_string())));
    }
    engine.set_module_resolver(modules::NsrResolver::new(&recipe.libs, recipe.verbose));
    let scope = scope_for(recipe);
    let result = execute(&engine, recipe, scope, signals).map(|end| {
        // Ending with `box.exec(cmd)` gives back the command's status (`exit 3` in a shell).
        match (end, session.borrow().last_exec_status()) {
            (RunEnd::Finished, Some(code)) if code != 0 => RunEnd::Exit(code),
            (end, _) => end,
        }
    });
    let ending = session.borrow_mut().end(options.keep && result.is_ok());
    // The engine is not freed: nsr exits right after a run, and freeing Rhai's function
    // tables took longer than a short recipe's sandbox work (benches/startup.sh).
    std::mem::forget(engine);
    match ending {
        Ending::Kept(kept) => RunOutcome {
            result: kept.map(|_| RunEnd::Kept).map_err(|e| RecipeError::Script {
                origin: Default::default(),
                message: format!("cannot keep the environment: {}", e.message),
                hint: None,
            }),
            undone: Vec::new(),
        },
        Ending::RolledBack(undone) => RunOutcome { result, undone },
    }
}

fn execute(
    engine: &Engine,
    recipe: &Recipe,
    mut scope: Scope<'static>,
    signals: &Signals,
) -> Result<RunEnd, RecipeError> {
    let mut ast = engine
        .compile_with_scope(&scope, &recipe.source)
        .map_err(|e| error::from_parse(&recipe.path, &e))?;
    ast.set_source(recipe.path.as_str());
    match engine.run_ast_with_scope(&mut scope, &ast) {
        // A signal that the last command took (it ended) still interrupts the run.
        Ok(()) => match signals.pending() {
            Some(sig) => Err(RecipeError::Interrupted {
                signal: signal_name(sig),
                origin: Default::default(),
                detail: Some("the recipe's last command ended with it".into()),
            }),
            None => Ok(RunEnd::Finished),
        },
        Err(e) => match *e {
            EvalAltResult::ErrorTerminated(value, _) if value.is::<values::RecipeExit>() => {
                Ok(RunEnd::Exit(value.cast::<values::RecipeExit>().0 as i32))
            }
            other => {
                let sig = signals.pending().map(signal_name);
                let err = error::from_eval(&recipe.path, other, sig.clone());
                // A primitive cut short by a signal reads as the interruption it was.
                match (sig, err) {
                    (Some(signal), RecipeError::Primitive(f)) => Err(RecipeError::Interrupted {
                        signal,
                        origin: f.origin,
                        detail: Some(f.error.message),
                    }),
                    (_, err) => Err(err),
                }
            }
        },
    }
}

/// `nsr check`: compiles with every primitive known but none callable for real.
pub fn check_recipe(recipe: &Recipe) -> check::CheckReport {
    Checker::new().check(recipe)
}

/// An engine kept to check one recipe after another (the language server checks on
/// every change): built once, it runs nothing (its session records, and check only
/// compiles).
pub struct Checker {
    engine: Engine,
    primitives: Vec<PrimitiveDoc>,
}

impl Checker {
    pub fn new() -> Checker {
        let backend = crate::backend::recording::RecordingBackend::default();
        let session = Rc::new(RefCell::new(Session::new(Box::new(backend))));
        let (engine, primitives) = build_engine(session, &Limits::default(), &Signals::none());
        Checker { engine, primitives }
    }

    pub fn check(&mut self, recipe: &Recipe) -> check::CheckReport {
        check::check(
            &mut self.engine,
            recipe,
            &scope_for(recipe),
            &self.primitives,
        )
    }

    /// The primitives, as `nsr doc` lists them.
    pub fn primitives(&self) -> &[PrimitiveDoc] {
        &self.primitives
    }
}

impl Default for Checker {
    fn default() -> Self {
        Checker::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::recording::RecordingBackend;
    use crate::ops::Undo;
    use std::collections::BTreeMap;

    fn recipe(src: &str) -> Recipe {
        Recipe {
            path: "t.nsr".into(),
            source: src.into(),
            ..Default::default()
        }
    }

    fn run_recorded(src: &str, fail_at: Option<usize>) -> RunOutcome {
        let backend = match fail_at {
            Some(k) => RecordingBackend::failing_at(k),
            None => RecordingBackend::default(),
        };
        run(
            &recipe(src),
            Box::new(backend),
            &Limits::default(),
            &Signals::none(),
            RunOptions::default(),
        )
    }

    const TUTORIAL: &str = r#"
let box = unshare(["mount", "uts", "pid"]);
box.hostname("inside");
box.chroot("/tmp/root");
box.mount("proc", "/proc", "proc");
box.mount("tmpfs", "/tmp", "tmpfs", #{ data: "size=1m" });
"#;

    #[test]
    fn teardown_undoes_everything_in_reverse_with_positions() {
        let out = run_recorded(TUTORIAL, None);
        assert!(out.result.is_ok());
        let lines: Vec<_> = out.undone.iter().map(|r| r.entry.origin.line).collect();
        assert_eq!(lines, vec![6, 5, 4, 3, 2]);
        assert!(matches!(out.undone[4].entry.undo, Undo::StopSandbox { .. }));
        assert_eq!(
            out.undone[0].to_string(),
            "undid mount tmpfs on /tmp (t.nsr:6:5)"
        );
    }

    #[test]
    fn failure_at_step_k_undoes_the_k_minus_1_before_it() {
        for k in 1..=5 {
            let out = run_recorded(TUTORIAL, Some(k));
            let err = out.result.unwrap_err();
            let RecipeError::Primitive(f) = err else {
                panic!("step {k}: {err:?}")
            };
            assert_eq!(f.origin.line, k + 1);
            assert_eq!(out.undone.len(), k - 1, "step {k}");
        }
    }

    #[test]
    fn bad_arguments_fail_before_the_backend_with_the_call_text() {
        let out = run_recorded("let b = unshare([\"mount\", \"bogus\"]);", None);
        let RecipeError::Primitive(f) = out.result.unwrap_err() else {
            panic!()
        };
        assert!(f.error.message.contains("unknown namespace kind 'bogus'"));
        assert_eq!(f.call, r#"unshare(["mount", "bogus"])"#);
        assert_eq!((f.origin.line, f.origin.column), (1, 9));
    }

    #[test]
    fn recipe_can_catch_a_primitive_error() {
        let src = r#"let b = unshare(["mount"]);
let r = "";
try { b.mount("proc", "relative", "proc"); } catch (e) { r = e.message; }
if !r.contains("not absolute") { throw "not caught: " + r; }"#;
        assert!(run_recorded(src, None).result.is_ok());
    }

    #[test]
    fn args_are_a_map_with_a_clear_error_for_missing_keys() {
        let mut r = recipe("print(args.name); let x = args.missing;");
        r.args.insert("name".into(), "v".into());
        let out = run(
            &r,
            Box::new(RecordingBackend::default()),
            &Limits::default(),
            &Signals::none(),
            RunOptions::default(),
        );
        let RecipeError::Script { message, .. } = out.result.unwrap_err() else {
            panic!()
        };
        assert!(
            message.contains("parameter 'missing' was not given"),
            "{message}"
        );
    }

    #[test]
    fn limits_and_eval() {
        let mut l = Limits::default();
        l.set("operations=1000").unwrap();
        let out = run(
            &recipe("loop {}"),
            Box::new(RecordingBackend::default()),
            &l,
            &Signals::none(),
            RunOptions::default(),
        );
        let RecipeError::Script { message, hint, .. } = out.result.unwrap_err() else {
            panic!()
        };
        assert!(
            message.contains("operation count") && hint.unwrap().contains("--limit operations")
        );
        let out = run_recorded("eval(\"1\")", None);
        assert!(matches!(out.result, Err(RecipeError::Syntax { .. })));
        let out = run_recorded("fn f(n) { f(n + 1) } f(0);", None);
        let RecipeError::Script { message, .. } = out.result.unwrap_err() else {
            panic!()
        };
        assert!(message.contains("call depth"), "{message}");
    }

    #[test]
    fn the_optimizer_never_runs_primitives_at_compile_time() {
        let backend = RecordingBackend::default();
        let session = Rc::new(RefCell::new(Session::new(Box::new(backend))));
        let engine = engine_for(session.clone(), &Limits::default(), &Signals::none());
        let _ = engine
            .compile(r#"const b = unshare(["mount"]); b.mount("proc", "/proc", "proc");"#)
            .unwrap();
        assert!(session.borrow().made().is_empty());
    }

    #[test]
    fn exit_ends_the_recipe_with_a_code() {
        let out = run_recorded(
            "let b = unshare([\"uts\"]); try { exit(3); } catch { }",
            None,
        );
        assert_eq!(out.result.unwrap(), RunEnd::Exit(3));
        assert_eq!(out.undone.len(), 1);
    }

    const NET_TUTORIAL: &str = r#"
let net = netns("test_net");
let link = veth("veth0", "eth0", net);
link.host.addr("172.16.99.1/24").up();
net.route("default", "172.16.99.1");
ip_forward(true);
masquerade("172.16.99.100/24", "ens3");
forward("ens3", "veth0");
let box = unshare(#{ kinds: ["mount"], net: net });
box.links();
"#;

    #[test]
    fn the_network_tutorial_is_undone_in_reverse_one_step_per_thing_made() {
        // The expectation comes from the recipe itself (its lines and the values it
        // gives), not from what the recording backend answers (pids, rule handles and
        // saved values there are its own placeholders).
        let out = run_recorded(NET_TUTORIAL, None);
        assert!(out.result.is_ok(), "{:?}", out.result);
        let undone: Vec<(usize, String)> = out
            .undone
            .iter()
            .map(|r| (r.entry.origin.line, r.entry.what.clone()))
            .collect();
        let expected: Vec<(usize, &str)> = vec![
            (9, "sandbox pid "),
            (
                8,
                "nft rule 'iifname \"ens3\" oifname \"veth0\" counter accept' (the host)",
            ),
            (
                7,
                "nft rule 'ip saddr 172.16.99.0/24 oifname \"ens3\" masquerade' (the host)",
            ),
            (6, "net/ipv4/ip_forward=1 (the host)"),
            (5, "route default via 172.16.99.1 (netns test_net)"),
            (4, "link veth0 up (the host)"),
            (4, "address 172.16.99.1/24 on veth0 (the host)"),
            (3, "veth veth0 (the host) <-> eth0 (netns test_net)"),
            (2, "netns test_net"),
        ];
        assert_eq!(undone.len(), expected.len(), "{undone:#?}");
        for ((line, what), (want_line, want)) in undone.iter().zip(&expected) {
            assert_eq!(line, want_line, "{undone:#?}");
            assert!(
                what.contains(want),
                "{what:?} should name {want:?}: {undone:#?}"
            );
            assert!(
                !what.contains("<pid>") && !what.contains("<previous"),
                "{what:?}"
            );
        }
    }

    #[test]
    fn bad_network_arguments_fail_before_the_backend() {
        for (src, want) in [
            (r#"veth("veth0123456789ab", "eth0");"#, "at most 15"),
            (r#"let n = netns("a"); n.addr("eth0", "10.0.0.1");"#, "CIDR"),
            (
                r#"let n = netns("a"); n.route("10.0.0.1/8", "eth0");"#,
                "host bits",
            ),
            (r#"let n = netns("a"); n.route("default", "fd00::1");"#, ""),
            (
                r#"route("10.0.0.0/8", "fd00::1");"#,
                "different IP families",
            ),
            (
                r#"let n = netns("a"); n.port_forward(#{ port: 80, to: "10.0.0.2", proto: "sctp" });"#,
                "tcp",
            ),
            (
                r#"let n = netns("a"); n.port_forward(#{ port: 80 });"#,
                "needs to",
            ),
            (r#"masquerade("10.0.0.0/8", "a b");"#, "whitespace"),
            (r#"cidr_host("10.0.0.0/30", 4);"#, "has no address number 4"),
            (r#"ip_of("10.0.0.1");"#, "CIDR"),
            (r#"make_dir("");"#, "not named"),
        ] {
            let out = run_recorded(src, None);
            if want.is_empty() {
                assert!(out.result.is_ok(), "{src}: {:?}", out.result);
                continue;
            }
            let RecipeError::Primitive(f) = out.result.unwrap_err() else {
                panic!("{src}")
            };
            assert!(f.error.message.contains(want), "{src}: {}", f.error.message);
        }
    }

    #[test]
    fn declared_parameters_get_defaults_and_required_ones_are_named() {
        let src = "//! param tar: the tarball\n//! param dir=go_root: where it goes\n//! param quiet=: nothing\nlet x = 1;\n";
        let decls = declared_params(src);
        assert_eq!(decls.len(), 3);
        assert_eq!(decls[1].default.as_deref(), Some("go_root"));
        let mut args = BTreeMap::new();
        let err = apply_params(&decls, &mut args).unwrap_err();
        assert!(err.contains("tar (the tarball)"), "{err}");
        args.insert("tar".into(), "x.tar".into());
        apply_params(&decls, &mut args).unwrap();
        assert_eq!(args["dir"], "go_root");
        assert_eq!(args["quiet"], "");
    }

    #[test]
    fn reading_primitives_leave_nothing_to_undo() {
        let backend = RecordingBackend::default();
        let session = Rc::new(RefCell::new(Session::new(Box::new(backend))));
        let engine = engine_for(session.clone(), &Limits::default(), &Signals::none());
        engine.run(r#"let b = unshare(#{ kinds: ["mount"], propagation: "slave" }); b.run(["true"]); b.namespaces(); b.mountinfo();"#).unwrap();
        let journal = session.borrow();
        let entries = journal.made();
        assert_eq!(entries.len(), 1);
        assert!(matches!(entries[0].undo, Undo::StopSandbox { .. }));
    }
}
