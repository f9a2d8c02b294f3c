//! Property tests: conversions round-trip, JSON round-trips, comparisons agree with each other.

use ferrite_rules::convert::{parse_decimal, to_decimal, to_int_nearest, to_string};
use ferrite_rules::json::{from_json_slice, to_json_string};
use ferrite_rules::{SqlVersion, Value, ops};
use proptest::prelude::*;

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        (-1e15f64..1e15).prop_map(Value::Decimal),
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
        (-1e12f64..1e12).prop_map(Value::Decimal),
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
    fn decimal_to_string_to_decimal_round_trips(d in prop::num::f64::NORMAL | prop::num::f64::ZERO) {
        let text = to_string(&Value::Decimal(d)).unwrap().into_owned();
        let parsed = parse_decimal(&text).or_else(|| text.parse::<f64>().ok());
        prop_assert_eq!(parsed, Some(d), "{}", text);
    }

    #[test]
    fn decimal_text_is_json_and_reads_back(d in -1e300f64..1e300) {
        let text = to_json_string(&Value::Decimal(d));
        prop_assert_eq!(from_json_slice(text.as_bytes(), SqlVersion::V2015_10_08).unwrap(), Value::Decimal(d));
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
        prop_assert_eq!(to_decimal(&Value::from(i.to_string())), Some(f64::from(i)));
    }
}
