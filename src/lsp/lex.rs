//! A forgiving tokenizer for recipes as they are being typed: unterminated strings and
//! comments end at the end of the text, nothing is an error. Completion, hover and the
//! outline read tokens; only diagnostics need Rhai's parser.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ident,
    /// A string: "..." or `...` (the text includes its quotes).
    Str,
    Number,
    /// `::`, `#{` or one character.
    Punct,
    /// `// ...` or `/* ... */`.
    Comment,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: Kind,
    /// Byte offsets into the text.
    pub start: usize,
    pub end: usize,
}

impl Token {
    pub fn text<'a>(&self, src: &'a str) -> &'a str {
        &src[self.start..self.end]
    }

    /// A string token's contents without its quotes.
    pub fn unquoted<'a>(&self, src: &'a str) -> &'a str {
        let t = self.text(src);
        let t = t.strip_prefix(['"', '`']).unwrap_or(t);
        t.strip_suffix(['"', '`']).unwrap_or(t)
    }

    pub fn is(&self, src: &str, text: &str) -> bool {
        self.text(src) == text
    }
}

pub fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

pub fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Every token of `src`, comments included, in order.
pub fn tokens(src: &str) -> Vec<Token> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut chars = src.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        let next = chars.peek().map(|(_, c)| *c);
        let kind;
        let mut end = start + c.len_utf8();
        if c.is_whitespace() {
            continue;
        } else if c == '/' && next == Some('/') {
            end = src[start..].find('\n').map_or(src.len(), |i| start + i);
            kind = Kind::Comment;
        } else if c == '/' && next == Some('*') {
            end = src[start + 2..]
                .find("*/")
                .map_or(src.len(), |i| start + 2 + i + 2);
            kind = Kind::Comment;
        } else if c == '"' || c == '`' || c == '\'' {
            end = string_end(bytes, start, c as u8);
            kind = Kind::Str;
        } else if is_ident_start(c) {
            end = src[start..]
                .char_indices()
                .find(|(_, c)| !is_ident_char(*c))
                .map_or(src.len(), |(i, _)| start + i);
            kind = Kind::Ident;
        } else if c.is_ascii_digit() {
            end = src[start..]
                .char_indices()
                .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '.'))
                .map_or(src.len(), |(i, _)| start + i);
            kind = Kind::Number;
        } else if (c == ':' && next == Some(':')) || (c == '#' && next == Some('{')) {
            end = start + 2;
            kind = Kind::Punct;
        } else {
            kind = Kind::Punct;
        }
        while chars.peek().is_some_and(|(i, _)| *i < end) {
            chars.next();
        }
        out.push(Token { kind, start, end });
    }
    out
}

/// Where a string that opens at `start` with `quote` ends (after its closing quote).
fn string_end(bytes: &[u8], start: usize, quote: u8) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'\n' if quote != b'`' => return i,
            b if b == quote => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The tokens without comments.
pub fn code(tokens: &[Token]) -> Vec<Token> {
    tokens
        .iter()
        .filter(|t| t.kind != Kind::Comment)
        .copied()
        .collect()
}

/// The identifier token under (or just before) the cursor, with its index.
pub fn word_at(code: &[Token], offset: usize) -> Option<(usize, Token)> {
    code.iter()
        .enumerate()
        .find(|(_, t)| t.kind == Kind::Ident && t.start <= offset && offset <= t.end)
        .map(|(i, t)| (i, *t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(src: &str) -> Vec<&str> {
        tokens(src).iter().map(|t| t.text(src)).collect()
    }

    #[test]
    fn splits_a_recipe_line() {
        assert_eq!(
            texts("let b = unshare(#{ kinds: [\"net\"] }); // x\nnet::p2p"),
            [
                "let", "b", "=", "unshare", "(", "#{", "kinds", ":", "[", "\"net\"", "]", "}", ")",
                ";", "// x", "net", "::", "p2p"
            ]
        );
    }

    #[test]
    fn unfinished_text_is_not_an_error() {
        assert_eq!(texts("box.run(\"echo"), ["box", ".", "run", "(", "\"echo"]);
        assert_eq!(texts("/* open"), ["/* open"]);
        assert_eq!(texts("\"a\\\"b\" x"), ["\"a\\\"b\"", "x"]);
        assert_eq!(texts("é = 1"), ["é", "=", "1"]);
        assert_eq!(texts("a\0b"), ["a", "\0", "b"]);
    }
}
