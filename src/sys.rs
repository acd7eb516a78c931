//! Operating-system limits blast depends on.

/// Makes sure the process may hold `needed` descriptors, raising the soft limit up to the hard
/// limit if necessary. The error says what is short and by how much.
pub fn ensure_fds(needed: usize) -> Result<(), String> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `lim` is a valid, writable rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Ok(()); // cannot tell: let the run report connect errors if it comes to that
    }
    let needed = needed as libc::rlim_t;
    if lim.rlim_cur >= needed {
        return Ok(());
    }
    if lim.rlim_max < needed {
        return Err(format!(
            "{needed} file descriptors needed but the hard limit (ulimit -Hn) is {}; lower --conns or raise the limit",
            lim.rlim_max
        ));
    }
    let raised = libc::rlimit { rlim_cur: needed.max(lim.rlim_max.min(1 << 20)), rlim_max: lim.rlim_max };
    // SAFETY: `raised` is a valid rlimit no higher than the hard limit.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
        return Err(format!("cannot raise the file descriptor limit to {needed}: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Peak resident set size of this process (VmHWM), in MiB; 0 where /proc is unavailable.
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Raises the soft descriptor limit to the hard limit (for servers holding many connections).
pub fn raise_fds_to_hard() {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: valid, writable rlimit; then set to values the kernel gave us.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// Turns transparent huge pages off for this process (`PR_SET_THP_DISABLE`), before the
/// allocator has handed out anything that matters.
///
/// blast's heap is many small objects (10K WebSocket connections of a few KiB each, a core's
/// histograms): with THP the first byte written in a 2 MiB region commits and zeroes all of it.
/// Measured on the 2-vCPU VM: `blast ws --conns 10000` peaked at 123 MiB RSS with THP and 94 MiB
/// without (a 10-connection run: 32 MiB and 13 MiB), and zeroing fresh huge pages
/// (`clear_page_erms`) took ~2% of the CPU of `blast api` at 70K req/s. Returns false where the
/// kernel refuses (then nothing changed).
pub fn no_huge_pages() -> bool {
    // SAFETY: PR_SET_THP_DISABLE takes one integer argument and touches no memory of ours.
    unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0 }
}
