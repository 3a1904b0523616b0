//! What a recipe or module declares, read from its tokens (so a recipe with a syntax
//! error still has an outline): functions with their `///` documentation, `let`s with
//! the type of value a primitive gave them, and imports.

use super::knowledge::Ty;
use super::lex::{self, Kind, Token};

#[derive(Debug, Clone)]
pub struct FnDef {
    pub name: String,
    pub params: Vec<String>,
    pub doc: String,
    /// Byte ranges: the name, and the whole definition (`fn` to its closing brace).
    pub name_at: (usize, usize),
    pub whole: (usize, usize),
}

#[derive(Debug, Clone)]
pub struct LetDef {
    pub name: String,
    pub name_at: (usize, usize),
    /// The statement, `let` to `;`.
    pub whole: (usize, usize),
    pub constant: bool,
    pub top_level: bool,
    pub ty: Option<Ty>,
}

#[derive(Debug, Clone)]
pub struct Import {
    pub path: String,
    pub alias: String,
    /// The path's string token.
    pub path_at: (usize, usize),
}

#[derive(Debug, Clone, Default)]
pub struct Outline {
    pub functions: Vec<FnDef>,
    pub lets: Vec<LetDef>,
    pub imports: Vec<Import>,
}

impl Outline {
    pub fn function(&self, name: &str) -> Option<&FnDef> {
        self.functions.iter().find(|f| f.name == name)
    }

    /// The type of variable `name` as the last `let` of it before `offset` set it.
    pub fn type_of(&self, name: &str, offset: usize) -> Option<Ty> {
        self.lets
            .iter()
            .rfind(|l| l.name == name && l.name_at.0 < offset)
            .and_then(|l| l.ty)
    }

    pub fn import(&self, alias: &str) -> Option<&Import> {
        self.imports.iter().rfind(|i| i.alias == alias)
    }
}

/// The index of the token closing the bracket opened at `open`, or the last token.
pub fn matching(code: &[Token], src: &str, open: usize) -> usize {
    let mut depth = 0i32;
    for (i, t) in code.iter().enumerate().skip(open) {
        match t.text(src) {
            "(" | "[" | "{" | "#{" => depth += 1,
            ")" | "]" | "}" => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    code.len().saturating_sub(1)
}

pub fn outline(src: &str) -> Outline {
    let all = lex::tokens(src);
    outline_of(src, &all, &lex::code(&all))
}

/// The outline from tokens already read: all of them (for `///` docs) and the code.
pub fn outline_of(src: &str, all: &[Token], code: &[Token]) -> Outline {
    let mut out = Outline::default();
    let mut depth = 0i32;
    let text = |i: usize| code.get(i).map_or("", |t: &Token| t.text(src));
    for i in 0..code.len() {
        match text(i) {
            "{" | "#{" => depth += 1,
            "}" => depth -= 1,
            "fn" if code.get(i + 1).is_some_and(|t| t.kind == Kind::Ident) => {
                out.functions.push(function(src, all, code, i));
            }
            "let" | "const" if code.get(i + 1).is_some_and(|t| t.kind == Kind::Ident) => {
                let name = code[i + 1];
                let end = (i..code.len()).find(|j| text(*j) == ";");
                out.lets.push(LetDef {
                    name: name.text(src).to_string(),
                    name_at: (name.start, name.end),
                    whole: (code[i].start, end.map_or(name.end, |j| code[j].end)),
                    constant: text(i) == "const",
                    top_level: depth == 0,
                    ty: if text(i + 2) == "=" {
                        value_type(src, &code[i + 3..], &out)
                    } else {
                        None
                    },
                });
            }
            "import"
                if code.get(i + 1).is_some_and(|t| t.kind == Kind::Str)
                    && text(i + 2) == "as"
                    && code.get(i + 3).is_some_and(|t| t.kind == Kind::Ident) =>
            {
                let p = code[i + 1];
                out.imports.push(Import {
                    path: p.unquoted(src).to_string(),
                    alias: text(i + 3).to_string(),
                    path_at: (p.start, p.end),
                });
            }
            _ => {}
        }
    }
    out
}

fn function(src: &str, all: &[Token], code: &[Token], i: usize) -> FnDef {
    let name = code[i + 1];
    let mut params = Vec::new();
    let mut j = i + 2;
    if code.get(j).is_some_and(|t| t.is(src, "(")) {
        j += 1;
        while let Some(t) = code.get(j) {
            match t.text(src) {
                ")" => break,
                "," => {}
                p if t.kind == Kind::Ident => params.push(p.to_string()),
                _ => {}
            }
            j += 1;
        }
    }
    let body = (j..code.len()).find(|k| code[*k].is(src, "{"));
    let end = body.map_or(name.end, |b| code[matching(code, src, b)].end);
    let private = i > 0 && code[i - 1].is(src, "private");
    let start = if private {
        code[i - 1].start
    } else {
        code[i].start
    };
    FnDef {
        name: name.text(src).to_string(),
        params,
        doc: doc_before(src, all, start),
        name_at: (name.start, name.end),
        whole: (start, end),
    }
}

/// The `///` lines right above the token at `start`.
fn doc_before(src: &str, all: &[Token], start: usize) -> String {
    let Some(at) = all.iter().position(|t| t.start == start) else {
        return String::new();
    };
    let mut lines = Vec::new();
    for t in all[..at].iter().rev() {
        let text = t.text(src);
        match text.strip_prefix("///") {
            Some(d) if t.kind == Kind::Comment => {
                lines.push(d.strip_prefix(' ').unwrap_or(d).to_string())
            }
            _ => break,
        }
    }
    lines.reverse();
    lines.join("\n")
}

/// The type of the value an expression starting at `rest` gives, when a primitive makes
/// it: `unshare(...)`, `netns("a")`, `host()`, `x.link("eth0")`, `a.up()`, `b` (a
/// variable of a known type).
fn value_type(src: &str, rest: &[Token], known: &Outline) -> Option<Ty> {
    let first = rest.first()?;
    if first.kind != Kind::Ident {
        return None;
    }
    let text = |i: usize| rest.get(i).map_or("", |t| t.text(src));
    let mut ty = if text(1) == "(" {
        Ty::returned_by(first.text(src), None)?
    } else {
        known.type_of(first.text(src), first.start)?
    };
    // Follow a chain of method calls: `host().link("eth0").up()`.
    let mut i = if text(1) == "(" {
        matching(rest, src, 1) + 1
    } else {
        1
    };
    while text(i) == "." {
        if text(i + 2) == "(" {
            ty = Ty::returned_by(text(i + 1), Some(ty))?;
            i = matching(rest, src, i + 2) + 1;
        } else {
            ty = property_type(ty, text(i + 1))?;
            i += 2;
        }
    }
    Some(ty)
}

/// The type of `value.NAME`, when nsr's types know it (`pair.host` is a link).
pub fn property_type(ty: Ty, name: &str) -> Option<Ty> {
    ty.properties()
        .iter()
        .find(|(n, _, _)| *n == name)
        .and_then(|(_, _, t)| *t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_functions_lets_and_imports() {
        let src = "import \"net\" as net;\n/// Makes a lab.\n/// Of N hosts.\nfn lab(n, prefix) {\n  let inner = 1;\n}\nprivate fn hidden() {}\nlet box = unshare([\"net\"]);\nconst ns = netns(\"a\");\nlet eth = box.link(\"eth0\").up();\nlet h = host();\nlet copy = box;\nlet other = 5;\nlet end = veth(\"a\", \"b\").peer;";
        let o = outline(src);
        assert_eq!(o.functions.len(), 2);
        assert_eq!(o.functions[0].name, "lab");
        assert_eq!(o.functions[0].params, ["n", "prefix"]);
        assert_eq!(o.functions[0].doc, "Makes a lab.\nOf N hosts.");
        assert!(o.functions[1].whole.0 < src.find("hidden").unwrap() - 4);
        assert_eq!(o.imports[0].path, "net");
        assert_eq!(o.imports[0].alias, "net");
        let ty = |n: &str| o.type_of(n, src.len());
        assert_eq!(ty("box"), Some(Ty::Sandbox));
        assert_eq!(ty("ns"), Some(Ty::Netns));
        assert_eq!(ty("eth"), Some(Ty::Link));
        assert_eq!(ty("h"), Some(Ty::HostNet));
        assert_eq!(ty("copy"), Some(Ty::Sandbox));
        assert_eq!(ty("other"), None);
        assert_eq!(ty("end"), Some(Ty::Link));
        let inner = o.lets.iter().find(|l| l.name == "inner").unwrap();
        assert!(!inner.top_level);
        assert!(o.lets.iter().find(|l| l.name == "box").unwrap().top_level);
    }
}
