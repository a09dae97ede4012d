//! API keys: a file of lines `NAME NAMESPACE ROLE SHA256HEX`, each granting
//! the holder of the key whose SHA-256 is SHA256HEX a role in a namespace
//! (`*` for every namespace). Only hashes are stored, so the file reveals
//! no key. The file is read again whenever it changes; a file that no
//! longer parses keeps the previous keys in force (and says why).

use super::reloading::Reloading;
use super::roles::{Claims, Role};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyLine {
    pub name: String,
    /// A namespace name, or `*` for all.
    pub namespace: String,
    pub role: Role,
    /// Lower-case hex SHA-256 of the key.
    pub hash: String,
}

impl KeyLine {
    pub fn render(&self) -> String {
        format!("{} {} {} {}", self.name, self.namespace, self.role, self.hash)
    }
}

/// Parses a key file; blank lines and `#` comments are skipped. An error
/// names the line.
pub fn parse(text: &str) -> Result<Vec<KeyLine>, String> {
    let mut lines = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [name, namespace, role, hash] = fields[..] else {
            return Err(format!(
                "line {}: expected NAME NAMESPACE ROLE SHA256HEX, found {} fields",
                n + 1,
                fields.len()
            ));
        };
        let role: Role = role.parse().map_err(|e| format!("line {}: {e}", n + 1))?;
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("line {}: the key hash must be 64 hex digits (SHA-256)", n + 1));
        }
        lines.push(KeyLine {
            name: name.to_string(),
            namespace: namespace.to_string(),
            role,
            hash: hash.to_ascii_lowercase(),
        });
    }
    Ok(lines)
}

/// The lower-case hex SHA-256 of a key.
pub fn hash(key: &str) -> String {
    Sha256::digest(key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A new random key: `chr_` and 64 hex digits (256 bits).
pub fn generate() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
    Ok(format!("chr_{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

/// The keys in force: hash → (the names it is known by, its claims).
#[derive(Default)]
struct Table {
    by_hash: HashMap<String, (String, Claims)>,
}

impl Table {
    fn of(lines: &[KeyLine]) -> Self {
        let mut by_hash: HashMap<String, (String, Claims)> = HashMap::new();
        for line in lines {
            let (name, claims) =
                by_hash.entry(line.hash.clone()).or_insert_with(|| (line.name.clone(), Claims::default()));
            if !name.split(',').any(|n| n == line.name) {
                name.push(',');
                name.push_str(&line.name);
            }
            claims.grant(&line.namespace, line.role);
        }
        Table { by_hash }
    }
}

/// The key file, kept current.
pub struct KeyRing {
    table: Arc<Reloading<Table>>,
}

impl KeyRing {
    /// Reads `path` (it must exist and parse), and again whenever it changes.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let file = path.to_path_buf();
        let table = Reloading::load("auth keys", vec![file.clone()], move || {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| anyhow::anyhow!("cannot read the auth keys file {}: {e}", file.display()))?;
            let lines = parse(&text).map_err(|e| anyhow::anyhow!("auth keys file {}: {e}", file.display()))?;
            Ok(Table::of(&lines))
        })?;
        tracing::info!(keys = table.current().by_hash.len(), file = %path.display(), "auth keys loaded");
        Ok(KeyRing { table })
    }

    /// The name and claims of `key`, if the file grants it anything.
    pub fn lookup(&self, key: &str) -> Option<(String, Claims)> {
        self.table.current().by_hash.get(&hash(key)).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_and_render_back() {
        let h = hash("secret");
        let text = format!("# comment\n\nci default worker {h}\nops * admin {}\n", h.to_uppercase());
        let lines = parse(&text).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].render(), format!("ci default worker {h}"));
        assert_eq!(lines[1].hash, h, "hashes are kept lower case");
        assert_eq!(lines[1].role, Role::Admin);
    }

    #[test]
    fn bad_lines_are_named() {
        assert!(parse("a b c").unwrap_err().starts_with("line 1:"));
        assert!(parse(&format!("\na ns owner {}", hash("k"))).unwrap_err().starts_with("line 2:"));
        assert!(parse("a ns reader 1234").unwrap_err().contains("64 hex digits"));
    }

    #[test]
    fn a_key_on_several_lines_holds_every_grant() {
        let h = hash("k");
        let table = Table::of(&parse(&format!("a one reader {h}\nb two worker {h}")).unwrap());
        let (name, claims) = &table.by_hash[&h];
        assert_eq!(name, "a,b");
        assert_eq!(claims.role_in("one"), Some(Role::Reader));
        assert_eq!(claims.role_in("two"), Some(Role::Worker));
        assert_eq!(claims.role_in("three"), None);
    }

    #[test]
    fn generated_keys_differ_and_hash_to_64_hex_digits() {
        let (a, b) = (generate().unwrap(), generate().unwrap());
        assert_ne!(a, b);
        assert!(a.starts_with("chr_") && a.len() == 68);
        assert_eq!(hash(&a).len(), 64);
        // A known vector: SHA-256("abc").
        assert_eq!(hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
