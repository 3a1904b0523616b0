//! `nsr graph`: every recipe drawn in every format, each format checked by the tool that
//! reads it (Graphviz for dot, Mermaid itself in headless Chromium for mermaid, an XML
//! parser for svg, Chromium for the html page and its screenshot), the tutorial's
//! network named in full, the README's picture current, and the bad inputs.
//! (What the pictures say is compared with the kernel in tests/plan.rs, where each
//! recipe runs for real; `:graph` in tests/repl.rs.)

mod common;
use common::*;
use std::process::Command;

const RECIPES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/recipes");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const FORMATS: [&str; 5] = ["json", "dot", "mermaid", "svg", "html"];

fn graph(args: &[&str]) -> Run {
    let mut all = vec!["graph"];
    all.extend_from_slice(args);
    nsr(&all)
}

/// `nsr graph RECIPE PARAMS --format F -o FILE`, which must succeed.
fn draw(s: &Scratch, recipe: &str, params: &[String], format: &str) -> String {
    let file = s.path(&format!("{}.{format}", recipe.trim_end_matches(".nsr")));
    let mut args = vec![
        "graph".to_string(),
        format!("{RECIPES}/{recipe}"),
        "--format".into(),
        format.into(),
        "-o".into(),
        file.clone(),
    ];
    args.extend(params.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    nsr(&args).expect_code(0);
    file
}

fn python(script: &str, args: &[&str]) -> Run {
    let mut c = Command::new("python3");
    c.arg("-c").arg(script).args(args);
    run_command(c)
}

/// The text of every `<text>` element of an SVG file, one per line (parsing it as XML).
const SVG_TEXT: &str = r#"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "{http://www.w3.org/2000/svg}svg", root.tag
print("\n".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")))
"#;

/// Parses an HTML page: every element that is opened is closed in order (but the void
/// ones), and the inline SVG parses as XML.
const HTML_CHECK: &str = r#"
import sys, re, html.parser, xml.etree.ElementTree as ET
text = open(sys.argv[1]).read()
void = {"meta", "br", "img", "link", "input", "hr"}
class P(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.stack = []
    def handle_starttag(self, tag, attrs):
        if tag not in void: self.stack.append(tag)
    def handle_startendtag(self, tag, attrs): pass
    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()
p = P(); p.feed(text); p.close()
assert p.stack == [], p.stack
svg = re.search(r"<svg .*?</svg>", text, re.S).group(0)
ET.fromstring(svg)
assert "http://" not in text.replace("http://www.w3.org/2000/svg", ""), "a network fetch"
assert "https://" not in text, "a network fetch"
print("ok")
"#;

#[test]
fn every_recipe_draws_in_every_format_and_each_parses() {
    let _g = serial();
    let s = Scratch::new("graphfmt");
    for (recipe, params) in recipes_with_params() {
        for format in FORMATS {
            let file = draw(&s, &recipe, &params, format);
            let text = std::fs::read_to_string(&file).unwrap();
            match format {
                "json" => {
                    let g: serde_json::Value = serde_json::from_str(&text).unwrap();
                    assert_eq!(g["source"], "plan", "{recipe}");
                    assert_eq!(g["namespaces"][0]["id"], "host", "{recipe}: {text}");
                }
                "dot" => {
                    let r = run_command({
                        let mut c = Command::new("dot");
                        c.args(["-Tsvg", "-o", "/dev/null", &file]);
                        c
                    });
                    r.expect_code(0);
                    assert_eq!(r.stderr, "", "{recipe}: Graphviz warns about:\n{text}");
                }
                "mermaid" => assert!(text.contains("\nflowchart TB\n"), "{recipe}: {text}"),
                "svg" => {
                    python(SVG_TEXT, &[&file]).expect_code(0);
                }
                "html" => {
                    let r = python(HTML_CHECK, &[&file]);
                    r.expect_code(0);
                }
                _ => unreachable!(),
            }
        }
    }
}

#[test]
fn the_format_follows_the_file_name_and_a_pipe_gets_dot() {
    let _g = serial();
    let s = Scratch::new("graphdest");
    let recipe = format!("{RECIPES}/bridge-lab.nsr");
    let html = s.path("lab.html");
    graph(&[&recipe, "-o", &html]).expect_code(0);
    assert!(std::fs::read_to_string(&html)
        .unwrap()
        .starts_with("<!DOCTYPE html>"));
    let json = s.path("lab.json");
    graph(&[&recipe, "-o", &json]).expect_code(0);
    let g: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(g["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["id"] == "netns:lab_switch"));
    // stdout is a pipe here: the dot text, nothing written.
    let piped = graph(&[&recipe]);
    piped.expect_code(0);
    assert!(piped.stdout.starts_with("graph nsr {"), "{}", piped.stdout);
    // On a terminal, an SVG file named after the recipe, in the current directory.
    let on_tty = run_command({
        let mut c = Command::new("script");
        c.args(["-qec", &format!("{NSR} graph {recipe}"), "/dev/null"])
            .current_dir(&s.dir);
        c
    });
    on_tty.expect_code(0);
    assert!(
        on_tty.stdout.contains("wrote bridge-lab.svg"),
        "{}",
        on_tty.stdout
    );
    let svg = std::fs::read_to_string(s.path("bridge-lab.svg")).unwrap();
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{svg}"
    );
    // Parameters change the picture as they change the plan.
    let other = graph(&[&recipe, "--format", "json", "p=lab9_", "prefix=10.9.0.0/24"]);
    other.expect_code(0);
    assert_has_all(
        &other.stdout,
        &["netns:lab9_switch", "10.9.0.1/24", "10.9.0.3/24"],
    );
}

#[test]
fn the_tutorial_network_picture_names_every_interface_address_and_rule() {
    let _g = serial();
    let s = Scratch::new("graphtut");
    let svg = draw(&s, "tutorial-network.nsr", &[], "svg");
    let texts = python(SVG_TEXT, &[&svg]);
    texts.expect_code(0);
    let lines: Vec<&str> = texts.stdout.lines().collect();
    for wanted in [
        "netns test_net",
        "netns router",
        "netns wan",
        "veth0",
        "eth0",
        "wan0",
        "172.16.99.1/24",
        "172.16.99.100/24",
        "203.0.113.1/24",
        "203.0.113.2/24",
        "route default via 172.16.99.1",
        "ipv4 forwarding on",
        "masquerade 172.16.99.0/24 out wan0",
        "forward veth0 -> wan0",
        "forward wan0 -> veth0",
        "port 8080 -> 172.16.99.100:80",
        "hostname sandbox",
        "kinds: mount uts ipc pid",
    ] {
        assert!(
            lines.contains(&wanted),
            "no text '{wanted}' in the SVG: {lines:?}"
        );
    }
    // Two veth pairs, each end labelled: eth0 is on both (test_net's and wan's).
    assert_eq!(
        lines.iter().filter(|l| **l == "eth0").count(),
        2,
        "{lines:?}"
    );
    let g: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(draw(&s, "tutorial-network.nsr", &[], "json")).unwrap(),
    )
    .unwrap();
    let sandboxes = g["sandboxes"].as_array().unwrap();
    let nets: Vec<&str> = sandboxes
        .iter()
        .map(|b| b["netns"].as_str().unwrap())
        .collect();
    assert_eq!(nets, ["netns:test_net", "netns:wan", "netns:router"]);
    // With the host as the router (uplink=), its uplink is named, nothing else of it.
    let host = graph(&[
        &format!("{RECIPES}/tutorial-network.nsr"),
        "--format",
        "json",
        "uplink=ens3",
    ]);
    host.expect_code(0);
    let g: serde_json::Value = serde_json::from_str(&host.stdout).unwrap();
    let h = &g["namespaces"][0];
    assert_eq!(h["id"], "host");
    let names: Vec<&str> = h["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["veth0"], "{h}");
    assert_eq!(h["forwarding"][0], "ipv4");
    assert_has_all(&h.to_string(), &["masquerade 172.16.99.0/24 out ens3"]);
}

#[test]
fn the_readme_picture_is_the_tutorial_networks_current_one() {
    let _g = serial();
    let out = run_command({
        let mut c = Command::new(NSR);
        c.args(["graph", "--format", "svg", "recipes/tutorial-network.nsr"])
            .current_dir(ROOT);
        c
    });
    out.expect_code(0);
    let committed =
        std::fs::read_to_string(format!("{ROOT}/docs/tutorial-network.svg")).unwrap_or_default();
    assert!(
        committed == out.stdout,
        "docs/tutorial-network.svg is not what nsr draws now: cargo run --example regenerate"
    );
    let readme = std::fs::read_to_string(format!("{ROOT}/README.md")).unwrap();
    assert!(
        readme.contains("(docs/tutorial-network.svg)"),
        "the README shows the picture"
    );
}

/// Headless Chromium with a profile of its own in `s`; `args` before the URL.
fn chromium(s: &Scratch, args: &[&str], url: &str) -> Run {
    let mut c = Command::new("chromium");
    c.args([
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
    ])
    .arg(format!("--user-data-dir={}", s.path("chromium-profile")))
    .args([
        "--virtual-time-budget=10000",
        "--enable-logging=stderr",
        "--v=0",
    ])
    .args(args)
    .arg(url);
    run_command(c)
}

/// Pixels of a PNG that are not (nearly) white.
fn coloured_pixels(png_file: &str) -> usize {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png_file).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let step = info.color_type.samples();
    buf[..info.buffer_size()]
        .chunks(step)
        .filter(|p| p.iter().take(3).any(|&v| v < 235))
        .count()
}

#[test]
fn the_html_page_loads_from_disk_shows_the_picture_and_a_nodes_details() {
    let _g = serial();
    let s = Scratch::new("graphhtml");
    let page = draw(&s, "tutorial-network.nsr", &[], "html");
    let url = format!("file://{page}");
    // Its script ran to the end without an error, and #n2 (the router) opens picked.
    let dom = chromium(&s, &["--dump-dom"], &format!("{url}#n2"));
    dom.expect_code(0);
    assert!(
        dom.stdout.contains("data-ready=\"yes\""),
        "the page's script did not finish:\n{}",
        dom.stderr
    );
    assert!(!dom.stderr.contains("Uncaught"), "{}", dom.stderr);
    let panel = dom.stdout.split("id=\"panel\">").nth(1).unwrap_or_default();
    assert!(
        panel.starts_with("netns router") && panel.contains("veth0 veth up 172.16.99.1/24"),
        "the router's details: {panel}"
    );
    let shot = s.path("page.png");
    chromium(
        &s,
        &[&format!("--screenshot={shot}"), "--window-size=1000,700"],
        &url,
    )
    .expect_code(0);
    let drawn = coloured_pixels(&shot);
    // A blank page of the same size, to show the count can fail.
    let blank = s.write("blank.html", "<!DOCTYPE html><html><body></body></html>");
    let blank_shot = s.path("blank.png");
    chromium(
        &s,
        &[
            &format!("--screenshot={blank_shot}"),
            "--window-size=1000,700",
        ],
        &format!("file://{blank}"),
    )
    .expect_code(0);
    let none = coloured_pixels(&blank_shot);
    assert!(none < 100, "the blank page has {none} coloured pixels");
    assert!(
        drawn > 20_000,
        "the picture has only {drawn} coloured pixels"
    );
}

/// A page that asks Mermaid (from npm, loaded from disk) to parse and render each chart,
/// and writes one line per chart into #out: RENDERED or ERROR and why.
fn mermaid_page(s: &Scratch, charts: &[String]) -> String {
    let dist = format!("{ROOT}/tests/graph/node_modules/mermaid/dist/mermaid.min.js");
    s.write(
        "mermaid.html",
        &format!(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><script src=\"file://{dist}\"></script></head><body><pre id=\"out\"></pre><script>\nmermaid.initialize({{ startOnLoad: false }});\nvar charts = {};\nvar lines = [];\ncharts.reduce(function (done, text, i) {{\n  return done.then(function () {{ return mermaid.parse(text); }}).then(function () {{ return mermaid.render('g' + i, text); }})\n    .then(function (r) {{ lines.push('RENDERED ' + r.svg.length); }}, function (e) {{ lines.push('ERROR ' + String(e).split('\\n').join(' ')); }});\n}}, Promise.resolve()).then(function () {{ document.getElementById('out').textContent = lines.join('\\n') + '\\nEND'; }});\n</script></body></html>",
            serde_json::to_string(charts).unwrap()
        ),
    )
}

#[test]
fn mermaid_itself_parses_and_renders_every_recipes_flowchart() {
    let _g = serial();
    tools::ensure_npm(&format!("{ROOT}/tests/graph"));
    let s = Scratch::new("graphmmd");
    // First a flowchart with a broken edge, so that the check can fail.
    let mut charts = vec!["flowchart TB\n  a[\"x\"] ---|\"y| b\n".to_string()];
    let all = recipes_with_params();
    for (recipe, params) in &all {
        charts.push(std::fs::read_to_string(draw(&s, recipe, params, "mermaid")).unwrap());
    }
    let page = mermaid_page(&s, &charts);
    let dom = chromium(&s, &["--dump-dom"], &format!("file://{page}"));
    dom.expect_code(0);
    let out = dom.stdout.split("id=\"out\">").nth(1).unwrap_or_default();
    let out = out.split("</pre>").next().unwrap_or_default();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.len(),
        charts.len() + 1,
        "Mermaid did not finish: {out}\n{}",
        dom.stderr
    );
    assert!(
        lines[0].starts_with("ERROR"),
        "Mermaid accepted a broken chart: {}",
        lines[0]
    );
    for (k, (recipe, _)) in all.iter().enumerate() {
        assert!(
            lines[k + 1].starts_with("RENDERED"),
            "{recipe}: {}\n{}",
            lines[k + 1],
            charts[k + 1]
        );
    }
}

#[test]
fn a_recipe_that_fails_midway_is_drawn_up_to_where_it_stopped() {
    let _g = serial();
    let s = Scratch::new("graphfail");
    let recipe = s.write(
        "half.nsr",
        "let a = netns(\"half_a\");\nlet b = netns(\"half_b\");\na.veth(\"ab0\", \"ba0\", b);\nb.addr(\"ba0\", \"10.77.0.300/24\");\nlet c = netns(\"half_c\");\n",
    );
    let r = graph(&[&recipe, "--format", "json"]);
    r.expect_code(1);
    assert_has_all(&r.stderr, &["half.nsr:4:", "10.77.0.300", "stops at"]);
    let g: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let ids: Vec<&str> = g["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["host", "netns:half_a", "netns:half_b"], "{g}");
    assert_eq!(g["veths"].as_array().unwrap().len(), 1);
    assert!(
        g["stopped"].as_str().unwrap().contains("half.nsr:4:"),
        "{g}"
    );
    // The picture says it too.
    let svg = s.path("half.svg");
    graph(&[&recipe, "-o", &svg]).expect_code(1);
    let texts = python(SVG_TEXT, &[&svg]);
    assert!(
        texts.stdout.contains("the recipe stops at"),
        "{}",
        texts.stdout
    );
}

#[test]
fn bad_requests_get_clear_errors() {
    let _g = serial();
    let s = Scratch::new("graphbad");
    let in_state = |args: &[&str]| {
        let mut c = Command::new(NSR);
        c.args(args).env("NSR_STATE_DIR", s.path("state"));
        run_command(c)
    };
    let unknown = in_state(&["graph", "--env", "no-such-env"]);
    unknown.expect_code(1);
    assert_has_all(
        &unknown.stderr,
        &["there is no environment 'no-such-env'", "nsr ls"],
    );
    let bad = in_state(&["graph", "--env", "../etc"]);
    bad.expect_code(1);
    assert_has_all(&bad.stderr, &["not an environment name"]);
    let both = nsr(&["graph", "--env", "x", &format!("{RECIPES}/default.nsr")]);
    both.expect_code(2);
    assert_has_all(&both.stderr, &["not both"]);
    let missing = nsr(&["graph", &s.path("nope.nsr")]);
    missing.expect_code(2);
    assert_has_all(&missing.stderr, &["nope.nsr"]);
    let unwritable = nsr(&[
        "graph",
        &format!("{RECIPES}/default.nsr"),
        "-o",
        &s.path("no/dir/x.svg"),
    ]);
    unwritable.expect_code(2);
    assert_has_all(&unwritable.stderr, &["cannot write", "x.svg"]);
    let format = nsr(&[
        "graph",
        &format!("{RECIPES}/default.nsr"),
        "--format",
        "png",
    ]);
    format.expect_code(2);
    assert_has_all(&format.stderr, &["png", "svg"]);
}
