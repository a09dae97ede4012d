//! Memory and CPU figures from /proc for a process and all of its descendants.

use std::fs;

#[derive(Debug, Default, Clone, Copy)]
pub struct TreeMem {
    /// Sum of VmRSS (current resident set) over the tree, in KiB.
    pub rss_kb: u64,
    /// Sum of VmHWM (each process's own peak resident set) over the tree, in KiB.
    pub hwm_kb: u64,
    /// Number of processes summed (root + live descendants).
    pub processes: usize,
}

fn status_field_kb(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|l| {
        let rest = l.strip_prefix(key)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// The fields of /proc/<pid>/stat after `comm` (state is the first).
fn stat_fields(pid: &str) -> Option<Vec<u64>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm may contain spaces/parens: fields after the last ')' are well-formed.
    let after = &stat[stat.rfind(')')? + 1..];
    // The state is a letter; the rest are numbers (kept as 0 where negative).
    Some(after.split_whitespace().skip(1).map(|f| f.parse().unwrap_or(0)).collect())
}

fn ppid_of(pid: u32) -> Option<u32> {
    stat_fields(&pid.to_string())?.first().map(|&p| p as u32)
}

/// CPU seconds (user + system) a process has used, all threads; "self" for
/// this process.
pub fn cpu_secs(pid: &str) -> f64 {
    // utime and stime are fields 14 and 15 of stat (10 and 11 counted from ppid).
    let ticks = stat_fields(pid).map_or(0, |f| f.get(10).copied().unwrap_or(0) + f.get(11).copied().unwrap_or(0));
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    ticks as f64 / hz
}

/// CPU seconds used by `root` and its live descendants.
pub fn tree_cpu_secs(root: u32) -> f64 {
    process_tree(root).iter().map(|pid| cpu_secs(&pid.to_string())).sum()
}

/// `root` and all its live descendants.
pub fn process_tree(root: u32) -> Vec<u32> {
    let mut all: Vec<(u32, u32)> = Vec::new();
    if let Ok(dir) = fs::read_dir("/proc") {
        for e in dir.flatten() {
            if let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok())
                && let Some(pp) = ppid_of(pid)
            {
                all.push((pid, pp));
            }
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        for &(pid, pp) in &all {
            if pp == parent && !tree.contains(&pid) {
                tree.push(pid);
            }
        }
        i += 1;
    }
    tree
}

/// Summed VmRSS / VmHWM over `root` and its descendants.
pub fn tree_mem(root: u32) -> TreeMem {
    let mut m = TreeMem::default();
    for pid in process_tree(root) {
        if let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) {
            m.rss_kb += status_field_kb(&status, "VmRSS").unwrap_or(0);
            m.hwm_kb += status_field_kb(&status, "VmHWM").unwrap_or(0);
            m.processes += 1;
        }
    }
    m
}
