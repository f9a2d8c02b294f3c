//! What the tool reads from /proc: a process's resident memory and CPU time.

/// Clock ticks per second of /proc/PID/stat times; 100 on every mainstream Linux build.
const CLK_TCK: f64 = 100.0;

/// VmRSS of `pid` in KiB.
pub fn vm_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// User + system CPU time of `pid` (all threads; `None` = this process), in seconds.
pub fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the parenthesised command name start at field 3 (state); utime and stime
    // are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / CLK_TCK)
}

/// CPU use between two `cpu_seconds` samples taken `secs` apart, in percent of one core.
pub fn cpu_percent(before: Option<f64>, after: Option<f64>, secs: f64) -> Option<f64> {
    Some(round1((after? - before?) / secs * 100.0))
}

pub fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process() {
        let pid = std::process::id();
        assert!(vm_rss_kb(pid).unwrap() > 0);
        assert!(cpu_seconds(None).is_some());
        assert!(cpu_seconds(Some(pid)).is_some());
    }
}
