//! Tiny glob for root-file patterns (`README*`, `LICENSE*`): `*` and `?` only.

pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matcher with one backtrack point: linear enough for short names.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn basics() {
        assert!(glob_match("README*", "README"));
        assert!(glob_match("README*", "README.md"));
        assert!(!glob_match("README*", "XREADME"));
        assert!(glob_match("participants.tsv", "participants.tsv"));
        assert!(!glob_match("participants.tsv", "participants.tsvx"));
        assert!(glob_match("*.json", "a.json"));
        assert!(glob_match("a?c", "abc"));
        assert!(glob_match("*a*b*", "xxaybz"));
        assert!(!glob_match("*a*b", "xxaybz"));
    }
}
