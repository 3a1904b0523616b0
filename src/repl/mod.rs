//! `nsr repl`: each statement runs at once against the real kernel, the session keeps
//! every resource it created (in the same journal as a recipe), a failing statement
//! takes back only what it made, and leaving undoes everything.

mod helper;
mod show;

use crate::backend::recording::RecordingBackend;
use crate::backend::Backend;
use crate::engine::error::{self, RecipeError};
use crate::engine::limits::Limits;
use crate::engine::values::RecipeExit;
use crate::engine::{self, check, modules, PrimitiveDoc};
use crate::journal::UndoReport;
use crate::session::{Session, TraceItem};
use crate::signals::{signal_name, Signals};
use crate::undo::Ending;
use crate::{output, report};
use helper::{ReplHelper, META_COMMANDS};
use rhai::{Dynamic, Engine, EvalAltResult, Scope, AST};
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{Config, Editor};
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;

/// A statement that ran, with the journal entries it added (`start..end`).
struct Statement {
    source: String,
    start: usize,
    end: usize,
}

pub struct Repl {
    session: Rc<RefCell<Session>>,
    engine: Engine,
    docs: Vec<PrimitiveDoc>,
    scope: Scope<'static>,
    /// The functions defined so far (statements are cleared after each run).
    functions: AST,
    statements: Vec<Statement>,
    sources: HashMap<String, String>,
    signals: Signals,
    count: usize,
    verbose: bool,
    limits: Limits,
    /// Modules imported so far, by alias (for `:plan`'s own engine).
    imports: Vec<(String, rhai::Shared<rhai::Module>)>,
}

/// How the session ended.
pub enum ReplEnd {
    Quit,
    Exit(i32),
    /// `:keep`: what the session made stays, as a kept environment of this name.
    Kept(String),
}

fn history_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NSR_HISTORY") {
        return Some(PathBuf::from(p));
    }
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    Some(state.join("nsr/history"))
}

impl Repl {
    pub fn new(
        backend: Box<dyn Backend>,
        limits: &Limits,
        signals: Signals,
        verbose: bool,
    ) -> Repl {
        let session = Rc::new(RefCell::new(Session::new(backend)));
        let (mut engine, docs) = engine::build_engine(session.clone(), limits, &signals);
        engine.set_module_resolver(modules::NsrResolver::new(&[], verbose));
        Repl {
            session,
            engine,
            docs,
            scope: Scope::new(),
            functions: AST::empty(),
            statements: Vec::new(),
            sources: HashMap::new(),
            signals,
            count: 0,
            verbose,
            limits: *limits,
            imports: Vec::new(),
        }
    }

    /// Journals the session on disk (`nsr down` after a crash).
    pub fn set_env(&mut self, env: crate::env::store::EnvJournal) {
        self.session.borrow_mut().set_env(env);
    }

    /// Runs the interactive loop; `file` is loaded first.
    pub fn run(mut self, file: Option<String>) -> (ReplEnd, Vec<UndoReport>) {
        let helper = ReplHelper::new(self.docs.clone(), check::stdlib_names());
        let variables = helper.variables.clone();
        let config = Config::builder().auto_add_history(false).build();
        let mut editor: Editor<ReplHelper, DefaultHistory> = match Editor::with_config(config) {
            Ok(e) => e,
            Err(e) => {
                output::err(&format!("nsr: cannot start the line editor: {e}\n"));
                return (ReplEnd::Exit(1), self.finish());
            }
        };
        editor.set_helper(Some(helper));
        let history = history_path();
        if let Some(h) = &history {
            let _ = editor.load_history(h);
        }
        output::note("nsr repl: each statement runs at once; :help lists the commands, Ctrl-D or :quit undoes everything and leaves.\n");
        if let Some(f) = file {
            if let Some(end) = self.load(&f) {
                return (end, self.finish());
            }
        }
        let end = loop {
            *variables.borrow_mut() = self
                .scope
                .iter_raw()
                .map(|(n, _, _)| n.to_string())
                .collect();
            let line = match editor.readline("nsr> ") {
                Ok(l) => l,
                // As a shell does: the cancelled line stays on screen, marked.
                Err(ReadlineError::Interrupted) => {
                    output::err("^C\n");
                    continue;
                }
                Err(ReadlineError::Eof) => break ReplEnd::Quit,
                Err(e) => {
                    output::err(&format!("nsr: {e}\n"));
                    break ReplEnd::Exit(1);
                }
            };
            if line.trim().is_empty() {
                continue;
            }
            let _ = editor.add_history_entry(line.as_str());
            if let Some(h) = &history {
                if let Some(dir) = h.parent() {
                    let _ = std::fs::create_dir_all(dir);
                }
                let _ = editor.append_history(h);
            }
            let trimmed = line.trim();
            if let Some(meta) = trimmed.strip_prefix(':') {
                match self.meta(meta, editor.helper()) {
                    Some(end) => break end,
                    None => continue,
                }
            }
            if let Some(end) = self.statement(&line, None) {
                break end;
            }
        };
        if let ReplEnd::Kept(_) = end {
            return (end, Vec::new());
        }
        (end, self.finish())
    }

    /// Undoes everything and ends the session.
    fn finish(&mut self) -> Vec<UndoReport> {
        match self.session.borrow_mut().end(false) {
            Ending::RolledBack(reports) => reports,
            Ending::Kept(_) => Vec::new(),
        }
    }

    fn show_undo(&self, reports: &[UndoReport]) {
        output::err(&report::render_undo(reports, true, self.verbose));
    }

    /// Runs one input; a failure takes back what it created. Returns Some when it ends
    /// the session (`exit(N)`).
    fn statement(&mut self, source: &str, origin_name: Option<&str>) -> Option<ReplEnd> {
        self.count += 1;
        let name = origin_name
            .map(str::to_string)
            .unwrap_or_else(|| format!("<repl {}>", self.count));
        self.sources.insert(name.clone(), source.to_string());
        let start = self.session.borrow().mark();
        let ast = match self.engine.compile_with_scope(&self.scope, source) {
            Ok(a) => a,
            Err(e) => {
                self.error(&error::from_parse(&name, &e));
                return None;
            }
        };
        let mut program = self.functions.merge(&ast);
        program.set_source(name.as_str());
        let result = self
            .engine
            .eval_ast_with_scope::<Dynamic>(&mut self.scope, &program);
        program.clear_statements();
        self.functions = program;
        // A Ctrl-C that a command inside took (it ended, the statement went on) is spent.
        let sig = self.signals.pending().map(signal_name);
        self.signals.clear();
        match result {
            Ok(value) => {
                if !value.is_unit() {
                    output::out(&format!("{}\n", show::value(&value, &self.session)));
                }
                if let Some(sig) = sig {
                    // Ctrl-C while it ran: the statement is cancelled, not kept.
                    output::err(&format!(
                        "cancelled by {sig}: the statement is not kept (nor saved)\n"
                    ));
                    let reports = self.session.borrow_mut().rollback_to(start);
                    if !reports.is_empty() {
                        self.show_undo(&reports);
                    }
                    return None;
                }
                self.keep_imports(source, &name);
                let end = self.session.borrow().mark();
                self.statements.push(Statement {
                    source: source.trim_end().to_string(),
                    start,
                    end,
                });
                None
            }
            Err(e) => {
                if let EvalAltResult::ErrorTerminated(v, _) = e.as_ref() {
                    if let Some(code) = v.clone().try_cast::<RecipeExit>() {
                        return Some(ReplEnd::Exit(code.0 as i32));
                    }
                }
                let err = error::from_eval(&name, *e, sig);
                self.error(&err);
                let reports = self.session.borrow_mut().rollback_to(start);
                if !reports.is_empty() {
                    self.show_undo(&reports);
                }
                None
            }
        }
    }

    /// Rhai forgets a module imported by one input when the next one runs (rhai issue
    /// 934): the REPL registers each as a static module under its alias. The resolver
    /// caches modules, so this does not run a module twice.
    fn keep_imports(&mut self, source: &str, name: &str) {
        for (path, alias) in modules::imports_in(source) {
            let resolved = self.engine.module_resolver().resolve(
                &self.engine,
                Some(name),
                &path,
                rhai::Position::NONE,
            );
            if let Ok(module) = resolved {
                self.engine
                    .register_static_module(alias.as_str(), module.clone());
                self.imports.push((alias, module));
            }
        }
    }

    fn error(&self, err: &RecipeError) {
        let sources = &self.sources;
        let lookup = |file: &str| -> Option<String> {
            sources
                .get(file)
                .cloned()
                .or_else(|| std::fs::read_to_string(file).ok())
        };
        output::err(&report::render_error(err, &lookup));
    }

    fn load(&mut self, file: &str) -> Option<ReplEnd> {
        match std::fs::read_to_string(file) {
            Ok(text) => self.statement(&text, Some(file)),
            Err(e) => {
                output::err(&format!("nsr: cannot read {file}: {e}\n"));
                None
            }
        }
    }

    fn meta(&mut self, command: &str, helper: Option<&ReplHelper>) -> Option<ReplEnd> {
        let (word, arg) = command
            .split_once(char::is_whitespace)
            .map(|(w, a)| (w, a.trim()))
            .unwrap_or((command, ""));
        match word {
            "q" | "quit" | "exit" => return Some(ReplEnd::Quit),
            "keep" => {
                let name = self.session.borrow().env_name().unwrap_or_default();
                return match self.session.borrow_mut().keep() {
                    Ok(()) => Some(ReplEnd::Kept(name)),
                    Err(e) => {
                        output::err(&format!(
                            "nsr: cannot keep the environment: {}\n",
                            e.message
                        ));
                        None
                    }
                };
            }
            "h" | "help" => self.help(arg, helper),
            // The statements after the undone one go too (from the saved recipe): they may
            // use what it made.
            "undo" => match self.statements.iter().rposition(|s| s.end > s.start) {
                Some(i) => {
                    let start = self.statements[i].start;
                    self.statements.truncate(i);
                    let reports = self.session.borrow_mut().rollback_to(start);
                    self.show_undo(&reports);
                }
                None => output::err("nothing to undo\n"),
            },
            "rollback" => {
                let reports = self.session.borrow_mut().rollback_to(0);
                if let Some(i) = self.statements.iter().position(|s| s.end > s.start) {
                    self.statements.truncate(i);
                }
                if reports.is_empty() {
                    output::err("nothing to undo\n");
                } else {
                    self.show_undo(&reports);
                }
            }
            "state" => {
                let s = self.session.borrow();
                let entries = s.made();
                if entries.is_empty() {
                    output::out("the session holds nothing\n");
                }
                for (i, e) in entries.iter().enumerate() {
                    output::out(&format!(
                        "{:>3}. {}  ({})\n      undo: {}\n",
                        i + 1,
                        e.what,
                        e.origin,
                        e.undo.describe()
                    ));
                }
            }
            "save" => self.save(arg),
            "graph" => self.graph(arg),
            "plan" => self.plan(arg),
            "load" => {
                if arg.is_empty() {
                    output::err(":load needs a file\n");
                } else {
                    return self.load(arg);
                }
            }
            other => output::err(&format!("unknown command :{other} (:help lists them)\n")),
        }
        None
    }

    /// `:plan STATEMENT`: runs the statement in a copy of the scope against the recording
    /// backend and shows its plan; the session and the kernel are not touched.
    fn plan(&mut self, source: &str) {
        if source.is_empty() {
            output::err(":plan needs a statement, as in  :plan netns(\"lab\")\n");
            return;
        }
        let trace = crate::session::Trace::default();
        let mut recording = Session::new(Box::new(RecordingBackend::default()));
        recording.set_trace(trace.clone());
        let recording = Rc::new(RefCell::new(recording));
        let (mut engine, _) =
            engine::build_engine(recording.clone(), &self.limits, &Signals::none());
        engine.set_module_resolver(modules::NsrResolver::new(&[], self.verbose));
        for (alias, module) in &self.imports {
            engine.register_static_module(alias.as_str(), module.clone());
        }
        let printed = trace.clone();
        engine.on_print(move |s| printed.borrow_mut().push(TraceItem::Print(s.to_string())));
        let name = "<plan>";
        let mut scope = self.scope.clone();
        let error = match engine.compile_with_scope(&scope, source) {
            Err(e) => Some(error::from_parse(name, &e)),
            Ok(ast) => {
                let mut program = self.functions.merge(&ast);
                program.set_source(name);
                engine
                    .eval_ast_with_scope::<Dynamic>(&mut scope, &program)
                    .err()
                    .map(|e| error::from_eval(name, *e, None))
            }
        };
        let undone = match recording.borrow_mut().end(false) {
            Ending::RolledBack(reports) => reports,
            Ending::Kept(_) => Vec::new(),
        };
        let items = trace.borrow().clone();
        let error_text = error.as_ref().map(|e| {
            let lookup = |file: &str| (file == name).then(|| source.to_string());
            report::render_error(e, &lookup)
        });
        let plan = crate::plan::build(name.into(), items, &undone, error);
        output::out(&plan.text(error_text.as_deref()));
    }

    /// `:graph [FILE]`: the session's network and sandboxes as the kernel shows them
    /// now (as `nsr graph --env`), written to FILE (its ending picks the format) or to
    /// ENV.svg.
    fn graph(&self, file: &str) {
        let Some(name) = self.session.borrow().env_name() else {
            output::err("nsr: this session has no environment to draw\n");
            return;
        };
        let file = if file.is_empty() {
            format!("{name}.svg")
        } else {
            file.to_string()
        };
        let format = crate::graph::Format::of_file(&file).unwrap_or(crate::graph::Format::Svg);
        match crate::graph::live::of_env(&name) {
            Ok(g) => match std::fs::write(&file, crate::graph::render(&g, format)) {
                Ok(()) => output::out(&format!("wrote {file}\n")),
                Err(e) => output::err(&format!("nsr: cannot write {file}: {e}\n")),
            },
            Err(e) => output::err(&report::op_error_line(":graph", &e)),
        }
    }

    fn save(&self, file: &str) {
        if file.is_empty() {
            output::err(":save needs a file\n");
            return;
        }
        let mut text = String::from(
            "// Saved from `nsr repl`: the statements that succeeded, in order.\n// Run:  nsr run ",
        );
        text.push_str(file);
        text.push_str("\n\n");
        for s in &self.statements {
            text.push_str(&s.source);
            if !s.source.ends_with(';') && !s.source.ends_with('}') {
                text.push(';');
            }
            text.push('\n');
        }
        match std::fs::write(file, text) {
            Ok(()) => output::err(&format!(
                "saved {} statement(s) to {file}\n",
                self.statements.len()
            )),
            Err(e) => output::err(&format!("nsr: cannot write {file}: {e}\n")),
        }
    }

    fn help(&self, name: &str, helper: Option<&ReplHelper>) {
        if name.is_empty() {
            let mut out = String::from("commands:\n");
            for (m, d) in META_COMMANDS {
                out.push_str(&format!("  {m} {d}\n"));
            }
            out.push_str("primitives (:help NAME for one):\n  ");
            let mut names: Vec<&str> = self.docs.iter().map(|d| d.name).collect();
            names.sort();
            names.dedup();
            out.push_str(&names.join(" "));
            out.push('\n');
            output::out(&out);
            return;
        }
        if let Some((module, function)) = name.split_once("::") {
            let Some(source) = modules::find_source(module, &[]) else {
                output::out(&format!("no module named {module}\n"));
                return;
            };
            for f in modules::fn_docs(&source)
                .into_iter()
                .filter(|f| f.name == function || function.is_empty())
            {
                output::out(&format!(
                    "{module}::{}({})\n    {}\n",
                    f.name,
                    f.params,
                    f.doc.replace('\n', "\n    ")
                ));
            }
            return;
        }
        let sigs = helper.map(|h| h.signatures(name)).unwrap_or_default();
        if sigs.is_empty() {
            if check::stdlib_names().iter().any(|n| n == name) {
                output::out(&format!(
                    "{name}: a function of Rhai's standard library (https://rhai.rs/book)\n"
                ));
            } else {
                output::out(&format!("no primitive or function named {name}\n"));
            }
            return;
        }
        for d in sigs {
            output::out(&format!(
                "{}({})\n    {}\n",
                d.name,
                d.params.join(", "),
                d.doc
            ));
        }
    }
}
