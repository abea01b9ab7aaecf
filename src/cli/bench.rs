//! `diffrepro bench`: time the paper workload and print each figure beside
//! its target. A yardstick for the numerical core, outside the report pipeline: the
//! workload lives in `crate::bench`; this file runs it on fixed rayon pools (1 and 2
//! threads, whatever the machine has), checks that both give identical numbers, and
//! prints the verdicts.
//!
//! The NumPy reference times were measured once with a straightforward vectorised
//! NumPy implementation of exactly this workload on these 2-core machines.

use std::process::ExitCode;
use std::time::Duration;

use crate::bench::{self, Workload};

/// The NumPy reference, in seconds: part (a) (the Monte Carlo sweep) and
/// part (b) (the particles).
pub const NUMPY_SWEEP_S: f64 = 31.0;
pub const NUMPY_PARTICLES_S: f64 = 24.0;
/// The speed targets.
pub const TARGET_SPEEDUP_VS_NUMPY: f64 = 20.0;
pub const AIM_SPEEDUP_VS_NUMPY: f64 = 50.0;
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
}

/// The 1-minute load average (Linux), to tell a quiet machine from a busy one.
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
    let w = if args.quick {
        Workload::quick()
    } else {
        Workload::paper()
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
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
    println!(
        "  (b) Examples 4, 5, 6 against δ_0, {} particles per cloud, η = {}, {} steps forward (exact OU) and back, W₂ at every step",
        w.particles, w.eta, w.steps
    );
    if let Some(load) = load_average() {
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

    // Warm-up: page in the code, the allocator and the tables before timing.
    let _ = bench::timed_on(THREADS, || bench::localization_cost(1));

    let (sweep_n, a_n) = bench::timed_on(THREADS, || bench::sweep_monte_carlo(&w));
    let (chains_n, b_n) = bench::timed_on(THREADS, || bench::particle_chains(&w));
    let (sweep_1, a_1) = bench::timed_on(1, || bench::sweep_monte_carlo(&w));
    let (chains_1, b_1) = bench::timed_on(1, || bench::particle_chains(&w));
    let identical = sweep_1 == sweep_n && chains_1 == chains_n;
    let exact = (!args.no_exact).then(|| bench::timed_on(THREADS, || bench::sweep_exact(&w)));
    let cost = bench::timed_on(1, || bench::localization_cost(40)).0;

    let total_n = secs(a_n) + secs(b_n);
    let total_1 = secs(a_1) + secs(b_1);
    let numpy = NUMPY_SWEEP_S + NUMPY_PARTICLES_S;
    println!("wall time, {THREADS} threads                seconds   vs a vectorised NumPy implementation of the same workload");
    let row = |what: &str, s: f64, reference: Option<f64>| match reference {
        Some(r) => println!("  {what:<36} {s:8.3}   {:6.1}x  (NumPy {r} s)", r / s),
        None => println!("  {what:<36} {s:8.3}"),
    };
    row("(a) sweep, Monte Carlo", secs(a_n), Some(NUMPY_SWEEP_S));
    row("(b) particles", secs(b_n), Some(NUMPY_PARTICLES_S));
    row("(a) + (b)", total_n, Some(numpy));
    if let Some((_, d)) = &exact {
        row("(a) sweep, exact (quadrature)", secs(*d), None);
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
    if let Some((exact_sweep, _)) = &exact {
        println!();
        let step = 1.0 / (w.delta_points - 1) as f64;
        println!(
            "Monte Carlo against exact over the t grid (largest |difference|; δ grid step {step}):"
        );
        for a in bench::agreement(&sweep_n, exact_sweep, step) {
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
    let speedup = numpy / total_n;
    let numpy_verdict = if args.quick {
        "n/a (quick run)"
    } else {
        verdict(speedup >= TARGET_SPEEDUP_VS_NUMPY)
    };
    let rows = [
        (
            format!(
                "end to end vs NumPy ≥ {TARGET_SPEEDUP_VS_NUMPY}x (aim {AIM_SPEEDUP_VS_NUMPY}x)"
            ),
            format!("{speedup:.1}x"),
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
    if !args.quick && (TARGET_SPEEDUP_VS_NUMPY..AIM_SPEEDUP_VS_NUMPY).contains(&speedup) {
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
