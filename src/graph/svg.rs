//! `--format svg`: the drawing laid out by `layout.rs` and written as SVG by nsr itself
//! (no Graphviz needed). Each node is a `<g id="n3" class="node netns">` with a
//! `<title>`, which the HTML page uses to show its details.

use super::drawing::{Drawing, EdgeKind, Node, NodeKind};
use super::layout::{layout, Place, Size, MARGIN};

const CHAR_W: f64 = 7.3;
const LINE_H: f64 = 15.0;
const PAD: f64 = 10.0;
const TITLE_H: f64 = 34.0;

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn size(n: &Node) -> Size {
    let longest = std::iter::once(&n.title)
        .chain(&n.lines)
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0);
    Size {
        w: (longest as f64 * CHAR_W + 2.0 * PAD).max(90.0),
        h: 2.0 * PAD + LINE_H * (1 + n.lines.len()) as f64,
    }
}

/// Where the line from the centre of box `a` towards `to` leaves the box.
fn border(p: Place, s: Size, to: (f64, f64)) -> (f64, f64) {
    let (cx, cy) = (p.x + s.w / 2.0, p.y + s.h / 2.0);
    let (dx, dy) = (to.0 - cx, to.1 - cy);
    if dx == 0.0 && dy == 0.0 {
        return (cx, cy);
    }
    let tx = if dx != 0.0 {
        (s.w / 2.0) / dx.abs()
    } else {
        f64::INFINITY
    };
    let ty = if dy != 0.0 {
        (s.h / 2.0) / dy.abs()
    } else {
        f64::INFINITY
    };
    let t = tx.min(ty);
    (cx + dx * t, cy + dy * t)
}

fn label(out: &mut String, at: (f64, f64), lines: &[String]) {
    let w = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0) as f64 * 6.4 + 8.0;
    let h = lines.len() as f64 * 13.0 + 4.0;
    out.push_str(&format!(
        "<g class=\"end\"><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" rx=\"3\" fill=\"#ffffff\" fill-opacity=\"0.92\" stroke=\"#94a3b8\" stroke-width=\"0.5\"/>",
        at.0 - w / 2.0,
        at.1 - h / 2.0
    ));
    for (k, l) in lines.iter().enumerate() {
        let y = at.1 - h / 2.0 + 13.0 * (k as f64 + 1.0) - 1.0;
        let weight = if k == 0 { " font-weight=\"bold\"" } else { "" };
        out.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{y:.1}\" text-anchor=\"middle\" font-size=\"10.5\"{weight}>{}</text>",
            at.0,
            escape(l)
        ));
    }
    out.push_str("</g>\n");
}

pub fn render(d: &Drawing) -> String {
    let sizes: Vec<Size> = d.nodes.iter().map(size).collect();
    let edges: Vec<(usize, usize)> = d.edges.iter().map(|e| (e.from, e.to)).collect();
    let places = layout(&sizes, &edges, MARGIN + TITLE_H);
    let width = places
        .iter()
        .zip(&sizes)
        .map(|(p, s)| p.x + s.w)
        .fold(320.0, f64::max)
        + MARGIN;
    let bottom = places
        .iter()
        .zip(&sizes)
        .map(|(p, s)| p.y + s.h)
        .fold(MARGIN + TITLE_H, f64::max);
    let height = bottom + MARGIN + if d.footer.is_some() { 24.0 } else { 0.0 };
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" font-size=\"12\">\n"
    );
    s.push_str(&format!(
        "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n<text x=\"{MARGIN}\" y=\"{:.0}\" font-size=\"14\" font-weight=\"bold\">{}</text>\n",
        MARGIN + 14.0,
        escape(&d.title)
    ));
    let centre = |i: usize| {
        (
            places[i].x + sizes[i].w / 2.0,
            places[i].y + sizes[i].h / 2.0,
        )
    };
    for e in &d.edges {
        let (a, b) = (centre(e.from), centre(e.to));
        let pa = border(places[e.from], sizes[e.from], b);
        let pb = border(places[e.to], sizes[e.to], a);
        let style = match e.kind {
            EdgeKind::Veth => "stroke=\"#1e3a8a\" stroke-width=\"2\"",
            EdgeKind::Contains => "stroke=\"#b45309\" stroke-width=\"3\"",
            EdgeKind::RunsIn => "stroke=\"#4d7c0f\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"",
            EdgeKind::Tunnel => "stroke=\"#7e22ce\" stroke-width=\"2\" stroke-dasharray=\"10 4\"",
        };
        s.push_str(&format!(
            "<line class=\"edge\" x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" {style}/>\n",
            pa.0, pa.1, pb.0, pb.1
        ));
        let along = |from: (f64, f64), to: (f64, f64), t: f64| {
            (from.0 + (to.0 - from.0) * t, from.1 + (to.1 - from.1) * t)
        };
        if matches!(e.kind, EdgeKind::Veth | EdgeKind::Tunnel) {
            label(&mut s, along(pa, pb, 0.22), &e.tail);
            label(&mut s, along(pb, pa, 0.22), &e.head);
        } else if e.kind == EdgeKind::RunsIn {
            let m = along(pa, pb, 0.5);
            s.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"#4d7c0f\">runs in</text>\n",
                m.0 + 4.0,
                m.1
            ));
        }
    }
    for (i, n) in d.nodes.iter().enumerate() {
        let (p, z) = (places[i], sizes[i]);
        let dash = if matches!(n.kind, NodeKind::Guest | NodeKind::Remote) {
            " stroke-dasharray=\"5 3\""
        } else {
            ""
        };
        let rx = if n.kind == NodeKind::Bridge { 16 } else { 6 };
        s.push_str(&format!(
            "<g id=\"{}\" class=\"node {}\"><title>{}</title>\n<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"{rx}\" fill=\"{}\" stroke=\"#475569\"{dash}/>\n",
            n.id,
            n.kind.class(),
            escape(&std::iter::once(n.title.clone()).chain(n.lines.iter().cloned()).collect::<Vec<_>>().join("\n")),
            p.x,
            p.y,
            z.w,
            z.h,
            n.kind.fill()
        ));
        s.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" font-weight=\"bold\">{}</text>\n",
            p.x + PAD,
            p.y + PAD + 11.0,
            escape(&n.title)
        ));
        for (k, l) in n.lines.iter().enumerate() {
            s.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\">{}</text>\n",
                p.x + PAD,
                p.y + PAD + 11.0 + LINE_H * (k + 1) as f64,
                escape(l)
            ));
        }
        s.push_str("</g>\n");
    }
    if let Some(f) = &d.footer {
        s.push_str(&format!(
            "<text x=\"{MARGIN}\" y=\"{:.0}\" fill=\"#b91c1c\" font-size=\"12\">{}</text>\n",
            height - MARGIN,
            escape(f)
        ));
    }
    s.push_str("</svg>\n");
    s
}
