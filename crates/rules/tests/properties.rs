//! Property tests: conversions round-trip, JSON round-trips, comparisons agree with each other.

use ferrite_rules::convert::{parse_decimal, to_decimal, to_int_nearest, to_string};
use ferrite_rules::json::{from_json_slice, to_json_string};
use ferrite_rules::{Decimal, SqlVersion, Value, ops};
use proptest::prelude::*;

/// Any Decimal of up to 34 digits, exponents around the point.
fn decimal() -> impl Strategy<Value = Decimal> {
    (any::<bool>(), 0..10u128.pow(34), -40i64..40, 0u32..34).prop_map(|(neg, coef, exp, cut)| {
        // Mostly short coefficients, as payloads have them.
        let coef = coef / 10u128.pow(cut);
        Decimal::from_parts(neg, coef, exp).expect("in range")
    })
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        // A whole Decimal without an exponent is written as Java writes it, `3`: an Int to read.
        decimal()
            .prop_filter("written as an Int", |d| d.parts().2 != 0)
            .prop_map(Value::Decimal),
        "[a-z0-9 ]{0,8}".prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::array),
            prop::collection::vec(("[a-z]{1,3}", inner), 0..4).prop_map(Value::object),
        ]
    })
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::Int),
        decimal().prop_map(Value::Decimal),
        any::<i32>().prop_map(|i| Value::from(i.to_string())),
    ]
}

proptest! {
    #[test]
    fn int_to_string_to_int_round_trips(i in any::<i64>()) {
        let text = to_string(&Value::Int(i)).unwrap().into_owned();
        prop_assert_eq!(to_int_nearest(&Value::from(text.as_ref())), Some(i));
    }

    #[test]
    fn decimal_to_string_to_decimal_round_trips(d in decimal()) {
        let text = to_string(&Value::Decimal(d)).unwrap().into_owned();
        // AWS's string pattern has no `E+`; the text of a large value reads as a literal does.
        let parsed = parse_decimal(&text).or_else(|| Decimal::parse(&text)).unwrap();
        // Every digit and the scale come back.
        prop_assert_eq!(parsed.parts(), d.parts(), "{}", text);
    }

    #[test]
    fn decimal_text_is_json_and_reads_back(d in decimal()) {
        let text = to_json_string(&Value::Decimal(d));
        let back = from_json_slice(text.as_bytes(), SqlVersion::V2015_10_08).unwrap();
        // A Decimal without a fraction (`3`, as Java writes it) reads back as an Int.
        match back {
            Value::Decimal(back) => prop_assert_eq!(back.parts(), d.parts(), "{}", text),
            Value::Int(i) => prop_assert_eq!(Decimal::from_i64(i).parts(), d.parts(), "{}", text),
            other => prop_assert!(false, "{text} read as {other:?}"),
        }
    }

    #[test]
    fn decimal_arithmetic_is_exact(x in -10i128.pow(15)..10i128.pow(15), y in -10i128.pow(15)..10i128.pow(15), k in 0i64..20) {
        let v = SqlVersion::V2015_10_08;
        let dec = |n: i128, k: i64| Value::Decimal(Decimal::from_parts(n < 0, n.unsigned_abs(), -k).unwrap());
        prop_assert_eq!(ops::add(&dec(x, k), &dec(y, k), v), dec(x + y, k));
        prop_assert_eq!(ops::sub(&dec(x, k), &dec(y, k), v), dec(x - y, k));
        prop_assert_eq!(ops::mul(&dec(x, k), &dec(y, k), v), dec(x * y, 2 * k));
        if y != 0 {
            let q = ops::div(&dec(x * y, k), &dec(y, 0), v);
            prop_assert_eq!(q, dec(x, k));
            prop_assert_eq!(ops::rem(&dec(x, k), &dec(y, k), v), dec(x % y, k));
        }
        prop_assert_eq!(ops::compare(&dec(x, k), &dec(y, k)), Some(x.cmp(&y)));
    }

    #[test]
    fn json_round_trips_in_2015(v in json_value()) {
        let text = to_json_string(&v);
        prop_assert_eq!(from_json_slice(text.as_bytes(), SqlVersion::V2015_10_08).unwrap(), v);
    }

    #[test]
    fn json_output_reads_back_to_the_same_text(v in json_value()) {
        let text = to_json_string(&v);
        let again = from_json_slice(text.as_bytes(), SqlVersion::V2016_03_23).unwrap();
        // 2016-03-23 may turn 2.0 into 2, so compare as SQL values, not types.
        prop_assert_eq!(ops::eq(&again, &v), Value::Bool(true));
    }

    #[test]
    fn comparisons_are_consistent(a in number(), b in number()) {
        let (lt, le, gt, ge, eq) = (ops::lt(&a, &b), ops::le(&a, &b), ops::gt(&a, &b), ops::ge(&a, &b), ops::eq(&a, &b));
        let truth = |v: &Value| match v { Value::Bool(x) => *x, other => panic!("{other:?}") };
        prop_assert_eq!(truth(&lt), !truth(&ge));
        prop_assert_eq!(truth(&gt), !truth(&le));
        prop_assert_eq!(truth(&ops::lt(&b, &a)), truth(&gt));
        let numeric = |v: &Value| matches!(v, Value::Int(_) | Value::Decimal(_));
        if numeric(&a) && numeric(&b) {
            prop_assert_eq!(truth(&eq), truth(&le) && truth(&ge));
        }
        prop_assert_eq!(ops::ne(&a, &b), ops::not(&eq));
    }

    #[test]
    fn equality_is_symmetric(a in json_value(), b in json_value()) {
        prop_assert_eq!(ops::eq(&a, &b), ops::eq(&b, &a));
        prop_assert_eq!(ops::eq(&a, &a), Value::Bool(true));
    }

    #[test]
    fn int_arithmetic_matches_i64_when_it_fits(a in -1_000_000i64..1_000_000, b in -1_000_000i64..1_000_000) {
        let v = SqlVersion::V2016_03_23;
        prop_assert_eq!(ops::add(&Value::Int(a), &Value::Int(b), v), Value::Int(a + b));
        prop_assert_eq!(ops::sub(&Value::Int(a), &Value::Int(b), v), Value::Int(a - b));
        prop_assert_eq!(ops::mul(&Value::Int(a), &Value::Int(b), v), Value::Int(a * b));
        if b != 0 {
            prop_assert_eq!(ops::div(&Value::Int(a), &Value::Int(b), v), Value::Int(a / b));
            prop_assert_eq!(ops::rem(&Value::Int(a), &Value::Int(b), v), Value::Int(a % b));
        }
    }

    #[test]
    fn numeric_strings_convert_like_their_numbers(i in any::<i32>()) {
        prop_assert_eq!(to_decimal(&Value::from(i.to_string())), Some(Decimal::from_i64(i64::from(i))));
    }
}
