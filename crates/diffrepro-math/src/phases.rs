//! Phase clocks: where the numerical core spends its time, for `diffrepro bench`.
//! Off by default (one relaxed atomic load per phase boundary); on only inside
//! [`phase_times`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

/// The phases the numerical core reports its time in when asked (`diffrepro bench`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Random draws: Y_r for Monte Carlo, the OU noise for particles.
    Sampling,
    /// L_r at the Monte Carlo draws (from its table, or by the batch kernel).
    Localization,
    /// Binning L_r(Y_r) against the u or δ thresholds.
    Binning,
    /// Sorting the particle clouds.
    Sort,
    /// The backward maps b^{μ,η} (scores from their table, or by the batch kernel).
    Transport,
    /// W₂ between the sorted clouds.
    W2,
    /// Building the tables of L_r and of the score (`measure::Table`), timed on the
    /// thread that asks for one (its nodes are evaluated in parallel).
    Tables,
}

impl Phase {
    pub const ALL: [Phase; 7] = [
        Phase::Sampling,
        Phase::Localization,
        Phase::Binning,
        Phase::Sort,
        Phase::Transport,
        Phase::W2,
        Phase::Tables,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Phase::Sampling => "sampling",
            Phase::Localization => "L_r",
            Phase::Binning => "binning",
            Phase::Sort => "sort",
            Phase::Transport => "transport",
            Phase::W2 => "W₂",
            Phase::Tables => "tables",
        }
    }
}

/// Whether the phase clocks run (off except inside [`phase_times`]).
static PHASE_CLOCKS: AtomicBool = AtomicBool::new(false);
/// Nanoseconds per phase, summed over threads.
static PHASE_NANOS: [AtomicU64; Phase::ALL.len()] = [const { AtomicU64::new(0) }; Phase::ALL.len()];

/// Start timing a phase: `None` (and no clock read) unless the clocks run.
#[inline]
pub fn phase_start() -> Option<Instant> {
    PHASE_CLOCKS.load(Ordering::Relaxed).then(Instant::now)
}

/// Add the time since `start` to `phase`; returns the end, to start the next phase.
#[inline]
pub fn phase_end(phase: Phase, start: Option<Instant>) -> Option<Instant> {
    let start = start?;
    let now = Instant::now();
    PHASE_NANOS[phase as usize].fetch_add((now - start).as_nanos() as u64, Ordering::Relaxed);
    Some(now)
}

/// Run `f` with the phase clocks on; its result and the thread-seconds spent in each
/// phase (summed over worker threads, so on 2 busy threads they add up to about twice
/// the wall time). Not re-entrant: one measured run at a time.
pub fn phase_times<T>(f: impl FnOnce() -> T) -> (T, [f64; Phase::ALL.len()]) {
    for c in &PHASE_NANOS {
        c.store(0, Ordering::Relaxed);
    }
    PHASE_CLOCKS.store(true, Ordering::Relaxed);
    let out = f();
    PHASE_CLOCKS.store(false, Ordering::Relaxed);
    let secs = std::array::from_fn(|i| PHASE_NANOS[i].load(Ordering::Relaxed) as f64 * 1e-9);
    (out, secs)
}
