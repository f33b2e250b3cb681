//! The tokenizer: identifiers, strings, numbers, timespans and punctuation, with byte offsets.

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// Identifiers and keywords, including `!contains`-style and `in~`-style operator words.
    Ident(String),
    Str(String),
    Long(i64),
    Real(f64),
    Span(TimeDelta),
    /// The raw text inside `datetime(...)`.
    DateTime(String),
    Sym(&'static str),
    Eof,
}

#[derive(Debug, Clone)]
pub(super) struct Token {
    pub(super) tok: Tok,
    pub(super) pos: usize,
    pub(super) end: usize,
}

/// Punctuation, longest first.
pub(super) const SYMBOLS: &[&str] = &[
    "==", "!=", "<>", "=~", "!~", "<=", ">=", "|", "(", ")", "[", "]", "{", "}", ",", ".", ":",
    "=", "<", ">", "+", "-", "*", "/", "%", ";",
];

struct Lexer<'a> {
    src: &'a str,
    i: usize,
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        self.src.get(self.i..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek2(&self) -> Option<char> {
        self.rest().chars().nth(1)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.i += c.len_utf8();
        Some(c)
    }

    fn eat_while(&mut self, f: impl Fn(char) -> bool) -> &'a str {
        let start = self.i;
        while self.peek().is_some_and(&f) {
            self.bump();
        }
        self.src.get(start..self.i).unwrap_or("")
    }

    fn skip_trivia(&mut self) {
        loop {
            self.eat_while(char::is_whitespace);
            if !self.rest().starts_with("//") {
                return;
            }
            self.eat_while(|c| c != '\n');
        }
    }

    fn next_token(&mut self) -> Result<Token> {
        self.skip_trivia();
        let pos = self.i;
        let tok = match self.peek() {
            None => Tok::Eof,
            Some(q @ ('\'' | '"')) => {
                self.bump();
                Tok::Str(self.string_body(pos, q, true)?)
            }
            Some(c @ ('@' | 'h' | 'H')) if matches!(self.peek2(), Some('\'' | '"')) => {
                self.bump();
                let q = self.bump().unwrap_or('"');
                Tok::Str(self.string_body(pos, q, c != '@')?)
            }
            Some(c) if c.is_ascii_digit() => self.number(pos)?,
            Some(c) if c.is_ascii_alphabetic() || c == '_' => self.word(pos)?,
            // `$left` and `$right` in a join's `on` clause.
            Some('$') if self.peek2().is_some_and(|c| c.is_ascii_alphabetic()) => {
                self.bump();
                let word = self.identifier();
                Tok::Ident(format!("${word}"))
            }
            Some('!') if self.peek2().is_some_and(|c| c.is_ascii_alphabetic()) => {
                self.bump();
                let word = self.identifier();
                Tok::Ident(format!("!{word}"))
            }
            Some(c) => match SYMBOLS.iter().find(|s| self.rest().starts_with(**s)) {
                Some(sym) => {
                    self.i += sym.len();
                    Tok::Sym(sym)
                }
                None => {
                    return Err(parse_err(
                        pos,
                        format!("unexpected character `{c}` at {pos}"),
                    ));
                }
            },
        };
        Ok(Token {
            tok,
            pos,
            end: self.i,
        })
    }

    /// An identifier, with the `~` of `in~` attached.
    fn identifier(&mut self) -> String {
        let mut word = self
            .eat_while(|c| c.is_ascii_alphanumeric() || c == '_')
            .to_string();
        if word.eq_ignore_ascii_case("in") && self.peek() == Some('~') {
            self.bump();
            word.push('~');
        }
        word
    }

    fn word(&mut self, pos: usize) -> Result<Tok> {
        let word = self.identifier();
        if word.eq_ignore_ascii_case("datetime") {
            let save = self.i;
            self.eat_while(char::is_whitespace);
            if self.peek() == Some('(') {
                self.bump();
                let raw = self.eat_while(|c| c != ')').trim().to_string();
                if self.bump().is_none() {
                    return Err(parse_err(
                        pos,
                        format!("unterminated `datetime(` at {pos}: expected `)`"),
                    ));
                }
                return Ok(Tok::DateTime(raw));
            }
            self.i = save;
        }
        Ok(Tok::Ident(word))
    }

    fn string_body(&mut self, start: usize, quote: char, escapes: bool) -> Result<String> {
        let mut out = String::new();
        loop {
            match self.bump() {
                None => {
                    return Err(parse_err(
                        start,
                        format!("unterminated string starting at {start}"),
                    ));
                }
                Some(c) if c == quote => return Ok(out),
                Some('\\') if escapes => match self.bump() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some(c @ ('\\' | '\'' | '"')) => out.push(c),
                    // Unknown escapes are kept, so regex classes such as `\d` read naturally.
                    Some(c) => {
                        out.push('\\');
                        out.push(c);
                    }
                    None => {
                        return Err(parse_err(
                            start,
                            format!("unterminated string starting at {start}"),
                        ));
                    }
                },
                Some(c) => out.push(c),
            }
        }
    }

    fn number(&mut self, pos: usize) -> Result<Tok> {
        let mut text = self.eat_while(|c| c.is_ascii_digit()).to_string();
        let mut is_real = false;
        if self.peek() == Some('.') && self.peek2().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
            text.push('.');
            text.push_str(self.eat_while(|c| c.is_ascii_digit()));
            is_real = true;
        }
        if self.at_exponent() {
            text.extend(self.bump());
            if matches!(self.peek(), Some('+' | '-')) {
                text.extend(self.bump());
            }
            text.push_str(self.eat_while(|c| c.is_ascii_digit()));
            is_real = true;
        }
        let too_large = || parse_err(pos, format!("number `{text}` at {pos} is too large"));
        if self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            let unit = self.eat_while(|c| c.is_ascii_alphabetic());
            let per = unit_nanos(unit).ok_or_else(|| {
                parse_err(
                    pos,
                    format!("unknown timespan unit `{unit}` at {pos}; use d, h, m, s, ms, microsecond or tick"),
                )
            })?;
            let nanos = if is_real {
                let nanos = text.parse::<f64>().map_err(|_| too_large())? * per as f64;
                if !nanos.is_finite() || nanos.abs() >= i64::MAX as f64 {
                    return Err(too_large());
                }
                nanos.round() as i64
            } else {
                text.parse::<i64>()
                    .ok()
                    .and_then(|n| n.checked_mul(per))
                    .ok_or_else(too_large)?
            };
            return Ok(Tok::Span(TimeDelta::nanoseconds(nanos)));
        }
        if is_real {
            text.parse().map(Tok::Real).map_err(|_| too_large())
        } else {
            text.parse().map(Tok::Long).map_err(|_| too_large())
        }
    }

    fn at_exponent(&self) -> bool {
        let bytes = self.rest().as_bytes();
        matches!(bytes.first(), Some(b'e' | b'E'))
            && match bytes.get(1) {
                Some(b'+' | b'-') => bytes.get(2).is_some_and(u8::is_ascii_digit),
                Some(b) => b.is_ascii_digit(),
                None => false,
            }
    }
}

pub(super) fn unit_nanos(unit: &str) -> Option<i64> {
    Some(match unit {
        "d" | "day" | "days" => 86_400_000_000_000,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600_000_000_000,
        "m" | "min" | "minute" | "minutes" => 60_000_000_000,
        "s" | "sec" | "second" | "seconds" => 1_000_000_000,
        "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1_000_000,
        "microsecond" | "microseconds" => 1_000,
        "tick" | "ticks" => 100,
        _ => return None,
    })
}

pub(super) fn tokenize(src: &str) -> Result<Vec<Token>> {
    let mut lexer = Lexer { src, i: 0 };
    let mut tokens = Vec::new();
    loop {
        let token = lexer.next_token()?;
        let done = token.tok == Tok::Eof;
        tokens.push(token);
        if done {
            return Ok(tokens);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use serde_json::json;

    #[test]
    fn comments_are_ignored() {
        let query = "Resources // everything\n| where location == 'westeurope' // west only\n// | take 1\n| count";
        assert_eq!(q(query), vec![json!({"Count": 5})]);
    }

    #[test]
    fn literals() {
        let rows = q(
            r#"Resources | take 1 | project s = 'it\'s', d = "a\\b", t = "tab\there", v = @'C:\temp',
                        a = 1.5, b = 2e3, c = -4, yes = true, no = false, nothing = null"#,
        );
        assert_eq!(
            rows,
            vec![json!({
                "s": "it's", "d": "a\\b", "t": "tab\there", "v": "C:\\temp",
                "a": 1.5, "b": 2000.0, "c": -4, "yes": true, "no": false, "nothing": null
            })]
        );
    }
}
