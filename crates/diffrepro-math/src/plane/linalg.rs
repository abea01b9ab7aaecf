//! Small dense symmetric matrices for measures in R^d (d ≤ [`super::MAX_DIM`]):
//! Cholesky factorisation, inverse, log-determinant and eigenvalues.
//!
//! Matrices are row-major `Vec<f64>` of length d². The largest eigenvalue of a 2×2
//! symmetric matrix has a closed form ([`sym_eig_max`] uses it); beyond, the cyclic
//! Jacobi method gives every eigenvalue to rounding (d ≤ 16, so its O(d³) sweeps are
//! cheap and, unlike power iteration, it has no trouble with repeated eigenvalues).

/// Largest eigenvalue of a symmetric d×d matrix (row-major).
pub fn sym_eig_max(a: &[f64], d: usize) -> f64 {
    match d {
        1 => a[0],
        2 => {
            let (p, q, s) = (a[0], a[3], a[1]);
            let mean = 0.5 * (p + q);
            let half = 0.5 * (p - q);
            mean + half.hypot(s)
        }
        _ => sym_eigenvalues(a, d)
            .into_iter()
            .fold(f64::NEG_INFINITY, f64::max),
    }
}

/// All eigenvalues of a symmetric d×d matrix, ascending (cyclic Jacobi).
pub fn sym_eigenvalues(a: &[f64], d: usize) -> Vec<f64> {
    let mut ev = jacobi(a, d, false).0;
    ev.sort_by(f64::total_cmp);
    ev
}

/// Cyclic Jacobi on a copy of the symmetric d×d matrix `a`: the diagonal it converges
/// to (the eigenvalues, unsorted) and, when `vectors`, the product of the rotations
/// (the eigenvectors as columns; empty otherwise).
fn jacobi(a: &[f64], d: usize, vectors: bool) -> (Vec<f64>, Vec<f64>) {
    let mut m = a.to_vec();
    let mut v = Vec::new();
    if vectors {
        v = vec![0.0; d * d];
        for i in 0..d {
            v[i * d + i] = 1.0;
        }
    }
    for _sweep in 0..100 {
        let off: f64 = (0..d)
            .flat_map(|i| (0..d).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| m[i * d + j] * m[i * d + j])
            .sum();
        let diag: f64 = (0..d).map(|i| m[i * d + i] * m[i * d + i]).sum();
        if off <= 1e-30 * diag || off == 0.0 {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                let apq = m[p * d + q];
                if apq == 0.0 {
                    continue;
                }
                let (app, aqq) = (m[p * d + p], m[q * d + q]);
                let theta = (aqq - app) / (2.0 * apq);
                let t = if theta == 0.0 {
                    1.0
                } else {
                    theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt())
                };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                // Columns p, q of m, then rows p, q, then columns p, q of v.
                rotate(&mut m, d, |k| (k * d + p, k * d + q), c, s);
                rotate(&mut m, d, |k| (p * d + k, q * d + k), c, s);
                if vectors {
                    rotate(&mut v, d, |k| (k * d + p, k * d + q), c, s);
                }
            }
        }
    }
    ((0..d).map(|i| m[i * d + i]).collect(), v)
}

/// The plane rotation (c, s) of the pairs of entries `at(k)`, k < d.
#[inline]
fn rotate(m: &mut [f64], d: usize, at: impl Fn(usize) -> (usize, usize), c: f64, s: f64) {
    for k in 0..d {
        let (i, j) = at(k);
        let (x, y) = (m[i], m[j]);
        m[i] = c * x - s * y;
        m[j] = s * x + c * y;
    }
}

/// Lower Cholesky factor of a symmetric positive definite matrix, or None if a pivot
/// is not positive.
pub fn cholesky(a: &[f64], d: usize) -> Option<Vec<f64>> {
    cholesky_with(a, d, |s| (s > 0.0 && s.is_finite()).then(|| s.sqrt()))
}

/// Cholesky factor of a positive *semi*-definite matrix: zero pivots (up to a relative
/// 1e-12) give a zero column, so a degenerate covariance still yields L with LLᵀ = A.
/// None if a pivot is clearly negative.
pub fn cholesky_semi(a: &[f64], d: usize) -> Option<Vec<f64>> {
    let scale = (0..d).map(|i| a[i * d + i].abs()).fold(0.0, f64::max);
    cholesky_with(a, d, |s| {
        if s < -1e-12 * scale {
            None
        } else if s > 1e-14 * scale {
            Some(s.sqrt())
        } else {
            Some(0.0)
        }
    })
}

/// The Cholesky–Banachiewicz recursion, with `pivot` turning the remainder s on the
/// diagonal into L's diagonal entry (None: not a factorable matrix); below a zero
/// pivot the column stays zero.
fn cholesky_with(a: &[f64], d: usize, pivot: impl Fn(f64) -> Option<f64>) -> Option<Vec<f64>> {
    let mut l = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let mut s = a[i * d + j];
            for k in 0..j {
                s -= l[i * d + k] * l[j * d + k];
            }
            if i == j {
                l[i * d + i] = pivot(s)?;
            } else if l[j * d + j] > 0.0 {
                l[i * d + j] = s / l[j * d + j];
            }
        }
    }
    Some(l)
}

/// Inverse and ln det of a symmetric positive definite matrix.
pub fn inverse_and_log_det(a: &[f64], d: usize) -> Option<(Vec<f64>, f64)> {
    let l = cholesky(a, d)?;
    let log_det = 2.0 * (0..d).map(|i| l[i * d + i].ln()).sum::<f64>();
    // Solve L Lᵀ X = I column by column.
    let mut inv = vec![0.0; d * d];
    let mut col = vec![0.0; d];
    for c in 0..d {
        for i in 0..d {
            let mut s = if i == c { 1.0 } else { 0.0 };
            for k in 0..i {
                s -= l[i * d + k] * col[k];
            }
            col[i] = s / l[i * d + i];
        }
        for i in (0..d).rev() {
            let mut s = col[i];
            for k in i + 1..d {
                s -= l[k * d + i] * col[k];
            }
            col[i] = s / l[i * d + i];
        }
        for i in 0..d {
            inv[i * d + c] = col[i];
        }
    }
    // Symmetrise away rounding.
    for i in 0..d {
        for j in 0..i {
            let v = 0.5 * (inv[i * d + j] + inv[j * d + i]);
            inv[i * d + j] = v;
            inv[j * d + i] = v;
        }
    }
    Some((inv, log_det))
}

/// Symmetric square root of a symmetric positive semi-definite matrix (Jacobi with
/// eigenvectors), negative rounding eigenvalues clipped to 0.
pub fn sym_sqrt(a: &[f64], d: usize) -> Vec<f64> {
    let (vals, vecs) = sym_eigen(a, d);
    let mut out = vec![0.0; d * d];
    for k in 0..d {
        let s = vals[k].max(0.0).sqrt();
        for i in 0..d {
            for j in 0..d {
                out[i * d + j] += s * vecs[i * d + k] * vecs[j * d + k];
            }
        }
    }
    out
}

/// Eigenvalues and eigenvectors (columns of the returned row-major matrix) of a
/// symmetric matrix, by cyclic Jacobi.
pub fn sym_eigen(a: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    jacobi(a, d, true)
}

/// A·B for d×d matrices.
pub fn mat_mul(a: &[f64], b: &[f64], d: usize) -> Vec<f64> {
    let mut out = vec![0.0; d * d];
    for i in 0..d {
        for k in 0..d {
            let aik = a[i * d + k];
            if aik == 0.0 {
                continue;
            }
            for j in 0..d {
                out[i * d + j] += aik * b[k * d + j];
            }
        }
    }
    out
}

/// Why a matrix cannot be a covariance.
#[derive(Clone, Debug, PartialEq)]
pub enum CovError {
    NotSquare { rows: usize, dim: usize },
    NotSymmetric { i: usize, j: usize, a: f64, b: f64 },
    NotPsd { eigenvalue: f64 },
    NotFinite,
}

impl std::fmt::Display for CovError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            CovError::NotSquare { rows, dim } => write!(
                f,
                "`cov` must be a {dim}×{dim} matrix (one row of {dim} numbers per coordinate), got {rows} row(s) or a row of another length"
            ),
            CovError::NotSymmetric { i, j, a, b } => write!(
                f,
                "`cov` is not symmetric: entry [{i}][{j}] = {a} but [{j}][{i}] = {b}"
            ),
            CovError::NotPsd { eigenvalue } => write!(
                f,
                "`cov` is not positive semi-definite: it has the eigenvalue {eigenvalue}"
            ),
            CovError::NotFinite => write!(f, "`cov` has an entry that is not a finite number"),
        }
    }
}

/// Check that a row-major d×d matrix is a covariance: finite, symmetric (to a
/// relative 1e-12) and positive semi-definite (smallest eigenvalue ≥ -1e-12 times the
/// largest |eigenvalue|). Returns it exactly symmetrised.
pub fn check_covariance(a: &[f64], d: usize) -> Result<Vec<f64>, CovError> {
    if a.len() != d * d {
        return Err(CovError::NotSquare {
            rows: a.len() / d.max(1),
            dim: d,
        });
    }
    if a.iter().any(|v| !v.is_finite()) {
        return Err(CovError::NotFinite);
    }
    let scale = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for i in 0..d {
        for j in 0..i {
            let (x, y) = (a[i * d + j], a[j * d + i]);
            if (x - y).abs() > 1e-12 * scale {
                return Err(CovError::NotSymmetric { i, j, a: x, b: y });
            }
        }
    }
    let mut s = a.to_vec();
    for i in 0..d {
        for j in 0..i {
            let v = 0.5 * (s[i * d + j] + s[j * d + i]);
            s[i * d + j] = v;
            s[j * d + i] = v;
        }
    }
    let ev = sym_eigenvalues(&s, d);
    let lo = ev[0];
    let hi = ev.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if lo < -1e-12 * hi.max(f64::MIN_POSITIVE) {
        return Err(CovError::NotPsd { eigenvalue: lo });
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eigenvalues_of_a_rotated_diagonal_matrix() {
        // R diag(4, 1) Rᵀ with a rotation by 30°: eigenvalues 1 and 4 exactly.
        let (c, s) = (30f64.to_radians().cos(), 30f64.to_radians().sin());
        let a = [
            4.0 * c * c + s * s,
            (4.0 - 1.0) * c * s,
            (4.0 - 1.0) * c * s,
            4.0 * s * s + c * c,
        ];
        assert!((sym_eig_max(&a, 2) - 4.0).abs() < 1e-14);
        let ev = sym_eigenvalues(&a, 2);
        assert!((ev[0] - 1.0).abs() < 1e-13 && (ev[1] - 4.0).abs() < 1e-13);
        // A 4×4 matrix with a repeated eigenvalue: diag(2, 2, 5, -1) conjugated by a
        // Householder reflection H = I - 2vvᵀ, v = (1, 1, 1, 1)/2.
        let d = 4;
        let diag = [2.0, 2.0, 5.0, -1.0];
        let h = |i: usize, j: usize| (if i == j { 1.0 } else { 0.0 }) - 0.5;
        let mut m = vec![0.0; 16];
        for i in 0..d {
            for j in 0..d {
                m[i * d + j] = (0..d).map(|k| h(i, k) * diag[k] * h(j, k)).sum();
            }
        }
        let ev = sym_eigenvalues(&m, d);
        for (e, w) in ev.iter().zip([-1.0, 2.0, 2.0, 5.0]) {
            assert!((e - w).abs() < 1e-13, "{ev:?}");
        }
        assert!((sym_eig_max(&m, d) - 5.0).abs() < 1e-13);
        let root = sym_sqrt(&mat_mul(&m, &m, d), d);
        // √(M²) = |M|: eigenvalues 1, 2, 2, 5.
        let ev = sym_eigenvalues(&root, d);
        for (e, w) in ev.iter().zip([1.0, 2.0, 2.0, 5.0]) {
            assert!((e - w).abs() < 1e-12, "{ev:?}");
        }
    }

    #[test]
    fn inverse_and_determinant() {
        let a = [4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0];
        let (inv, ld) = inverse_and_log_det(&a, 3).unwrap();
        let p = mat_mul(&a, &inv, 3);
        for i in 0..3 {
            for j in 0..3 {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((p[i * 3 + j] - want).abs() < 1e-14);
            }
        }
        // det by cofactors.
        let det = 4.0 * (3.0 * 2.0 - 0.04) - 1.0 * (2.0 - 0.1) + 0.5 * (0.2 - 1.5);
        assert!((ld - f64::ln(det)).abs() < 1e-14);
        assert!(inverse_and_log_det(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
    }

    #[test]
    fn covariance_checks() {
        assert!(matches!(
            check_covariance(&[1.0, 0.5, 0.4, 1.0], 2),
            Err(CovError::NotSymmetric { .. })
        ));
        assert!(matches!(
            check_covariance(&[1.0, 2.0, 2.0, 1.0], 2),
            Err(CovError::NotPsd { .. })
        ));
        assert!(check_covariance(&[1.0, 1.0, 1.0, 1.0], 2).is_ok());
        assert!(check_covariance(&[0.0; 4], 2).is_ok());
        let l = cholesky_semi(&[1.0, 1.0, 1.0, 1.0], 2).unwrap();
        assert_eq!(mat_mul(&l, &[l[0], l[2], l[1], l[3]], 2), vec![1.0; 4]);
    }
}
