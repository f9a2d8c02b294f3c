//! Every SQL example from AWS's IoT SQL reference parses in the versions it is documented
//! for (and is refused by 2015-10-08 when it uses 2016-03-23 syntax), and round-trips through
//! `Display`. A few are also checked for the tree they build.

mod common;

use common::{EXPRESSIONS, Needs, STATEMENTS};
use ferrite_rules_sql::*;

const VERSIONS: [SqlVersion; 3] = [
    SqlVersion::V2015_10_08,
    SqlVersion::V2016_03_23,
    SqlVersion::Beta,
];

fn accepts(needs: Needs, version: SqlVersion) -> bool {
    needs == Needs::Any || version.at_least_2016()
}

#[test]
fn documented_statements_parse_in_their_versions() {
    for &(sql, needs) in STATEMENTS {
        for version in VERSIONS {
            let result = parse(sql, version);
            assert_eq!(
                result.is_ok(),
                accepts(needs, version),
                "{version}: {sql:?}: {result:?}"
            );
        }
        assert!(
            ferrite_rules_sql::fuzzing::check_parse_roundtrip(sql.as_bytes()) >= 2,
            "{sql}"
        );
    }
}

#[test]
fn documented_expressions_parse_in_their_versions() {
    for &(text, needs) in EXPRESSIONS {
        for version in VERSIONS {
            let result = parse_expression(text, version);
            assert_eq!(
                result.is_ok(),
                accepts(needs, version),
                "{version}: {text:?}: {result:?}"
            );
        }
        assert!(ferrite_rules_sql::fuzzing::check_parse_roundtrip(text.as_bytes()) >= 2);
    }
}

fn items(statement: &Statement) -> &[SelectItem] {
    match &statement.select {
        Select::Items(items) => items,
        Select::Value(_) => panic!("SELECT VALUE"),
    }
}

#[test]
fn the_benchmark_rule_builds_the_expected_tree() {
    let sql = "SELECT temp, topic(2) AS id FROM 'sensors/+/data' WHERE temp > 30";
    let s = parse(sql, SqlVersion::V2016_03_23).unwrap();
    assert!(s.sets.is_empty());
    let items = items(&s);
    assert_eq!(items.len(), 2);
    assert!(matches!(&items[0].expr.kind, ExprKind::Field(f) if f.name == "temp"));
    assert!(items[0].alias.is_none());
    let ExprKind::Call { name, args } = &items[1].expr.kind else {
        panic!()
    };
    assert_eq!(name.name, "topic");
    assert_eq!(args[0].kind, ExprKind::Literal(Literal::Int(2)));
    assert_eq!(items[1].alias.as_ref().unwrap().segments[0].name, "id");
    assert_eq!(s.from.as_ref().unwrap().topic_filter, "sensors/+/data");
    let ExprKind::Binary { op, left, right } = &s.where_.as_ref().unwrap().kind else {
        panic!()
    };
    assert_eq!(*op, BinaryOp::Gt);
    assert!(matches!(&left.kind, ExprKind::Field(f) if f.name == "temp"));
    assert_eq!(right.kind, ExprKind::Literal(Literal::Int(30)));
}

#[test]
fn binary_payload_and_decode_examples() {
    let s = parse(
        "SELECT encode(*, 'base64') AS data, timestamp() AS ts FROM 'a/b'",
        SqlVersion::V2016_03_23,
    )
    .unwrap();
    let ExprKind::Call { name, args } = &items(&s)[0].expr.kind else {
        panic!()
    };
    assert_eq!(name.name, "encode");
    assert_eq!(args[0].kind, ExprKind::Star);
    assert_eq!(
        args[1].kind,
        ExprKind::Literal(Literal::String("base64".into()))
    );

    let s = parse(
        "SELECT decode(encoded_temp,\"base64\").temperature AS temp from 'topic/subtopic'",
        SqlVersion::V2016_03_23,
    )
    .unwrap();
    let ExprKind::Path { base, segments } = &items(&s)[0].expr.kind else {
        panic!()
    };
    assert!(matches!(&base.kind, ExprKind::Call { name, .. } if name.name == "decode"));
    assert!(matches!(&segments[..], [Segment::Field(f)] if f.name == "temperature"));
}

#[test]
fn set_variables_are_referenced_with_their_members() {
    let s = parse(
        "SET @sensors = device1.deviceData.sensors\nSELECT @sensors.temp_fahrenheit AS temp FROM 'device/data'",
        SqlVersion::V2015_10_08,
    )
    .unwrap();
    assert_eq!(s.sets[0].name.name, "sensors");
    let ExprKind::Path { base, segments } = &items(&s)[0].expr.kind else {
        panic!()
    };
    assert!(matches!(&base.kind, ExprKind::Var(v) if v.name == "sensors"));
    assert!(matches!(&segments[..], [Segment::Field(f)] if f.name == "temp_fahrenheit"));
}

#[test]
fn literal_examples_build_objects_and_arrays() {
    let s = parse(
        "SELECT {'latitude': get(lat_long, 0),'longitude':get(lat_long, 1)} as lat_long FROM 'topic/subtopic'",
        SqlVersion::V2016_03_23,
    )
    .unwrap();
    let ExprKind::Object(fields) = &items(&s)[0].expr.kind else {
        panic!()
    };
    let keys: Vec<_> = fields.iter().map(|f| f.key.as_str()).collect();
    assert_eq!(keys, ["latitude", "longitude"]);
    let s = parse(
        "SELECT [lat,long] as lat_long FROM 'topic/subtopic'",
        SqlVersion::V2016_03_23,
    )
    .unwrap();
    assert!(matches!(&items(&s)[0].expr.kind, ExprKind::Array(a) if a.len() == 2));
}
