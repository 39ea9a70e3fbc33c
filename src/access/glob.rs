//! IAM's wildcard patterns: `*` (any run of characters, possibly empty) and `?` (exactly one),
//! with policy variables (`${aws:username}`) where the policy language allows them.
//!
//! A pattern is matched by simulating its automaton (a set of positions in the pattern), so
//! time is `O(len(pattern) × len(text))` whatever the input, never exponential. Two questions
//! are answered:
//! - does the pattern match a given string ([`Glob::matches`]);
//! - how much of "every string that starts with this prefix and goes on" it matches
//!   ([`Glob::covers_extensions`]): the objects under an S3 folder, or every action of a
//!   service (`kms:` followed by anything).
//!
//! A policy variable's value is not known statically: a match that needs one is
//! [`Cover::Maybe`], never a sure match.

use serde::Serialize;

/// How much of a set of strings a pattern matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cover {
    /// None of them.
    None,
    /// Some of them, or possibly all (a policy variable decides).
    Maybe,
    /// Every one of them.
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `?`
    One,
    /// `*`
    Many,
    /// `${…}`: matches some string not known here.
    Var,
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    toks: Vec<Tok>,
    fold_case: bool,
}

/// Which wildcards a pattern's text uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// `*` and `?`, and `${…}` policy variables (policy language version 2012-10-17), with
    /// the escapes `${*}`, `${?}` and `${$}` for the literal characters.
    Policy { variables: bool },
    /// `*` only, everything else literal (the allow-list's role and session names).
    StarOnly,
}

impl Glob {
    /// Compiles `text`; with `fold_case` both the pattern and the matched strings compare
    /// ASCII case-insensitively (IAM action names).
    pub fn new(text: &str, syntax: Syntax, fold_case: bool) -> Glob {
        let chars: Vec<char> = text.chars().collect();
        let mut toks = Vec::with_capacity(chars.len());
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            match (syntax, c) {
                (_, '*') => toks.push(Tok::Many),
                (Syntax::Policy { .. }, '?') => toks.push(Tok::One),
                (Syntax::Policy { variables: true }, '$') if chars.get(i + 1) == Some(&'{') => {
                    if let Some(end) = chars[i + 2..].iter().position(|&c| c == '}') {
                        let name: String = chars[i + 2..i + 2 + end].iter().collect();
                        toks.push(match name.as_str() {
                            "*" => Tok::Lit('*'),
                            "?" => Tok::Lit('?'),
                            "$" => Tok::Lit('$'),
                            _ => Tok::Var,
                        });
                        i += end + 3;
                        continue;
                    }
                    toks.push(Tok::Lit(c));
                }
                _ => toks.push(Tok::Lit(fold(c, fold_case))),
            }
            i += 1;
        }
        Glob { toks, fold_case }
    }

    /// Whether the pattern has a policy variable (its matches are never sure).
    pub fn has_variable(&self) -> bool {
        self.toks.contains(&Tok::Var)
    }

    /// Whether the pattern matches `text`: [`Cover::All`] (surely), [`Cover::Maybe`] (only
    /// if a policy variable has the right value) or [`Cover::None`].
    pub fn matches(&self, text: &str) -> Cover {
        let n = self.toks.len();
        if self.run(text, true)[n] {
            Cover::All
        } else if self.run(text, false)[n] {
            Cover::Maybe
        } else {
            Cover::None
        }
    }

    /// How much of `{prefix + s : s non-empty}` the pattern matches.
    pub fn covers_extensions(&self, prefix: &str) -> Cover {
        let n = self.toks.len();
        // Any position short of the end can still consume a non-empty rest and match.
        if !self.run(prefix, false)[..n].iter().any(|&b| b) {
            return Cover::None;
        }
        // Every non-empty rest is matched for sure only by tails made of `?` and `*` alone:
        // a tail with a literal misses rests built from characters it does not name. A tail
        // with k `?` and a `*` matches every length >= k, one without a `*` exactly k.
        let sure = self.run(prefix, true);
        let mut exact = Vec::new();
        let mut from: Option<usize> = None;
        for i in (0..n).filter(|&i| sure[i]) {
            let tail = &self.toks[i..];
            if tail.iter().all(|t| matches!(t, Tok::One | Tok::Many)) {
                let k = tail.iter().filter(|t| **t == Tok::One).count();
                if tail.contains(&Tok::Many) {
                    from = Some(from.map_or(k, |f| f.min(k)));
                } else {
                    exact.push(k);
                }
            }
        }
        match from {
            Some(m) if (1..m).all(|len| exact.contains(&len)) => Cover::All,
            _ => Cover::Maybe,
        }
    }

    /// The positions reachable after reading `text`; with `sure`, no path through a policy
    /// variable counts.
    fn run(&self, text: &str, sure: bool) -> Vec<bool> {
        let n = self.toks.len();
        let mut set = vec![false; n + 1];
        set[0] = true;
        self.close(&mut set, sure);
        for c in text.chars().map(|c| fold(c, self.fold_case)) {
            let mut next = vec![false; n + 1];
            for i in (0..n).filter(|&i| set[i]) {
                match self.toks[i] {
                    Tok::Lit(l) if l == c => next[i + 1] = true,
                    Tok::One => next[i + 1] = true,
                    Tok::Many => next[i] = true,
                    Tok::Var if !sure => next[i] = true,
                    _ => {}
                }
            }
            self.close(&mut next, sure);
            if !next.iter().any(|&b| b) {
                return next;
            }
            set = next;
        }
        set
    }

    /// `*` (and a variable) may match nothing: its position also reaches the next one.
    fn close(&self, set: &mut [bool], sure: bool) {
        for i in 0..self.toks.len() {
            if set[i] && (self.toks[i] == Tok::Many || (self.toks[i] == Tok::Var && !sure)) {
                set[i + 1] = true;
            }
        }
    }
}

fn fold(c: char, fold_case: bool) -> char {
    if fold_case { c.to_ascii_lowercase() } else { c }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(p: &str) -> Glob {
        Glob::new(p, Syntax::Policy { variables: true }, false)
    }

    #[test]
    fn star_and_question_mark() {
        let cases = [
            ("*", "", Cover::All),
            ("*", "anything/at:all", Cover::All),
            ("s3:Get*", "s3:GetObject", Cover::All),
            ("s3:Get*", "s3:PutObject", Cover::None),
            ("kms:?ecrypt", "kms:Decrypt", Cover::All),
            ("kms:?ecrypt", "kms:ecrypt", Cover::None),
            ("a*b*c", "aXXbYYc", Cover::All),
            ("a*b*c", "aXXbYY", Cover::None),
            ("exact", "exactly", Cover::None),
        ];
        for (p, s, want) in cases {
            assert_eq!(policy(p).matches(s), want, "{p} ~ {s}");
        }
    }

    #[test]
    fn action_names_fold_case() {
        let g = Glob::new("KMS:decrypt", Syntax::Policy { variables: false }, true);
        assert_eq!(g.matches("kms:Decrypt"), Cover::All);
        let g = Glob::new(
            "arn:aws:s3:::B/*",
            Syntax::Policy { variables: false },
            false,
        );
        assert_eq!(
            g.matches("arn:aws:s3:::b/x"),
            Cover::None,
            "resources keep case"
        );
    }

    #[test]
    fn policy_variables_are_never_sure() {
        let g = policy("arn:aws:s3:::b/${aws:username}/*");
        assert!(g.has_variable());
        assert_eq!(g.matches("arn:aws:s3:::b/alice/x"), Cover::Maybe);
        assert_eq!(g.matches("arn:aws:s3:::c/alice/x"), Cover::None);
        // Escapes are literal characters, not wildcards.
        let g = policy("a${*}b${?}c${$}");
        assert!(!g.has_variable());
        assert_eq!(g.matches("a*b?c$"), Cover::All);
        assert_eq!(g.matches("aXbYc$"), Cover::None);
        // Version 2008-10-17 has no variables: `${…}` is literal text.
        let g = Glob::new("${x}", Syntax::Policy { variables: false }, false);
        assert_eq!(g.matches("${x}"), Cover::All);
    }

    #[test]
    fn coverage_of_a_folder() {
        let folder = "arn:aws:s3:::b/secure/results/JOB/";
        let cases = [
            ("*", Cover::All),
            ("arn:aws:s3:::b/*", Cover::All),
            ("arn:aws:s3:::b/secure/*", Cover::All),
            ("arn:aws:s3:::b/secure/results/JOB/*", Cover::All),
            ("arn:aws:s3:::b/secure/results/JOB/?*", Cover::All),
            ("arn:aws:s3:::b/secure/results/JOB/1", Cover::Maybe),
            ("arn:aws:s3:::b/secure/results/JOB/*.json", Cover::Maybe),
            ("arn:aws:s3:::b/secure/results/JOB/??*", Cover::Maybe),
            ("arn:aws:s3:::b/*/JOB/*", Cover::All),
            ("arn:aws:s3:::b/other/*", Cover::None),
            ("arn:aws:s3:::b", Cover::None),
            ("arn:aws:s3:::b/secure/results/JOB/", Cover::None),
            ("arn:aws:s3:::b/${aws:username}/*", Cover::Maybe),
            (
                "arn:aws:s3:::b/secure/results/JOB/${aws:username}",
                Cover::Maybe,
            ),
        ];
        for (p, want) in cases {
            assert_eq!(policy(p).covers_extensions(folder), want, "{p}");
        }
    }

    #[test]
    fn coverage_unions_exact_lengths() {
        // `*?`: the `*` can stop before the `?` (length 1) or run on (any longer rest).
        let g = policy("p/*?");
        assert_eq!(g.covers_extensions("p/"), Cover::All);
        let g = Glob::new("kms:*", Syntax::Policy { variables: false }, true);
        assert_eq!(g.covers_extensions("kms:"), Cover::All);
        assert_eq!(g.covers_extensions("s3:"), Cover::None);
    }

    #[test]
    fn star_only_syntax_keeps_question_marks_literal() {
        let g = Glob::new("Reader-?", Syntax::StarOnly, false);
        assert_eq!(g.matches("Reader-1"), Cover::None);
        assert_eq!(g.matches("Reader-?"), Cover::All);
        assert_eq!(
            Glob::new("Reader-*", Syntax::StarOnly, false).matches("Reader-1"),
            Cover::All
        );
    }

    #[test]
    fn long_hostile_patterns_stay_linear() {
        let p = "*a".repeat(500);
        let s = "a".repeat(5_000) + "b";
        assert_eq!(policy(&p).matches(&s), Cover::None);
    }
}
