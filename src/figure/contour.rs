//! Contour lines of a function sampled on a rectilinear grid, by marching squares
//! with linear interpolation along the cell edges.
//!
//! A corner is *inside* when its value exceeds the level. Each cell whose corners
//! are not all inside or all outside contributes one or two segments between
//! points on its edges, placed where the linear interpolation of the two corner
//! values crosses the level. The ambiguous cells (two opposite corners inside) are
//! resolved by the mean of the four corners, the value of the bilinear interpolant
//! at the cell's centre: inside, the two inside corners are joined through the
//! centre. Cells with a non-finite corner contribute nothing, so the lines stop at
//! missing data. Segments sharing an edge point are then chained into polylines:
//! open ones end on the border of the grid (or at missing data), closed ones repeat
//! their first point at the end.

/// Polylines of `{(x, y): f(x, y) = level}` in data coordinates. `values[j * nx + i]`
/// is the value at `(xs[i], ys[j])`; `xs` and `ys` are increasing.
pub fn contour(xs: &[f64], ys: &[f64], values: &[f64], level: f64) -> Vec<Vec<(f64, f64)>> {
    let (nx, ny) = (xs.len(), ys.len());
    if nx < 2 || ny < 2 || values.len() != nx * ny || !level.is_finite() {
        return Vec::new();
    }
    let v = |i: usize, j: usize| values[j * nx + i];
    // Edge ids: horizontal edge (i, j)–(i+1, j) is j(nx-1) + i; vertical edge
    // (i, j)–(i, j+1) is H + j nx + i.
    let h_count = (nx - 1) * ny;
    let h_edge = |i: usize, j: usize| j * (nx - 1) + i;
    let v_edge = |i: usize, j: usize| h_count + j * nx + i;
    let cross = |a: f64, b: f64| (level - a) / (b - a);
    let point = |e: usize| -> (f64, f64) {
        if e < h_count {
            let (i, j) = (e % (nx - 1), e / (nx - 1));
            let t = cross(v(i, j), v(i + 1, j));
            (xs[i] + t * (xs[i + 1] - xs[i]), ys[j])
        } else {
            let k = e - h_count;
            let (i, j) = (k % nx, k / nx);
            let t = cross(v(i, j), v(i, j + 1));
            (xs[i], ys[j] + t * (ys[j + 1] - ys[j]))
        }
    };
    let mut segments: Vec<[usize; 2]> = Vec::new();
    for j in 0..ny - 1 {
        for i in 0..nx - 1 {
            let c = [v(i, j), v(i + 1, j), v(i + 1, j + 1), v(i, j + 1)];
            if c.iter().any(|x| !x.is_finite()) {
                continue;
            }
            let case = c
                .iter()
                .enumerate()
                .fold(0u8, |acc, (k, &x)| acc | (u8::from(x > level) << k));
            let (b, r, t, l) = (
                h_edge(i, j),
                v_edge(i + 1, j),
                h_edge(i, j + 1),
                v_edge(i, j),
            );
            let centre_inside = || c.iter().sum::<f64>() / 4.0 > level;
            match case {
                0 | 15 => {}
                1 | 14 => segments.push([l, b]),
                2 | 13 => segments.push([b, r]),
                3 | 12 => segments.push([l, r]),
                4 | 11 => segments.push([r, t]),
                6 | 9 => segments.push([b, t]),
                7 | 8 => segments.push([l, t]),
                // Bottom-left and top-right inside.
                5 => {
                    if centre_inside() {
                        segments.extend([[b, r], [l, t]]);
                    } else {
                        segments.extend([[l, b], [r, t]]);
                    }
                }
                // Bottom-right and top-left inside.
                _ => {
                    if centre_inside() {
                        segments.extend([[l, b], [r, t]]);
                    } else {
                        segments.extend([[b, r], [l, t]]);
                    }
                }
            }
        }
    }
    chain(&segments, h_count + nx * (ny - 1))
        .into_iter()
        .map(|ids| ids.into_iter().map(point).collect())
        .collect()
}

/// Chains segments (pairs of edge ids) into paths of edge ids: open paths first
/// (from an end used by one segment), then closed loops (first id repeated last).
/// Every edge is shared by at most two segments, one from each adjacent cell.
fn chain(segments: &[[usize; 2]], edges: usize) -> Vec<Vec<usize>> {
    const NONE: usize = usize::MAX;
    let mut at = vec![[NONE; 2]; edges];
    for (s, seg) in segments.iter().enumerate() {
        for &e in seg {
            let slot = &mut at[e];
            if slot[0] == NONE {
                slot[0] = s;
            } else {
                slot[1] = s;
            }
        }
    }
    let mut used = vec![false; segments.len()];
    let mut paths = Vec::new();
    let walk = |start_seg: usize, start_edge: usize, used: &mut Vec<bool>| {
        let mut path = vec![start_edge];
        let (mut seg, mut edge) = (start_seg, start_edge);
        loop {
            used[seg] = true;
            let [a, b] = segments[seg];
            edge = if a == edge { b } else { a };
            path.push(edge);
            let next = at[edge].into_iter().find(|&s| s != NONE && !used[s]);
            match next {
                Some(s) => seg = s,
                None => break,
            }
        }
        path
    };
    // Open paths start at an edge used once.
    for s in 0..segments.len() {
        if used[s] {
            continue;
        }
        for &e in &segments[s] {
            if !used[s] && at[e][1] == NONE {
                paths.push(walk(s, e, &mut used));
            }
        }
    }
    // What is left forms closed loops.
    for s in 0..segments.len() {
        if !used[s] {
            paths.push(walk(s, segments[s][0], &mut used));
        }
    }
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(n: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..n)
            .map(|k| lo + (hi - lo) * k as f64 / (n - 1) as f64)
            .collect()
    }

    fn sample(xs: &[f64], ys: &[f64], f: impl Fn(f64, f64) -> f64) -> Vec<f64> {
        ys.iter()
            .flat_map(|&y| xs.iter().map(move |&x| (x, y)))
            .map(|(x, y)| f(x, y))
            .collect()
    }

    #[test]
    fn a_circle_is_one_closed_loop_on_the_true_circle() {
        let xs = grid(41, -2.0, 2.0);
        let ys = grid(31, -1.5, 1.5);
        let h = 0.1;
        let v = sample(&xs, &ys, |x, y| (x * x + y * y).sqrt());
        let paths = contour(&xs, &ys, &v, 1.0);
        assert_eq!(paths.len(), 1, "one loop");
        let p = &paths[0];
        assert_eq!(p.first(), p.last(), "closed");
        assert!(p.len() > 40, "{} points", p.len());
        for &(x, y) in p {
            let r = (x * x + y * y).sqrt();
            assert!((r - 1.0).abs() < h * h, "point ({x}, {y}) at radius {r}");
        }
        // It goes all the way round: every octant holds points.
        let octant = |(x, y): (f64, f64)| {
            ((y.atan2(x) / std::f64::consts::FRAC_PI_4).floor() + 4.0) as usize
        };
        let mut seen = [false; 8];
        for &q in p {
            seen[octant(q).min(7)] = true;
        }
        assert!(seen.iter().all(|&s| s), "{seen:?}");
    }

    #[test]
    fn two_circles_make_two_loops_and_a_cut_circle_an_open_line() {
        let xs = grid(61, -3.0, 3.0);
        let ys = grid(41, -2.0, 2.0);
        let v = sample(&xs, &ys, |x, y| {
            let a = ((x - 1.5).powi(2) + y * y).sqrt();
            let b = ((x + 1.5).powi(2) + y * y).sqrt();
            -a.min(b)
        });
        let paths = contour(&xs, &ys, &v, -0.8);
        assert_eq!(paths.len(), 2);
        assert!(paths.iter().all(|p| p.first() == p.last()));
        // A circle around (3, 0) leaves the grid at x = 3: one open arc, ending on
        // the border.
        let v = sample(&xs, &ys, |x, y| ((x - 3.0).powi(2) + y * y).sqrt());
        let paths = contour(&xs, &ys, &v, 1.0);
        assert_eq!(paths.len(), 1);
        let p = &paths[0];
        assert_ne!(p.first(), p.last());
        for end in [p[0], p[p.len() - 1]] {
            assert!((end.0 - 3.0).abs() < 1e-12, "{end:?}");
        }
    }

    #[test]
    fn saddles_follow_the_centre_and_missing_data_cuts_lines() {
        // One cell with opposite corners inside: joined when the centre is inside.
        let xs = [0.0, 1.0];
        let ys = [0.0, 1.0];
        let paths = contour(&xs, &ys, &[2.0, 0.0, 0.0, 2.0], 0.5);
        assert_eq!(paths.len(), 2);
        // Centre mean 1.0 > 0.5: bottom-left and top-right are connected, the
        // segments cut off the other two corners.
        let near = |p: (f64, f64), c: (f64, f64)| (p.0 - c.0).abs() + (p.1 - c.1).abs() < 1.0;
        assert!(paths
            .iter()
            .any(|p| near(p[0], (1.0, 0.0)) && near(p[1], (1.0, 0.0))));
        assert!(paths
            .iter()
            .any(|p| near(p[0], (0.0, 1.0)) && near(p[1], (0.0, 1.0))));
        // A hole in the data: the circle becomes an open line around it.
        let xs = grid(41, -2.0, 2.0);
        let mut v = sample(&xs, &xs, |x, y| (x * x + y * y).sqrt());
        v[20 * 41 + 30] = f64::NAN; // (1.0, 0.0) sits on the circle
        let paths = contour(&xs, &xs, &v, 1.0);
        assert_eq!(paths.len(), 1);
        assert_ne!(paths[0].first(), paths[0].last());
        // No crossing at all, or a degenerate grid: nothing.
        assert!(contour(&xs, &xs, &v, 10.0).is_empty());
        assert!(contour(&[0.0], &[0.0], &[1.0], 0.5).is_empty());
    }
}
