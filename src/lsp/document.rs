//! An open document: its text, and the conversions between the three ways of naming a
//! place in it: the protocol's (line, UTF-16 unit), Rhai's (1-based line, 1-based
//! character) and a byte offset.

use lsp_types::{Position, Range, Uri};

pub struct Document {
    pub uri: Uri,
    /// The file it is, for imports beside it (None for an unsaved buffer).
    pub path: Option<String>,
    pub text: String,
    pub version: i32,
    line_starts: Vec<usize>,
}

impl Document {
    pub fn new(uri: Uri, text: String, version: i32) -> Document {
        let path = path_of(&uri);
        let mut d = Document {
            uri,
            path,
            text: String::new(),
            version,
            line_starts: Vec::new(),
        };
        d.set_text(text);
        d
    }

    pub fn set_text(&mut self, text: String) {
        self.line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        self.text = text;
    }

    /// One change of a didChange: a range replaced, or (no range) the whole text.
    pub fn apply(&mut self, change: lsp_types::TextDocumentContentChangeEvent) {
        let text = match change.range {
            Some(r) => {
                let start = self.offset(r.start);
                let end = self.offset(r.end).max(start);
                let mut t = std::mem::take(&mut self.text);
                t.replace_range(start..end, &change.text);
                t
            }
            None => change.text,
        };
        self.set_text(text);
    }

    /// The name errors and `nsr plan` give it.
    pub fn name(&self) -> String {
        self.path
            .clone()
            .unwrap_or_else(|| self.uri.as_str().to_string())
    }

    fn line_text(&self, line: usize) -> &str {
        let start = self.line_starts[line];
        let end = self
            .line_starts
            .get(line + 1)
            .map_or(self.text.len(), |e| e - 1);
        &self.text[start..end]
    }

    /// The byte offset of a protocol position; past a line's end is its end, past the
    /// last line is the end of the text.
    pub fn offset(&self, pos: Position) -> usize {
        let line = pos.line as usize;
        if line >= self.line_starts.len() {
            return self.text.len();
        }
        let mut units = 0u32;
        for (i, c) in self.line_text(line).char_indices() {
            if units >= pos.character {
                return self.line_starts[line] + i;
            }
            units += c.len_utf16() as u32;
        }
        self.line_starts[line] + self.line_text(line).len()
    }

    pub fn position(&self, offset: usize) -> Position {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|s| *s <= offset) - 1;
        let start = self.line_starts[line];
        let character = self.text[start..offset]
            .chars()
            .map(|c| c.len_utf16() as u32)
            .sum();
        Position::new(line as u32, character)
    }

    pub fn range(&self, start: usize, end: usize) -> Range {
        Range::new(self.position(start), self.position(end))
    }

    /// The byte offset of Rhai's 1-based line and character column.
    pub fn offset_of_rhai(&self, line: usize, column: usize) -> usize {
        let Some(start) = line.checked_sub(1).and_then(|l| self.line_starts.get(l)) else {
            return self.text.len();
        };
        let text = self.line_text(line - 1);
        start
            + text
                .char_indices()
                .nth(column.saturating_sub(1))
                .map_or(text.len(), |(i, _)| i)
    }
}

/// The path of a `file://` URI, percent-decoded.
pub fn path_of(uri: &Uri) -> Option<String> {
    let rest = uri.as_str().strip_prefix("file://")?;
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(a), Some(b)) if hex(*a).is_some() && hex(*b).is_some() => {
                out.push((hex(*a).unwrap_or(0) * 16 + hex(*b).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok().filter(|p| p.starts_with('/'))
}

/// The `file://` URI of a path.
pub fn uri_of(path: &std::path::Path) -> Option<Uri> {
    let mut s = String::from("file://");
    for b in path.to_string_lossy().bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                s.push(b as char)
            }
            _ => s.push_str(&format!("%{b:02X}")),
        }
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Document {
        Document::new("file:///tmp/a%20b.nsr".parse().unwrap(), text.into(), 1)
    }

    #[test]
    fn positions_count_utf16_units() {
        let d = doc("let é = \"𝄞x\";\nbox.mount()");
        let x = d.text.find('x').unwrap();
        // 𝄞 is two UTF-16 units.
        assert_eq!(d.position(x), Position::new(0, 11));
        assert_eq!(d.offset(Position::new(0, 11)), x);
        assert_eq!(d.offset(Position::new(1, 4)), d.text.find("mount").unwrap());
        assert_eq!(d.offset(Position::new(1, 400)), d.text.len());
        assert_eq!(d.offset(Position::new(9, 0)), d.text.len());
        assert_eq!(d.offset_of_rhai(2, 5), d.text.find("mount").unwrap());
    }

    #[test]
    fn file_uris_and_paths() {
        assert_eq!(doc("").path.as_deref(), Some("/tmp/a b.nsr"));
        let u = uri_of(std::path::Path::new("/tmp/a b.nsr")).unwrap();
        assert_eq!(u.as_str(), "file:///tmp/a%20b.nsr");
        assert_eq!(path_of(&"untitled:1".parse().unwrap()), None);
    }
}
