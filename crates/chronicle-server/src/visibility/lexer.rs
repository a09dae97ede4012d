//! Tokens of Temporal's list filter language (a SQL WHERE clause).

use super::QueryError;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A name: bare (`WorkflowId`) or backquoted (`` `WorkflowId` ``).
    Ident(String),
    /// A reserved word, upper-cased (AND, OR, NOT, IN, ...).
    Keyword(&'static str),
    Str(String),
    Int(i64),
    Float(f64),
    /// `=`, `!=` (also `<>`), `<`, `<=`, `>`, `>=`.
    Op(&'static str),
    LParen,
    RParen,
    Comma,
    Minus,
}

/// A token and where it starts (1-based character position, for errors).
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub pos: usize,
}

const KEYWORDS: &[&str] = &[
    "AND",
    "OR",
    "NOT",
    "IN",
    "BETWEEN",
    "IS",
    "NULL",
    "STARTS_WITH",
    "LIKE",
    "ORDER",
    "GROUP",
    "BY",
    "ASC",
    "DESC",
    "TRUE",
    "FALSE",
];

pub fn syntax_error(pos: usize, near: &str) -> QueryError {
    QueryError(format!("malformed SQL query: syntax error at position {pos} near '{near}'"))
}

pub fn tokenize(input: &str) -> Result<Vec<Token>, QueryError> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let pos = i + 1;
        let tok = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => one(&mut i, Tok::LParen),
            ')' => one(&mut i, Tok::RParen),
            ',' => one(&mut i, Tok::Comma),
            '-' => one(&mut i, Tok::Minus),
            '=' => one(&mut i, Tok::Op("=")),
            '!' if chars.get(i + 1) == Some(&'=') => two(&mut i, Tok::Op("!=")),
            '<' if chars.get(i + 1) == Some(&'>') => two(&mut i, Tok::Op("!=")),
            '<' if chars.get(i + 1) == Some(&'=') => two(&mut i, Tok::Op("<=")),
            '>' if chars.get(i + 1) == Some(&'=') => two(&mut i, Tok::Op(">=")),
            '<' => one(&mut i, Tok::Op("<")),
            '>' => one(&mut i, Tok::Op(">")),
            '\'' | '"' => Tok::Str(quoted(&chars, &mut i, pos)?),
            '`' => Tok::Ident(quoted(&chars, &mut i, pos)?),
            c if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) => {
                number(&chars, &mut i, pos)?
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                match KEYWORDS.iter().find(|k| k.eq_ignore_ascii_case(&word)) {
                    Some(k) => Tok::Keyword(k),
                    None => Tok::Ident(word),
                }
            }
            other => return Err(syntax_error(pos, &other.to_string())),
        };
        tokens.push(Token { tok, pos });
    }
    Ok(tokens)
}

fn one(i: &mut usize, tok: Tok) -> Tok {
    *i += 1;
    tok
}

fn two(i: &mut usize, tok: Tok) -> Tok {
    *i += 2;
    tok
}

/// A string or backquoted name: the quote doubled or backslash-escaped
/// stands for itself; `\n`, `\t`, `\\` as in SQL.
fn quoted(chars: &[char], i: &mut usize, pos: usize) -> Result<String, QueryError> {
    let quote = chars[*i];
    let mut out = String::new();
    *i += 1;
    loop {
        match chars.get(*i) {
            None => {
                return Err(QueryError(format!(
                    "malformed SQL query: syntax error at position {pos}: unterminated {quote} quote"
                )));
            }
            Some('\\') if quote != '`' => {
                let escaped = chars.get(*i + 1).copied().unwrap_or('\\');
                out.push(match escaped {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    '0' => '\0',
                    other => other,
                });
                *i += 2;
            }
            Some(&c) if c == quote => {
                if chars.get(*i + 1) == Some(&quote) {
                    out.push(quote);
                    *i += 2;
                } else {
                    *i += 1;
                    return Ok(out);
                }
            }
            Some(&c) => {
                out.push(c);
                *i += 1;
            }
        }
    }
}

fn number(chars: &[char], i: &mut usize, pos: usize) -> Result<Tok, QueryError> {
    let start = *i;
    let mut float = false;
    while let Some(&c) = chars.get(*i) {
        let exponent_sign = matches!(c, '+' | '-') && matches!(chars.get(*i - 1), Some('e' | 'E'));
        match c {
            '.' | 'e' | 'E' => float = true,
            _ if c.is_ascii_digit() || exponent_sign => {}
            // `12abc`: neither a number nor a name.
            _ if c.is_alphanumeric() || c == '_' => {
                return Err(syntax_error(pos, &chars[start..=*i].iter().collect::<String>()));
            }
            _ => break,
        }
        *i += 1;
    }
    let text: String = chars[start..*i].iter().collect();
    let bad = || syntax_error(pos, &text);
    if float { text.parse().map(Tok::Float).map_err(|_| bad()) } else { text.parse().map(Tok::Int).map_err(|_| bad()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        tokenize(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn words_operators_and_literals() {
        assert_eq!(
            toks("WorkflowId='a' and `Custom Attr` <> \"b\" OR x>=-1.5e3"),
            vec![
                Tok::Ident("WorkflowId".into()),
                Tok::Op("="),
                Tok::Str("a".into()),
                Tok::Keyword("AND"),
                Tok::Ident("Custom Attr".into()),
                Tok::Op("!="),
                Tok::Str("b".into()),
                Tok::Keyword("OR"),
                Tok::Ident("x".into()),
                Tok::Op(">="),
                Tok::Minus,
                Tok::Float(1.5e3),
            ]
        );
        assert_eq!(toks("a<b<=c>d!=e"), toks("a < b <= c > d != e"));
        assert_eq!(
            toks("starts_with Is NuLL"),
            vec![Tok::Keyword("STARTS_WITH"), Tok::Keyword("IS"), Tok::Keyword("NULL")]
        );
        assert_eq!(toks("(1,2)"), vec![Tok::LParen, Tok::Int(1), Tok::Comma, Tok::Int(2), Tok::RParen]);
    }

    #[test]
    fn string_escapes() {
        assert_eq!(
            toks(r#"'it''s' "a\"b" 'c\\d' 'e\'f'"#),
            vec![Tok::Str("it's".into()), Tok::Str("a\"b".into()), Tok::Str("c\\d".into()), Tok::Str("e'f".into()),]
        );
        assert_eq!(toks("`a``b`"), vec![Tok::Ident("a`b".into())]);
        assert_eq!(toks("'héllo wörld'"), vec![Tok::Str("héllo wörld".into())]);
    }

    #[test]
    fn positions_and_errors() {
        let t = tokenize("a = 'x'").unwrap();
        assert_eq!(t.iter().map(|t| t.pos).collect::<Vec<_>>(), vec![1, 3, 5]);
        assert!(tokenize("a = 'x").unwrap_err().0.contains("unterminated"));
        assert_eq!(tokenize("a == b; c").unwrap_err().0, "malformed SQL query: syntax error at position 7 near ';'");
        assert!(tokenize("a = 12abc").unwrap_err().0.contains("near '12a'"));
        assert!(tokenize("a ! b").is_err());
    }
}
