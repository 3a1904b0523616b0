//! The arguments a recipe writes out whole, checked as the primitives would check them
//! when they run, without running anything: an option map's keys (each unknown key
//! located on itself, with the nearest known one), the values the converters refuse (a
//! namespace kind, capability or syscall that does not exist), interface names over 15
//! bytes, addresses that do not parse and route destinations with host bits set.

use super::error::{origin_at, RecipeError};
use super::option_keys;
use crate::ops::cidr::IpCidr;
use crate::ops::names::check_ifname;
use rhai::{ASTNode, Dynamic, Expr, FnCallExpr, Map, Position, AST};

pub(super) fn bad_literals(ast: &AST, file: &str) -> Vec<RecipeError> {
    let mut errors = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        let (call, method) = match path.last() {
            Some(ASTNode::Expr(Expr::FnCall(f, _))) => (f, false),
            Some(ASTNode::Expr(Expr::MethodCall(f, _))) => (f, true),
            _ => return true,
        };
        if call.is_qualified() {
            return true;
        }
        let mut found = |pos: Position, message: String, hint: Option<String>| {
            errors.push(RecipeError::Script {
                origin: origin_at(file, pos),
                message,
                hint,
            })
        };
        let unknown = unknown_keys(call, &mut found);
        if !unknown {
            if let Some((arg, e)) = refused_options(call, method) {
                found(locate(arg, &e), format!("{}: {e}", call.name), None);
            }
        }
        for (arg, e) in bad_strings(call, method) {
            found(arg.position(), format!("{}: {e}", call.name), None);
        }
        true
    });
    errors
}

/// Keys of an option map the primitive does not take; true when there were any.
fn unknown_keys(
    call: &FnCallExpr,
    found: &mut impl FnMut(Position, String, Option<String>),
) -> bool {
    let Some(known) = option_keys::of_primitive(&call.name) else {
        return false;
    };
    let names: Vec<String> = known.iter().map(|k| k.name.to_string()).collect();
    let mut any = false;
    for arg in call.args.iter() {
        let Expr::Map(map, _) = arg else { continue };
        for (key, _) in map.0.iter() {
            if !names.iter().any(|n| n == key.name.as_str()) {
                any = true;
                let hint = super::closest::closest(&key.name, names.iter())
                    .map(|near| format!("did you mean {near}?"));
                found(
                    key.pos,
                    format!(
                        "unknown option '{}' for {} (known: {})",
                        key.name,
                        call.name,
                        names.join(", ")
                    ),
                    hint,
                );
            }
        }
    }
    any
}

fn literal_str(e: &Expr) -> Option<String> {
    match e {
        Expr::StringConstant(s, _) => Some(s.to_string()),
        _ => None,
    }
}

fn literal_map(e: &Expr) -> Option<Map> {
    e.get_literal_value(None)
        .and_then(|v: Dynamic| v.try_cast::<Map>())
}

/// An option map (and the arguments beside it) written out whole that the primitive's
/// converter refuses: the map's expression and the converter's message.
fn refused_options(call: &FnCallExpr, method: bool) -> Option<(&Expr, String)> {
    use super::convert;
    let args = &call.args;
    let (arg, result) = match (call.name.as_str(), method, args.len()) {
        ("unshare", false, 1) => {
            let m = literal_map(&args[0])?;
            let r = convert::sandbox_spec(&m)
                .and_then(|_| super::pasta_options::of_unshare(&m))
                .map(|_| ());
            (&args[0], r)
        }
        ("run" | "exec", true, 2) => {
            let m = literal_map(&args[1])?;
            (
                &args[1],
                convert::run_spec(&Dynamic::from("true"), &m).map(|_| ()),
            )
        }
        ("mount", true, 4) => {
            let m = literal_map(&args[3])?;
            let (s, t, f) = (
                literal_str(&args[0])?,
                literal_str(&args[1])?,
                literal_str(&args[2])?,
            );
            (&args[3], convert::mount_spec(&s, &t, &f, &m).map(|_| ()))
        }
        ("route", _, 2) => {
            let m = literal_map(&args[1])?;
            let dest = literal_str(&args[0])?;
            (&args[1], convert::route_spec(&dest, &m).map(|_| ()))
        }
        ("port_forward", _, 1) => {
            let m = literal_map(&args[0])?;
            (&args[0], convert::port_forward_rule(&m).map(|_| ()))
        }
        ("vxlan", _, 2) => {
            let mut m = literal_map(&args[1])?;
            // Its value is a namespace, which only a run knows.
            m.remove("ns");
            (&args[1], convert::vxlan_spec(&m).map(|_| ()))
        }
        ("pasta", true, 1) => {
            let m = literal_map(&args[0])?;
            (&args[0], super::pasta_options::of_method(&m).map(|_| ()))
        }
        _ => return None,
    };
    result.err().map(|e| (arg, e))
}

/// Interface names, addresses and route destinations written as strings that the
/// kernel (or nsr before it) would refuse.
fn bad_strings<'a>(call: &'a FnCallExpr, method: bool) -> Vec<(&'a Expr, String)> {
    let args = &call.args;
    let s = |i: usize| args.get(i).and_then(literal_str);
    let mut out = Vec::new();
    let ifname = |i: usize, out: &mut Vec<(&'a Expr, String)>| {
        if let Some(name) = s(i) {
            if let Err(e) = check_ifname(&name) {
                out.push((&args[i], e));
            }
        }
    };
    match (call.name.as_str(), method, args.len()) {
        ("veth", _, 2 | 3) => {
            ifname(0, &mut out);
            ifname(1, &mut out);
        }
        ("bridge" | "link" | "up" | "down", _, 1) | ("mtu", true, 2) | ("vxlan", _, 2) => {
            ifname(0, &mut out)
        }
        ("forward", _, 2) => {
            ifname(0, &mut out);
            ifname(1, &mut out);
        }
        ("masquerade", _, 2) => ifname(1, &mut out),
        ("addr", true, 2 | 3) if s(1).is_some() => {
            ifname(0, &mut out);
            if let Err(e) = IpCidr::parse(&s(1).unwrap_or_default()) {
                out.push((&args[1], e));
            }
        }
        ("route", _, 2) => {
            if let Some(dest) = s(0) {
                if let Err(e) = IpCidr::parse_destination(&dest) {
                    out.push((&args[0], e));
                }
            }
        }
        _ => {}
    }
    out
}

/// The most specific place an option map's error is about: the string or key the
/// message quotes, else the value of the key it names first, else the map.
fn locate(map: &Expr, message: &str) -> Position {
    let quoted: Vec<&str> = message
        .split(['\'', '"'])
        .skip(1)
        .step_by(2)
        .filter(|q| !q.is_empty())
        .collect();
    let mut quoted_at: Option<Position> = None;
    let mut named_at: Option<Position> = None;
    map.walk(&mut Vec::new(), &mut |path: &[ASTNode]| {
        match path.last() {
            Some(ASTNode::Expr(Expr::StringConstant(s, pos))) if quoted.contains(&s.as_str()) => {
                quoted_at = quoted_at.or(Some(*pos));
            }
            Some(ASTNode::Expr(Expr::Map(m, _))) => {
                for (key, value) in m.0.iter() {
                    if quoted.contains(&key.name.as_str()) {
                        quoted_at = quoted_at.or(Some(key.pos));
                    } else if message.starts_with(key.name.as_str()) {
                        named_at = named_at.or(Some(value.position()));
                    }
                }
            }
            _ => {}
        }
        quoted_at.is_none()
    });
    quoted_at.or(named_at).unwrap_or_else(|| map.position())
}
