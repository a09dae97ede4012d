//! `chronicle auth key create|revoke|list`: API keys for `--auth-keys`.
//! A key is shown once, at creation; the file keeps only its SHA-256, and a
//! running server picks up changes to the file within a second or two.

use anyhow::{Context, bail};
use chronicle_server::security::keys::{self, KeyLine};
use chronicle_server::security::roles::Role;
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum AuthCommand {
    /// Manage API keys.
    #[command(subcommand)]
    Key(KeyCommand),
}

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Create a key: prints the key (shown only now) and its line for the
    /// key file, and appends the line to --auth-keys when given.
    Create(Create),
    /// Remove every line of the key named NAME from the key file.
    Revoke(Revoke),
    /// List the key file's grants (names, namespaces, roles).
    List(List),
}

#[derive(Args)]
pub struct Create {
    /// A name for the key (its holder), shown in logs of its denials.
    #[arg(long)]
    name: String,
    /// The namespace it grants access to, or `*` for all.
    #[arg(long)]
    namespace: String,
    /// reader, worker or admin.
    #[arg(long)]
    role: String,
    /// Key file to append the line to.
    #[arg(long, value_name = "FILE", env = "CHRONICLE_AUTH_KEYS")]
    auth_keys: Option<PathBuf>,
}

#[derive(Args)]
pub struct Revoke {
    #[arg(long)]
    name: String,
    #[arg(long, value_name = "FILE", env = "CHRONICLE_AUTH_KEYS")]
    auth_keys: PathBuf,
}

#[derive(Args)]
pub struct List {
    #[arg(long, value_name = "FILE", env = "CHRONICLE_AUTH_KEYS")]
    auth_keys: PathBuf,
}

fn valid_name(name: &str) -> anyhow::Result<()> {
    if name.is_empty() || name.chars().any(char::is_whitespace) {
        bail!("{name:?}: a name or namespace must be non-empty and hold no spaces");
    }
    Ok(())
}

pub fn run(command: AuthCommand) -> anyhow::Result<()> {
    let AuthCommand::Key(command) = command;
    match command {
        KeyCommand::Create(args) => create(args),
        KeyCommand::Revoke(args) => revoke(&args.auth_keys, &args.name),
        KeyCommand::List(args) => {
            for line in read(&args.auth_keys)? {
                println!("{} {} {}", line.name, line.namespace, line.role);
            }
            Ok(())
        }
    }
}

fn read(path: &Path) -> anyhow::Result<Vec<KeyLine>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    keys::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

fn create(args: Create) -> anyhow::Result<()> {
    valid_name(&args.name)?;
    valid_name(&args.namespace)?;
    let role: Role = args.role.parse().map_err(anyhow::Error::msg)?;
    let key = keys::generate()?;
    let line = KeyLine { name: args.name, namespace: args.namespace, role, hash: keys::hash(&key) }.render();
    if let Some(path) = &args.auth_keys {
        if path.exists() {
            read(path)?;
        }
        use std::os::unix::fs::OpenOptionsExt;
        // Readable by the server's user alone, as credentials files are.
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        writeln!(file, "{line}")
            .and_then(|_| file.sync_all())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!("key: {key}");
    println!("line: {line}");
    Ok(())
}

/// Rewrites the file without the key's lines (through a temporary file
/// renamed over it, so a server never reads half a file).
fn revoke(path: &Path, name: &str) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    keys::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let mut removed = 0;
    let kept: Vec<&str> = text
        .lines()
        .filter(|line| {
            let is_named = line.split_whitespace().next() == Some(name) && !line.trim_start().starts_with('#');
            removed += usize::from(is_named);
            !is_named
        })
        .collect();
    if removed == 0 {
        bail!("no key named {name:?} in {}", path.display());
    }
    let temporary = path.with_extension("revoking");
    std::fs::write(&temporary, kept.join("\n") + "\n")
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    // The same permissions as the file it replaces.
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&temporary, meta.permissions());
    }
    std::fs::rename(&temporary, path).with_context(|| format!("cannot replace {}", path.display()))?;
    println!("revoked {name} ({removed} line(s))");
    Ok(())
}
