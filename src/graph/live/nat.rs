//! The rules of nsr's nft tables that the journal names, as nft lists them now (by
//! handle: a rule deleted by hand is not drawn).

use super::journal::{NatRecord, Touched};
use super::seen::Seen;
use crate::graph::model::{nat_kind_of_chain, nat_summary, Nat};
use crate::net::nft;
use std::collections::{BTreeSet, HashMap};

pub fn rules(s: &Seen, touched: &[&Touched]) -> Vec<Nat> {
    let recorded: Vec<&NatRecord> = touched.iter().flat_map(|t| t.rules.iter()).collect();
    let mut listed: HashMap<&str, Vec<(String, u64, String)>> = HashMap::new();
    for (table, _) in &recorded {
        if !listed.contains_key(table.as_str()) {
            let text = nft::run(
                &s.fd,
                s.user.as_ref(),
                &["-a", "list", "table", "inet", table],
                "",
            )
            .unwrap_or_default();
            listed.insert(table, table_rules(&text));
        }
    }
    // Handles count per table.
    let claimed: BTreeSet<(&str, u64)> = recorded
        .iter()
        .flat_map(|(t, r)| r.iter().flatten().map(move |(_, h)| (t.as_str(), *h)))
        .collect();
    recorded
        .into_iter()
        .filter_map(|(table, rules)| {
            let in_table = &listed[table.as_str()];
            let mine: Vec<&(String, u64, String)> = in_table
                .iter()
                .filter(|(_, h, _)| match rules {
                    Some(r) => r.iter().any(|(_, rh)| rh == h),
                    None => !claimed.contains(&(table.as_str(), *h)),
                })
                .collect();
            let kind = nat_kind_of_chain(&mine.first()?.0);
            let texts: Vec<String> = mine.iter().map(|(_, _, t)| t.clone()).collect();
            Some(Nat {
                kind: kind.into(),
                summary: nat_summary(kind, &texts),
                rules: texts,
            })
        })
        .collect()
}

/// (chain, handle, rule) of each rule in `nft -a list table`'s output.
fn table_rules(listing: &str) -> Vec<(String, u64, String)> {
    let mut chain = String::new();
    let mut out = Vec::new();
    for l in listing.lines().map(str::trim) {
        if let Some(rest) = l.strip_prefix("chain ") {
            chain = rest.split_whitespace().next().unwrap_or("").to_string();
            continue;
        }
        let Some((rule, h)) = l.rsplit_once(" # handle ") else {
            continue;
        };
        if rule.ends_with('{') || rule.starts_with("type ") || rule.is_empty() {
            continue;
        }
        if let Ok(h) = h.trim().parse() {
            out.push((chain.clone(), h, normalize(rule)));
        }
    }
    out
}

/// nft's listing of a rule without its counters' values.
fn normalize(rule: &str) -> String {
    let words: Vec<&str> = rule.split_whitespace().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        out.push(words[i]);
        if words[i] == "counter" && words.get(i + 1) == Some(&"packets") {
            i += 5;
        } else {
            i += 1;
        }
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_rule_with_its_chain_and_handle_without_counter_values() {
        let listing = "table inet nsr_42 { # handle 7
	chain postrouting { # handle 1
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr 10.0.0.0/24 oifname \"wan0\" masquerade # handle 3
	}
	chain forward { # handle 2
		type filter hook forward priority filter; policy accept;
		iifname \"a\" oifname \"b\" counter packets 12 bytes 3456 accept # handle 4
	}
}
";
        assert_eq!(
            table_rules(listing),
            [
                (
                    "postrouting".to_string(),
                    3,
                    "ip saddr 10.0.0.0/24 oifname \"wan0\" masquerade".to_string()
                ),
                (
                    "forward".to_string(),
                    4,
                    "iifname \"a\" oifname \"b\" counter accept".to_string()
                ),
            ]
        );
    }
}
