//! Stage 1b (trail files): the fast proof that a file the prefilter skips is a whole log
//! file, without serde.
//!
//! [`is_plain_log_file`] answers `true` only for text that serde_json would read as a
//! `{"Records": [ {…}, … ]}` log file: one top-level object, exactly one `Records` key (written
//! without escapes), an array of objects, every value valid JSON (RFC 8259 strings, numbers
//! and literals; no control characters in strings; valid escapes), nothing after the object
//! but whitespace. It may answer `false` for valid files it does not handle (escaped
//! top-level keys, for one): the caller then lets serde_json decide and name the defect, so
//! this is a shortcut for the common case, never a second opinion.

use memchr::memchr2;

/// Whether `text` is certainly a log file serde_json reads (see the module docs).
pub(crate) fn is_plain_log_file(text: &str) -> bool {
    let b = text.as_bytes();
    // No control byte anywhere (CloudTrail writes one line): strings need no check of
    // their own. Otherwise every string is checked.
    let controls = b.iter().fold(false, |any, &c| any | (c < 0x20));
    let mut cur = Cursor { b, i: 0, controls };
    cur.log_file().is_some()
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
    controls: bool,
}

const OBJECT: bool = true;
const ARRAY: bool = false;

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// `{ ws "Records" ws : ws [ objects ] (, other members)* }` ws EOF.
    fn log_file(&mut self) -> Option<()> {
        self.eat(b'{')?;
        let mut records = 0;
        self.ws();
        if self.peek()? != b'}' {
            loop {
                self.ws();
                let key = self.string()?;
                if key.contains(&b'\\') {
                    return None;
                }
                self.eat(b':')?;
                if key == b"Records" {
                    records += 1;
                    self.records()?;
                } else {
                    self.value()?;
                }
                self.ws();
                match self.peek()? {
                    b',' => self.i += 1,
                    b'}' => break,
                    _ => return None,
                }
            }
        }
        self.i += 1;
        self.ws();
        (records == 1 && self.i == self.b.len()).then_some(())
    }

    /// `[ ws ]` or `[ {…} (, {…})* ]`.
    fn records(&mut self) -> Option<()> {
        self.eat(b'[')?;
        self.ws();
        if self.peek()? == b']' {
            self.i += 1;
            return Some(());
        }
        loop {
            self.ws();
            if self.peek()? != b'{' {
                return None;
            }
            self.value()?;
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A string at the cursor (after whitespace); returns its raw contents.
    fn string(&mut self) -> Option<&'a [u8]> {
        if self.peek()? != b'"' {
            return None;
        }
        self.i += 1;
        let start = self.i;
        loop {
            let rest = &self.b[self.i..];
            let at = memchr2(b'"', b'\\', rest)?;
            if self.controls && rest[..at].iter().any(|&c| c < 0x20) {
                return None;
            }
            self.i += at;
            if self.b[self.i] == b'"' {
                self.i += 1;
                let b: &'a [u8] = self.b;
                return Some(&b[start..self.i - 1]);
            }
            match *self.b.get(self.i + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 2,
                b'u' => {
                    let hex = self.b.get(self.i + 2..self.i + 6)?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return None;
                    }
                    self.i += 6;
                }
                _ => return None,
            }
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            self.some_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            self.some_digits()?;
        }
        Some(())
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
    }

    fn some_digits(&mut self) -> Option<()> {
        let start = self.i;
        self.digits();
        (self.i > start).then_some(())
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.b[self.i..]
            .starts_with(word)
            .then(|| self.i += word.len())
    }

    /// One JSON value, nesting handled with an explicit stack (no recursion limit to hit,
    /// as serde_json's skipping of raw values has none).
    fn value(&mut self) -> Option<()> {
        let mut stack: Vec<bool> = Vec::new();
        loop {
            // A value starts here.
            self.ws();
            match self.peek()? {
                b'{' => {
                    self.i += 1;
                    self.ws();
                    if self.peek()? == b'}' {
                        self.i += 1;
                    } else {
                        stack.push(OBJECT);
                        self.string()?;
                        self.eat(b':')?;
                        continue;
                    }
                }
                b'[' => {
                    self.i += 1;
                    self.ws();
                    if self.peek()? == b']' {
                        self.i += 1;
                    } else {
                        stack.push(ARRAY);
                        continue;
                    }
                }
                b'"' => {
                    self.string()?;
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                _ => self.number()?,
            }
            // A value ended: close what it ends, or start the next member or element.
            loop {
                let Some(&top) = stack.last() else {
                    return Some(());
                };
                self.ws();
                match (self.peek()?, top) {
                    (b',', OBJECT) => {
                        self.i += 1;
                        self.ws();
                        self.string()?;
                        self.eat(b':')?;
                        break;
                    }
                    (b',', ARRAY) => {
                        self.i += 1;
                        break;
                    }
                    (b'}', OBJECT) | (b']', ARRAY) => {
                        self.i += 1;
                        stack.pop();
                    }
                    _ => return None,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the scanner's serde path accepts, for comparison.
    fn serde_accepts(text: &str) -> bool {
        #[derive(serde::Deserialize)]
        struct File<'a> {
            #[serde(borrow, rename = "Records")]
            records: Vec<&'a serde_json::value::RawValue>,
        }
        serde_json::from_str::<File>(text)
            .is_ok_and(|f| f.records.iter().all(|r| r.get().starts_with('{')))
    }

    #[test]
    fn accepts_log_files_and_refuses_what_is_not_one() {
        let good = [
            r#"{"Records":[]}"#,
            " {\n\"Records\" : [ {} , {\"a\":[1,-2.5e+3,0,true,false,null,\"x\\\"\\u00e9\\/\"],\"b\":{}} ] }\n",
            r#"{"x":1,"Records":[{"k":"v"}],"y":[[],[{}]]}"#,
            r#"{"Records":[{"n":-0.0,"m":1E5,"o":0e-1}]}"#,
        ];
        for t in good {
            assert!(is_plain_log_file(t), "{t}");
            assert!(serde_accepts(t), "{t}");
        }
        let bad = [
            "",
            "{}",
            r#"{"Records":5}"#,
            r#"{"Records":[5]}"#,
            r#"{"Records":[{}],"Records":[]}"#,
            r#"{"Records":[{}]} x"#,
            r#"{"Records":[{}],}"#,
            r#"{"Records":[{},]}"#,
            r#"{"Records":[{"a":01}]}"#,
            r#"{"Records":[{"a":1.}]}"#,
            r#"{"Records":[{"a":.5}]}"#,
            r#"{"Records":[{"a":-}]}"#,
            r#"{"Records":[{"a":tru}]}"#,
            r#"{"Records":[{"a":"\x"}]}"#,
            r#"{"Records":[{"a":"\u12"}]}"#,
            "{\"Records\":[{\"a\":\"tab\there\"}]}",
            r#"{"Records":[{"a" 1}]}"#,
            r#"{"Records":[{"a":1 "b":2}]}"#,
            r#"{"Records":[{"a":[1,2}]}"#,
            r#"{"Records":[{"a":{"b":1]}]}"#,
            r#"{"Records":[{1:2}]}"#,
            r#"{"Records":[{"a":1}"#,
            r#"{"Records":[{"a":"1}]}"#,
            r#"[{"Records":[]}]"#,
        ];
        for t in bad {
            assert!(!is_plain_log_file(t), "{t}");
        }
        // Escaped top-level keys are valid but left to serde_json.
        assert!(!is_plain_log_file(r#"{"\u0052ecords":[]}"#));
        assert!(serde_accepts(r#"{"\u0052ecords":[]}"#));
    }

    /// Whatever the shortcut accepts, serde_json accepts: every single-byte deletion,
    /// duplication and replacement of a log file with every JSON construct.
    #[test]
    fn never_accepts_what_serde_json_refuses() {
        let base = r#"{"v":"1.0","Records":[{"a":[1,-2.5e+3,0,true,false,null],"s":"x\"\u00e9\/\\","o":{"p":{}},"q":[]},{}]}"#;
        let alphabet = b"{}[],:\"\\/u0123456789.eE+-tfnlrsaxe \t\n\x01";
        let (mut tried, mut accepted) = (0, 0);
        let mut check = |t: Vec<u8>| {
            if let Ok(t) = String::from_utf8(t) {
                tried += 1;
                if is_plain_log_file(&t) {
                    accepted += 1;
                    assert!(serde_accepts(&t), "accepted what serde_json refuses: {t}");
                }
            }
        };
        let b = base.as_bytes();
        for at in 0..b.len() {
            check([&b[..at], &b[at + 1..]].concat());
            check([&b[..at], &b[at..at + 1], &b[at..]].concat());
            for &c in alphabet {
                check([&b[..at], &[c][..], &b[at + 1..]].concat());
            }
        }
        assert!(
            tried > 4000 && accepted > 100,
            "{tried} tried, {accepted} accepted"
        );
    }
}
