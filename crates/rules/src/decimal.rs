use std::cmp::Ordering;
use std::fmt;

use dec::{Context, Decimal128};

/// AWS's `Decimal`: 34 significant digits rounded half-even, as Java's `BigDecimal` with
/// `MathContext.DECIMAL128` computes, magnitudes from 1E-999 to 9.999…E999.
///
/// Held as an IEEE 754 decimal128 (16 bytes, no allocation), which has exactly that precision
/// and rounding, and keeps the exponent the way `BigDecimal` keeps its scale: `1.50` stays
/// `1.50`, `1.5 + 1.5` is `3.0`. Every value is finite and inside AWS's range: an operation
/// whose result is not (`1/0`, `9E999 * 10`) gives `None`, which callers turn into
/// `Undefined`; a result smaller than 1E-999 becomes 0 (written `0.0`).
#[derive(Clone, Copy)]
pub struct Decimal(Decimal128);

/// Significant digits kept.
const PRECISION: u32 = 34;
/// The largest adjusted exponent (that of the leading digit) AWS allows: 9.999…E999.
const MAX_ADJUSTED: i32 = 999;
/// The smallest adjusted exponent of a non-zero value: 1E-999.
const MIN_ADJUSTED: i32 = -999;
/// decimal128's exponent bias and the range of the exponent of its last digit.
const BIAS: i32 = 6176;
const MIN_EXP: i32 = -6176;
const MAX_EXP: i32 = 6111;
/// 10^34: one more than the largest coefficient.
const COEF_LIMIT: u128 = 10u128.pow(PRECISION);

/// How a Decimal becomes a whole number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// Toward zero: what AWS's tables call "rounded down" (`-1.5` → `-1`).
    Down,
    /// Halves away from zero, as `round` does (`-1.5` → `-2`).
    HalfAway,
    /// Toward negative infinity (`floor`).
    Floor,
    /// Toward positive infinity (`ceil`).
    Ceiling,
}

const fn pow10(n: u32) -> u128 {
    10u128.pow(n)
}

/// The densely packed encoding of three decimal digits (IEEE 754-2008, 3.5.2), as a table.
const BIN2DPD: [u16; 1000] = {
    let mut table = [0u16; 1000];
    let mut n = 0;
    while n < 1000 {
        table[n] = dpd(n as u16);
        n += 1;
    }
    table
};

/// The three digits of each canonical densely packed declet.
const DPD2BIN: [u16; 1024] = {
    let mut table = [0u16; 1024];
    let mut n = 0;
    while n < 1000 {
        table[BIN2DPD[n] as usize] = n as u16;
        n += 1;
    }
    table
};

const fn dpd(n: u16) -> u16 {
    let (h, t, u) = (n / 100, n / 10 % 10, n % 10);
    // A digit of 8 or 9 is "large": only its lowest bit is stored, the pattern says which.
    let (bh, bt, bu) = (h >= 8, t >= 8, u >= 8);
    let (pqr, stu, vwxy) = match (bh, bt, bu) {
        (false, false, false) => ((h & 7), (t & 7), (u & 7)),
        (false, false, true) => ((h & 7), (t & 7), 0b1000 | (u & 1)),
        (false, true, false) => ((h & 7), (u & 6) | (t & 1), 0b1010 | (u & 1)),
        (false, true, true) => ((h & 7), 0b100 | (t & 1), 0b1110 | (u & 1)),
        (true, false, false) => ((u & 6) | (h & 1), (t & 7), 0b1100 | (u & 1)),
        (true, false, true) => ((t & 6) | (h & 1), 0b010 | (t & 1), 0b1110 | (u & 1)),
        (true, true, false) => ((u & 6) | (h & 1), t & 1, 0b1110 | (u & 1)),
        (true, true, true) => (h & 1, 0b110 | (t & 1), 0b1110 | (u & 1)),
    };
    (pqr << 7) | (stu << 4) | vwxy
}

/// The decimal128 with this sign, coefficient (< 10^34) and exponent (in decimal128's range).
fn encode(negative: bool, coef: u128, exp: i32) -> Decimal128 {
    debug_assert!(coef < COEF_LIMIT && (MIN_EXP..=MAX_EXP).contains(&exp));
    // Digits 1–18 and 19–34 as u64s: 128-bit division is slow, and one is enough.
    let (mut high, mut low) = split(coef, 1_000_000_000_000_000_000);
    let mut bits: u128 = 0;
    for declet in 0..6 {
        bits |= u128::from(BIN2DPD[(low % 1000) as usize]) << (10 * declet);
        low /= 1000;
    }
    for declet in 6..11 {
        bits |= u128::from(BIN2DPD[(high % 1000) as usize]) << (10 * declet);
        high /= 1000;
    }
    let msd = high as u32; // the 34th digit
    let biased = (exp + BIAS) as u32;
    let top = biased >> 12;
    let combination = if msd < 8 {
        (top << 3) | msd
    } else {
        0b11000 | (top << 1) | (msd & 1)
    };
    bits |= u128::from(combination) << 122;
    bits |= u128::from(biased & 0xfff) << 110;
    if negative {
        bits |= 1 << 127;
    }
    Decimal128::from_le_bytes(bits.to_le_bytes())
}

/// `n` as `(n / unit, n % unit)` in u64s (both below 2^64 for `n` < 10^34 and the units used),
/// with no 128-bit division for the common small `n`.
fn split(n: u128, unit: u64) -> (u64, u64) {
    match u64::try_from(n) {
        Ok(small) if small < unit => (0, small),
        _ => {
            let high = n / u128::from(unit);
            (high as u64, (n - high * u128::from(unit)) as u64)
        }
    }
}

fn digit_count(n: u128) -> u32 {
    if n == 0 { 1 } else { n.ilog10() + 1 }
}

impl Decimal {
    pub const ZERO: Decimal = Decimal(Decimal128::ZERO);

    /// `±coef × 10^exp`, rounded half-even to 34 digits; `None` beyond 9.999…E999.
    pub fn from_parts(negative: bool, coef: u128, exp: i64) -> Option<Decimal> {
        let mut coef = coef;
        let mut exp = exp;
        let digits = digit_count(coef);
        if digits > PRECISION {
            let drop = digits - PRECISION;
            let unit = pow10(drop);
            let (q, r) = (coef / unit, coef % unit);
            coef = q + u128::from(round_up_half_even(q, r, unit));
            exp += i64::from(drop);
            if coef == COEF_LIMIT {
                coef /= 10;
                exp += 1;
            }
        }
        Self::finish(negative, coef, exp)
    }

    /// Range checks and builds an already-rounded value.
    fn finish(negative: bool, coef: u128, exp: i64) -> Option<Decimal> {
        if coef == 0 {
            let exp = exp.clamp(i64::from(MIN_EXP), i64::from(MAX_EXP)) as i32;
            return Some(Decimal(encode(false, 0, exp)));
        }
        let adjusted = exp + i64::from(digit_count(coef)) - 1;
        if adjusted > i64::from(MAX_ADJUSTED) {
            return None;
        }
        // Too small for AWS's range: a decimal zero, written `0.0` as the double 0 is, so it
        // reads back as the same Decimal rather than as the Int `0`.
        if adjusted < i64::from(MIN_ADJUSTED) {
            return Some(Decimal(encode(false, 0, -1)));
        }
        Some(Decimal(encode(negative, coef, exp as i32)))
    }

    /// A decimal128 result as a value of AWS's range; `None` for infinities, NaNs and
    /// overflow. `-0` is `0`, as `BigDecimal` has no negative zero.
    fn checked(d: Decimal128) -> Option<Decimal> {
        if !d.is_finite() {
            return None;
        }
        let coef = d.coefficient();
        Self::finish(coef < 0, coef.unsigned_abs(), i64::from(d.exponent()))
    }

    /// An Int, exactly.
    pub fn from_i64(i: i64) -> Decimal {
        Self::from_i128(i128::from(i))
    }

    /// A whole number of up to 34 digits exactly; more are rounded.
    pub fn from_i128(i: i128) -> Decimal {
        // 39 digits at most, so never beyond AWS's range.
        Self::from_parts(i < 0, i.unsigned_abs(), 0).unwrap_or(Decimal::ZERO)
    }

    /// The decimal a double stands for, as Java's `BigDecimal.valueOf(double)` reads it: the
    /// shortest digits that read back as the double, with at least one digit after the point
    /// (`2.0`, `1.0E+21`). `None` for NaN and infinities.
    pub fn from_f64(d: f64) -> Option<Decimal> {
        if !d.is_finite() {
            return None;
        }
        if d == 0.0 {
            return Self::from_parts(false, 0, -1);
        }
        let mut buf = ryu::Buffer::new();
        let (negative, mut coef, mut exp) = parse_parts(buf.format_finite(d).as_bytes())?;
        while coef % 10 == 0 {
            coef /= 10;
            exp += 1;
        }
        // Double.toString writes 1E-3 ≤ |d| < 1E7 plainly, with a ".0" on whole values, and
        // others as d.dddE±n, with at least one digit after the point.
        let plain = (1e-3..1e7).contains(&d.abs());
        if plain && exp >= 0 {
            coef *= pow10(exp as u32 + 1);
            exp = -1;
        } else if !plain && coef < 10 {
            coef *= 10;
            exp -= 1;
        }
        Self::from_parts(negative, coef, exp)
    }

    /// Parses `-?digits[.digits][(e|E)[+|-]digits]` (a JSON number, a SQL literal); `None`
    /// for other text and for values beyond 9.999…E999. More than 34 digits are rounded.
    pub fn parse(text: &str) -> Option<Decimal> {
        let (negative, coef, exp) = parse_parts(text.as_bytes())?;
        Self::from_parts(negative, coef, exp)
    }

    /// The nearest double (for the functions AWS computes in double precision).
    pub fn to_f64(self) -> f64 {
        let (negative, coef, exp) = self.parts();
        let magnitude = if coef < (1 << 53) && (-22..=22).contains(&exp) {
            // Both exact as doubles, so one correctly rounded operation.
            let c = coef as f64;
            if exp >= 0 {
                c * 10f64.powi(exp)
            } else {
                c / 10f64.powi(-exp)
            }
        } else {
            format!("{coef}e{exp}").parse().unwrap_or(f64::NAN)
        };
        if negative { -magnitude } else { magnitude }
    }

    /// Sign, coefficient and exponent: the value is `±coef × 10^exp`.
    pub fn parts(self) -> (bool, u128, i32) {
        // Decoded here rather than through the C library: this is on every comparison and
        // every number written.
        let bits = u128::from_le_bytes(self.0.to_le_bytes());
        let combination = (bits >> 122) as u32 & 0x1f;
        let (msd, top) = if combination >> 3 == 0b11 {
            (8 + (combination & 1), (combination >> 1) & 3)
        } else {
            (combination & 7, combination >> 3)
        };
        let exp = ((top << 12) | ((bits >> 110) as u32 & 0xfff)) as i32 - BIAS;
        let declets = |from: u32, count: u32| {
            let mut n: u64 = 0;
            for k in (from..from + count).rev() {
                n = n * 1000 + u64::from(DPD2BIN[((bits >> (10 * k)) & 0x3ff) as usize]);
            }
            n
        };
        let high = u64::from(msd) * 1_000_000_000_000_000 + declets(6, 5);
        let coef = u128::from(high) * 1_000_000_000_000_000_000 + u128::from(declets(0, 6));
        (bits >> 127 == 1, coef, exp)
    }

    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    pub fn is_negative(self) -> bool {
        self.0.is_negative() && !self.0.is_zero()
    }

    /// Whether the value is a whole number (`10.0`, `1E+3`).
    pub fn is_integer(self) -> bool {
        let (_, coef, exp) = self.parts();
        if exp >= 0 || coef == 0 {
            return true;
        }
        let k = exp.unsigned_abs();
        match u64::try_from(coef) {
            Ok(c) if k <= 19 => c % 10u64.pow(k) == 0,
            _ => k <= 38 && coef % pow10(k) == 0,
        }
    }

    /// The whole number `mode` rounds to, if it fits an `i128` (every whole Decimal below
    /// 1E+38 does).
    pub fn to_i128(self, mode: Rounding) -> Option<i128> {
        let (negative, coef, exp) = self.parts();
        let magnitude = if exp >= 0 {
            pow10(u32::try_from(exp).ok().filter(|e| *e <= 38)?).checked_mul(coef)?
        } else {
            let k = exp.unsigned_abs();
            let (q, r, unit) = match u64::try_from(coef) {
                _ if k > 38 => (0, coef, None),
                Ok(c) if k <= 19 => {
                    let unit = 10u64.pow(k);
                    (
                        u128::from(c / unit),
                        u128::from(c % unit),
                        Some(u128::from(unit)),
                    )
                }
                _ => {
                    let unit = pow10(k);
                    (coef / unit, coef % unit, Some(unit))
                }
            };
            let up = r != 0
                && match mode {
                    Rounding::Down => false,
                    // A remainder of more than 38 digits' scale is below a half.
                    Rounding::HalfAway => unit.is_some_and(|u| r >= u - r),
                    Rounding::Floor => negative,
                    Rounding::Ceiling => !negative,
                };
            q + u128::from(up)
        };
        let magnitude = i128::try_from(magnitude).ok()?;
        Some(if negative { -magnitude } else { magnitude })
    }

    /// [`Decimal::to_i128`] as an `i64`.
    pub fn to_i64(self, mode: Rounding) -> Option<i64> {
        self.to_i128(mode).and_then(|i| i64::try_from(i).ok())
    }

    /// The whole number `mode` rounds to, as a Decimal (a value beyond `i128` is already
    /// whole).
    pub fn round_to_integer(self, mode: Rounding) -> Decimal {
        match self.to_i128(mode) {
            Some(i) => Decimal::from_i128(i),
            None => self,
        }
    }

    /// Cut (toward zero) to at most `places` digits after the point; trailing zeros of the
    /// result are dropped (`2.50` cut to 1 place is `2.5`, to 0 places `2`).
    pub fn truncate(self, places: u32) -> Decimal {
        let (negative, mut coef, mut exp) = self.parts();
        let min_exp = -(places as i32);
        if exp < min_exp {
            let drop = (min_exp - exp) as u32;
            coef = if drop > 38 { 0 } else { coef / pow10(drop) };
            exp = min_exp;
        }
        while coef != 0 && coef % 10 == 0 && exp < 0 {
            coef /= 10;
            exp += 1;
        }
        Self::finish(negative, coef, i64::from(exp)).unwrap_or(self)
    }

    pub fn abs(self) -> Decimal {
        let (_, coef, exp) = self.parts();
        Self::finish(false, coef, i64::from(exp)).unwrap_or(self)
    }

    pub fn negate(self) -> Decimal {
        let (negative, coef, exp) = self.parts();
        Self::finish(!negative && coef != 0, coef, i64::from(exp)).unwrap_or(self)
    }

    /// `self + other`, or `self - other` when `negate_other`. Exact sums of up to 34 digits
    /// (sensor arithmetic) are computed here; others round in the C library.
    fn sum(self, other: Decimal, negate_other: bool) -> Option<Decimal> {
        let (an, ac, ae) = self.parts();
        let (bn, bc, be) = other.parts();
        let bn = bn != negate_other;
        let exp = ae.min(be);
        let scale = |c: u128, e: i32| {
            u32::try_from(e - exp)
                .ok()
                .filter(|k| *k <= 33)
                .and_then(|k| c.checked_mul(pow10(k)))
                .filter(|c| *c < COEF_LIMIT)
        };
        if let (Some(x), Some(y)) = (scale(ac, ae), scale(bc, be)) {
            // Both below 10^34: the signed sum fits an i128.
            let signed = |neg: bool, c: u128| if neg { -(c as i128) } else { c as i128 };
            let total = signed(an, x) + signed(bn, y);
            if total.unsigned_abs() < COEF_LIMIT {
                return Self::finish(total < 0, total.unsigned_abs(), i64::from(exp));
            }
        }
        let mut cx = Context::<Decimal128>::default();
        Self::checked(if negate_other {
            cx.sub(self.0, other.0)
        } else {
            cx.add(self.0, other.0)
        })
    }

    pub fn checked_add(self, other: Decimal) -> Option<Decimal> {
        self.sum(other, false)
    }

    pub fn checked_sub(self, other: Decimal) -> Option<Decimal> {
        self.sum(other, true)
    }

    pub fn checked_mul(self, other: Decimal) -> Option<Decimal> {
        let (an, ac, ae) = self.parts();
        let (bn, bc, be) = other.parts();
        match ac.checked_mul(bc).filter(|c| *c < COEF_LIMIT) {
            // Exact: no rounding to do.
            Some(c) => Self::finish(an != bn && c != 0, c, i64::from(ae) + i64::from(be)),
            None => Self::checked(Context::<Decimal128>::default().mul(self.0, other.0)),
        }
    }

    /// `self / other` to 34 digits; `None` by zero.
    pub fn checked_div(self, other: Decimal) -> Option<Decimal> {
        Self::checked(Context::<Decimal128>::default().div(self.0, other.0))
    }

    /// The whole part of `self / other` (toward zero); `None` by zero or past 34 digits.
    pub fn div_integer(self, other: Decimal) -> Option<Decimal> {
        Self::checked(Context::<Decimal128>::default().div_integer(self.0, other.0))
    }

    /// `self - other × trunc(self / other)`: the sign of the dividend. `None` by zero, and when
    /// the whole quotient has more than 34 digits (Java's "division impossible").
    pub fn checked_rem(self, other: Decimal) -> Option<Decimal> {
        Self::checked(Context::<Decimal128>::default().rem(self.0, other.0))
    }
}

/// `up` for a quotient `q` whose dropped part is `r` out of `unit`: half-even rounding.
fn round_up_half_even(q: u128, r: u128, unit: u128) -> bool {
    let rest = unit - r;
    r > rest || (r == rest && q % 2 == 1)
}

/// Splits number text into sign, coefficient and exponent, rounding the coefficient to 34
/// digits half-even.
fn parse_parts(b: &[u8]) -> Option<(bool, u128, i64)> {
    let negative = b.first() == Some(&b'-');
    let mut i = usize::from(negative);
    let mut coef: u128 = 0;
    let mut kept = 0u32; // significant digits in coef
    let mut fraction = 0i64; // digits after the point that coef holds (or leading zeros)
    let mut dropped = 0i64; // digits before the point beyond the 34th
    let mut round_digit = None; // the first digit beyond the 34th
    let mut sticky = false; // a non-zero digit after that one
    let mut any = false;
    let mut in_fraction = false;
    while let Some(&c) = b.get(i) {
        match c {
            b'0'..=b'9' => {
                any = true;
                let d = c - b'0';
                if kept < PRECISION {
                    if kept > 0 || d != 0 {
                        coef = coef * 10 + u128::from(d);
                        kept += 1;
                    }
                    fraction += i64::from(in_fraction);
                } else {
                    dropped += i64::from(!in_fraction);
                    match round_digit {
                        None => round_digit = Some(d),
                        Some(_) => sticky |= d != 0,
                    }
                }
            }
            b'.' if !in_fraction && any => in_fraction = true,
            _ => break,
        }
        i += 1;
    }
    if !any || b.get(i - 1) == Some(&b'.') {
        return None;
    }
    let mut exp: i64 = 0;
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        let exp_negative = b.get(i) == Some(&b'-');
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let start = i;
        while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            // Saturates far beyond any exponent that can stay in range.
            exp = (exp * 10 + i64::from(c - b'0')).min(1 << 40);
            i += 1;
        }
        if i == start {
            return None;
        }
        if exp_negative {
            exp = -exp;
        }
    }
    if i != b.len() {
        return None;
    }
    let mut exp = exp - fraction + dropped;
    if let Some(d) = round_digit
        && (d > 5 || (d == 5 && (sticky || coef % 2 == 1)))
    {
        coef += 1;
        if coef == COEF_LIMIT {
            coef /= 10;
            exp += 1;
        }
    }
    Some((negative, coef, exp))
}

impl PartialEq for Decimal {
    fn eq(&self, other: &Decimal) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Decimal {}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Decimal) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Numeric order: `2.0` equals `2` (Java's `compareTo`, not its `equals`).
impl Ord for Decimal {
    fn cmp(&self, other: &Decimal) -> Ordering {
        compare_parts(self.parts(), other.parts())
    }
}

/// The numeric order of two `(negative, coefficient, exponent)` triples with coefficients
/// below 10^34 (a Decimal's, or an Int's with exponent 0).
pub(crate) fn compare_parts(a: (bool, u128, i32), b: (bool, u128, i32)) -> Ordering {
    let sign = |(negative, coef, _): (bool, u128, i32)| match (coef, negative) {
        (0, _) => 0,
        (_, true) => -1,
        (_, false) => 1,
    };
    let (sa, sb) = (sign(a), sign(b));
    if sa != sb || sa == 0 {
        return sa.cmp(&sb);
    }
    let (ac, ae, bc, be) = (a.1, a.2, b.1, b.2);
    // The leading digits' places first; equal places leave exponents at most 33 apart, and
    // the aligned coefficient has no more digits than the other one.
    let adjusted = |c: u128, e: i32| e + digit_count(c) as i32 - 1;
    let magnitude = adjusted(ac, ae).cmp(&adjusted(bc, be)).then_with(|| {
        if ae >= be {
            (ac * pow10((ae - be) as u32)).cmp(&bc)
        } else {
            ac.cmp(&(bc * pow10((be - ae) as u32)))
        }
    });
    if sa < 0 {
        magnitude.reverse()
    } else {
        magnitude
    }
}

impl Decimal {
    /// Java's `BigDecimal.toString`: plain digits while the exponent is not positive and the
    /// leading digit is no further than 1E-6 (`0.3`, `21.30`, `0.000001`), scientific
    /// otherwise (`1E+41`, `1.5E-7`). Writes into `out` and answers the length.
    fn format(self, out: &mut [u8; 64]) -> usize {
        let (negative, coef, exp) = self.parts();
        let mut digits = [0u8; 40];
        let mut n = 0;
        // In u64 halves: 128-bit division is slow.
        const HALF: u64 = 10_000_000_000_000_000_000;
        let (mut high, mut low) = split(coef, HALF);
        loop {
            digits[n] = b'0' + (low % 10) as u8;
            n += 1;
            low /= 10;
            if low == 0 && (high == 0 || n == 19) {
                break;
            }
        }
        while high != 0 {
            digits[n] = b'0' + (high % 10) as u8;
            n += 1;
            high /= 10;
        }
        digits[..n].reverse();
        let digits = &digits[..n];
        let mut len = 0;
        let mut push = |bytes: &[u8]| {
            out[len..len + bytes.len()].copy_from_slice(bytes);
            len += bytes.len();
        };
        if negative {
            push(b"-");
        }
        let adjusted = exp + n as i32 - 1;
        if exp <= 0 && adjusted >= -6 {
            let point = n as i32 + exp;
            if exp == 0 {
                push(digits);
            } else if point > 0 {
                let (whole, frac) = digits.split_at(point as usize);
                push(whole);
                push(b".");
                push(frac);
            } else {
                push(b"0.");
                for _ in 0..-point {
                    push(b"0");
                }
                push(digits);
            }
        } else {
            push(&digits[..1]);
            if n > 1 {
                push(b".");
                push(&digits[1..]);
            }
            if adjusted != 0 {
                push(if adjusted > 0 { b"E+" } else { b"E-" });
                let mut e = [0u8; 8];
                let mut k = e.len();
                let mut a = adjusted.unsigned_abs();
                loop {
                    k -= 1;
                    e[k] = b'0' + (a % 10) as u8;
                    a /= 10;
                    if a == 0 {
                        break;
                    }
                }
                push(&e[k..]);
            }
        }
        len
    }

    /// Appends the text of [`fmt::Display`].
    pub fn write_to(self, out: &mut Vec<u8>) {
        let mut buf = [0u8; 64];
        let len = self.format(&mut buf);
        out.extend_from_slice(&buf[..len]);
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 64];
        let len = self.format(&mut buf);
        // Only ASCII digits, signs, points and `E` are written.
        f.write_str(std::str::from_utf8(&buf[..len]).unwrap_or_default())
    }
}

impl fmt::Debug for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap_or_else(|| panic!("{s} parses"))
    }

    fn text(x: Option<Decimal>) -> String {
        x.map_or_else(|| "None".to_owned(), |x| x.to_string())
    }

    #[test]
    fn the_packed_encoding_reads_back() {
        for n in 0..1000u128 {
            for exp in [0, -1, 5] {
                let (neg, coef, e) = Decimal(encode(n % 2 == 1, n, exp)).parts();
                assert_eq!((neg, coef, e), (n % 2 == 1, n, exp), "{n}");
            }
        }
        for coef in [
            COEF_LIMIT - 1,
            8_888_888_888_888_888_888_888_888_888_888_888,
            9_000_000_000_000_000_000_000_000_000_000_001,
            1_234_567_890_123_456_789_012_345_678_901_234,
        ] {
            for exp in [MIN_EXP, -1000, 0, 999, MAX_EXP] {
                let d = encode(true, coef, exp);
                assert_eq!(Decimal(d).parts(), (true, coef, exp));
                // The C library reads the same number.
                assert_eq!((d.coefficient(), d.exponent()), (-(coef as i128), exp));
            }
        }
    }

    #[test]
    fn sums_are_exact() {
        assert_eq!(text(d("0.1").checked_add(d("0.2"))), "0.3");
        assert_eq!(text(d("21.1").checked_add(d("0.2"))), "21.3");
        assert_eq!(text(d("1.5").checked_add(d("1.5"))), "3.0");
        assert_eq!(text(d("1").checked_sub(d("0.9"))), "0.1");
        assert_eq!(text(d("1.10").checked_mul(d("3"))), "3.30");
    }

    #[test]
    fn quotients_keep_34_digits() {
        assert_eq!(
            text(d("1").checked_div(d("3"))),
            "0.3333333333333333333333333333333333"
        );
        assert_eq!(
            text(d("2").checked_div(d("3"))),
            "0.6666666666666666666666666666666667"
        );
        assert_eq!(text(d("6").checked_div(d("2"))), "3");
        assert_eq!(text(d("1.0").checked_div(d("4"))), "0.25");
        assert_eq!(text(d("1").checked_div(d("0"))), "None");
        assert_eq!(text(d("0").checked_div(d("0"))), "None");
        assert_eq!(text(d("7.5").checked_rem(d("2"))), "1.5");
        assert_eq!(text(d("-7.5").checked_rem(d("2"))), "-1.5");
        assert_eq!(text(d("7").div_integer(d("-2"))), "-3");
    }

    #[test]
    fn the_range_is_awss() {
        assert_eq!(text(d("1E+40").checked_mul(d("10"))), "1.0E+41");
        assert_eq!(text(d("9E+999").checked_mul(d("10"))), "None");
        assert_eq!(Decimal::parse("1E+1000"), None);
        assert_eq!(text(Decimal::parse("9.999E999")), "9.999E+999");
        assert_eq!(text(Decimal::parse("1E-1000")), "0.0");
        assert_eq!(text(d("1E-999").checked_div(d("10"))), "0.0");
    }

    #[test]
    fn parsing_rounds_half_even_to_34_digits() {
        assert_eq!(
            d("3.14159265358979323846264338327950288").to_string(),
            "3.141592653589793238462643383279503"
        );
        assert_eq!(
            d("1.0000000000000000000000000000000005").to_string(),
            "1.000000000000000000000000000000000"
        );
        assert_eq!(
            d("1.0000000000000000000000000000000015").to_string(),
            "1.000000000000000000000000000000002"
        );
        assert_eq!(
            d("1.00000000000000000000000000000000050001").to_string(),
            "1.000000000000000000000000000000001"
        );
        assert_eq!(
            d("99999999999999999999999999999999999").to_string(),
            "1.000000000000000000000000000000000E+35"
        );
        assert_eq!(
            d("12345678901234567890123456789012345678").to_string(),
            "1.234567890123456789012345678901235E+37"
        );
        assert_eq!(d("-0.0").to_string(), "0.0");
        assert_eq!(d("007.50").to_string(), "7.50");
        assert_eq!(d("0.000").to_string(), "0.000");
        for bad in ["", "-", "1.", ".5", "1e", "1e+", "--1", "1x", "1.5.5", " 1"] {
            assert_eq!(Decimal::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn text_is_javas_big_decimal_to_string() {
        for (s, want) in [
            ("0.000001", "0.000001"),
            ("0.0000001", "1E-7"),
            ("1.5e-7", "1.5E-7"),
            ("123.4500", "123.4500"),
            ("1e2", "1E+2"),
            ("-1.23E3", "-1.23E+3"),
            ("12e-1", "1.2"),
            ("0e5", "0E+5"),
            ("100", "100"),
        ] {
            assert_eq!(d(s).to_string(), want, "{s}");
        }
    }

    #[test]
    fn doubles_read_as_javas_value_of() {
        let f = |x: f64| text(Decimal::from_f64(x));
        assert_eq!(f(0.1), "0.1");
        assert_eq!(f(2.0), "2.0");
        assert_eq!(f(-2.5), "-2.5");
        assert_eq!(f(0.0), "0.0");
        assert_eq!(f(1e21), "1.0E+21");
        assert_eq!(f(1.5e-7), "1.5E-7");
        assert_eq!(f(0.001), "0.001");
        assert_eq!(f(1234567.0), "1234567.0");
        assert_eq!(f(12345678.0), "12345678");
        assert_eq!(f(0.30000000000000004), "0.30000000000000004");
        assert_eq!(f(f64::NAN), "None");
        assert_eq!(f(f64::INFINITY), "None");
    }

    #[test]
    fn to_doubles_and_whole_numbers() {
        assert_eq!(d("0.1").to_f64(), 0.1);
        assert_eq!(d("-2.5E-30").to_f64(), -2.5e-30);
        assert_eq!(d("3.14159265358979323846").to_f64(), std::f64::consts::PI);
        assert_eq!(d("2.5").to_i64(Rounding::HalfAway), Some(3));
        assert_eq!(d("-2.5").to_i64(Rounding::HalfAway), Some(-3));
        assert_eq!(d("-2.4").to_i64(Rounding::HalfAway), Some(-2));
        assert_eq!(d("-1.5").to_i64(Rounding::Down), Some(-1));
        assert_eq!(d("-1.5").to_i64(Rounding::Floor), Some(-2));
        assert_eq!(d("-1.5").to_i64(Rounding::Ceiling), Some(-1));
        assert_eq!(d("1.000001").to_i64(Rounding::Ceiling), Some(2));
        assert_eq!(d("1E-50").to_i64(Rounding::Ceiling), Some(1));
        assert_eq!(d("1E-50").to_i64(Rounding::HalfAway), Some(0));
        assert_eq!(d("1E+30").to_i64(Rounding::Down), None);
        assert_eq!(d("1E+30").to_i128(Rounding::Down), Some(10i128.pow(30)));
        assert!(d("10.0").is_integer());
        assert!(d("1E+3").is_integer());
        assert!(!d("10.5").is_integer());
        assert_eq!(d("2.888").truncate(2).to_string(), "2.88");
        assert_eq!(d("-2.888").truncate(1).to_string(), "-2.8");
        assert_eq!(d("2.50").truncate(5).to_string(), "2.5");
        assert_eq!(d("2.3").truncate(0).to_string(), "2");
        assert_eq!(d("1E+3").truncate(2).to_string(), "1E+3");
        assert_eq!(d("-0.5").abs().to_string(), "0.5");
        assert_eq!(d("0.5").negate().to_string(), "-0.5");
        assert_eq!(d("0").negate().to_string(), "0");
    }

    #[test]
    fn order_agrees_with_the_c_library() {
        let values = [
            "0",
            "-0.0",
            "1",
            "-1",
            "0.1",
            "0.10",
            "1E+3",
            "999.9",
            "1000.0",
            "-1E-999",
            "9.999E999",
            "1234567890123456789012345678901234",
            "1.234567890123456789012345678901235E+33",
        ];
        for a in values {
            for b in values {
                let (x, y) = (d(a), d(b));
                let c = Context::<Decimal128>::default().partial_cmp(x.0, y.0);
                assert_eq!(Some(x.cmp(&y)), c, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn exact_fast_paths_agree_with_the_c_library() {
        let values = [
            "0",
            "0.00",
            "1",
            "-1",
            "0.1",
            "-0.25",
            "21.1",
            "1E+3",
            "12.345E-7",
            "-9.99",
            "9999999999999999999999999999999999",
            "1E+33",
            "1E-40",
            "-3.3E+20",
        ];
        for a in values {
            for b in values {
                let (x, y) = (d(a), d(b));
                let mut cx = Context::<Decimal128>::default();
                let want = |r: Decimal128| text(Decimal::checked(r));
                assert_eq!(text(x.checked_add(y)), want(cx.add(x.0, y.0)), "{a} + {b}");
                assert_eq!(text(x.checked_sub(y)), want(cx.sub(x.0, y.0)), "{a} - {b}");
                assert_eq!(text(x.checked_mul(y)), want(cx.mul(x.0, y.0)), "{a} * {b}");
            }
        }
    }

    #[test]
    fn order_is_numeric() {
        assert_eq!(d("2.0"), d("2"));
        assert!(d("0.1").checked_add(d("0.2")) == Some(d("0.3")));
        assert!(d("-1") < d("0.5"));
        assert!(d("1E+3") > d("999.9"));
        assert!(d("1E-999") > Decimal::ZERO);
    }
}
