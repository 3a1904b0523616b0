//! "Did you mean ...?": the known name nearest to a misspelt one.

/// The candidate within a few edits of `name` (about one in four characters), if any.
pub fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a String>) -> Option<String> {
    candidates
        .filter(|c| !c.starts_with("get$") && !c.starts_with("set$") && !c.starts_with("index$"))
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, c)| *d <= 2.max(name.len() / 4) && *d < c.len())
        .min()
        .map(|(_, c)| c.clone())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_names_are_suggested() {
        let names = ["mount".to_string(), "unshare".to_string()];
        assert_eq!(closest("mout", names.iter()), Some("mount".into()));
        assert_eq!(closest("zzzzzz", names.iter()), None);
    }
}
