//! Reading strace's log: one [`Call`] per system call, from lines like
//!
//! ```text
//! 24104 11:07:17.280094 ioctl(4</dev/kvm>, KVM_CREATE_VCPU, 0) = 5</dev/kvm:vcpu0> <0.000219>
//! ```
//!
//! (`strace -f -tt -T -y`: pid, wall-clock time, the call with its
//! arguments, the result, the time spent in the call). A call that another
//! thread's output interrupted comes as `<unfinished ...>` and
//! `<... NAME resumed>` halves, joined here (strace(1), "-f").

/// One system call as strace saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub pid: u32,
    /// Seconds since midnight (from `-tt`).
    pub at: f64,
    pub name: String,
    /// The arguments, as strace printed them (without the parentheses).
    pub args: String,
    /// What follows ` = `, e.g. `0`, `5</dev/kvm:vcpu0>`, `-1 EEXIST (File exists)`.
    pub result: String,
    /// Time spent in the call, seconds (from `-T`).
    pub took: Option<f64>,
}

/// Every complete call of the log, in log order.
pub fn parse(log: &str) -> Vec<Call> {
    let mut calls = Vec::new();
    // pid -> the first half of a call that was interrupted.
    let mut pending: Vec<(u32, f64, String)> = Vec::new();
    for line in log.lines() {
        // strace pads the pid column: `810   11:10:48.088363 write(…`.
        let Some((pid, rest)) = line.trim_start().split_once(' ') else {
            continue;
        };
        let Some((time, rest)) = rest.trim_start().split_once(' ') else {
            continue;
        };
        let (Ok(pid), Some(at)) = (pid.parse::<u32>(), clock(time)) else {
            continue;
        };
        let rest = rest.trim_start();
        if let Some(head) = rest.strip_suffix(" <unfinished ...>") {
            pending.push((pid, at, head.to_owned()));
            continue;
        }
        let text = if let Some(tail) = rest.strip_prefix("<... ") {
            // `<... ioctl resumed>, 0) = 0 <0.1>`: join it to its first half.
            let Some(i) = pending.iter().position(|(p, _, _)| *p == pid) else {
                continue;
            };
            let (_, start, head) = pending.remove(i);
            let Some((_, after)) = tail.split_once(" resumed>") else {
                continue;
            };
            if let Some(call) = call(pid, start, &format!("{head}{after}")) {
                calls.push(call);
            }
            continue;
        } else {
            rest
        };
        if let Some(call) = call(pid, at, text) {
            calls.push(call);
        }
    }
    calls
}

/// `HH:MM:SS.ffffff` -> seconds since midnight.
fn clock(text: &str) -> Option<f64> {
    let mut it = text.split(':');
    let h: f64 = it.next()?.parse().ok()?;
    let m: f64 = it.next()?.parse().ok()?;
    let s: f64 = it.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

/// `name(args) = result <took>`; `None` for signals and exits (`--- SIG…`, `+++ exited`).
fn call(pid: u32, at: f64, text: &str) -> Option<Call> {
    let open = text.find('(')?;
    let name = &text[..open];
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    // The result follows the last ` = ` (strace pads before it); the
    // arguments end at the parenthesis before that.
    let eq = text.rfind(" = ")?;
    let close = text[..eq].trim_end().len().checked_sub(1)?;
    if text.as_bytes().get(close) != Some(&b')') || close < open {
        return None;
    }
    let args = text[open + 1..close].to_owned();
    let after = &text[eq + 3..];
    let (result, took) = match after.rfind(" <") {
        Some(i) if after.ends_with('>') => (
            after[..i].to_owned(),
            after[i + 2..after.len() - 1].parse().ok(),
        ),
        _ => (after.to_owned(), None),
    };
    Some(Call {
        pid,
        at,
        name: name.to_owned(),
        args,
        result,
        took,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_calls_and_joins_interrupted_ones() {
        let log = "\
24104 11:07:17.280094 ioctl(4</dev/kvm>, KVM_CREATE_VCPU, 0) = 5</dev/kvm:vcpu0> <0.000219>
21507 11:05:52.394518 mkdir(\"/sys/fs/cgroup/pids/vmvc\", 0777) = -1 EEXIST (File exists) <0.000013>
21508 11:05:52.410612 execve(\"/bin/busybox\", [\"/bin/busybox\", \"sh\"], 0x5617 /* 3 vars */ <unfinished ...>
21507 11:05:52.410700 write(2, \"a = b\\n\", 6) = 6 <0.000009>
21508 11:05:52.411109 <... execve resumed>) = 0 <0.000483>
21508 11:05:52.412000 +++ exited with 0 +++
24104 11:07:17.282378 exit_group(0)     = ?
810   11:10:48.088363 write(2</tmp/x>, \"vmvc-trace: t0\\n\", 15) = 15 <0.000026>
";
        let calls = parse(log);
        assert_eq!(calls.len(), 6, "{calls:#?}");
        assert_eq!(calls[5].pid, 810, "a padded pid column");
        assert_eq!(calls[0].name, "ioctl");
        assert_eq!(calls[0].args, "4</dev/kvm>, KVM_CREATE_VCPU, 0");
        assert_eq!(calls[0].result, "5</dev/kvm:vcpu0>");
        assert_eq!(calls[0].took, Some(0.000219));
        assert_eq!(calls[1].result, "-1 EEXIST (File exists)");
        assert_eq!(calls[2].name, "write");
        assert_eq!(calls[3].name, "execve");
        assert_eq!(calls[3].pid, 21508);
        assert_eq!(calls[3].took, Some(0.000483));
        assert!((calls[3].at - clock("11:05:52.410612").unwrap_or(0.0)).abs() < 1e-9);
        assert_eq!(calls[4].name, "exit_group");
        assert_eq!(calls[4].took, None);
        assert!(parse("garbage\n\n12 x y\n").is_empty());
    }
}
