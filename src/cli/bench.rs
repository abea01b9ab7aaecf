//! `diffrepro bench`: time the paper workload and print each figure beside its target.
//! A yardstick for the numerical core, outside the report pipeline: the workload lives
//! in `crate::bench`; this file runs it on fixed rayon pools (1 and 2 threads, whatever
//! the machine has), checks that both give identical numbers, and prints the verdicts.
//!
//! Speed against NumPy is a ratio measured side by side in the same run: `--numpy
//! SCRIPT` runs a vectorised NumPy implementation of the same workload (the project
//! keeps one beside it) as a subprocess and reads its timings. Each timing is the median
//! of `--repeat` runs, because these machines are shared and noisy, and the NumPy runs
//! are spread between ours, because the machine's speed also drifts from minute to
//! minute; no reference time is quoted from elsewhere.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;

use crate::bench::{self, median, Workload};

/// The speed targets.
pub const TARGET_SPEEDUP_VS_NUMPY: f64 = 50.0;
pub const AIM_SPEEDUP_VS_NUMPY: f64 = 100.0;
pub const TARGET_LOCALIZATION_RATIO: f64 = 6.0;
pub const TARGET_PARALLEL_SPEEDUP: f64 = 1.7;
/// The parallel speed-up is measured between pools of 1 and of this many threads.
const THREADS: usize = 2;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A smoke run: a tenth of the samples and particles (the NumPy comparison then
    /// does not apply).
    #[arg(long)]
    pub quick: bool,
    /// Skip the exact (quadrature) variant of part (a).
    #[arg(long)]
    pub no_exact: bool,
    /// Runs of each timed phase; the median is reported.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=50))]
    pub repeat: u32,
    /// A NumPy implementation of the same workload to time side by side (run with
    /// `python3 SCRIPT --out DIR`, which must write DIR/timings.json with
    /// `stage1_complexity_total_s` and `stage2_particles_total_s`).
    #[arg(long, value_name = "SCRIPT")]
    pub numpy: Option<PathBuf>,
    /// Runs of the NumPy script (its median is reported), spread evenly between the
    /// `--repeat` runs of ours, so that both medians come from the same stretch of time.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub numpy_repeat: u32,
    /// Print one JSON object with the timings instead of the text report.
    #[arg(long)]
    pub json: bool,
    /// Time the report instead of the numerics: HTML builds of the project in PROJECT
    /// (copied to a temporary folder), cold and warm after an edit of one chapter's
    /// prose, `--repeat` times each.
    #[arg(long, value_name = "PROJECT")]
    pub rebuild: Option<PathBuf>,
}

/// `--rebuild`: the cold and warm report builds, as text or JSON.
fn run_rebuild(project: &std::path::Path, args: &Args) -> ExitCode {
    if !args.json {
        println!(
            "diffrepro bench --rebuild: HTML report of {}, cold (empty output) and warm (after a prose edit), {} run{} each",
            project.display(),
            args.repeat,
            if args.repeat == 1 { "" } else { "s" }
        );
    }
    match crate::rebuild_bench::time_rebuilds(project, args.repeat as usize) {
        Ok(t) => {
            if args.json {
                let mut v = serde_json::to_value(&t).expect("plain data serializes");
                v["ratio"] = serde_json::json!(t.ratio());
                v["load"] = serde_json::json!(load_average());
                println!("{v}");
            } else {
                println!("  cold build   {:>8.3} s (median)", t.cold_s);
                println!(
                    "  warm rebuild {:>8.3} s (median, after editing {})",
                    t.warm_s, t.edited
                );
                println!("  warm is {:.1}x faster than cold", t.ratio());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(super::EXIT_FAILED)
        }
    }
}

/// What `--json` prints.
#[derive(Serialize)]
struct Report {
    /// Median seconds of part (a), Monte Carlo, at `threads` threads.
    sweep_mc_s: f64,
    /// Median seconds of part (a) by quadrature (null with --no-exact).
    sweep_exact_s: Option<f64>,
    /// Median seconds of part (b), the particles.
    particles_s: f64,
    /// sweep_mc_s + particles_s.
    total_s: f64,
    threads: usize,
    /// 1-minute load average before the run.
    load: Option<f64>,
    repeats: u32,
    quick: bool,
    /// (a) + (b) on one thread, over total_s.
    parallel_speedup: f64,
    identical_across_threads: bool,
    numpy: Option<NumpyTimes>,
    /// numpy.total_s / total_s, measured in this run.
    speedup_vs_numpy: Option<f64>,
    /// Thread-seconds per phase in one instrumented run of (a) and of (b).
    phases: Phases,
}

/// Thread-seconds per phase (summed over the worker threads) of one instrumented run
/// of each part, with that run's wall time.
#[derive(Serialize, Clone, Copy)]
struct Phases {
    sweep_mc: PhaseTimes,
    particles: PhaseTimes,
}

#[derive(Serialize, Clone, Copy)]
struct PhaseTimes {
    wall_s: f64,
    sampling_s: f64,
    localization_s: f64,
    binning_s: f64,
    sort_s: f64,
    transport_s: f64,
    w2_s: f64,
    tables_s: f64,
}

impl PhaseTimes {
    fn new(wall: Duration, t: [f64; bench::Phase::ALL.len()]) -> Self {
        use bench::Phase as P;
        PhaseTimes {
            wall_s: wall.as_secs_f64(),
            sampling_s: t[P::Sampling as usize],
            localization_s: t[P::Localization as usize],
            binning_s: t[P::Binning as usize],
            sort_s: t[P::Sort as usize],
            transport_s: t[P::Transport as usize],
            w2_s: t[P::W2 as usize],
            tables_s: t[P::Tables as usize],
        }
    }

    fn by_phase(&self) -> [(bench::Phase, f64); bench::Phase::ALL.len()] {
        use bench::Phase as P;
        [
            (P::Sampling, self.sampling_s),
            (P::Localization, self.localization_s),
            (P::Binning, self.binning_s),
            (P::Sort, self.sort_s),
            (P::Transport, self.transport_s),
            (P::W2, self.w2_s),
            (P::Tables, self.tables_s),
        ]
    }
}

#[derive(Serialize, Clone, Copy)]
struct NumpyTimes {
    sweep_s: f64,
    particles_s: f64,
    total_s: f64,
    repeats: u32,
}

/// One run of the NumPy script: the seconds of its two stages.
fn run_numpy_once(script: &PathBuf, dir: &std::path::Path) -> Result<(f64, f64), String> {
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg("--out")
        .arg(dir)
        .output()
        .map_err(|e| format!("cannot run python3 {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ));
    }
    let path = dir.join("timings.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let field = |k: &str| {
        v.get(k)
            .and_then(|x| x.as_f64())
            .ok_or_else(|| format!("{} has no number `{k}`", path.display()))
    };
    Ok((
        field("stage1_complexity_total_s")?,
        field("stage2_particles_total_s")?,
    ))
}

/// How many NumPy runs follow our round `round` (of `rounds`), so that `total` runs
/// are spread evenly over the rounds: the medians of both then come from the same
/// stretch of time on a machine whose speed drifts from minute to minute.
fn numpy_runs_after(round: usize, rounds: usize, total: usize) -> usize {
    (round + 1) * total / rounds - round * total / rounds
}

fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT met"
    }
}

pub fn run(args: Args) -> ExitCode {
    if let Some(project) = &args.rebuild {
        return run_rebuild(project, &args);
    }
    let w = if args.quick {
        Workload::quick()
    } else {
        Workload::paper()
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let load = load_average();
    if !args.json {
        println!(
            "diffrepro bench: the paper workload{} ({cores} cores available)",
            if args.quick {
                ", quick run (a tenth of the samples and particles)"
            } else {
                ""
            },
        );
        println!(
            "  (a) Examples 1-6, {} t per example, {} draws of Y_r per t, h, m, m*, δ*, ζ*_1..5 on a {}-point δ grid;",
            w.t_points, w.samples, w.delta_points
        );
        println!(
            "      s_r on a {}-point u grid in [0, 3] for {} r per example",
            w.u_points, w.r_values
        );
        let runs = bench::PARTICLE_EXAMPLES.len();
        let names: Vec<String> = bench::PARTICLE_EXAMPLES
            .iter()
            .map(|k| k.to_string())
            .collect();
        println!(
            "  (b) Examples {} against δ_0, {} particles per cloud, η = {}, {} steps forward (exact OU) and back, W₂ at every step",
            names.join(", "),
            w.particles,
            w.eta,
            w.steps
        );
        // Each run's μ-cloud, and one δ_0 cloud for all of them.
        println!(
            "      (the {runs} δ_0 clouds have the same law and random streams, so their forward phase is computed once: {} clouds diffuse, not {})",
            runs + 1,
            2 * runs
        );
        if let Some(load) = load {
            println!(
                "  load average before the run: {load:.2}{}",
                if load > 1.0 {
                    " (other processes are busy: the timings, the 2-thread ones most, will suffer)"
                } else {
                    ""
                }
            );
        }
        println!();
    }

    // Warm-up: page in the code, the allocator and the tables before timing.
    let _ = bench::timed_on(THREADS, || bench::localization_cost(1));

    let reps = args.repeat as usize;
    let (mut ta, mut tb, mut te) = (Vec::new(), Vec::new(), Vec::new());
    let mut sweep_n = None;
    let mut chains_n = None;
    let mut exact = None;
    // The NumPy script's runs, interleaved with ours.
    let numpy_script = args.numpy.as_ref().filter(|_| !args.quick);
    let numpy_total = numpy_script.map_or(0, |_| args.numpy_repeat as usize);
    let numpy_dir = std::env::temp_dir().join(format!("diffrepro-numpy-{}", std::process::id()));
    let (mut na, mut nb) = (Vec::new(), Vec::new());
    for round in 0..reps {
        let (s, a) = bench::timed_on(THREADS, || bench::sweep_monte_carlo(&w));
        let (c, b) = bench::timed_on(THREADS, || bench::particle_chains(&w));
        ta.push(secs(a));
        tb.push(secs(b));
        sweep_n = Some(s);
        chains_n = Some(c);
        if !args.no_exact {
            let (e, d) = bench::timed_on(THREADS, || bench::sweep_exact(&w));
            te.push(secs(d));
            exact = Some(e);
        }
        if let Some(script) = numpy_script {
            for _ in 0..numpy_runs_after(round, reps, numpy_total) {
                match run_numpy_once(script, &numpy_dir) {
                    Ok((a, b)) => {
                        na.push(a);
                        nb.push(b);
                    }
                    Err(e) => {
                        let _ = std::fs::remove_dir_all(&numpy_dir);
                        eprintln!("error: the NumPy comparison could not run: {e}");
                        return ExitCode::from(super::EXIT_FAILED);
                    }
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&numpy_dir);
    let numpy = (!na.is_empty()).then(|| {
        let (sweep_s, particles_s) = (median(&na), median(&nb));
        NumpyTimes {
            sweep_s,
            particles_s,
            total_s: sweep_s + particles_s,
            repeats: na.len() as u32,
        }
    });
    let (sweep_n, chains_n) = (sweep_n.expect("repeat ≥ 1"), chains_n.expect("repeat ≥ 1"));
    let (sweep_1, a_1) = bench::timed_on(1, || bench::sweep_monte_carlo(&w));
    let (chains_1, b_1) = bench::timed_on(1, || bench::particle_chains(&w));
    let identical = sweep_1 == sweep_n && chains_1 == chains_n;
    let cost = bench::timed_on(1, || bench::localization_cost(40)).0;
    // One more run of each part with the phase clocks on (they cost a clock read per
    // chunk of a few thousand draws or particles).
    let ((_, pa), wa) = bench::timed_on(THREADS, || {
        bench::phase_times(|| bench::sweep_monte_carlo(&w))
    });
    let ((_, pb), wb) = bench::timed_on(THREADS, || {
        bench::phase_times(|| bench::particle_chains(&w))
    });
    let phases = Phases {
        sweep_mc: PhaseTimes::new(wa, pa),
        particles: PhaseTimes::new(wb, pb),
    };
    let (a_n, b_n) = (median(&ta), median(&tb));
    let exact_s = (!te.is_empty()).then(|| median(&te));
    let total_n = a_n + b_n;
    let total_1 = secs(a_1) + secs(b_1);
    let speedup = numpy.map(|n| n.total_s / total_n);
    if args.json {
        let report = Report {
            sweep_mc_s: a_n,
            sweep_exact_s: exact_s,
            particles_s: b_n,
            total_s: total_n,
            threads: THREADS,
            load,
            repeats: args.repeat,
            quick: args.quick,
            parallel_speedup: total_1 / total_n,
            identical_across_threads: identical,
            numpy,
            speedup_vs_numpy: speedup,
            phases,
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("plain data serializes")
        );
        return if identical {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(super::EXIT_FAILED)
        };
    }
    println!(
        "wall time, {THREADS} threads, median of {reps} run{}      seconds   vs NumPy{}",
        if reps == 1 { "" } else { "s" },
        match numpy {
            Some(n) => format!(" (measured now, median of {}, run between ours)", n.repeats),
            None => " (not measured: pass --numpy SCRIPT)".into(),
        }
    );
    if numpy.is_some() {
        println!("  (NumPy: a vectorised NumPy implementation of the same workload)");
    }
    let row = |what: &str, s: f64, reference: Option<f64>| match reference {
        Some(r) => println!("  {what:<36} {s:8.3}   {:6.1}x  (NumPy {r:.2} s)", r / s),
        None => println!("  {what:<36} {s:8.3}"),
    };
    row("(a) sweep, Monte Carlo", a_n, numpy.map(|n| n.sweep_s));
    row("(b) particles", b_n, numpy.map(|n| n.particles_s));
    row("(a) + (b)", total_n, numpy.map(|n| n.total_s));
    if let Some(d) = exact_s {
        row("(a) sweep, exact (quadrature)", d, None);
    }
    println!();
    println!(
        "where the time goes: one instrumented run of each part, thread-seconds per phase ({THREADS} threads)"
    );
    for (what, p) in [
        ("(a) sweep, Monte Carlo", &phases.sweep_mc),
        ("(b) particles", &phases.particles),
    ] {
        let busy: f64 = p.by_phase().iter().map(|(_, s)| s).sum();
        let cells: Vec<String> = p
            .by_phase()
            .iter()
            .filter(|(_, s)| *s > 0.0)
            .map(|(ph, s)| format!("{} {s:.3}", ph.name()))
            .collect();
        println!(
            "  {what:<24} wall {:.3} s; {}; other {:.3}",
            p.wall_s,
            cells.join(", "),
            (p.wall_s * THREADS as f64 - busy).max(0.0)
        );
    }
    println!();
    println!(
        "one L_r(y), Example 6 (4 components): {:.1} ns one at a time, {:.1} ns per value in batches;",
        cost.ns_localization, cost.ns_localization_batch
    );
    println!(
        "  4 exp() on the same inputs: {:.1} ns; ratio {:.2} (batches: {:.2})",
        cost.ns_four_exp,
        cost.ratio(),
        cost.batch_ratio()
    );
    println!(
        "parallel speed-up of (a) + (b): 1 thread {total_1:.3} s, {THREADS} threads {total_n:.3} s: {:.2}x; identical results: {}",
        total_1 / total_n,
        if identical { "yes" } else { "NO" }
    );
    if cores < THREADS {
        println!("  (this machine has {cores} core: the speed-up cannot show)");
    }
    if let Some(exact_sweep) = &exact {
        println!();
        let step = 1.0 / (w.delta_points - 1) as f64;
        println!(
            "Monte Carlo against exact over the t grid (largest |difference|; δ grid step {step}):"
        );
        let mut any_unresolved = false;
        for a in bench::agreement(&sweep_n, exact_sweep, step, w.samples) {
            let skipped = if a.below_grid > 0 {
                format!(
                    " ({} {} with exact δ* below the first grid step left out)",
                    a.below_grid,
                    if a.below_grid == 1 { "time" } else { "times" }
                )
            } else {
                String::new()
            };
            println!(
                "  Example {}: m* {:.4}, δ* {:.4}, ζ*_1 {:.4}{skipped}",
                a.example, a.m_star, a.delta_star, a.zeta_1
            );
            if let (Some(first), Some(last)) = (a.unresolved.first(), a.unresolved.last()) {
                any_unresolved = true;
                let n = a.unresolved.len();
                println!(
                    "    δ* not compared at {n} {} (t = {}): minimum not resolved, |δ* difference| there up to {:.4}",
                    if n == 1 { "time" } else { "times" },
                    if n == 1 {
                        format!("{first:.4}")
                    } else {
                        format!("{first:.4} to {last:.4}")
                    },
                    a.unresolved_delta_star
                );
            }
        }
        if any_unresolved {
            println!(
                "  (δ* is compared where n·m*, the expected number of the {} draws with L_r > 1 - δ*, is at least {}; below that the estimated m is a few draws and its minimiser is noise)",
                w.samples,
                bench::MIN_DRAWS_AT_MINIMUM
            );
        }
    }
    println!("denoising, W₂ to μ_0 of δ_0 before and after the round trip:");
    for c in &chains_n {
        println!(
            "  Example {}: W₂(μ_0, δ_0) = {:.4} → W₂(μ_0, ν̄_0) = {:.4}",
            c.example, c.w2_initial, c.w2_denoised
        );
    }

    println!();
    println!("targets");
    let numpy_verdict = match speedup {
        _ if args.quick => "n/a (quick run)",
        Some(x) => verdict(x >= TARGET_SPEEDUP_VS_NUMPY),
        None => "not measured",
    };
    let rows = [
        (
            format!(
                "end to end vs NumPy ≥ {TARGET_SPEEDUP_VS_NUMPY}x (aim {AIM_SPEEDUP_VS_NUMPY}x)"
            ),
            speedup.map_or("—".to_string(), |x| format!("{x:.1}x")),
            numpy_verdict,
        ),
        (
            format!("one L_r ≤ {TARGET_LOCALIZATION_RATIO}x 4 exp()"),
            format!("{:.2}x", cost.ratio()),
            verdict(cost.ratio() <= TARGET_LOCALIZATION_RATIO),
        ),
        (
            format!("parallel speed-up on {THREADS} cores ≥ {TARGET_PARALLEL_SPEEDUP}x"),
            format!("{:.2}x", total_1 / total_n),
            verdict(total_1 / total_n >= TARGET_PARALLEL_SPEEDUP),
        ),
    ];
    for (what, got, v) in &rows {
        println!("  {what:<44} {got:>8}   {v}");
    }
    if speedup.is_some_and(|x| (TARGET_SPEEDUP_VS_NUMPY..AIM_SPEEDUP_VS_NUMPY).contains(&x)) {
        println!("  (the aim of {AIM_SPEEDUP_VS_NUMPY}x is not reached)");
    }
    println!("  (timings on a shared machine vary: other processes slow both pools, the 2-thread one most)");
    if identical {
        ExitCode::SUCCESS
    } else {
        eprintln!("error: the 1-thread and {THREADS}-thread runs gave different numbers");
        ExitCode::from(super::EXIT_FAILED)
    }
}

#[cfg(test)]
mod tests {
    use super::numpy_runs_after;

    #[test]
    fn numpy_runs_are_spread_over_the_rounds() {
        let spread = |rounds: usize, total: usize| -> Vec<usize> {
            (0..rounds)
                .map(|r| numpy_runs_after(r, rounds, total))
                .collect()
        };
        assert_eq!(spread(5, 3), [0, 1, 0, 1, 1]);
        assert_eq!(spread(3, 3), [1, 1, 1]);
        assert_eq!(spread(1, 3), [3]);
        assert_eq!(spread(2, 5), [2, 3]);
        assert_eq!(spread(4, 0), [0, 0, 0, 0]);
        // Every run is made, whatever the counts, and the last round is followed by one.
        for rounds in 1..=12 {
            for total in 1..=20 {
                let s = spread(rounds, total);
                assert_eq!(
                    s.iter().sum::<usize>(),
                    total,
                    "{rounds} rounds, {total} runs"
                );
                assert!(*s.last().unwrap() >= 1, "{rounds} rounds, {total} runs");
                assert!(s.iter().max().unwrap() - s.iter().min().unwrap() <= 1);
            }
        }
    }
}
