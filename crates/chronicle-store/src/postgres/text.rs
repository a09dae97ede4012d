//! PostgreSQL text cannot hold NUL, and Temporal ids and attribute values
//! can. Every text Chronicle stores is escaped: NUL becomes U+0001 U+0001
//! and U+0001 becomes U+0001 U+0002. The escape keeps prefixes and
//! bytewise order (U+0001 U+0001 < U+0001 U+0002 < any other character),
//! so `COLLATE "C"` comparisons, ranges and prefix matches on escaped
//! text mean what they mean on the original; text without these two
//! characters is stored as it is.

use std::borrow::Cow;

const ESCAPE: char = '\u{1}';

/// `s` as stored.
pub(crate) fn escape(s: &str) -> Cow<'_, str> {
    if !s.contains(['\0', ESCAPE]) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\0' => out.push_str("\u{1}\u{1}"),
            ESCAPE => out.push_str("\u{1}\u{2}"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Stored text as it was written.
pub(crate) fn unescape(s: &str) -> String {
    if !s.contains(ESCAPE) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != ESCAPE {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\u{1}') => out.push('\0'),
            // U+0002, or a lone escape nothing wrote: kept as found.
            Some('\u{2}') | None => out.push(ESCAPE),
            Some(other) => {
                out.push(ESCAPE);
                out.push(other);
            }
        }
    }
    out
}

/// A stored text column as it was written.
pub(crate) fn column(row: &tokio_postgres::Row, idx: usize) -> Result<String, tokio_postgres::Error> {
    row.try_get::<_, &str>(idx).map(unescape)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_keeps_order_and_prefixes() {
        let samples = ["", "a", "\0", "\u{1}", "\u{2}", "a\0b", "a\u{1}b", "\0\u{1}\0", "ab", "a", "\u{7f}", "é\0"];
        for s in samples {
            assert!(!escape(s).contains('\0'), "{s:?}");
            assert_eq!(unescape(&escape(s)), s, "{s:?}");
            for t in samples {
                assert_eq!(escape(s).as_bytes().cmp(escape(t).as_bytes()), s.cmp(t), "{s:?} vs {t:?}");
                assert_eq!(escape(t).starts_with(&*escape(s)), t.starts_with(s), "{s:?} prefix of {t:?}");
            }
        }
        assert!(matches!(escape("plain"), Cow::Borrowed("plain")));
    }
}
