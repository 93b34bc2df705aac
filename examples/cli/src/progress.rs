//! The progress of `carnet sync` on standard error: a bar redrawn in place
//! on a terminal, a plain line per update otherwise (a log file or a CI
//! job cannot undo a carriage return).
//!
//! Standard error, so that standard output holds only the summary a script
//! may read. The sync reports counts only, so nothing here can print a
//! form, a file name or a reason.

use std::io::{IsTerminal, Write};
use std::sync::{Mutex, PoisonError};

use carnet_core::sync::{SyncPhase, SyncProgress, SyncProgressReport};

/// Width of the bar, in cells.
const BAR_CELLS: u64 = 24;

/// Draws the sync's progress on standard error.
pub struct ProgressBar {
    terminal: bool,
    /// The last report drawn: the engine may report the same counts twice
    /// (between phases), which would only repeat a line.
    last: Mutex<Option<SyncProgressReport>>,
}

impl ProgressBar {
    /// A bar for this process's standard error.
    pub fn for_stderr() -> Self {
        Self {
            terminal: std::io::stderr().is_terminal(),
            last: Mutex::new(None),
        }
    }

    /// Ends the bar's line, if one was drawn, so that what follows starts
    /// on a fresh line.
    pub fn finish(&self) {
        let drawn = self
            .last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some();
        if self.terminal && drawn {
            eprintln!();
        }
    }
}

impl SyncProgress for ProgressBar {
    fn on_progress(&self, progress: SyncProgressReport) {
        // A poisoned lock only means a draw panicked; the state is a copy.
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if *last == Some(progress) {
            return;
        }
        *last = Some(progress);
        let mut stderr = std::io::stderr().lock();
        // A closed standard error must not stop the sync: drawing is best
        // effort.
        let _ = if self.terminal {
            // Back to the line's start, clear it, draw.
            write!(stderr, "\r\x1b[2K{}", bar_line(&progress))
        } else {
            writeln!(stderr, "{}", plain_line(&progress))
        };
        let _ = stderr.flush();
    }
}

fn phase_name(phase: SyncPhase) -> &'static str {
    match phase {
        SyncPhase::Attachments => "files",
        SyncPhase::Requests => "requests",
        SyncPhase::Statuses => "statuses",
    }
}

/// The line redrawn on a terminal:
/// `sync files     [##########··············] 1.2 MiB / 2.9 MiB  requests 0/2`.
pub fn bar_line(progress: &SyncProgressReport) -> String {
    // Nothing to send is a full bar.
    let filled = (progress.bytes_done.min(progress.bytes_total) * BAR_CELLS)
        .checked_div(progress.bytes_total)
        .unwrap_or(BAR_CELLS);
    let bar: String = (0..BAR_CELLS)
        .map(|cell| if cell < filled { '#' } else { '.' })
        .collect();
    let mut line = format!(
        "sync {:<8} [{bar}] {} / {}  requests {}/{}",
        phase_name(progress.phase),
        human_bytes(progress.bytes_done),
        human_bytes(progress.bytes_total),
        progress.requests_done,
        progress.requests_total,
    );
    if progress.phase == SyncPhase::Statuses {
        line.push_str(&format!("  statuses {}", progress.statuses_applied));
    }
    line
}

/// The line written per update when standard error is not a terminal.
pub fn plain_line(progress: &SyncProgressReport) -> String {
    format!(
        "sync: {} bytes {}/{} requests {}/{} statuses {}",
        phase_name(progress.phase),
        progress.bytes_done,
        progress.bytes_total,
        progress.requests_done,
        progress.requests_total,
        progress.statuses_applied,
    )
}

/// Bytes in B, KiB or MiB with one decimal.
pub fn human_bytes(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;
    if bytes < KIB {
        format!("{bytes} B")
    } else if bytes < MIB {
        format!("{}.{} KiB", bytes / KIB, (bytes % KIB) * 10 / KIB)
    } else {
        format!("{}.{} MiB", bytes / MIB, (bytes % MIB) * 10 / MIB)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(phase: SyncPhase, done: u64, total: u64) -> SyncProgressReport {
        SyncProgressReport {
            phase,
            bytes_done: done,
            bytes_total: total,
            requests_done: 1,
            requests_total: 2,
            statuses_applied: 3,
        }
    }

    #[test]
    fn the_bar_fills_with_the_bytes_sent() {
        let half = bar_line(&report(SyncPhase::Attachments, 512 * 1024, 1024 * 1024));
        assert!(
            half.contains(&format!("[{}{}]", "#".repeat(12), ".".repeat(12))),
            "{half}"
        );
        assert!(half.contains("512.0 KiB / 1.0 MiB"), "{half}");
        assert!(half.contains("requests 1/2"), "{half}");
        // Nothing to send is a full bar, not a division by zero.
        let none = bar_line(&report(SyncPhase::Requests, 0, 0));
        assert!(none.contains(&"#".repeat(24)), "{none}");
        assert!(bar_line(&report(SyncPhase::Statuses, 0, 0)).contains("statuses 3"));
    }

    #[test]
    fn plain_lines_carry_every_count() {
        assert_eq!(
            plain_line(&report(SyncPhase::Attachments, 10, 20)),
            "sync: files bytes 10/20 requests 1/2 statuses 3"
        );
    }

    #[test]
    fn bytes_are_shown_in_binary_units() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024 + 100 * 1024), "3.0 MiB");
    }
}
