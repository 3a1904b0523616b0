//! `--format mermaid`: a flowchart that GitHub and Markdown viewers draw. Mermaid has
//! no labels at a line's ends, so a veth's label names both ends: `veth0 10.0.0.1/24
//! <-> eth0 10.0.0.2/24`.

use super::drawing::{Drawing, EdgeKind, NodeKind};

/// Text inside a quoted Mermaid label: quotes and the characters Mermaid reads as
/// markup become entities; lines are joined with `<br/>`.
fn text(lines: &[String]) -> String {
    lines
        .iter()
        .map(|l| {
            l.replace('&', "#amp;")
                .replace('"', "#quot;")
                .replace('<', "#lt;")
                .replace('>', "#gt;")
                .replace('|', "#124;")
        })
        .collect::<Vec<_>>()
        .join("<br/>")
}

pub fn render(d: &Drawing) -> String {
    let title = d.title.replace('\\', "\\\\").replace('"', "\\\"");
    let mut s = format!("---\ntitle: \"{title}\"\n---\nflowchart TB\n");
    for n in &d.nodes {
        let mut lines = vec![format!("<b>{}</b>", text(std::slice::from_ref(&n.title)))];
        lines.push(text(&n.lines));
        lines.retain(|l| !l.is_empty());
        let body = lines.join("<br/>");
        let shape = match n.kind {
            NodeKind::Bridge => format!("([\"{body}\"])"),
            _ => format!("[\"{body}\"]"),
        };
        s.push_str(&format!("  {}{shape}:::{}\n", n.id, n.kind.class()));
    }
    for e in &d.edges {
        let (a, b) = (&d.nodes[e.from].id, &d.nodes[e.to].id);
        match e.kind {
            EdgeKind::Veth => {
                let label = format!("{} <-> {}", e.tail.join(" "), e.head.join(" "));
                s.push_str(&format!("  {a} ---|\"{}\"| {b}\n", text(&[label])));
            }
            EdgeKind::Contains => s.push_str(&format!("  {a} === {b}\n")),
            EdgeKind::RunsIn => s.push_str(&format!("  {a} -.-|\"runs in\"| {b}\n")),
            EdgeKind::Tunnel => {
                let mut label = e.tail.join(" ");
                if !e.head.is_empty() {
                    label = format!("{label} <-> {}", e.head.join(" "));
                }
                s.push_str(&format!("  {a} -.-|\"{}\"| {b}\n", text(&[label])));
            }
        }
    }
    if let Some(f) = &d.footer {
        s.push_str(&format!(
            "  stopped[\"{}\"]:::stopped\n",
            text(std::slice::from_ref(f))
        ));
    }
    for k in NodeKind::ALL {
        s.push_str(&format!(
            "  classDef {} fill:{},stroke:#555\n",
            k.class(),
            k.fill()
        ));
    }
    s.push_str("  classDef stopped fill:#fee2e2,stroke:#555\n");
    s
}
