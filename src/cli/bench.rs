//! `diffrepro bench`: time the paper workload of issue 3 and print each figure beside
//! its target. A yardstick for the numerical core, outside the report pipeline: the
//! workload lives in `crate::bench`; this file runs it on fixed rayon pools and
//! formats the verdicts.

use std::process::ExitCode;
use std::time::Duration;

use crate::bench::{self, Workload};

/// The NumPy reference of issue 3 on these 2-core machines, in seconds: part (a)
/// (the Monte Carlo sweep) and part (b) (the particles).
pub const NUMPY_SWEEP_S: f64 = 31.0;
pub const NUMPY_PARTICLES_S: f64 = 24.0;
/// Targets of issue 3.
pub const TARGET_SPEEDUP_VS_NUMPY: f64 = 20.0;
pub const AIM_SPEEDUP_VS_NUMPY: f64 = 50.0;
pub const TARGET_LOCALIZATION_RATIO: f64 = 6.0;
pub const TARGET_PARALLEL_SPEEDUP: f64 = 1.7;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A smoke run: a tenth of the samples and particles (the targets then do not apply).
    #[arg(long)]
    pub quick: bool,
    /// Skip the exact (quadrature) variant of part (a).
    #[arg(long)]
    pub no_exact: bool,
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
        "diffrepro bench: the paper workload of issue 3{} ({} cores available)",
        if args.quick {
            ", quick (1/10 size)"
        } else {
            ""
        },
        cores
    );
    println!(
        "  (a) Examples 1-6, {} t per example, {} samples of Y_r per t, δ grid {}, u grid {} for {} r per example",
        w.t_points, w.samples, w.delta_points, w.u_points, w.r_values
    );
    println!(
        "  (b) Examples 4, 5, 6 against δ_0, {} particles, η = {}, {} steps each way, W₂ at every step",
        w.particles, w.eta, w.steps
    );
    println!();

    // Warm-up: page in the code and the allocator before timing anything.
    let _ = bench::timed_on(2, || bench::localization_cost(1));

    let (sweep2, a2) = bench::timed_on(2, || bench::sweep_monte_carlo(&w));
    let (chains2, b2) = bench::timed_on(2, || bench::particle_chains(&w));
    let (sweep1, a1) = bench::timed_on(1, || bench::sweep_monte_carlo(&w));
    let (chains1, b1) = bench::timed_on(1, || bench::particle_chains(&w));
    let same = sweep1 == sweep2 && chains1 == chains2;
    let exact = (!args.no_exact).then(|| bench::timed_on(2, || bench::sweep_exact(&w)));
    let cost = bench::timed_on(1, || bench::localization_cost(7)).0;

    let total2 = secs(a2) + secs(b2);
    let total1 = secs(a1) + secs(b1);
    let numpy = NUMPY_SWEEP_S + NUMPY_PARTICLES_S;
    println!("wall time (2 threads)                   seconds   vs NumPy");
    println!(
        "  (a) sweep, Monte Carlo                {:8.3}   {:6.1}x  (NumPy {NUMPY_SWEEP_S} s)",
        secs(a2),
        NUMPY_SWEEP_S / secs(a2)
    );
    println!(
        "  (b) particles                         {:8.3}   {:6.1}x  (NumPy {NUMPY_PARTICLES_S} s)",
        secs(b2),
        NUMPY_PARTICLES_S / secs(b2)
    );
    println!(
        "  (a) + (b)                             {:8.3}   {:6.1}x  (NumPy {numpy} s)",
        total2,
        numpy / total2
    );
    if let Some((_, d)) = &exact {
        println!("  (a) sweep, exact (quadrature)         {:8.3}", secs(*d));
    }
    println!();
    println!(
        "one L_r(y), Example 6 (4 components): {:.1} ns; 4 exp() on the same inputs: {:.1} ns; ratio {:.2}",
        cost.ns_localization,
        cost.ns_four_exp,
        cost.ratio()
    );
    println!(
        "parallel speed-up, (a) + (b): 1 thread {:.3} s, 2 threads {:.3} s: {:.2}x; results identical: {}",
        total1,
        total2,
        total1 / total2,
        if same { "yes" } else { "NO" }
    );
    println!();
    let speedup = numpy / total2;
    let rows = [
        (
            format!(
                "end to end vs NumPy ≥ {TARGET_SPEEDUP_VS_NUMPY}x (aim {AIM_SPEEDUP_VS_NUMPY}x)"
            ),
            format!("{speedup:.1}x"),
            speedup >= TARGET_SPEEDUP_VS_NUMPY,
        ),
        (
            format!("L_r cost ≤ {TARGET_LOCALIZATION_RATIO}x 4 exp()"),
            format!("{:.2}x", cost.ratio()),
            cost.ratio() <= TARGET_LOCALIZATION_RATIO,
        ),
        (
            format!("parallel speed-up on 2 cores ≥ {TARGET_PARALLEL_SPEEDUP}x"),
            format!("{:.2}x", total1 / total2),
            total1 / total2 >= TARGET_PARALLEL_SPEEDUP,
        ),
    ];
    println!("targets (issue 3)");
    for (what, got, ok) in &rows {
        println!("  {what:<44} {got:>8}   {}", verdict(*ok));
    }
    if args.quick {
        println!(
            "  (quick run: a tenth of the paper workload, so the NumPy comparison does not apply)"
        );
    }
    let _ = (&sweep2, &chains2);
    ExitCode::SUCCESS
}
