//! `*` and `?` wildcards, as IAM policies (actions, resources) and fault rules (stream names)
//! use them. Shared by every layer, so it names none of them.

/// Whether `text` matches `pattern`, where `*` matches any run of characters and `?` any one.
/// Greedy with one backtrack point: at most `pattern.len() × text.len()` steps.
pub fn matches(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let same = |a: char, b: char| if ignore_case { a.to_lowercase().eq(b.to_lowercase()) } else { a == b };
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && same(p[pi], t[ti]))) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn wildcards() {
        assert!(matches("kinesis:Get*", "kinesis:GetRecords", false));
        assert!(matches("kinesis:get*", "kinesis:GetRecords", true));
        assert!(!matches("kinesis:get*", "kinesis:GetRecords", false));
        assert!(matches("*", "", false));
        assert!(matches("a?c", "abc", false));
        assert!(!matches("a?c", "ac", false));
        assert!(matches(
            "arn:aws:kinesis:*:222222222222:stream/*",
            "arn:aws:kinesis:us-east-1:222222222222:stream/s",
            false
        ));
        assert!(!matches(
            "arn:aws:kinesis:*:111111111111:stream/*",
            "arn:aws:kinesis:us-east-1:222222222222:stream/s",
            false
        ));
        assert!(matches("*a*b*c", "xxaxxbxxbxc", false));
        assert!(!matches("*a*b*c", "xxaxxbxxbx", false));
    }

    proptest! {
        #[test]
        fn wildcard_agrees_with_a_regex(pattern in "[ab*?]{0,10}", text in "[ab]{0,12}") {
            let re = format!("^{}$", pattern.chars().map(|c| match c { '*' => ".*".to_owned(), '?' => ".".to_owned(), c => c.to_string() }).collect::<String>());
            let expected = regex::Regex::new(&re).unwrap().is_match(&text);
            prop_assert_eq!(matches(&pattern, &text, false), expected);
        }

        #[test]
        fn wildcard_matching_is_bounded(pattern in "[a*]{0,200}", text in "a{0,2000}b?") {
            // Worst cases for naive backtracking; this must finish quickly whatever the input.
            let _ = matches(&pattern, &text, true);
        }
    }
}
