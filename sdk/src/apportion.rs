//! Splitting an order-level amount over its lines, exactly.
//!
//! Platforms that do not say what each line paid (JOS's `itemInfoList`, ECShop's
//! `ecs_order_goods`) give only the order's discount; the canonical line needs its share. The
//! split is in proportion to each line's weight (its gross, price × quantity), rounded by the
//! largest-remainder method with ties going to the earlier line, so the shares always add up
//! to the amount to the fen and the same order always splits the same way.

/// Splits `amount` over `weights` in proportion. The shares sum to `amount` exactly; a
/// negative amount splits like its absolute value, negated. When every weight is zero the
/// first line takes it all. An empty `weights` gives no shares.
pub fn apportion(amount: i64, weights: &[u64]) -> Vec<i64> {
    if weights.is_empty() {
        return Vec::new();
    }
    let total: u128 = weights.iter().map(|&w| u128::from(w)).sum();
    let magnitude = u128::from(amount.unsigned_abs());
    // u64 × u64 fits u128, so nothing here can overflow; `None` when every weight is zero.
    let floors: Option<Vec<u128>> = weights.iter().map(|&w| (magnitude * u128::from(w)).checked_div(total)).collect();
    let shares = match floors {
        None => std::iter::once(magnitude).chain(std::iter::repeat_n(0, weights.len() - 1)).collect(),
        Some(mut shares) => {
            let mut by_remainder: Vec<usize> = (0..weights.len()).collect();
            // A stable sort keeps equal remainders in line order: ties go to the earlier line.
            by_remainder.sort_by_key(|&i| std::cmp::Reverse(magnitude * u128::from(weights[i]) % total));
            let left = magnitude - shares.iter().sum::<u128>();
            for &i in by_remainder.iter().take(left as usize) {
                shares[i] += 1;
            }
            shares
        }
    };
    // Every share is at most |amount| and takes its sign, so it fits i64 (i64::MIN included).
    let sign: i128 = if amount < 0 { -1 } else { 1 };
    shares.into_iter().map(|s| (sign * s as i128) as i64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_exactly_with_ties_to_the_first() {
        assert_eq!(apportion(10, &[1, 1, 1]), [4, 3, 3]);
        assert_eq!(apportion(100, &[3000, 1000]), [75, 25]);
        assert_eq!(apportion(1, &[5, 5]), [1, 0]);
        assert_eq!(apportion(0, &[5, 5]), [0, 0]);
        assert_eq!(apportion(7, &[]), Vec::<i64>::new());
        assert_eq!(apportion(7, &[0, 0]), [7, 0]);
        assert_eq!(apportion(-10, &[1, 1, 1]), [-4, -3, -3]);
        assert_eq!(apportion(i64::MIN, &[1]), [i64::MIN]);
        assert_eq!(apportion(i64::MAX, &[0, 1]), [0, i64::MAX]);
        let shares = apportion(i64::MIN, &[u64::MAX, 1, 7]);
        assert_eq!(shares.iter().map(|&s| i128::from(s)).sum::<i128>(), i128::from(i64::MIN));
    }

    #[test]
    fn largest_remainder_wins_the_spare_fen() {
        // 10 × 2/7 = 2.857…, 10 × 5/7 = 7.142…: the first has the larger remainder.
        assert_eq!(apportion(10, &[2, 5]), [3, 7]);
        for amount in 0..200 {
            let shares = apportion(amount, &[1999, 2999, 13, 0]);
            assert_eq!(shares.iter().sum::<i64>(), amount);
            assert_eq!(shares[3], 0);
        }
    }
}
