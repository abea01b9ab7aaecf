//! Every random stream of the program, named in one place.
//!
//! A random stream is a seed and a [`Purpose`]: what the draws are for and which of
//! them (grid point, replicate, job). [`StreamId`] joins the two; its stream number
//! ([`Purpose::number`]) is derived here and nowhere else, and it hands out the
//! generator the sampler of that purpose reads: the counter-based
//! [`Stream`](crate::measure::sample::Stream) (SplitMix64 words, see
//! `measure::sample`) or a ChaCha8 generator seeded with `seed_from_u64(seed)` on
//! ChaCha stream `number`.
//!
//! | purpose | stream number | generator | drawn by |
//! | --- | --- | --- | --- |
//! | `Localization { measure: m, point: p }` | m·2³² + p (p < 2³¹) | counter on the line, ChaCha8 in R^d | Y_r = rX + Z of the `complexity` and `plane` kinds at grid point p of measure m; `diffrepro complexity` (m = 0, p = k for the k-th `--r`); the benchmark sweep's t-jobs (m = example) |
//! | `SweepSurvival { example: e, point: j }` | e·2³² + 2³¹ + j (j < 2³¹) | counter | the benchmark sweep's r-jobs |
//! | `Particles { replicate: r, draw: d }` | 4r + d (d < 4: μ_0 cloud, ν_0 cloud, μ noise, ν noise; r < 2⁴⁶) | counter | the `particles` and `plane_particles` kinds (replicate 0 is the main run) |
//! | `SlicingDirections` | 2⁴⁸ | counter | the directions of the sliced W₂ of the `plane_particles` kind |
//! | `PerturbationShapes { law: l }` | 2⁴⁰ + l (l < 2⁴⁰) | ChaCha8 | the `perturbation` kind's random bump shapes of law l |
//! | `PerturbationRate { job: j, amplitude: a }` | j·2⁸ + a (a < 2⁸, j < 2³²) | ChaCha8 | the `perturbation` kind's Monte Carlo rate of job j at amplitude a |
//!
//! Within one experiment (one kind, one seed) the numbers of distinct purposes are
//! distinct (the ranges above are checked when a number is derived), so no two uses
//! share a draw; the test below enumerates them. Each experiment has its own seed;
//! experiments of different kinds given the same seed may reuse a number (the
//! numbers predate this table and the report's values depend on them), which
//! correlates the two experiments' draws but no estimate within either.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::measure::sample::Stream;

/// What a random stream is for (see the module table for the stream numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// Draws of Y_r at grid point `point` of measure `measure`.
    Localization { measure: u32, point: u32 },
    /// The benchmark sweep's survival jobs: example `example`, r index `point`.
    SweepSurvival { example: u32, point: u32 },
    /// The particle engine, replicate `replicate`: `draw` 0/1 the initial μ/ν clouds,
    /// 2/3 the forward noise of μ/ν.
    Particles { replicate: u64, draw: u8 },
    /// The unit directions of the sliced W₂ between clouds in R^d.
    SlicingDirections,
    /// The perturbation kind's random bump shapes of law `law`.
    PerturbationShapes { law: u64 },
    /// The perturbation kind's Monte Carlo rate of job `job` at amplitude `amplitude`.
    PerturbationRate { job: u32, amplitude: u32 },
}

/// The experiment kind (or tool) a purpose belongs to: numbers are distinct within one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The `complexity` and `plane` kinds, `diffrepro complexity` and the benchmark
    /// sweep (whose t-jobs and r-jobs share one numbering).
    Complexity,
    /// The `particles` kind.
    Particles,
    /// The `perturbation` kind.
    Perturbation,
}

const HALF: u64 = 1 << 31;

impl Purpose {
    /// The stream number (see the module table). Panics on an index outside its
    /// range, where two purposes would share a number.
    pub fn number(self) -> u64 {
        match self {
            Purpose::Localization { measure, point } => {
                assert!(u64::from(point) < HALF, "grid point {point} out of range");
                u64::from(measure) << 32 | u64::from(point)
            }
            Purpose::SweepSurvival { example, point } => {
                assert!(u64::from(point) < HALF, "r index {point} out of range");
                u64::from(example) << 32 | HALF | u64::from(point)
            }
            Purpose::Particles { replicate, draw } => {
                assert!(draw < 4, "particle draw {draw} out of range");
                assert!(replicate < 1 << 46, "replicate {replicate} out of range");
                4 * replicate + u64::from(draw)
            }
            Purpose::SlicingDirections => 1 << 48,
            Purpose::PerturbationShapes { law } => {
                assert!(law < 1 << 40, "law {law} out of range");
                1 << 40 | law
            }
            Purpose::PerturbationRate { job, amplitude } => {
                assert!(amplitude < 1 << 8, "amplitude {amplitude} out of range");
                u64::from(job) << 8 | u64::from(amplitude)
            }
        }
    }

    /// The kind whose streams this purpose names.
    pub fn scope(self) -> Scope {
        match self {
            Purpose::Localization { .. } | Purpose::SweepSurvival { .. } => Scope::Complexity,
            Purpose::Particles { .. } | Purpose::SlicingDirections => Scope::Particles,
            Purpose::PerturbationShapes { .. } | Purpose::PerturbationRate { .. } => {
                Scope::Perturbation
            }
        }
    }
}

/// A named random stream: a seed and a purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StreamId {
    pub seed: u64,
    pub purpose: Purpose,
}

impl StreamId {
    pub fn new(seed: u64, purpose: Purpose) -> Self {
        StreamId { seed, purpose }
    }

    /// The stream number of the purpose.
    pub fn number(&self) -> u64 {
        self.purpose.number()
    }

    /// The counter-based generator of this stream.
    pub fn counter(&self) -> Stream {
        Stream::new(self.seed, self.number())
    }

    /// The ChaCha8 generator of this stream, at word 0.
    pub fn chacha8(&self) -> ChaCha8Rng {
        chacha8(self.seed, self.number())
    }
}

/// ChaCha8 seeded with `seed_from_u64(seed)` on ChaCha stream `number`: the generator
/// of [`StreamId::chacha8`], for samplers handed a seed and a stream number.
pub fn chacha8(seed: u64, number: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(number);
    rng
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;
    use std::collections::HashMap;

    /// Every purpose over ranges that cover the edges of each index field.
    fn purposes() -> Vec<Purpose> {
        let mut out = Vec::new();
        let small = [0u32, 1, 2, 3, 4, 5, 255, 256, 257];
        let wide = [0u32, 1, 2, 3, 4, 255, 256, (1 << 31) - 1];
        for &m in &small {
            for &p in &wide {
                out.push(Purpose::Localization {
                    measure: m,
                    point: p,
                });
                out.push(Purpose::SweepSurvival {
                    example: m,
                    point: p,
                });
            }
        }
        for r in (0..70).chain([1 << 40, (1 << 46) - 1]) {
            for draw in 0..4 {
                out.push(Purpose::Particles { replicate: r, draw });
            }
        }
        out.push(Purpose::SlicingDirections);
        for law in (0..300).chain([(1 << 40) - 1]) {
            out.push(Purpose::PerturbationShapes { law });
        }
        for job in (0..300).chain([u32::MAX]) {
            for amplitude in [0, 1, 2, 7, 254, 255] {
                out.push(Purpose::PerturbationRate { job, amplitude });
            }
        }
        out
    }

    #[test]
    fn named_streams_of_a_seed_are_distinct_within_a_kind() {
        let mut seen: HashMap<(Scope, u64), Purpose> = HashMap::new();
        for p in purposes() {
            if let Some(q) = seen.insert((p.scope(), p.number()), p) {
                panic!("{p:?} and {q:?} share stream {}", p.number());
            }
        }
        // And the generators differ, not just the numbers: first words of a seed.
        let seed = 2411;
        let mut words: HashMap<(Scope, u64, u64), Purpose> = HashMap::new();
        for p in purposes() {
            let id = StreamId::new(seed, p);
            let w = (id.counter().word(0), id.chacha8().next_u64());
            assert!(words.insert((p.scope(), w.0, w.1), p).is_none(), "{p:?}");
        }
    }

    #[test]
    fn numbers_are_the_ones_the_report_was_computed_with() {
        let loc = Purpose::Localization {
            measure: 3,
            point: 7,
        };
        assert_eq!(loc.number(), 3 << 32 | 7);
        let surv = Purpose::SweepSurvival {
            example: 2,
            point: 5,
        };
        assert_eq!(surv.number(), 2 << 32 | 1 << 31 | 5);
        let part = Purpose::Particles {
            replicate: 5,
            draw: 3,
        };
        assert_eq!(part.number(), 23);
        assert_eq!(Purpose::PerturbationShapes { law: 9 }.number(), 1 << 40 | 9);
        let rate = Purpose::PerturbationRate {
            job: 4,
            amplitude: 2,
        };
        assert_eq!(rate.number(), 4 << 8 | 2);
        // The ChaCha8 generator is `seed_from_u64` on the ChaCha stream of that number.
        let mut want = ChaCha8Rng::seed_from_u64(11);
        want.set_stream(4 << 8 | 2);
        assert_eq!(StreamId::new(11, rate).chacha8(), want);
        assert_eq!(
            StreamId::new(11, loc).counter(),
            Stream::new(11, 3 << 32 | 7)
        );
    }

    #[test]
    #[should_panic(expected = "amplitude 256 out of range")]
    fn an_index_out_of_range_is_refused() {
        Purpose::PerturbationRate {
            job: 0,
            amplitude: 256,
        }
        .number();
    }
}
