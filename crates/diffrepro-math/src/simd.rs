//! Which vector instructions the batch kernels run with.
//!
//! The build targets baseline x86-64, whose vectors hold two doubles (SSE2). The batch
//! kernels (L_r and the score in blocks, the exp inside them, the counter-based
//! uniform draws, the mixture component pick) are plain loops over arrays, and
//! [`vectorised!`] compiles each of them twice: for the baseline and for AVX2 (four
//! doubles). [`width`] picks the wider one when this CPU has AVX2. So do smaller hot
//! loops that the baseline leaves narrow or scalar: the particle sort's keys, W₂'s
//! sums of squares, the particles' order check and map step, the draws of Y_r, the
//! binning's range of bins, and a table piece's coefficients. A few hot loops
//! whose AVX2 form the compiler does not find (the normal draws' fast path, the
//! lookups in `measure::Table`, the Monte Carlo bin finder) are written with AVX2
//! intrinsics beside a plain version, doing the same operations in the same order.
//!
//! Both copies are compiled from the same source: the same IEEE operations in the same
//! order (Rust never fuses a multiply and an add on its own, and no approximate
//! reciprocal is used), so their results are bit-identical and the report does not
//! depend on the machine's vector width. The tests run every kernel at each width this
//! CPU has and compare bits ([`with_width_at_most`]).
//!
//! A third copy for AVX-512 (eight doubles, and 64-bit integer multiplies for the
//! generator) was measured side by side on the paper workload: the kernels alone were
//! up to 10% faster, but the sweep of exact quadrature ran about 10% slower and the
//! scalar code around the kernels slowed with it (the core lowers its clock for the
//! wide instructions), so end to end it won nothing within the machine's noise and is
//! not built.

/// A vector width of the batch kernels, narrowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Width {
    /// The build's baseline (SSE2 on x86-64; whatever the target has elsewhere).
    Baseline,
    /// AVX2: four doubles per vector.
    Avx2,
}

fn detect() -> Width {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            return Width::Avx2;
        }
    }
    Width::Baseline
}

/// The widest vectors this CPU has that the kernels use (the standard library caches
/// the CPU's answer), or narrower inside [`with_width_at_most`] in tests.
#[inline]
pub fn width() -> Width {
    let w = detect();
    #[cfg(test)]
    let w = w.min(CAP.with(|c| c.get()));
    w
}

#[cfg(test)]
thread_local! {
    static CAP: std::cell::Cell<Width> = const { std::cell::Cell::new(Width::Avx2) };
}

/// Runs `f` with the kernels it calls on this thread limited to `cap` (tests comparing
/// the widths; work handed to other threads is not limited).
#[cfg(test)]
pub(crate) fn with_width_at_most<T>(cap: Width, f: impl FnOnce() -> T) -> T {
    let old = CAP.with(|c| c.replace(cap));
    let out = f();
    CAP.with(|c| c.set(old));
    out
}

/// Every width this CPU can run, narrowest first.
#[cfg(test)]
pub(crate) fn widths_here() -> Vec<Width> {
    let top = detect();
    [Width::Baseline, Width::Avx2]
        .into_iter()
        .filter(|&w| w <= top)
        .collect()
}

/// `fn name(args) -> ret = kernel;` defines `name`, which runs `kernel` (an
/// `#[inline(always)]` function of this module, optionally with one const generic
/// parameter) compiled for the widest [`Width`] this CPU has (see the module header).
macro_rules! vectorised {
    (
        $(#[$attr:meta])*
        $vis:vis fn $name:ident $(<const $c:ident: $ct:ty>)? ($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?
        = $kernel:ident;
    ) => {
        $(#[$attr])*
        #[inline(always)]
        $vis fn $name $(<const $c: $ct>)? ($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                fn avx2 $(<const $c: $ct>)? ($($arg: $ty),*) $(-> $ret)? {
                    $kernel $(::<$c>)? ($($arg),*)
                }
                if $crate::simd::width() == $crate::simd::Width::Avx2 {
                    // SAFETY: `width` reports AVX2 only where this CPU has it.
                    return unsafe { avx2 $(::<$c>)? ($($arg),*) };
                }
            }
            $kernel $(::<$c>)? ($($arg),*)
        }
    };
}
pub(crate) use vectorised;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_narrows_the_width_on_this_thread_only() {
        let top = width();
        assert_eq!(top, detect());
        with_width_at_most(Width::Baseline, || {
            assert_eq!(width(), Width::Baseline);
            let other = std::thread::spawn(width).join().unwrap();
            assert_eq!(other, top);
        });
        assert_eq!(width(), top);
        assert_eq!(widths_here().last(), Some(&top));
    }
}
