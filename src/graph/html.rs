//! `--format html`: one page that works opened from disk, with nothing fetched: the
//! SVG inline, a panel that shows a node's details when the pointer is on it or it is
//! clicked, and the model as JSON for tools.

use super::drawing::Drawing;
use super::model::Graph;
use super::svg::escape;

const STYLE: &str = "body{font-family:DejaVu Sans Mono,Menlo,Consolas,monospace;margin:0}\
#picture{padding:8px}#panel{position:fixed;right:12px;bottom:12px;max-width:420px;padding:10px 12px;background:#f8fafc;border:1px solid #cbd5e1;border-radius:6px;white-space:pre-wrap;font-size:13px}\
g.node{cursor:pointer}g.node:hover rect,g.node.picked rect{stroke:#dc2626;stroke-width:2.5}";

const SCRIPT: &str = r#"(function () {
  var details = JSON.parse(document.getElementById('nsr-details').textContent);
  var panel = document.getElementById('panel');
  var picked = null;
  function show(g) { panel.textContent = (details[g.id] || []).join('\n'); }
  function pick(g) {
    if (picked) picked.classList.remove('picked');
    picked = g; g.classList.add('picked'); show(g);
  }
  document.querySelectorAll('g.node').forEach(function (g) {
    g.addEventListener('mouseenter', function () { show(g); });
    g.addEventListener('mouseleave', function () { if (picked) show(picked); });
    g.addEventListener('click', function () { pick(g); });
  });
  // PAGE.html#n3 opens with node n3 picked: a link to one namespace or sandbox.
  var first = location.hash && document.getElementById(location.hash.slice(1));
  if (first && first.classList.contains('node')) pick(first);
  document.body.setAttribute('data-ready', 'yes');
})();"#;

/// JSON inside a `<script>`: `</` would end the element.
fn script_json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v)
        .unwrap_or_else(|_| "null".into())
        .replace("</", "<\\/")
}

pub fn render(g: &Graph, d: &Drawing, svg: &str) -> String {
    let details: std::collections::BTreeMap<&str, Vec<String>> = d
        .nodes
        .iter()
        .map(|n| {
            let mut lines = vec![n.title.clone()];
            lines.extend(n.details.iter().cloned());
            (n.id.as_str(), lines)
        })
        .collect();
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<div id=\"picture\">\n{svg}</div>\n<div id=\"panel\">Point at or click a namespace, bridge or sandbox to see its details.</div>\n<script type=\"application/json\" id=\"nsr-details\">{details}</script>\n<script type=\"application/json\" id=\"nsr-model\">{model}</script>\n<script>{SCRIPT}</script>\n</body>\n</html>\n",
        title = escape(&d.title),
        details = script_json(&details),
        model = script_json(g),
    )
}
