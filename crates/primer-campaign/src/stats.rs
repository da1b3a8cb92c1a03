//! Tests for comparing campaigns (issue 27: evolution against random search): the Mann-Whitney U
//! test of two samples (best-so-far at equal compute) and Fisher's exact test of a 2 x 2 table
//! (campaigns of each arm that reached a basin or a motif, and those that did not).

/// The Mann-Whitney U test of samples `a` and `b`: U of `a` (pairs (x in a, y in b) with x > y,
/// ties counting one half) and the two-sided p-value. Exact (the distribution of U over every
/// split of the pooled ranks, counted by dynamic programming) when there are no ties and
/// `a.len() * b.len() <= 2500`; otherwise the normal approximation with the tie correction and
/// a continuity correction of one half. `None` when either sample is empty or holds a NaN.
pub fn mann_whitney_u(a: &[f64], b: &[f64]) -> Option<(f64, f64)> {
    let (n1, n2) = (a.len(), b.len());
    if n1 == 0 || n2 == 0 || a.iter().chain(b).any(|x| x.is_nan()) {
        return None;
    }
    let u: f64 = a
        .iter()
        .map(|&x| {
            b.iter()
                .map(|&y| {
                    if x > y {
                        1.0
                    } else if x == y {
                        0.5
                    } else {
                        0.0
                    }
                })
                .sum::<f64>()
        })
        .sum();
    let mut pooled: Vec<f64> = a.iter().chain(b).copied().collect();
    pooled.sort_by(|x, y| x.total_cmp(y));
    let mut tie_sizes = Vec::new();
    let mut i = 0;
    while i < pooled.len() {
        let j = pooled[i..].iter().take_while(|&&x| x == pooled[i]).count();
        if j > 1 {
            tie_sizes.push(j as f64);
        }
        i += j;
    }
    let (m, n) = (n1 as f64, n2 as f64);
    let mean = m * n / 2.0;
    if tie_sizes.is_empty() && n1 * n2 <= 2500 {
        // counts[k]: splits with U = k. P(U <= u) and P(U >= u), doubled, capped at 1.
        let counts = u_counts(n1, n2);
        let total: f64 = counts.iter().sum();
        let k = u.round() as usize;
        let low: f64 = counts[..=k].iter().sum::<f64>() / total;
        let high: f64 = counts[k..].iter().sum::<f64>() / total;
        return Some((u, (2.0 * low.min(high)).min(1.0)));
    }
    let n_all = m + n;
    let ties: f64 = tie_sizes.iter().map(|t| t * t * t - t).sum();
    let var = m * n / 12.0 * ((n_all + 1.0) - ties / (n_all * (n_all - 1.0)));
    if var <= 0.0 {
        return Some((u, 1.0));
    }
    let z = ((u - mean).abs() - 0.5).max(0.0) / var.sqrt();
    Some((u, (2.0 * normal_upper(z)).min(1.0)))
}

/// How many of the C(n1 + n2, n1) ways to place `a`'s n1 values among the pooled ranks give
/// each U = 0 ..= n1 n2 (the recurrence c(m, n, u) = c(m - 1, n, u - n) + c(m, n - 1, u)).
fn u_counts(n1: usize, n2: usize) -> Vec<f64> {
    let max = n1 * n2;
    // table[m][n] as a vector over u, built for m <= n1, n <= n2.
    let mut prev_row: Vec<Vec<f64>> = (0..=n2).map(|_| one_at_zero(max)).collect();
    for _ in 1..=n1 {
        let mut row: Vec<Vec<f64>> = Vec::with_capacity(n2 + 1);
        row.push(one_at_zero(max));
        for n in 1..=n2 {
            let mut c = row[n - 1].clone();
            for (u, v) in c.iter_mut().enumerate().skip(n) {
                *v += prev_row[n][u - n];
            }
            row.push(c);
        }
        prev_row = row;
    }
    prev_row.swap_remove(n2)
}

fn one_at_zero(len: usize) -> Vec<f64> {
    let mut v = vec![0.0; len + 1];
    v[0] = 1.0;
    v
}

/// P(Z > z) for a standard normal Z (Abramowitz and Stegun 7.1.26 for erfc: error below 1.5e-7).
fn normal_upper(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly =
        t * (0.254_829_592 + t * (-0.284_496_736 + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erfc = poly * (-x * x).exp();
    let erfc = if x >= 0.0 { erfc } else { 2.0 - erfc };
    erfc / 2.0
}

/// Fisher's exact test of the 2 x 2 table [[a, b], [c, d]] (rows: the arms; columns: hit, not
/// hit): the two-sided p-value, the sum of the probabilities of every table with the same
/// margins that is no more likely than this one (the convention of R and SciPy, with a relative
/// tolerance of 1e-7 for ties in probability).
pub fn fisher_exact(a: u64, b: u64, c: u64, d: u64) -> f64 {
    let (row1, col1, n) = (a + b, a + c, a + b + c + d);
    let lo = col1.saturating_sub(c + d);
    let hi = row1.min(col1);
    let ln_p = |x: u64| ln_choose(row1, x) + ln_choose(n - row1, col1 - x) - ln_choose(n, col1);
    let observed = ln_p(a);
    let p: f64 = (lo..=hi).map(ln_p).filter(|&l| l <= observed + 1e-7_f64.ln_1p()).map(f64::exp).sum();
    p.min(1.0)
}

fn ln_choose(n: u64, k: u64) -> f64 {
    ln_factorial(n) - ln_factorial(k) - ln_factorial(n - k)
}

fn ln_factorial(n: u64) -> f64 {
    (2..=n).map(|i| (i as f64).ln()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exact p-value by brute force: every way to choose which pooled values are `a`'s.
    fn brute(a: &[f64], b: &[f64]) -> f64 {
        let pooled: Vec<f64> = a.iter().chain(b).copied().collect();
        let (n, n1) = (pooled.len(), a.len());
        let u_of = |mask: u32| {
            let (x, y): (Vec<f64>, Vec<f64>) = {
                let mut x = Vec::new();
                let mut y = Vec::new();
                for (i, &v) in pooled.iter().enumerate() {
                    if mask & (1 << i) != 0 { x.push(v) } else { y.push(v) }
                }
                (x, y)
            };
            x.iter().map(|&p| y.iter().filter(|&&q| p > q).count()).sum::<usize>() as f64
        };
        let observed = mann_whitney_u(a, b).unwrap().0;
        let mut all = Vec::new();
        for mask in 0u32..(1 << n) {
            if mask.count_ones() as usize == n1 {
                all.push(u_of(mask));
            }
        }
        let t = all.len() as f64;
        let low = all.iter().filter(|&&u| u <= observed).count() as f64 / t;
        let high = all.iter().filter(|&&u| u >= observed).count() as f64 / t;
        (2.0 * low.min(high)).min(1.0)
    }

    #[test]
    fn mann_whitney_exact_agrees_with_enumeration() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [6.0, 7.0, 8.0, 9.0, 10.0];
        let (u, p) = mann_whitney_u(&a, &b).unwrap();
        assert_eq!(u, 0.0);
        assert!((p - 2.0 / 252.0).abs() < 1e-15, "{p}");
        for (a, b) in [
            (vec![0.3, 1.7, 2.2, 5.0], vec![0.1, 0.9, 3.3, 4.1, 6.0, 7.5]),
            (vec![2.0, 9.0, 4.0], vec![1.0, 3.0, 5.0, 6.0, 7.0, 8.0, 10.0]),
            (vec![1.5], vec![0.5, 2.5]),
        ] {
            let (u, p) = mann_whitney_u(&a, &b).unwrap();
            assert!((p - brute(&a, &b)).abs() < 1e-12, "{a:?} {b:?}: {p}");
            // U of a plus U of b is n1 n2.
            assert_eq!(u + mann_whitney_u(&b, &a).unwrap().0, (a.len() * b.len()) as f64);
        }
    }

    #[test]
    fn mann_whitney_normal_with_ties() {
        // Ties: the normal approximation. a = [1, 2, 2, 3], b = [2, 3, 4, 5]: U = 0 + 0.5 + 0.5
        // + (1 + 0.5 + 0.5 + 0.5) + ... computed by hand: pairs x > y count 1, x == y one half.
        let a = [1.0, 2.0, 2.0, 3.0];
        let b = [2.0, 3.0, 4.0, 5.0];
        let (u, p) = mann_whitney_u(&a, &b).unwrap();
        // 1: 0; 2: 0.5 (vs 2); 2: 0.5; 3: 1 (vs 2) + 0.5 (vs 3) = 1.5. U = 2.5.
        assert_eq!(u, 2.5);
        // Ties: {2, 2, 2} and {3, 3}: sum t^3 - t = 24 + 6 = 30; var = 16/12 (9 - 30/56).
        let var: f64 = 16.0 / 12.0 * (9.0 - 30.0 / 56.0);
        let z = ((2.5f64 - 8.0).abs() - 0.5) / var.sqrt();
        assert!((p - 2.0 * normal_upper(z)).abs() < 1e-15);
        assert!(p > 0.05 && p < 0.2, "{p}");
        assert!(mann_whitney_u(&[], &b).is_none() && mann_whitney_u(&[f64::NAN], &b).is_none());
        // All equal: no evidence at all.
        assert_eq!(mann_whitney_u(&[1.0, 1.0], &[1.0, 1.0]).unwrap().1, 1.0);
    }

    #[test]
    fn normal_tail_matches_known_values() {
        for (z, want) in [(0.0, 0.5), (1.0, 0.158_655_253_9), (1.959_963_985, 0.025), (3.0, 0.001_349_898)] {
            assert!((normal_upper(z) - want).abs() < 2e-7, "{z}: {}", normal_upper(z));
        }
    }

    #[test]
    fn fisher_exact_matches_known_tables() {
        // The lady tasting tea: [[3, 1], [1, 3]], two-sided p = 34/70.
        assert!((fisher_exact(3, 1, 1, 3) - 34.0 / 70.0).abs() < 1e-12);
        // [[8, 2], [1, 5]]: P(x) = C(10, x) C(6, 9 - x) / C(16, 9) for x = 3 ..= 9; the tables no
        // more likely than the observed (x = 8: 270 / 11440) are x = 3, 8, 9: (120 + 270 + 10) / 11440.
        let p_of = |x: u64| -> f64 { (ln_choose(10, x) + ln_choose(6, 9 - x) - ln_choose(16, 9)).exp() };
        let observed = p_of(8);
        let want: f64 = (3..=9).map(p_of).filter(|&p| p <= observed * (1.0 + 1e-7)).sum();
        assert!((fisher_exact(8, 2, 1, 5) - want).abs() < 1e-12);
        assert!((fisher_exact(8, 2, 1, 5) - 0.034_965_034_965).abs() < 1e-9, "{}", fisher_exact(8, 2, 1, 5));
        // Symmetric and bounded.
        assert!((fisher_exact(2, 2, 2, 2) - 1.0).abs() < 1e-12, "{}", fisher_exact(2, 2, 2, 2));
        assert!((fisher_exact(1, 5, 8, 2) - fisher_exact(8, 2, 1, 5)).abs() < 1e-12);
        assert_eq!(fisher_exact(0, 0, 0, 0), 1.0);
    }
}
