//! `nsr lsp` as an editor meets it: the built binary, spoken to over stdio with
//! JSON-RPC, as VS Code, Neovim or Helix would. No root needed: the server touches nothing.

mod common;

use common::lsp::{labels, position_of, Client};
use common::{serial, Scratch};
use serde_json::{json, Value};

fn uri(path: &str) -> String {
    format!("file://{path}")
}

#[test]
fn a_typo_gets_one_diagnostic_with_the_hint_and_fixing_it_clears_it() {
    let _s = serial();
    let dir = Scratch::new("lsp-typo");
    let text = "let box = unshare([\"mount\"]);\nbox.hostname(\"a\");\nmasqurade(\"10.0.0.0/24\", \"eth0\");\n";
    let path = dir.write("typo.nsr", text);
    let mut c = Client::initialized(Value::Null);
    c.open(&uri(&path), text);
    let found = c.diagnostics(&uri(&path));
    assert_eq!(found.len(), 1, "{found:?}");
    let d = &found[0];
    assert_eq!(
        d["range"]["start"],
        json!({ "line": 2, "character": 0 }),
        "{d}"
    );
    assert_eq!(
        d["range"]["end"],
        json!({ "line": 2, "character": 9 }),
        "{d}"
    );
    assert_eq!(d["severity"], 1);
    let message = d["message"].as_str().unwrap();
    assert!(
        message.contains("no function masqurade with 2 argument(s)"),
        "{message}"
    );
    assert!(
        message.contains("hint: did you mean masquerade?"),
        "{message}"
    );

    c.change(&uri(&path), 2, &text.replace("masqurade", "masquerade"));
    assert_eq!(c.diagnostics(&uri(&path)), Vec::<Value>::new());
    assert_eq!(c.stop(), 0);
}

#[test]
fn diagnostics_name_imports_parameters_options_and_values_as_the_cli_does() {
    let _s = serial();
    let dir = Scratch::new("lsp-checks");
    let text = [
        "import \"nowhere/lab\" as lab;",
        "let box = unshare(#{ kinds: [\"mount\", \"nett\"] });",
        "box.run([\"id\"], #{ cwdd: \"/\" });",
        "print(args.undeclared);",
        "route(\"10.0.0.1/24\", \"eth0\");",
        "veth(\"a-name-that-is-too-long\", \"b\");",
        "box.mount(\"tmpfs\", \"/t\", \"tmpfs\", #{ readonyl: true });",
        "",
    ]
    .join("\n");
    let path = dir.write("checks.nsr", &text);
    let mut c = Client::initialized(Value::Null);
    c.open(&uri(&path), &text);
    let found = c.diagnostics(&uri(&path));
    let on_line = |line: usize| -> Vec<&Value> {
        found
            .iter()
            .filter(|d| d["range"]["start"]["line"] == line)
            .collect()
    };
    let text_of = |d: &Value, needle: &str| -> Value {
        let (line, col) = position_of(&text, needle, 0);
        assert_eq!(
            d["range"]["start"],
            json!({ "line": line, "character": col }),
            "{d} should start at {needle:?}"
        );
        d["message"].clone()
    };
    let import = on_line(0);
    let m = text_of(import[0], "\"nowhere/lab\"");
    let m = m.as_str().unwrap();
    assert!(m.contains("no module 'nowhere/lab': looked for"), "{m}");
    assert!(
        m.contains(&format!("{}/nowhere/lab.nsr", dir.dir.display())),
        "{m}"
    );
    let kind = on_line(1);
    assert!(text_of(kind[0], "\"nett\"")
        .as_str()
        .unwrap()
        .contains("unknown namespace kind 'nett'"));
    let key = on_line(2);
    let m = text_of(key[0], "cwdd");
    assert!(
        m.as_str()
            .unwrap()
            .contains("unknown option 'cwdd' for run"),
        "{m}"
    );
    let param = on_line(3);
    assert_eq!(param[0]["severity"], 2, "a warning");
    assert!(text_of(param[0], "undeclared")
        .as_str()
        .unwrap()
        .contains("//! param undeclared"));
    let route = on_line(4);
    let m = text_of(route[0], "\"10.0.0.1/24\"");
    assert!(m.as_str().unwrap().contains("host bits"), "{m}");
    let veth = on_line(5);
    let m = text_of(veth[0], "\"a-name-that-is-too-long\"");
    assert!(m.as_str().unwrap().contains("15"), "{m}");
    let mount = on_line(6);
    let m = text_of(mount[0], "readonyl");
    assert!(
        m.as_str().unwrap().contains("did you mean readonly?"),
        "{m}"
    );
    assert_eq!(found.len(), 7, "{found:#?}");
    c.stop();
}

#[test]
fn completion_knows_methods_modules_option_keys_and_kinds() {
    let _s = serial();
    let dir = Scratch::new("lsp-complete");
    let text = "import \"net\" as net;\nlet box = unshare(#{ kinds: [\"mount\", ] });\nbox.mo\nnet::\nlet n = netns(\"a\");\nn.\n";
    let path = dir.write("c.nsr", text);
    let u = uri(&path);
    let mut c = Client::initialized(Value::Null);
    c.open(&u, text);

    let (l, ch) = position_of(text, "box.mo", 6);
    let got = labels(&c.at("textDocument/completion", &u, l, ch));
    assert!(got.contains(&"mount".to_string()), "{got:?}");
    assert!(
        !got.contains(&"attach".to_string()),
        "a sandbox's methods only: {got:?}"
    );

    let (l, ch) = position_of(text, "net::", 5);
    let got = labels(&c.at("textDocument/completion", &u, l, ch));
    for f in ["p2p", "segment", "nat", "free_name"] {
        assert!(got.contains(&f.to_string()), "{f} in {got:?}");
    }

    let (l, ch) = position_of(text, "#{ kinds", 3);
    let answer = c.at("textDocument/completion", &u, l, ch);
    let got = labels(&answer);
    for k in ["map_root", "limits", "caps", "ports"] {
        assert!(got.contains(&k.to_string()), "{k} in {got:?}");
    }
    assert!(
        !got.contains(&"kinds".to_string()),
        "kinds is there already: {got:?}"
    );

    let (l, ch) = position_of(text, "\"mount\", ", 9);
    let got = labels(&c.at("textDocument/completion", &u, l, ch));
    assert!(
        got.contains(&"pid".to_string()) && !got.contains(&"mount".to_string()),
        "{got:?}"
    );

    let (l, ch) = position_of(text, "n.\n", 2);
    let got = labels(&c.at("textDocument/completion", &u, l, ch));
    assert!(
        got.contains(&"veth".to_string()) && !got.contains(&"mount".to_string()),
        "{got:?}"
    );

    // Where a statement starts: primitives, snippets and Rhai's functions.
    let got = labels(&c.at("textDocument/completion", &u, 0, 0));
    for k in ["unshare", "netns", "sandbox", "len"] {
        assert!(got.contains(&k.to_string()), "{k} in {got:?}");
    }
    c.stop();
}

#[test]
fn hover_signature_help_definition_and_symbols() {
    let _s = serial();
    let dir = Scratch::new("lsp-nav");
    let lib = "/// A lab of N hosts.\nfn lab(n) {\n  n\n}\n";
    dir.write("l.nsr", lib);
    let text = "import \"l\" as l;\n/// Mine.\nfn helper(a, b) { a }\nlet hosts = l::lab(2);\nmasquerade(\"10.0.0.0/24\", \"eth0\");\nlet box = unshare([\"mount\"]);\nbox.mount(\"proc\", \"/proc\", );\nhelper(1, 2);\n";
    let path = dir.write("nav.nsr", text);
    let u = uri(&path);
    let mut c = Client::initialized(Value::Null);
    c.open(&u, text);

    let (l, ch) = position_of(text, "masquerade(", 2);
    let h = c.at("textDocument/hover", &u, l, ch);
    let value = h["result"]["contents"]["value"]
        .as_str()
        .unwrap_or_default();
    assert!(
        value.contains("masquerade(source: String, out: String)"),
        "{h}"
    );
    assert!(value.contains("nftables"), "its documentation: {value}");
    assert!(
        value.contains("iptables -t nat -A POSTROUTING"),
        "the tutorial's command: {value}"
    );

    let (l, ch) = position_of(text, "lab(2)", 1);
    let h = c.at("textDocument/hover", &u, l, ch);
    assert!(
        h["result"]["contents"]["value"]
            .as_str()
            .unwrap()
            .contains("A lab of N hosts."),
        "{h}"
    );

    let d = c.at("textDocument/definition", &u, l, ch);
    let lib_path = std::fs::canonicalize(dir.path("l.nsr")).unwrap();
    assert_eq!(
        d["result"]["uri"],
        uri(&lib_path.display().to_string()),
        "{d}"
    );
    assert_eq!(
        d["result"]["range"]["start"],
        json!({ "line": 1, "character": 3 }),
        "{d}"
    );

    let (l, ch) = position_of(text, "helper(1", 1);
    let d = c.at("textDocument/definition", &u, l, ch);
    assert_eq!(
        d["result"]["range"]["start"],
        json!({ "line": 2, "character": 3 }),
        "{d}"
    );
    assert_eq!(d["result"]["uri"], u);

    let (l, ch) = position_of(text, "\"/proc\", ", 9);
    let s = c.at("textDocument/signatureHelp", &u, l, ch);
    let sigs = s["result"]["signatures"].as_array().unwrap();
    assert!(
        sigs.iter()
            .any(|s| s["label"] == "mount(source: String, target: String, fstype: String)"),
        "{s}"
    );
    assert_eq!(s["result"]["activeParameter"], 2);

    let sym = c.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": u } }),
    );
    let names: Vec<&str> = sym["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["helper", "hosts", "box"], "{sym}");
    c.stop();
}

#[test]
fn show_the_plan_of_the_unsaved_buffer() {
    let _s = serial();
    let dir = Scratch::new("lsp-plan");
    let path = dir.write("p.nsr", "");
    let u = uri(&path);
    let mut c = Client::initialized(Value::Null);
    let text = "//! param name: the netns\nlet n = netns(args.name);\nn.up(\"lo\");\n";
    c.open(&u, text);
    let actions = c.request(
        "textDocument/codeAction",
        json!({ "textDocument": { "uri": u }, "range": { "start": { "line": 0, "character": 0 }, "end": { "line": 0, "character": 0 } }, "context": { "diagnostics": [] } }),
    );
    let action = &actions["result"][0];
    assert_eq!(action["command"], "nsr.showPlan", "{actions}");
    let plan = c.request(
        "workspace/executeCommand",
        json!({ "command": "nsr.showPlan", "arguments": [u, { "name": "lab1" }] }),
    );
    let shown = plan["result"].as_str().unwrap();
    assert!(shown.contains("ip netns add lab1"), "{shown}");
    assert!(
        shown.contains("ip netns delete lab1") || shown.contains("ip netns del lab1"),
        "{shown}"
    );
    // A parameter not given is a placeholder, not an error.
    let plan = c.request(
        "workspace/executeCommand",
        json!({ "command": "nsr.showPlan", "arguments": [u] }),
    );
    assert!(
        plan["result"]
            .as_str()
            .unwrap()
            .contains("ip netns add '<name>'"),
        "{plan}"
    );
    // Nothing was made.
    assert!(!std::path::Path::new("/run/netns/lab1").exists());
    c.stop();
}

#[test]
fn malformed_input_never_stops_the_server() {
    let _s = serial();
    let mut c = Client::initialized(Value::Null);
    // Not JSON, then JSON that is no JSON-RPC message: a parse error (id null) each.
    c.send_raw(b"Content-Length: 9\r\n\r\n{not json");
    let e = c.answer_to(Value::Null);
    assert_eq!(e["error"]["code"], -32700, "{e}");
    c.send(json!({ "jsonrpc": "2.0", "method": 12 }));
    let e = c.answer_to(Value::Null);
    assert_eq!(e["error"]["code"], -32600, "{e}");
    // A broken header.
    c.send_raw(b"Content-Length: nine\r\n\r\n");
    let e = c.answer_to(Value::Null);
    assert_eq!(e["error"]["code"], -32700, "{e}");
    // An unknown method, and known methods with wrong parameters.
    let e = c.request("nsr/unknown", json!({}));
    assert_eq!(e["error"]["code"], -32601, "{e}");
    let e = c.request("textDocument/hover", json!({ "nonsense": true }));
    assert_eq!(e["error"]["code"], -32602, "{e}");
    c.notify("textDocument/didOpen", json!(42));
    // Requests about a document that is not open: an empty answer.
    let e = c.at("textDocument/completion", "file:///nowhere.nsr", 0, 0);
    assert!(e["result"].is_null(), "{e}");

    // A 5 MB document, and one with a NUL byte: checked, answered.
    // Mostly comments (Rhai's parser takes seconds for 5 MB of statements in a debug
    // build); the transport, the lexer and the positions see all 5 MB.
    let big = format!(
        "{}{}",
        "let x = 1;\n".repeat(2000),
        format!("// {}\n", "padding ".repeat(12)).repeat((5 << 20) / 100)
    );
    assert!(big.len() > 5 << 20);
    c.open("file:///tmp/big.nsr", &big);
    assert!(c.diagnostics("file:///tmp/big.nsr").is_empty());
    let e = c.at("textDocument/completion", "file:///tmp/big.nsr", 1000, 3);
    assert!(e["result"].is_array(), "{e}");
    c.open("file:///tmp/nul.nsr", "let a = 1;\0\nlet b = \"\0\";\n");
    let found = c.diagnostics("file:///tmp/nul.nsr");
    assert!(!found.is_empty(), "a NUL byte is a syntax error: {found:?}");
    // Positions past the end, and in the middle of a UTF-16 pair.
    c.open("file:///tmp/pos.nsr", "let s = \"𝄞\";\nbox.");
    c.diagnostics("file:///tmp/pos.nsr");
    for (line, ch) in [(0, 10), (1, 400), (99, 0), (0, u32::MAX as usize)] {
        for m in [
            "textDocument/completion",
            "textDocument/hover",
            "textDocument/signatureHelp",
            "textDocument/definition",
        ] {
            let e = c.at(m, "file:///tmp/pos.nsr", line, ch);
            assert!(
                e.get("result").is_some() || e.get("error").is_some(),
                "{m}: {e}"
            );
        }
    }
    // An edit whose range is past the end.
    c.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": "file:///tmp/pos.nsr", "version": 2 }, "contentChanges": [{ "range": { "start": { "line": 50, "character": 0 }, "end": { "line": 2, "character": 0 } }, "text": "x" }] }),
    );
    c.diagnostics("file:///tmp/pos.nsr");
    assert!(c.is_running());
    assert_eq!(c.stop(), 0);
}

#[test]
fn exit_without_shutdown_is_status_1() {
    let _s = serial();
    let mut c = Client::initialized(Value::Null);
    c.notify("exit", Value::Null);
    let start = std::time::Instant::now();
    while c.is_running() {
        assert!(start.elapsed().as_secs() < 10, "nsr lsp did not exit");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    drop(c);
}

/// The fenced block of `lang` that follows the line containing `marker` in editors/README.md.
fn readme_block(marker: &str, lang: &str) -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/editors/README.md")).unwrap();
    let after = &readme[readme
        .find(marker)
        .unwrap_or_else(|| panic!("{marker:?} in editors/README.md"))..];
    let fence = format!("```{lang}\n");
    let start = after.find(&fence).unwrap() + fence.len();
    after[start..start + after[start..].find("```").unwrap()].to_string()
}

#[test]
fn neovim_attaches_with_the_readme_configuration_and_shows_the_diagnostics() {
    let _s = serial();
    let dir = Scratch::new("lsp-nvim");
    let broken = dir.write(
        "broken.nsr",
        "let box = unshare([\"mount\"]);\nbox.mout(\"proc\", \"/proc\", \"proc\");\n",
    );
    let out = dir.path("diagnostics.json");
    let init = format!(
        "vim.opt.rtp:append({editors:?})\nvim.cmd('filetype plugin indent on')\n{block}\n",
        editors = format!("{}/editors/vim", env!("CARGO_MANIFEST_DIR")),
        block = readme_block("Neovim 0.7 to 0.10", "lua"),
    );
    let init_path = dir.write("init.lua", &init);
    let wait = format!(
        "lua local ok = vim.wait(15000, function() return #vim.diagnostic.get(0) > 0 end, 50); \
         vim.fn.writefile({{vim.fn.json_encode({{ok = ok, filetype = vim.bo.filetype, diagnostics = vim.diagnostic.get(0)}})}}, {out:?})"
    );
    let bin_dir = std::path::Path::new(common::NSR).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let status = std::process::Command::new("timeout")
        .args([
            "60",
            "nvim",
            "--headless",
            "--clean",
            "-u",
            &init_path,
            &broken,
            "-c",
            &wait,
            "-c",
            "qa!",
        ])
        .env("PATH", path)
        .env("HOME", &dir.dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("nvim runs");
    assert!(status.success(), "nvim: {status}");
    let seen: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(seen["filetype"], "nsr", "{seen}");
    assert_eq!(seen["ok"], true, "no diagnostics arrived: {seen}");
    let d = &seen["diagnostics"][0];
    // Neovim counts lines and columns from 0, as the protocol does.
    assert_eq!(
        (d["lnum"].as_i64(), d["col"].as_i64()),
        (Some(1), Some(4)),
        "{seen}"
    );
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .contains("did you mean mount?"),
        "{seen}"
    );
}

/// extension.js activated with VS Code's API recorded (editors/vscode/test/activate.js).
fn activate(scenario: &str) -> Value {
    common::tools::ensure();
    let out = std::process::Command::new("node")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/editors/vscode/test/activate.js"
        ))
        .arg(scenario)
        .env("NSR_BIN", common::NSR)
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_vs_code_extension_starts_nsr_lsp_when_nsr_is_found_and_keeps_the_grammar_when_not() {
    let _s = serial();
    for scenario in ["with-path", "setting"] {
        let seen = activate(scenario);
        assert_eq!(
            seen["clients"][0]["server"],
            json!({ "command": common::NSR, "args": ["lsp"] }),
            "{scenario}: {seen}"
        );
        assert_eq!(seen["clients"][0]["libs"], json!(["/lib/dir"]));
        assert_eq!(
            seen["initialized"], "nsr",
            "the server answered initialize: {seen}"
        );
        assert_eq!(seen["executeCommand"], json!(["nsr.showPlan"]));
        assert_eq!(
            seen["opened"],
            json!(["plan for file:///r.nsr", "plan text"]),
            "the plan opens: {seen}"
        );
    }
    let seen = activate("no-nsr");
    assert_eq!(seen["clients"], json!([]), "{seen}");
    assert!(
        seen["messages"][0]
            .as_str()
            .unwrap()
            .contains("not on PATH"),
        "{seen}"
    );
    let seen = activate("disabled");
    assert_eq!(seen["clients"], json!([]), "{seen}");
    // The grammar and snippets are declared, so they work with or without a server.
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/editors/vscode/package.json"
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["main"], "./extension.js");
    assert_eq!(manifest["activationEvents"], json!(["onLanguage:nsr"]));
    assert!(manifest["contributes"]["grammars"][0]["path"].is_string());
}
