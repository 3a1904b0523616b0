//! The server: the open documents, the protocol's lifecycle (initialize, shutdown,
//! exit), and each request handed to its feature. Diagnostics are debounced: a burst of
//! changes is checked once, DEBOUNCE after the last.

use super::document::Document;
use super::knowledge::Knowledge;
use super::transport::{incoming, Incoming, Outgoing};
use super::workspace::Workspace;
use super::{completion, definition, diagnostics, hover, plan, symbols};
use crate::engine::Checker;
use lsp_server::{ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::Notification as _;
use lsp_types::request::Request as _;
use lsp_types::{notification as note, request as req};
use lsp_types::{
    CodeActionProviderCapability, CompletionOptions, ExecuteCommandOptions,
    HoverProviderCapability, OneOf, ServerCapabilities, ServerInfo, SignatureHelpOptions,
    TextDocumentSyncCapability, TextDocumentSyncKind,
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

/// How long after the last change diagnostics wait (a change within it restarts it).
const DEBOUNCE: Duration = Duration::from_millis(20);

struct Server {
    out: Outgoing,
    ws: Workspace,
    checker: Checker,
    /// Documents whose diagnostics are due, and when.
    due: HashMap<String, Instant>,
    shutdown: bool,
}

/// Serves the protocol on stdin and stdout until `exit`; the exit status follows the
/// protocol: 0 after a shutdown request, 1 without one.
pub fn serve(libs: Vec<PathBuf>) -> i32 {
    // Nothing but the protocol may reach stdout: a recipe's print() in `nsr plan` is
    // traced, and anything else the engine writes goes to stderr (the client's log).
    crate::output::reserve_stdout();
    let checker = Checker::new();
    let knowledge = Knowledge::new(checker.primitives());
    let mut server = Server {
        out: Outgoing,
        ws: Workspace {
            docs: HashMap::new(),
            knowledge,
            libs,
        },
        checker,
        due: HashMap::new(),
        shutdown: false,
    };
    let rx = incoming();
    loop {
        let wait = server
            .due
            .values()
            .min()
            .map(|t| t.saturating_duration_since(Instant::now()));
        let next = match wait {
            Some(w) => rx.recv_timeout(w),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match next {
            Ok(Incoming::Message(Message::Notification(n))) if n.method == note::Exit::METHOD => {
                return if server.shutdown { 0 } else { 1 };
            }
            Ok(Incoming::Message(m)) => server.handle(m),
            Ok(Incoming::Malformed { id, code, error }) => server.out.send_error(id, code, &error),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return if server.shutdown { 0 } else { 1 },
        }
        // Also between messages: a stream of requests (completion as one types) must
        // not hold back diagnostics that are due.
        server.publish_due();
    }
}

impl Server {
    fn handle(&mut self, message: Message) {
        match message {
            Message::Request(r) => {
                let id = r.id.clone();
                let response = if self.shutdown && r.method != req::Shutdown::METHOD {
                    Err((
                        ErrorCode::InvalidRequest,
                        "the server is shutting down".into(),
                    ))
                } else {
                    self.request(r)
                };
                self.out.send(Message::Response(match response {
                    Ok(result) => Response::new_ok(id, result),
                    Err((code, message)) => Response::new_err(id, code as i32, message),
                }));
            }
            Message::Notification(n) => self.notification(n),
            // Answers to what the server asked (none it waits for).
            Message::Response(_) => {}
        }
    }

    fn request(&mut self, r: Request) -> Result<Value, (ErrorCode, String)> {
        let Request { method, params, .. } = r;
        Ok(match method.as_str() {
            req::Initialize::METHOD => {
                self.initialize_options(&params);
                capabilities()
            }
            req::Shutdown::METHOD => {
                self.shutdown = true;
                Value::Null
            }
            req::Completion::METHOD => json(completion::complete(&self.ws, &parse(params)?)),
            req::HoverRequest::METHOD => json(hover::hover(&self.ws, &parse(params)?)),
            req::SignatureHelpRequest::METHOD => json(hover::signature(&self.ws, &parse(params)?)),
            req::GotoDefinition::METHOD => json(definition::definition(&self.ws, &parse(params)?)),
            req::DocumentSymbolRequest::METHOD => json(symbols::symbols(&self.ws, &parse(params)?)),
            req::CodeActionRequest::METHOD => json(plan::actions(&parse(params)?)),
            req::ExecuteCommand::METHOD => plan::execute(&self.ws, &parse(params)?)?,
            other => {
                return Err((
                    ErrorCode::MethodNotFound,
                    format!("nsr lsp does not answer {other}"),
                ))
            }
        })
    }

    fn notification(&mut self, n: Notification) {
        match n.method.as_str() {
            note::DidOpenTextDocument::METHOD => {
                if let Ok(p) = parse::<lsp_types::DidOpenTextDocumentParams>(n.params) {
                    let d = p.text_document;
                    let key = d.uri.as_str().to_string();
                    self.ws
                        .docs
                        .insert(key.clone(), Document::new(d.uri, d.text, d.version));
                    self.publish(&key);
                }
            }
            note::DidChangeTextDocument::METHOD => {
                if let Ok(p) = parse::<lsp_types::DidChangeTextDocumentParams>(n.params) {
                    let key = p.text_document.uri.as_str().to_string();
                    if let Some(doc) = self.ws.docs.get_mut(&key) {
                        doc.version = p.text_document.version;
                        for change in p.content_changes {
                            doc.apply(change);
                        }
                        self.due.insert(key, Instant::now() + DEBOUNCE);
                    }
                }
            }
            note::DidCloseTextDocument::METHOD => {
                if let Ok(p) = parse::<lsp_types::DidCloseTextDocumentParams>(n.params) {
                    let key = p.text_document.uri.as_str().to_string();
                    self.due.remove(&key);
                    if let Some(doc) = self.ws.docs.remove(&key) {
                        self.send_diagnostics(doc.uri, Vec::new(), None);
                    }
                }
            }
            _ => {}
        }
    }

    /// `initializationOptions: { libs: ["dir", ...] }`: more `--lib` directories.
    fn initialize_options(&mut self, params: &Value) {
        let libs = params
            .pointer("/initializationOptions/libs")
            .and_then(Value::as_array);
        for dir in libs.into_iter().flatten().filter_map(Value::as_str) {
            self.ws.libs.push(PathBuf::from(dir));
        }
    }

    fn publish_due(&mut self) {
        let now = Instant::now();
        let ready: Vec<String> = self
            .due
            .iter()
            .filter(|(_, t)| **t <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in ready {
            self.due.remove(&key);
            self.publish(&key);
        }
    }

    fn publish(&mut self, key: &str) {
        let Some(doc) = self.ws.docs.get(key) else {
            return;
        };
        let found = diagnostics::diagnose(&mut self.checker, doc, &self.ws.libs);
        let (uri, version) = (doc.uri.clone(), doc.version);
        self.send_diagnostics(uri, found, Some(version));
    }

    fn send_diagnostics(
        &self,
        uri: lsp_types::Uri,
        diagnostics: Vec<lsp_types::Diagnostic>,
        version: Option<i32>,
    ) {
        let params = lsp_types::PublishDiagnosticsParams {
            uri,
            diagnostics,
            version,
        };
        self.out.send(Message::Notification(Notification::new(
            note::PublishDiagnostics::METHOD.to_string(),
            params,
        )));
    }
}

/// What the server answers `initialize` with.
fn capabilities() -> serde_json::Value {
    let caps = ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(
            TextDocumentSyncKind::INCREMENTAL,
        )),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some([".", ":", "\"", "{", ",", "["].map(String::from).to_vec()),
            ..Default::default()
        }),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        signature_help_provider: Some(SignatureHelpOptions {
            trigger_characters: Some(vec!["(".into(), ",".into()]),
            ..Default::default()
        }),
        definition_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
        execute_command_provider: Some(ExecuteCommandOptions {
            commands: vec![plan::SHOW_PLAN.into()],
            ..Default::default()
        }),
        ..Default::default()
    };
    serde_json::json!({
        "capabilities": caps,
        "serverInfo": ServerInfo { name: "nsr".into(), version: Some(env!("CARGO_PKG_VERSION").into()) },
    })
}

fn json(value: impl serde::Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn parse<T: DeserializeOwned>(params: Value) -> Result<T, (ErrorCode, String)> {
    serde_json::from_value(params)
        .map_err(|e| (ErrorCode::InvalidParams, format!("invalid parameters: {e}")))
}
