//! `--format dot`: the drawing in Graphviz's language (`dot -Tsvg`), one box per node,
//! a veth's interface names and addresses at its two ends.

use super::drawing::{Drawing, EdgeKind, NodeKind};

/// A string in dot's double quotes; `\n` centres a line.
fn quoted(lines: &[String]) -> String {
    let body: Vec<String> = lines
        .iter()
        .map(|l| l.replace('\\', "\\\\").replace('"', "\\\""))
        .collect();
    format!("\"{}\"", body.join("\\n"))
}

/// Its fill, and the shape and line of a bridge and of a sandbox in a joined namespace.
fn style(kind: NodeKind) -> String {
    let extra = match kind {
        NodeKind::Bridge => ", style=\"rounded,filled\"",
        NodeKind::Guest | NodeKind::Remote => ", style=\"dashed,filled\"",
        _ => "",
    };
    format!("fillcolor=\"{}\"{extra}", kind.fill())
}

pub fn render(d: &Drawing) -> String {
    let mut s = String::from("graph nsr {\n");
    let mut label = vec![d.title.clone()];
    label.extend(d.footer.iter().cloned());
    s.push_str(&format!(
        "  label={}; labelloc=t; fontname=\"monospace\";\n",
        quoted(&label)
    ));
    s.push_str("  node [shape=box, style=filled, fontname=\"monospace\", fontsize=11];\n");
    s.push_str("  edge [fontname=\"monospace\", fontsize=10];\n");
    for n in &d.nodes {
        let mut lines = vec![n.title.clone()];
        lines.extend(n.lines.iter().cloned());
        s.push_str(&format!(
            "  {} [label={}, class=\"{}\", {}];\n",
            n.id,
            quoted(&lines),
            n.kind.class(),
            style(n.kind)
        ));
    }
    for e in &d.edges {
        let (a, b) = (&d.nodes[e.from].id, &d.nodes[e.to].id);
        let attrs = match e.kind {
            EdgeKind::Veth => format!(
                "taillabel={}, headlabel={}, labeldistance=2.5, penwidth=2",
                quoted(&e.tail),
                quoted(&e.head)
            ),
            EdgeKind::Contains => "style=bold, color=\"#b45309\"".into(),
            EdgeKind::RunsIn => "style=dashed, label=\"runs in\"".into(),
            EdgeKind::Tunnel => format!(
                "taillabel={}, headlabel={}, labeldistance=2.5, penwidth=2, style=dashed, color=\"#7e22ce\"",
                quoted(&e.tail),
                quoted(&e.head)
            ),
        };
        s.push_str(&format!("  {a} -- {b} [{attrs}];\n"));
    }
    s.push_str("}\n");
    s
}
