//! Where the cursor is, as completion needs to know it: after `value.`, after
//! `alias::`, at a key of a primitive's option map, inside `kinds: [ ]`, or anywhere
//! code goes; and which call's parentheses it is in (signature help).

use super::knowledge::Ty;
use super::lex::{Kind, Token};
use super::outline::{property_type, Outline};
use crate::engine::option_keys::{self, OptionKey};

#[derive(Debug, Clone, PartialEq)]
pub enum Context {
    /// Inside a comment, or a string that is not a namespace kind.
    Nothing,
    /// After `value.`, with the value's type when a `let` tells it.
    Member { receiver: Option<Ty> },
    /// After `alias::`.
    Module { alias: String },
    /// A key of an option map, and the keys it already has.
    OptionKey {
        keys: Vec<OptionKey>,
        present: Vec<String>,
    },
    /// An element of `kinds: [ ]` (or `unshare([ ])`); `quoted`: inside its quotes.
    Kind { quoted: bool, present: Vec<String> },
    /// Where a statement or an expression goes.
    Code,
}

/// The context and the byte range of the word being typed (what a completion replaces).
#[derive(Debug, Clone, PartialEq)]
pub struct At {
    pub context: Context,
    pub word: (usize, usize),
}

/// The call whose parentheses hold the cursor: its name, how it is called, and which
/// argument the cursor is in.
#[derive(Debug, Clone, PartialEq)]
pub struct CallSite {
    pub name: String,
    pub receiver: Option<Option<Ty>>,
    pub module: Option<String>,
    pub argument: usize,
}

/// A document's text read once for the cursor: its tokens (with and without comments)
/// and its outline.
pub struct Reading {
    all: Vec<Token>,
    pub code: Vec<Token>,
    pub outline: Outline,
}

impl Reading {
    pub fn of(src: &str) -> Reading {
        let all = super::lex::tokens(src);
        let code = super::lex::code(&all);
        Reading {
            outline: super::outline::outline_of(src, &all, &code),
            all,
            code,
        }
    }

    pub fn reader<'a>(&'a self, src: &'a str) -> Reader<'a> {
        Reader {
            src,
            all: &self.all,
            code: &self.code,
            outline: &self.outline,
        }
    }
}

pub struct Reader<'a> {
    pub src: &'a str,
    pub all: &'a [Token],
    pub code: &'a [Token],
    pub outline: &'a Outline,
}

impl Reader<'_> {
    fn text(&self, i: usize) -> &str {
        self.code.get(i).map_or("", |t| t.text(self.src))
    }

    pub fn at(&self, offset: usize) -> At {
        let empty = At {
            context: Context::Nothing,
            word: (offset, offset),
        };
        if let Some(t) = self
            .all
            .iter()
            .find(|t| t.start < offset && offset <= t.end)
        {
            let open = t.end == offset && !self.closed(t);
            if t.kind == Kind::Comment && (offset < t.end || open) {
                return empty;
            }
            if t.kind == Kind::Str && (offset < t.end || open) {
                let i = self.code.iter().position(|c| c == t).unwrap_or(0);
                return match self.kinds_list(i, Some(i)) {
                    Some(present) => At {
                        context: Context::Kind {
                            quoted: true,
                            present,
                        },
                        word: (t.start + 1, offset),
                    },
                    None => empty,
                };
            }
        }
        // The word being typed, and the tokens before it.
        let typing = self
            .code
            .iter()
            .position(|t| t.kind == Kind::Ident && t.start < offset && offset <= t.end);
        let (before, word) = match typing {
            Some(i) => (i, (self.code[i].start, offset)),
            None => (
                self.code.iter().take_while(|t| t.end <= offset).count(),
                (offset, offset),
            ),
        };
        let context = self.context(before, offset);
        At { context, word }
    }

    /// A string or block comment that has its closing quote or `*/`.
    fn closed(&self, t: &Token) -> bool {
        let text = t.text(self.src);
        match t.kind {
            Kind::Str => {
                text.len() >= 2
                    && text.ends_with(&text[..1])
                    && !text[..text.len() - 1].ends_with('\\')
            }
            Kind::Comment => text.starts_with("/*") && text.len() >= 4 && text.ends_with("*/"),
            _ => true,
        }
    }

    /// The context for a cursor right after the first `before` code tokens.
    fn context(&self, before: usize, offset: usize) -> Context {
        let Some(prev) = before.checked_sub(1) else {
            return Context::Code;
        };
        match self.text(prev) {
            "." => {
                return Context::Member {
                    receiver: prev
                        .checked_sub(1)
                        .and_then(|i| self.type_ending_at(i, offset)),
                }
            }
            "::" if prev > 0 && self.code[prev - 1].kind == Kind::Ident => {
                return Context::Module {
                    alias: self.text(prev - 1).to_string(),
                }
            }
            _ => {}
        }
        let Some(open) = self.unclosed(before) else {
            return Context::Code;
        };
        match self.text(open) {
            "#{" if prev == open || self.text(prev) == "," => match self.map_keys(open) {
                Some(keys) => Context::OptionKey {
                    keys,
                    present: self.keys_present(open),
                },
                None => Context::Code,
            },
            "[" => match self.kinds_list(open + 1, None) {
                Some(present) => Context::Kind {
                    quoted: false,
                    present,
                },
                None => Context::Code,
            },
            _ => Context::Code,
        }
    }

    /// The innermost bracket opened before token `before` and not closed by then.
    fn unclosed(&self, before: usize) -> Option<usize> {
        let mut depth = 0;
        for i in (0..before).rev() {
            match self.text(i) {
                ")" | "]" | "}" => depth += 1,
                "(" | "[" | "{" | "#{" if depth == 0 => return Some(i),
                "(" | "[" | "{" | "#{" => depth -= 1,
                _ => {}
            }
        }
        None
    }

    /// The type of the value the expression ending at token `end` gives.
    fn type_ending_at(&self, end: usize, offset: usize) -> Option<Ty> {
        let t = self.code.get(end)?;
        if t.kind == Kind::Ident {
            let name = t.text(self.src);
            return if end >= 2 && self.text(end - 1) == "." {
                property_type(self.type_ending_at(end - 2, offset)?, name)
            } else {
                self.outline.type_of(name, offset)
            };
        }
        if self.text(end) != ")" {
            return None;
        }
        let open = self.unclosed(end)?;
        let f = open.checked_sub(1)?;
        if self.code[f].kind != Kind::Ident {
            return None;
        }
        let receiver = if f >= 2 && self.text(f - 1) == "." {
            Some(self.type_ending_at(f - 2, offset)?)
        } else {
            None
        };
        Ty::returned_by(self.text(f), receiver)
    }

    /// The keys of the map opened at `open`: a primitive's options, or a nested map's.
    fn map_keys(&self, open: usize) -> Option<Vec<OptionKey>> {
        let owner = open.checked_sub(1)?;
        match self.text(owner) {
            ":" => {
                let key = self.code.get(owner.checked_sub(1)?)?;
                let key = key.unquoted(self.src);
                if let Some(keys) = option_keys::of_nested(key) {
                    return Some(keys.to_vec());
                }
                // limits: #{ io: #{ "/dev/vda": #{ | } } }
                let outer = self.unclosed(owner)?;
                let outer_key = self.text(outer.checked_sub(2)?);
                (self.text(outer) == "#{" && outer_key == "io")
                    .then(|| option_keys::io_keys().to_vec())
            }
            "(" | "," => {
                let paren = if self.text(owner) == "(" {
                    owner
                } else {
                    self.unclosed(owner)?
                };
                let f = paren.checked_sub(1)?;
                (self.text(paren) == "(" && self.code[f].kind == Kind::Ident)
                    .then(|| option_keys::of_primitive(self.text(f)))
                    .flatten()
            }
            _ => None,
        }
    }

    /// The keys a map literal opened at `open` already has.
    fn keys_present(&self, open: usize) -> Vec<String> {
        let close = super::outline::matching(self.code, self.src, open);
        let mut depth = 0;
        let mut keys = Vec::new();
        for i in open + 1..close {
            match self.text(i) {
                "(" | "[" | "{" | "#{" => depth += 1,
                ")" | "]" | "}" => depth -= 1,
                ":" if depth == 0 && i > open + 1 => {
                    keys.push(self.code[i - 1].unquoted(self.src).to_string())
                }
                _ => {}
            }
        }
        keys
    }

    /// For token `i` inside `kinds: [ ... ]` or `unshare([ ... ])`: the kinds listed
    /// (but the one being typed, token `typing`).
    fn kinds_list(&self, i: usize, typing: Option<usize>) -> Option<Vec<String>> {
        let open = self.unclosed(i)?;
        if self.text(open) != "[" {
            return None;
        }
        let owner = self.text(open.checked_sub(1)?);
        let named = open
            .checked_sub(2)
            .map(|k| self.code[k].unquoted(self.src))
            .unwrap_or("");
        let is_kinds = (owner == ":" && named == "kinds") || (owner == "(" && named == "unshare");
        if !is_kinds {
            return None;
        }
        let close = super::outline::matching(self.code, self.src, open);
        Some(
            (open + 1..close.max(open + 1))
                .filter(|j| self.code[*j].kind == Kind::Str && Some(*j) != typing)
                .map(|j| self.code[j].unquoted(self.src).to_string())
                .collect(),
        )
    }

    /// The call whose argument list holds `offset`.
    pub fn call_site(&self, offset: usize) -> Option<CallSite> {
        let before = self.code.iter().take_while(|t| t.start < offset).count();
        let mut depth = 0;
        let mut argument = 0;
        for i in (0..before).rev() {
            match self.text(i) {
                ")" | "]" | "}" => depth += 1,
                "[" | "{" | "#{" if depth == 0 => return None,
                "[" | "{" | "#{" => depth -= 1,
                "(" if depth > 0 => depth -= 1,
                "," if depth == 0 => argument += 1,
                "(" => {
                    let f = i.checked_sub(1)?;
                    let name = self.text(f);
                    if self.code[f].kind != Kind::Ident
                        || ["if", "while", "for", "switch", "fn", "return", "in"].contains(&name)
                        || (f > 0 && self.text(f - 1) == "fn")
                    {
                        return None;
                    }
                    let dot = f > 0 && self.text(f - 1) == ".";
                    let module =
                        (f > 1 && self.text(f - 1) == "::").then(|| self.text(f - 2).to_string());
                    return Some(CallSite {
                        name: name.to_string(),
                        receiver: dot.then(|| {
                            f.checked_sub(2)
                                .and_then(|r| self.type_ending_at(r, offset))
                        }),
                        module,
                        argument,
                    });
                }
                _ => {}
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lsp::lex;
    use crate::lsp::outline::outline;

    /// The context at the `|` of `marked`.
    fn at(marked: &str) -> (Context, String) {
        let offset = marked.find('|').unwrap();
        let src = marked.replacen('|', "", 1);
        let all = lex::tokens(&src);
        let code = lex::code(&all);
        let o = outline(&src);
        let r = Reader {
            src: &src,
            all: &all,
            code: &code,
            outline: &o,
        };
        let a = r.at(offset);
        (a.context, src[a.word.0..a.word.1].to_string())
    }

    fn keys(c: &Context) -> (Vec<&str>, Vec<String>) {
        match c {
            Context::OptionKey { keys, present } => {
                (keys.iter().map(|k| k.name).collect(), present.clone())
            }
            other => panic!("not option keys: {other:?}"),
        }
    }

    #[test]
    fn members_by_the_type_a_let_gave() {
        let (c, word) = at("let box = unshare([\"mount\"]);\nbox.mo|");
        assert_eq!(
            c,
            Context::Member {
                receiver: Some(Ty::Sandbox)
            }
        );
        assert_eq!(word, "mo");
        let (c, _) = at("host().|");
        assert_eq!(
            c,
            Context::Member {
                receiver: Some(Ty::HostNet)
            }
        );
        let (c, _) = at("let n = netns(\"a\");\nn.link(\"x\").|");
        assert_eq!(
            c,
            Context::Member {
                receiver: Some(Ty::Link)
            }
        );
        let (c, _) = at("let v = veth(\"a\", \"b\");\nv.peer.|");
        assert_eq!(
            c,
            Context::Member {
                receiver: Some(Ty::Link)
            }
        );
        let (c, _) = at("x.|");
        assert_eq!(c, Context::Member { receiver: None });
    }

    #[test]
    fn module_functions_after_the_alias() {
        let (c, word) = at("import \"net\" as net;\nnet::|");
        assert_eq!(
            c,
            Context::Module {
                alias: "net".into()
            }
        );
        assert_eq!(word, "");
        let (c, word) = at("net::se|");
        assert_eq!(
            c,
            Context::Module {
                alias: "net".into()
            }
        );
        assert_eq!(word, "se");
    }

    #[test]
    fn option_keys_of_the_primitive_and_nested_maps() {
        let (c, _) = at("unshare(#{ | })");
        assert!(keys(&c).0.contains(&"kinds"));
        let (c, word) = at("unshare(#{ kinds: [\"net\"], map_r| })");
        assert_eq!(word, "map_r");
        assert_eq!(keys(&c).1, ["kinds"]);
        let (c, _) = at("box.run([\"id\"], #{ env: #{}, | })");
        assert!(keys(&c).0.contains(&"cwd"));
        let (c, _) = at("unshare(#{ limits: #{ | } })");
        assert!(keys(&c).0.contains(&"memory"));
        let (c, _) = at("unshare(#{ limits: #{ io: #{ \"/dev/vda\": #{ | } } } })");
        assert!(keys(&c).0.contains(&"read_bps"));
        // A value, not a key.
        assert_eq!(at("unshare(#{ map_root: | })").0, Context::Code);
        assert_eq!(at("let m = #{ | };").0, Context::Code);
    }

    #[test]
    fn namespace_kinds() {
        let (c, _) = at("unshare(#{ kinds: [\"net\", | ] })");
        assert_eq!(
            c,
            Context::Kind {
                quoted: false,
                present: vec!["net".into()]
            }
        );
        let (c, word) = at("unshare([\"mount\", \"pi|\"])");
        assert_eq!(
            c,
            Context::Kind {
                quoted: true,
                present: vec!["mount".into()]
            }
        );
        assert_eq!(word, "pi");
        assert_eq!(at("let s = \"pi|\";").0, Context::Nothing);
        assert_eq!(at("// box.mo|").0, Context::Nothing);
    }

    #[test]
    fn call_sites_count_arguments() {
        let src = "let box = unshare([]);\nbox.mount(\"proc\", \"/proc\", ";
        let all = lex::tokens(src);
        let code = lex::code(&all);
        let o = outline(src);
        let r = Reader {
            src,
            all: &all,
            code: &code,
            outline: &o,
        };
        let site = r.call_site(src.len()).unwrap();
        assert_eq!(site.name, "mount");
        assert_eq!(site.argument, 2);
        assert_eq!(site.receiver, Some(Some(Ty::Sandbox)));
        let inner = "l::lab(f(1, 2), ";
        let all = lex::tokens(inner);
        let code = lex::code(&all);
        let r = Reader {
            src: inner,
            all: &all,
            code: &code,
            outline: &o,
        };
        let site = r.call_site(inner.len()).unwrap();
        assert_eq!(
            (site.name.as_str(), site.argument, site.module.as_deref()),
            ("lab", 1, Some("l"))
        );
        assert!(r.call_site(5).is_none() || r.call_site(5).unwrap().name == "lab");
    }
}
