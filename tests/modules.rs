//! Recipe libraries: where `import` finds a module, what it says when it cannot, the
//! documentation of modules, declared recipe parameters, and the JSON run report.

mod common;
use common::*;
use std::process::Command;

fn nsr_env(args: &[&str], env: &[(&str, &str)], cwd: &str) -> Run {
    let mut cmd = Command::new(NSR);
    cmd.args(args).current_dir(cwd);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_command(cmd)
}

#[test]
fn imports_resolve_in_order_and_a_file_can_shadow_the_stdlib() {
    let _g = serial();
    let s = Scratch::new("resolve");
    let main = s.write(
        "app/main.nsr",
        "import \"which\" as w;\nprint(w::name());\n",
    );
    s.write("app/which.nsr", "fn name() { \"beside the recipe\" }\n");
    s.write("lib/which.nsr", "fn name() { \"from --lib\" }\n");
    s.write("path/which.nsr", "fn name() { \"from NSR_PATH\" }\n");
    s.write("path/only.nsr", "fn name() { \"only in NSR_PATH\" }\n");
    let dir = s.dir.to_string_lossy().to_string();
    let lib = s.path("lib");
    let path = s.path("path");
    let env = [("NSR_PATH", path.as_str())];
    let r = nsr_env(&["run", "--lib", &lib, &main], &env, &dir);
    r.expect_code(0);
    assert_eq!(r.stdout.trim(), "beside the recipe");
    std::fs::remove_file(s.path("app/which.nsr")).unwrap();
    let r = nsr_env(&["run", "--lib", &lib, &main], &env, &dir);
    assert_eq!(r.stdout.trim(), "from --lib");
    let r = nsr_env(&["run", &main], &env, &dir);
    assert_eq!(r.stdout.trim(), "from NSR_PATH");
    let other = s.write(
        "app/other.nsr",
        "import \"only\" as o;\nprint(o::name());\n",
    );
    let r = nsr_env(&["run", &other], &env, &dir);
    assert_eq!(r.stdout.trim(), "only in NSR_PATH");

    // The standard library needs nothing on disk; a file named like one shadows it,
    // with a note under -v.
    let uses_net = s.write(
        "app/usenet.nsr",
        "import \"net\" as net;\nprint(\"imported\");\nnet::p2p(1, 2, 3);\n",
    );
    // Run from /, with nothing on disk to find: the import succeeds, and the call fails
    // inside the standard library's own source (its error names where).
    let r = nsr_env(&["run", &uses_net], &[], "/");
    r.expect_code(1);
    assert_eq!(r.stdout.trim(), "imported");
    assert!(r.stderr.contains("--> <stdlib>/net.nsr:"), "{}", r.stderr);
    s.write("app/net.nsr", "fn p2p(a, b, c) { \"mine\" }\n");
    let shadow = s.write(
        "app/shadow.nsr",
        "import \"net\" as net;\nprint(net::p2p(1, 2, 3));\n",
    );
    let r = nsr_env(&["run", "-v", &shadow], &[], &dir);
    r.expect_code(0);
    assert_eq!(r.stdout.trim(), "mine");
    assert_has_all(
        &r.stderr,
        &["note: module 'net'", "shadows the standard library"],
    );
}

#[test]
fn missing_modules_and_cycles_are_named_with_where_nsr_looked() {
    let _g = serial();
    let s = Scratch::new("importerr");
    let dir = s.dir.to_string_lossy().to_string();
    let main = s.write("main.nsr", "import \"nowhere\" as n;\n");
    let lib = s.path("lib");
    let r = nsr_env(
        &["run", "--lib", &lib, &main],
        &[("NSR_PATH", "/nonexistent/p")],
        &dir,
    );
    r.expect_code(1);
    assert_has_all(
        &r.stderr,
        &[
            "main.nsr:1:",
            "no module 'nowhere'",
            &format!("{dir}/nowhere.nsr"),
            &format!("{lib}/nowhere.nsr"),
            "/nonexistent/p/nowhere.nsr",
            "standard library (net, fs, box)",
        ],
    );
    s.write("a.nsr", "import \"b\" as b;\nfn x() { 1 }\n");
    s.write("b.nsr", "import \"a\" as a;\nfn y() { 2 }\n");
    let cyc = s.write("cyc.nsr", "import \"a\" as a;\n");
    let r = nsr_env(&["run", &cyc], &[], &dir);
    r.expect_code(1);
    assert_has_all(
        &r.stderr,
        &["import cycle:", "a.nsr -> ", "b.nsr -> ", "a.nsr"],
    );
}

#[test]
fn nsr_doc_prints_module_and_function_docs() {
    let _g = serial();
    let r = nsr(&["doc", "net"]);
    r.expect_code(0);
    assert_has_all(
        &r.stdout,
        &[
            "net::p2p(a, b, prefix)",
            "net::segment(sw, hosts, prefix)",
            "net::nat(router, inside, prefix, out)",
            "point-to-point",
        ],
    );
    let r = nsr(&["doc", "box::ready"]);
    r.expect_code(0);
    assert_has_all(&r.stdout, &["box::ready(opts)", "pivot_root"]);
    let r = nsr(&["doc", "net::nope"]);
    r.expect_code(2);
    assert_has_all(&r.stderr, &["no function 'nope'", "p2p"]);
    let r = nsr(&["doc"]);
    r.expect_code(0);
    assert_has_all(
        &r.stdout,
        &[
            "unshare(kinds: Array)",
            "standard library modules",
            "net, fs, box",
        ],
    );
}

#[test]
fn a_file_that_shadows_a_module_and_imports_its_name_gets_the_standard_library() {
    let _g = serial();
    let s = Scratch::new("selfimport");
    let dir = s.dir.to_string_lossy().to_string();
    // net.nsr wraps the standard library's net: its own `import "net"` is not itself.
    s.write(
        "net.nsr",
        "import \"net\" as base;\nfn p2p(a, b, c) { base::p2p(a, b, c) }\nfn mine() { \"the file\" }\n",
    );
    let main = s.write(
        "main.nsr",
        "import \"net\" as net;\nprint(net::mine());\nnet::p2p(1, 2, 3);\n",
    );
    let r = nsr_env(&["run", &main], &[], &dir);
    r.expect_code(1);
    assert_eq!(r.stdout, "the file\n");
    // The call went through the file into the standard library's p2p, which fails on
    // its bad arguments: no cycle, no recursion into the file.
    assert!(r.stderr.contains("--> <stdlib>/net.nsr:"), "{}", r.stderr);
    assert!(!r.stderr.contains("cycle"), "{}", r.stderr);
}

#[test]
fn the_module_count_limit_names_itself_and_how_to_raise_it() {
    let _g = serial();
    let s = Scratch::new("modlimit");
    let dir = s.dir.to_string_lossy().to_string();
    for i in 1..=3 {
        s.write(&format!("m{i}.nsr"), &format!("fn f() {{ {i} }}\n"));
    }
    let main = s.write(
        "main.nsr",
        "import \"m1\" as a;\nimport \"m2\" as b;\nimport \"m3\" as c;\nprint(a::f() + b::f() + c::f());\n",
    );
    let r = nsr_env(&["run", "--limit", "modules=2", &main], &[], &dir);
    r.expect_code(1);
    assert_has_all(
        &r.stderr,
        &["module count limit", "main.nsr:3:1", "--limit modules=N"],
    );
    let r = nsr_env(&["run", "--limit", "modules=3", &main], &[], &dir);
    r.expect_code(0);
    assert_eq!(r.stdout, "6\n");
}

#[test]
fn nsr_doc_documents_a_file_by_its_path() {
    let _g = serial();
    let s = Scratch::new("docfile");
    let file = s.write(
        "lib/tools.nsr",
        "/// Makes a thing\n/// from a.\nfn thing(a) { a }\nfn bare() {}\n",
    );
    let r = nsr(&["doc", &file]);
    r.expect_code(0);
    assert_eq!(
        r.stdout,
        "tools::thing(a)\n    Makes a thing\n    from a.\n\ntools::bare()\n\n"
    );
    let r = nsr(&["doc", &format!("{file}::bare")]);
    r.expect_code(0);
    assert_eq!(r.stdout, "tools::bare()\n\n");
    let r = nsr(&["doc", &s.path("lib/missing.nsr")]);
    r.expect_code(2);
    assert_has_all(&r.stderr, &["cannot read", "missing.nsr", "ENOENT"]);
}

/// These create namespaces, mounts or netns for real, or become another user: root.
mod as_root {
    use super::*;

    #[test]
    fn box_ready_with_user_makes_a_user_namespace_mapping_root() {
        let _g = privileged();
        let s = Scratch::new("readyuser");
        let dir = s.path("root");
        let before = HostState::take();
        let r = run_recipe(
            &s,
            "u.nsr",
            "import \"box\" as box;\nlet b = box::ready(#{ dir: args.dir, net: false, user: true });\nprint(\"kinds=\" + b.kinds);\nprint(\"user ns own=\" + (b.namespaces()[\"user\"] != namespaces()[\"user\"]));\nprint(b.run(\"id -u; cat /proc/self/uid_map\").stdout);\n",
            &[&format!("dir={dir}")],
        );
        r.expect_code(0);
        assert_has_all(
            &r.stdout,
            &[
                "kinds=[\"mount\", \"uts\", \"ipc\", \"pid\", \"cgroup\", \"user\"]",
                "user ns own=true",
            ],
        );
        // Root inside is root outside (map_root as root): one line, 0 to 0, count 1.
        let map: Vec<Vec<&str>> = r
            .stdout
            .lines()
            .skip_while(|l| l.trim() != "0")
            .skip(1)
            .map(|l| l.split_whitespace().collect())
            .take_while(|w: &Vec<&str>| !w.is_empty())
            .collect();
        assert_eq!(map, vec![vec!["0", "0", "1"]], "{}", r.stdout);
        before.assert_unchanged("box::ready with user");
    }

    #[test]
    fn a_module_that_fails_while_loading_rolls_back_what_it_made() {
        let _g = privileged();
        let s = Scratch::new("modfail");
        let dir = s.dir.to_string_lossy().to_string();
        let sp = short_prefix();
        s.write(
            "bad.nsr",
            &format!("let made = netns(\"{sp}m\");\nthrow \"broken module\";\n"),
        );
        let main = s.write("main.nsr", "import \"bad\" as bad;\n");
        let before = HostState::take();
        let r = nsr_env(&["run", &main], &[], &dir);
        r.expect_code(1);
        assert_has_all(
            &r.stderr,
            &["broken module", "bad.nsr:2:", &format!("undid netns {sp}m")],
        );
        before.assert_unchanged("after a failed module");
    }

    #[test]
    fn declared_parameters_are_listed_defaulted_and_required_before_anything_runs() {
        let _g = privileged();
        let s = Scratch::new("params");
        let sp = short_prefix();
        let file = s.write(
            "p.nsr",
            &format!("// p.nsr: greets, after making a netns.\n//! param who=world: whom to greet\n//! param times: how many times\nlet n = netns(\"{sp}p\");\nfor i in 0..parse_int(args.times) {{ print(\"hi \" + args.who); }}\n"),
        );
        let r = nsr(&["run", &file, "--help"]);
        r.expect_code(0);
        assert_has_all(
            &r.stdout,
            &[
                "p.nsr: greets",
                "who",
                "whom to greet (default: \"world\")",
                "times",
                "(required)",
            ],
        );
        let before = HostState::take();
        let r = nsr(&["run", &file]);
        r.expect_code(2);
        assert_has_all(
            &r.stderr,
            &["missing recipe parameter(s): times (how many times)"],
        );
        assert!(!r.stderr.contains("undid"), "nothing ran: {}", r.stderr);
        before.assert_unchanged("after a missing parameter");
        let r = nsr(&["run", &file, "times=2"]);
        r.expect_code(0);
        assert_eq!(r.stdout, "hi world\nhi world\n");
    }

    #[test]
    fn the_json_report_lists_what_was_made_and_undone() {
        let _g = privileged();
        let s = Scratch::new("json");
        let sp = short_prefix();
        let file = s.write(
            "j.nsr",
            &format!("let n = netns(\"{sp}j\");\nn.up(\"lo\");\nn.up(\"nosuch\");\n"),
        );
        let r = nsr(&["run", "--json", &file]);
        r.expect_code(1);
        let report: serde_json::Value =
            serde_json::from_str(r.stderr.trim()).expect("stderr is one JSON object");
        assert_eq!(report["ok"], false);
        assert_eq!(report["exit_code"], 1);
        assert_eq!(report["error"]["errno"], "ENODEV");
        assert_eq!(report["error"]["origin"]["line"], 3);
        assert_eq!(report["created"][0]["what"], format!("netns {sp}j"));
        assert_eq!(report["undone"].as_array().unwrap().len(), 2);
        assert_eq!(report["undone"][1]["outcome"], "done");
    }
}
