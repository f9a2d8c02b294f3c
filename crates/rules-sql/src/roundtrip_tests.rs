//! Property test: any AST the parser could produce prints as SQL that parses back to the same
//! AST (spans aside), and printing is stable. Plus byte-exact printing of tricky cases.

use proptest::prelude::*;

use crate::parser::is_reserved;
use crate::*;

fn sp() -> Span {
    Span::default()
}

fn e(kind: ExprKind) -> Expr {
    Expr::new(kind, sp())
}

fn ident(name: String) -> Ident {
    Ident { name, span: sp() }
}

/// Any word: fine after `.` and `AS`.
fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z_][A-Za-z0-9_]{0,6}",
        Just("value".to_owned()),
        Just("VALUE".to_owned()),
        Just("set".to_owned()),
        Just("cast".to_owned()),
        Just("end".to_owned()),
        Just("FROM".to_owned()),
        Just("e5".to_owned()),
    ]
}

/// A word that may name a field.
/// A word that may name a field (reserved words get a suffix rather than a rejection).
fn field_name() -> impl Strategy<Value = String> {
    word().prop_map(|w| if is_reserved(&w) { w + "_" } else { w })
}

fn function_name() -> impl Strategy<Value = String> {
    field_name().prop_map(|w| {
        if w.eq_ignore_ascii_case("cast") {
            w + "_"
        } else {
            w
        }
    })
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        any::<i64>().prop_map(Literal::Int),
        (-999i64..1000).prop_map(Literal::Int),
        "-?[0-9]{1,4}\\.[0-9]{1,4}([eE][+-]?[0-9]{1,3})?".prop_map(Literal::Decimal),
        "-?[0-9]{1,4}[eE][+-]?[0-9]{1,3}".prop_map(Literal::Decimal),
        // Integers beyond i64 stay Decimal text.
        "-?[1-9][0-9]{19,30}".prop_map(Literal::Decimal),
        any::<String>().prop_map(Literal::String),
        "[a-z'\"\\\\/ ]{0,6}".prop_map(Literal::String),
        any::<bool>().prop_map(Literal::Bool),
        Just(Literal::Null),
    ]
}

fn cast_type() -> impl Strategy<Value = CastType> {
    prop::sample::select(vec![
        "String", "Nvarchar", "Text", "Ntext", "varchar", "Int", "integer", "Double", "Decimal",
        "Bool", "BOOLEAN",
    ])
    .prop_map(|name| CastType {
        kind: CastKind::from_name(name).unwrap(),
        name: ident(name.to_owned()),
    })
}

fn binary_op() -> impl Strategy<Value = BinaryOp> {
    prop::sample::select(vec![
        BinaryOp::Or,
        BinaryOp::And,
        BinaryOp::Eq,
        BinaryOp::NotEq,
        BinaryOp::Lt,
        BinaryOp::LtEq,
        BinaryOp::Gt,
        BinaryOp::GtEq,
        BinaryOp::In,
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Mod,
    ])
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        3 => literal().prop_map(|l| e(ExprKind::Literal(l))),
        3 => field_name().prop_map(|n| e(ExprKind::Field(ident(n)))),
        1 => "[A-Za-z0-9_]{1,8}".prop_map(|n| e(ExprKind::Var(ident(n)))),
    ]
}

fn select_list(inner: BoxedStrategy<Expr>) -> impl Strategy<Value = Select> {
    let item = (
        prop_oneof![4 => inner.clone(), 1 => Just(e(ExprKind::Star))],
        prop::option::of(prop::collection::vec(word(), 1..3)),
    )
        .prop_map(|(expr, alias)| SelectItem {
            expr,
            alias: alias.map(|segments| Alias {
                segments: segments.into_iter().map(ident).collect(),
                span: sp(),
            }),
            span: sp(),
        });
    prop_oneof![
        3 => prop::collection::vec(item, 1..4).prop_map(Select::Items),
        1 => inner.prop_map(Select::Value),
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(5, 48, 4, |inner| {
        // A path's base is never a path: take the inner path's base instead.
        let not_path = inner.clone().prop_map(|b| match b.kind {
            ExprKind::Path { base, .. } => *base,
            _ => b,
        });
        let segment = prop_oneof![
            word().prop_map(|w| Segment::Field(ident(w))),
            inner.clone().prop_map(Segment::Index),
        ];
        let arg = prop_oneof![4 => inner.clone(), 1 => Just(e(ExprKind::Star))];
        let boxed = || inner.clone().prop_map(Box::new);
        prop_oneof![
            (not_path, prop::collection::vec(segment, 1..4)).prop_map(|(base, segments)| e(
                ExprKind::Path {
                    base: Box::new(base),
                    segments
                }
            )),
            (function_name(), prop::collection::vec(arg, 0..4)).prop_map(|(name, args)| e(
                ExprKind::Call {
                    name: ident(name),
                    args
                }
            )),
            (boxed(), cast_type()).prop_map(|(expr, ty)| e(ExprKind::Cast { expr, ty })),
            (
                prop::sample::select(vec![UnaryOp::Neg, UnaryOp::Not]),
                boxed()
            )
                .prop_map(|(op, expr)| e(ExprKind::Unary { op, expr })),
            (binary_op(), boxed(), boxed()).prop_map(|(op, left, right)| e(ExprKind::Binary {
                op,
                left,
                right
            })),
            (
                prop::option::of(boxed()),
                prop::collection::vec((inner.clone(), inner.clone()), 1..3),
                prop::option::of(boxed())
            )
                .prop_map(|(operand, whens, else_)| e(ExprKind::Case {
                    operand,
                    whens: whens
                        .into_iter()
                        .map(|(when, then)| When { when, then })
                        .collect(),
                    else_
                })),
            prop::collection::vec((any::<String>(), inner.clone()), 0..3).prop_map(|fields| e(
                ExprKind::Object(
                    fields
                        .into_iter()
                        .map(|(key, value)| ObjectField {
                            key,
                            key_span: sp(),
                            value
                        })
                        .collect()
                )
            )),
            prop::collection::vec(inner.clone(), 0..3).prop_map(|items| e(ExprKind::Array(items))),
            (
                select_list(inner.clone().boxed()),
                inner.clone(),
                prop::option::of(inner.clone())
            )
                .prop_map(|(select, from, where_)| e(ExprKind::Subquery(Box::new(
                    Subquery {
                        select,
                        from,
                        where_,
                        span: sp()
                    }
                )))),
        ]
    })
}

fn statement() -> impl Strategy<Value = Statement> {
    (
        prop::collection::vec(("[A-Za-z0-9_]{1,6}", expr()), 0..3),
        select_list(expr().boxed()),
        prop::option::of(any::<String>()),
        prop::option::of(expr()),
    )
        .prop_map(|(sets, select, from, where_)| {
            let mut seen = std::collections::HashSet::new();
            Statement {
                sets: sets
                    .into_iter()
                    .filter(|(name, _)| seen.insert(name.clone()))
                    .map(|(name, value)| SetVar {
                        name: ident(name),
                        value,
                        span: sp(),
                    })
                    .collect(),
                select,
                from: from.map(|topic_filter| FromClause {
                    topic_filter,
                    span: sp(),
                }),
                where_,
                span: sp(),
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn statements_print_as_sql_that_parses_back(ast in statement()) {
        let printed = ast.to_string();
        let mut reparsed = parse(&printed, SqlVersion::V2016_03_23)
            .map_err(|e| TestCaseError::fail(format!("{printed:?}: {e}")))?;
        prop_assert_eq!(reparsed.to_string(), printed.clone());
        reparsed.strip_spans();
        prop_assert_eq!(reparsed, ast, "{}", printed);
    }

    #[test]
    fn expressions_print_as_sql_that_parses_back(ast in expr()) {
        let printed = ast.to_string();
        let mut reparsed = parse_expression(&printed, SqlVersion::Beta)
            .map_err(|e| TestCaseError::fail(format!("{printed:?}: {e}")))?;
        reparsed.strip_spans();
        prop_assert_eq!(reparsed, ast, "{}", printed);
    }
}

fn canonical(sql: &str) -> String {
    parse(sql, SqlVersion::V2016_03_23)
        .unwrap_or_else(|e| panic!("{sql:?}: {e}"))
        .to_string()
}

#[test]
fn printing_is_minimal_and_exact() {
    for (sql, printed) in [
        (
            "select *,15 as speed from 'a/b'",
            "SELECT *, 15 AS speed FROM 'a/b'",
        ),
        (
            "SELECT (temperature - 32) * 5 / 9 AS celsius FROM 'a/b'",
            "SELECT (temperature - 32) * 5 / 9 AS celsius FROM 'a/b'",
        ),
        (
            "SELECT ((a)) + (b * c) FROM 't'",
            "SELECT a + b * c FROM 't'",
        ),
        ("SELECT a - (b - c) FROM 't'", "SELECT a - (b - c) FROM 't'"),
        (
            "SELECT * FROM 't' WHERE NOT (a AND b)",
            "SELECT * FROM 't' WHERE NOT (a AND b)",
        ),
        (
            "SELECT * FROM 't' WHERE (NOT a) = b",
            "SELECT * FROM 't' WHERE (NOT a) = b",
        ),
        (
            "SELECT * FROM 't' WHERE a = NOT b",
            "SELECT * FROM 't' WHERE a = (NOT b)",
        ),
        (
            "SELECT -(5), - -5, -(-a), -a.b FROM 't'",
            "SELECT -(5), --5, --a, -a.b FROM 't'",
        ),
        (
            "SELECT (-a).b, -(5.x) FROM 't'",
            "SELECT (-a).b, -(5.x) FROM 't'",
        ),
        ("SELECT (value) - 1 FROM 't'", "SELECT (value - 1) FROM 't'"),
        ("SELECT value FROM 't'", "SELECT (value) FROM 't'"),
        (
            "SELECT a, value - 1 FROM 't'",
            "SELECT a, value - 1 FROM 't'",
        ),
        ("SELECT VALUE -1 FROM 't'", "SELECT VALUE -1 FROM 't'"),
        (
            "SELECT 'it''s', \"say \\\"hi\\\"\", 'tab\there\\\\' FROM 'a''b'",
            "SELECT 'it\\'s', 'say \"hi\"', 'tab\\there\\\\' FROM 'a\\'b'",
        ),
        ("SELECT '\\d+\\u00e9' FROM 't'", "SELECT '\\\\d+é' FROM 't'"),
        (
            "SET @a=1,@b=@a.x[0] SELECT cAsT(@b as varchar) FROM 't'",
            "SET @a = 1, @b = @a.x[0] SELECT cast(@b AS varchar) FROM 't'",
        ),
        (
            "SELECT case a when 1 then 'x' else 'y' end FROM 't'",
            "SELECT CASE a WHEN 1 THEN 'x' ELSE 'y' END FROM 't'",
        ),
        (
            "SELECT {\"k\":[1,2.50,true,null]} AS o FROM 't'",
            "SELECT {'k': [1, 2.50, true, NULL]} AS o FROM 't'",
        ),
        (
            "SELECT (select value n from e where x<>1) AS s FROM 't'",
            "SELECT (SELECT VALUE n FROM e WHERE x <> 1) AS s FROM 't'",
        ),
        ("SELECT a != b FROM 't'", "SELECT a <> b FROM 't'"),
        ("SELECT 1.e5, 1E5.x FROM 't'", "SELECT 1.e5, 1E5.x FROM 't'"),
    ] {
        assert_eq!(canonical(sql), printed, "{sql}");
        assert_eq!(canonical(printed), printed, "{printed} is not stable");
    }
}

#[test]
fn control_characters_print_as_escapes() {
    let mut stmt = parse("SELECT 'x' FROM 't'", SqlVersion::V2016_03_23).unwrap();
    let Select::Items(items) = &mut stmt.select else {
        panic!()
    };
    items[0].expr.kind = ExprKind::Literal(Literal::String(
        "\u{0}\u{1f}\u{7f}\u{85}\u{8}\u{c}\r".into(),
    ));
    let printed = stmt.to_string();
    assert_eq!(
        printed,
        "SELECT '\\u0000\\u001f\\u007f\\u0085\\b\\f\\r' FROM 't'"
    );
    let mut back = parse(&printed, SqlVersion::V2016_03_23).unwrap();
    back.strip_spans();
    stmt.strip_spans();
    assert_eq!(back, stmt);
}
