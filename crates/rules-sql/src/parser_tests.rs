//! Parser unit tests: grammar shapes, precedence, versions, limits and error positions.
//! AWS's documented examples are in `tests/aws_examples.rs`.

use crate::*;

const V1: SqlVersion = SqlVersion::V2015_10_08;
const V2: SqlVersion = SqlVersion::V2016_03_23;

fn stmt(sql: &str) -> Statement {
    parse(sql, V2).unwrap_or_else(|e| panic!("{sql:?}: {e}"))
}

fn expr(sql: &str) -> Expr {
    parse_expression(sql, V2).unwrap_or_else(|e| panic!("{sql:?}: {e}"))
}

fn err(sql: &str, version: SqlVersion) -> String {
    match parse(sql, version) {
        Ok(s) => panic!("{sql:?} parsed: {s}"),
        Err(e) => e.to_string(),
    }
}

/// A fully parenthesised prefix form, to pin down structure and precedence.
fn tree(e: &Expr) -> String {
    let list = |items: &[Expr]| items.iter().map(tree).collect::<Vec<_>>().join(" ");
    match &e.kind {
        ExprKind::Literal(Literal::String(s)) => format!("{s:?}"),
        ExprKind::Literal(l) => l.to_string(),
        ExprKind::Field(f) => f.name.clone(),
        ExprKind::Var(v) => format!("@{}", v.name),
        ExprKind::Star => "*".into(),
        ExprKind::Path { base, segments } => {
            let mut s = format!("(path {}", tree(base));
            for seg in segments {
                match seg {
                    Segment::Field(f) => s += &format!(" .{}", f.name),
                    Segment::Index(i) => s += &format!(" [{}]", tree(i)),
                }
            }
            s + ")"
        }
        ExprKind::Call { name, args } => format!("({} {})", name.name, list(args)),
        ExprKind::Cast { expr, ty } => format!("(cast {} {:?})", tree(expr), ty.kind),
        ExprKind::Unary { op, expr } => format!("({op} {})", tree(expr)),
        ExprKind::Binary { op, left, right } => format!("({op} {} {})", tree(left), tree(right)),
        ExprKind::Case {
            operand,
            whens,
            else_,
        } => {
            let mut s = "(case".to_string();
            if let Some(o) = operand {
                s += &format!(" {}", tree(o));
            }
            for w in whens {
                s += &format!(" (when {} {})", tree(&w.when), tree(&w.then));
            }
            if let Some(e) = else_ {
                s += &format!(" (else {})", tree(e));
            }
            s + ")"
        }
        ExprKind::Object(fields) => {
            let inner: Vec<_> = fields
                .iter()
                .map(|f| format!("{:?}: {}", f.key, tree(&f.value)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
        ExprKind::Array(items) => format!("[{}]", list(items)),
        ExprKind::Subquery(q) => format!("(subquery {})", q.select),
    }
}

fn t(sql: &str) -> String {
    tree(&expr(sql))
}

#[test]
fn precedence_from_or_down_to_unary_minus() {
    assert_eq!(t("a OR b AND c"), "(OR a (AND b c))");
    assert_eq!(t("a AND b OR c"), "(OR (AND a b) c)");
    assert_eq!(t("NOT a AND b"), "(AND (NOT a) b)");
    assert_eq!(t("NOT a = b"), "(NOT (= a b))");
    assert_eq!(t("a = b + c * d"), "(= a (+ b (* c d)))");
    assert_eq!(t("a * b + c"), "(+ (* a b) c)");
    assert_eq!(t("-a * b"), "(* (- a) b)");
    assert_eq!(t("-a.b"), "(- (path a .b))");
    assert_eq!(t("a - b - c"), "(- (- a b) c)");
    assert_eq!(t("a / b % c"), "(% (/ a b) c)");
    assert_eq!(t("(a - b) - c"), "(- (- a b) c)");
    assert_eq!(t("a - (b - c)"), "(- a (- b c))");
    assert_eq!(t("a < b = c"), "(= (< a b) c)");
    assert_eq!(t("a = NOT b AND c"), "(AND (= a (NOT b)) c)");
    assert_eq!(t("NOT NOT a"), "(NOT (NOT a))");
    assert_eq!(t("- - a"), "(- (- a))");
    assert_eq!(t("3 IN arr AND x"), "(AND (IN 3 arr) x)");
    assert_eq!(t("a + 1 IN [1, 2]"), "(IN (+ a 1) [1 2])");
}

#[test]
fn comparison_operators_including_bang_equals() {
    assert_eq!(t("a <> b"), "(<> a b)");
    assert_eq!(t("a != b"), "(<> a b)");
    assert_eq!(t("a<=b"), "(<= a b)");
    assert_eq!(t("a>=b"), "(>= a b)");
    assert_eq!(t("a<b"), "(< a b)");
    assert_eq!(t("a>b"), "(> a b)");
}

#[test]
fn keywords_are_case_insensitive() {
    let upper = stmt("SELECT a AS b FROM 't' WHERE NOT x AND y OR z IN w");
    let mut lower = stmt("select a as b from 't' where not x and y or z in w");
    let mut mixed = stmt("SeLeCt a As b FrOm 't' WhErE nOt x AnD y oR z iN w");
    let mut upper_s = upper.clone();
    upper_s.strip_spans();
    lower.strip_spans();
    mixed.strip_spans();
    assert_eq!(upper_s, lower);
    assert_eq!(upper_s, mixed);
    assert_eq!(t("True"), "true");
    assert_eq!(t("nUlL"), "NULL");
    assert_eq!(t("case a when 1 then 2 end"), "(case a (when 1 2))");
}

#[test]
fn literals() {
    assert_eq!(expr("42").kind, ExprKind::Literal(Literal::Int(42)));
    assert_eq!(expr("-42").kind, ExprKind::Literal(Literal::Int(-42)));
    assert_eq!(
        expr("- 9223372036854775808").kind,
        ExprKind::Literal(Literal::Int(i64::MIN))
    );
    assert_eq!(
        expr("9223372036854775808").kind,
        ExprKind::Literal(Literal::Decimal("9223372036854775808".into()))
    );
    assert_eq!(
        expr("1234567890123456789012345678901234").kind,
        ExprKind::Literal(Literal::Decimal(
            "1234567890123456789012345678901234".into()
        ))
    );
    assert_eq!(
        expr("12.50").kind,
        ExprKind::Literal(Literal::Decimal("12.50".into()))
    );
    assert_eq!(
        expr("-2.411E247").kind,
        ExprKind::Literal(Literal::Decimal("-2.411E247".into()))
    );
    assert_eq!(
        expr("5e3").kind,
        ExprKind::Literal(Literal::Decimal("5e3".into()))
    );
    assert_eq!(
        expr("'a\\'b'").kind,
        ExprKind::Literal(Literal::String("a'b".into()))
    );
    assert_eq!(expr("true").kind, ExprKind::Literal(Literal::Bool(true)));
    assert_eq!(expr("FALSE").kind, ExprKind::Literal(Literal::Bool(false)));
    assert_eq!(expr("NULL").kind, ExprKind::Literal(Literal::Null));
    // A minus is folded into the number it is written against, not into an expression.
    assert_eq!(t("-(5)"), "(- 5)");
    assert_eq!(t("-5.x"), "(path -5 .x)");
    assert_eq!(t("a-5"), "(- a 5)");
    assert_eq!(t("a - -5"), "(- a -5)");
}

#[test]
fn object_and_array_literals() {
    assert_eq!(
        t("{'latitude': get(lat_long, 0), \"longitude\": 1}"),
        "{\"latitude\": (get lat_long 0), \"longitude\": 1}"
    );
    assert_eq!(t("{}"), "{}");
    assert_eq!(t("[]"), "[]");
    assert_eq!(
        t("[lat, long, [1, {'a': [2]}]]"),
        "[lat long [1 {\"a\": [2]}]]"
    );
    assert_eq!(t("{'a': 1}.a"), "(path {\"a\": 1} .a)");
    assert_eq!(t("[1, 2][0]"), "(path [1 2] [0])");
}

#[test]
fn paths_indexes_and_member_access_on_calls() {
    assert_eq!(t("a.b.c"), "(path a .b .c)");
    assert_eq!(t("a[0]"), "(path a [0])");
    assert_eq!(t("a.b[1].c"), "(path a .b [1] .c)");
    assert_eq!(t("a[i + 1][0]"), "(path a [(+ i 1)] [0])");
    assert_eq!(
        t("decode(x, 'base64').temperature"),
        "(path (decode x \"base64\") .temperature)"
    );
    assert_eq!(
        t("get_thing_shadow(\"T\", \"arn\")\n    .state.reported.alarm"),
        "(path (get_thing_shadow \"T\" \"arn\") .state .reported .alarm)"
    );
    assert_eq!(t("@v.prop[2]"), "(path @v .prop [2])");
    // Parenthesised paths collapse into one.
    assert_eq!(t("(a.b).c"), "(path a .b .c)");
    // Any word may follow a dot, keywords included.
    assert_eq!(
        t("state.value.end.select"),
        "(path state .value .end .select)"
    );
}

#[test]
fn calls_star_arguments_and_cast() {
    assert_eq!(t("encode(*, 'base64')"), "(encode * \"base64\")");
    assert_eq!(t("aws_lambda('arn', *)"), "(aws_lambda \"arn\" *)");
    assert_eq!(t("timestamp()"), "(timestamp )");
    assert_eq!(t("Round(1.5)"), "(Round 1.5)");
    let call = expr("Nanvl(8, 3)");
    let ExprKind::Call { name, args } = call.kind else {
        panic!()
    };
    assert_eq!((name.name.as_str(), args.len()), ("Nanvl", 2));
    assert_eq!(t("cast(true AS Int)"), "(cast true Int)");
    assert_eq!(t("CAST(x as varchar)"), "(cast x String)");
    assert_eq!(t("cast(x AS Nvarchar)"), "(cast x String)");
    assert_eq!(t("cast(x AS integer)"), "(cast x Int)");
    assert_eq!(t("cast(x AS Double)"), "(cast x Double)");
    assert_eq!(t("cast(x AS Decimal)"), "(cast x Decimal)");
    assert_eq!(t("cast(x AS bool)"), "(cast x Boolean)");
    assert_eq!(
        t("cast(a + 1 AS Boolean).x"),
        "(path (cast (+ a 1) Boolean) .x)"
    );
    // `cast` is a name like any other when no parenthesis follows.
    assert_eq!(t("cast + 1"), "(+ cast 1)");
    let e = parse_expression("cast(x AS Long)", V2).unwrap_err();
    assert_eq!(e.to_string(), "line 1:10 unknown type 'Long' in cast");
    let e = parse_expression("cast(x, 1)", V2).unwrap_err();
    assert_eq!(e.to_string(), "line 1:6 expected AS, found ','");
}

#[test]
fn case_simple_and_searched() {
    assert_eq!(
        t("CASE color WHEN 'green' THEN 'go' WHEN 'red' THEN 'stop' ELSE 'x' END"),
        "(case color (when \"green\" \"go\") (when \"red\" \"stop\") (else \"x\"))"
    );
    assert_eq!(t("CASE WHEN a > 1 THEN 1 END"), "(case (when (> a 1) 1))");
    assert_eq!(
        t("CASE a + 1 WHEN 2 THEN CASE b WHEN 1 THEN 1 END END.x"),
        "(path (case (+ a 1) (when 2 (case b (when 1 1)))) .x)"
    );
    assert_eq!(
        parse_expression("CASE a ELSE 1 END", V2)
            .unwrap_err()
            .to_string(),
        "line 1:7 expected WHEN (CASE needs at least one WHEN), found 'ELSE'"
    );
    assert_eq!(
        parse_expression("CASE a WHEN 1 THEN 2", V2)
            .unwrap_err()
            .to_string(),
        "line 1:20 expected WHEN, ELSE or END, found end of input"
    );
}

#[test]
fn variables_and_the_set_clause() {
    let s = stmt(
        "SET @temp_celsius = (temp_fahrenheit - 32) * 5 / 9, @h = humidity\n\
         SELECT @temp_celsius AS celsius, @h FROM 'device/data'",
    );
    assert_eq!(s.sets.len(), 2);
    assert_eq!(s.sets[0].name.name, "temp_celsius");
    assert_eq!(tree(&s.sets[0].value), "(/ (* (- temp_fahrenheit 32) 5) 9)");
    assert_eq!(s.sets[1].name.name, "h");
    // The name's span leaves out the '@'.
    assert_eq!(
        s.sets[1]
            .name
            .span
            .text("SET @temp_celsius = (temp_fahrenheit - 32) * 5 / 9, @h = humidity"),
        "h"
    );
    assert_eq!(
        err("SET @a = 1, @a = 2 SELECT @a FROM 't'", V2),
        "line 1:12 variable @a is already set (variables are immutable)"
    );
    assert_eq!(
        err("SET @a = 1 SET @b = 2 SELECT 1 FROM 't'", V2),
        "line 1:11 SET may appear only once, before SELECT"
    );
    assert_eq!(
        err("SET a = 1 SELECT a FROM 't'", V2),
        "line 1:4 expected a variable (@name), found 'a'"
    );
    assert_eq!(
        err("SELECT 1 FROM 't' SET @a = 1", V2),
        "line 1:18 expected WHERE or end of input, found 'SET'"
    );
    // `set` is an ordinary name elsewhere.
    assert_eq!(tree(&expr("set.x")), "(path set .x)");
    assert!(parse("SELECT set FROM 't'", V2).is_ok());
}

#[test]
fn select_value_and_fields_named_value() {
    let s = stmt("SELECT VALUE color FROM 'a/b'");
    assert!(matches!(&s.select, Select::Value(e) if tree(e) == "color"));
    let s = stmt("select value transform(\"enrichArray\", attributes, values) from 'A/B'");
    assert!(matches!(&s.select, Select::Value(e) if e.to_string().starts_with("transform(")));
    // Without an expression after it, `value` is a field.
    for sql in [
        "SELECT value FROM 't'",
        "SELECT value AS v FROM 't'",
        "SELECT value, x FROM 't'",
        "SELECT value.x FROM 't'",
        "SELECT value * 2 FROM 't'",
        "SELECT value",
    ] {
        let s = stmt(sql);
        let Select::Items(items) = &s.select else {
            panic!("{sql} read as SELECT VALUE")
        };
        assert!(items[0].expr.to_string().starts_with("value"), "{sql}");
    }
    // Before something that starts an expression it is the keyword.
    let s = stmt("SELECT value - 1 FROM 't'");
    assert!(matches!(&s.select, Select::Value(e) if tree(e) == "-1"));
    assert_eq!(
        err("SELECT VALUE a, b FROM 't'", V2),
        "line 1:14 SELECT VALUE takes a single expression"
    );
    // Aliases may be any word, `value` included (AWS's WHERE example uses `AS value`).
    let s = stmt("SELECT decode(encode(*, 'base64'), 'base64') AS value FROM 'topic/subtopic'");
    let Select::Items(items) = &s.select else {
        panic!()
    };
    assert_eq!(items[0].alias.as_ref().unwrap().to_string(), "value");
}

#[test]
fn select_items_star_and_dotted_aliases() {
    let s = stmt("SELECT *, 15 as speed, foo.bar AS bar.baz, * AS payload FROM 'a/b'");
    let Select::Items(items) = &s.select else {
        panic!()
    };
    let shown: Vec<_> = items
        .iter()
        .map(|i| {
            (
                tree(&i.expr),
                i.alias.as_ref().map(|a| {
                    a.segments
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                }),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            ("*".to_string(), None),
            ("15".to_string(), Some(vec!["speed"])),
            ("(path foo .bar)".to_string(), Some(vec!["bar", "baz"])),
            ("*".to_string(), Some(vec!["payload"])),
        ]
    );
    assert_eq!(
        err("SELECT a AS FROM 't'", V2),
        "line 1:17 expected FROM, WHERE or end of input, found ''t''"
    );
    assert_eq!(
        err("SELECT a AS 'x' FROM 't'", V2),
        "line 1:12 expected an alias after AS, found ''x''"
    );
    assert_eq!(
        err("SELECT a b FROM 't'", V2),
        "line 1:9 expected FROM, WHERE or end of input, found 'b'"
    );
}

#[test]
fn from_clause_topic_filters() {
    let s = stmt("SELECT * FROM '$aws/things/+/shadow/update/accepted'");
    assert_eq!(
        s.from.unwrap().topic_filter,
        "$aws/things/+/shadow/update/accepted"
    );
    let s = stmt("SELECT * FROM 'a/#' WHERE x");
    assert_eq!(s.from.as_ref().unwrap().topic_filter, "a/#");
    assert_eq!(s.from.unwrap().span, Span::new(14, 19));
    // Basic Ingest rules need no FROM.
    let s = stmt("SELECT * WHERE x > 1");
    assert!(s.from.is_none() && s.where_.is_some());
    assert_eq!(
        err("SELECT * FROM \"a/b\"", V2),
        "line 1:14 the topic filter after FROM must be in single quotes"
    );
    assert_eq!(
        err("SELECT * FROM topic/a", V2),
        "line 1:14 expected a topic filter in single quotes, found 'topic'"
    );
    assert_eq!(
        err("SELECT * FROM", V2),
        "line 1:13 expected a topic filter in single quotes, found end of input"
    );
    assert_eq!(
        err("SELECT * FROM 'a' WHERE x FROM 'b'", V2),
        "line 1:26 expected end of input, found 'FROM'"
    );
}

#[test]
fn nested_queries() {
    let s = stmt("SELECT (SELECT VALUE n FROM e) as sensors FROM 'my/topic'");
    let Select::Items(items) = &s.select else {
        panic!()
    };
    let ExprKind::Subquery(q) = &items[0].expr.kind else {
        panic!()
    };
    assert!(matches!(&q.select, Select::Value(e) if tree(e) == "n"));
    assert_eq!(tree(&q.from), "e");
    assert!(q.where_.is_none());
    assert_eq!(q.span, items[0].expr.span);
    assert_eq!(q.span, Span::new(7, 30));

    let e = expr("get((SELECT v FROM e WHERE n = 'temperature'), 0).v");
    let ExprKind::Path { base, .. } = &e.kind else {
        panic!()
    };
    let ExprKind::Call { args, .. } = &base.kind else {
        panic!()
    };
    let ExprKind::Subquery(q) = &args[0].kind else {
        panic!()
    };
    assert_eq!(tree(q.where_.as_ref().unwrap()), "(= n \"temperature\")");
    assert_eq!(
        t("(select a, b from data2.c[0] where x)"),
        "(subquery a, b)"
    );
    assert_eq!(
        parse_expression("(SELECT a FROM e", V2)
            .unwrap_err()
            .to_string(),
        "line 1:16 expected WHERE or ')', found end of input"
    );
    assert_eq!(
        parse_expression("(SELECT a)", V2).unwrap_err().to_string(),
        "line 1:9 expected FROM, found ')'"
    );
}

#[test]
fn version_2015_refuses_what_2016_added() {
    for (sql, message) in [
        (
            "SELECT {'a': 1} AS o FROM 't'",
            "line 1:7 object literals require SQL version 2016-03-23 or later (this rule uses 2015-10-08)",
        ),
        (
            "SELECT [lat, long] AS l FROM 't'",
            "line 1:7 array literals require SQL version 2016-03-23 or later (this rule uses 2015-10-08)",
        ),
        (
            "SELECT (SELECT VALUE n FROM e) AS s FROM 't'",
            "line 1:8 nested SELECT queries require SQL version 2016-03-23 or later (this rule uses 2015-10-08)",
        ),
        (
            "SELECT cast(x AS Decimal) AS d FROM 't'",
            "line 1:17 casts to 'Decimal' require SQL version 2016-03-23 or later (this rule uses 2015-10-08)",
        ),
        (
            "SELECT cast(x AS Bool) AS d FROM 't'",
            "line 1:17 casts to 'Bool' require SQL version 2016-03-23 or later (this rule uses 2015-10-08)",
        ),
    ] {
        assert_eq!(err(sql, V1), message, "{sql}");
        assert!(parse(sql, V2).is_ok(), "{sql}");
        assert!(parse(sql, SqlVersion::Beta).is_ok(), "{sql}");
    }
    // Everything else is the same in both.
    for sql in [
        "SELECT VALUE color FROM 'a/b'",
        "SELECT a[0], encode(*, 'base64') AS data FROM 'a/b' WHERE 3 IN arr",
        "SET @x = 1 SELECT @x AS x FROM 't'",
        "SELECT cast(x AS Int), cast(y AS String), cast(z AS Double) FROM 't'",
    ] {
        assert!(parse(sql, V1).is_ok(), "{sql}");
    }
}

#[test]
fn reserved_words_cannot_name_fields_or_functions() {
    assert_eq!(
        err("SELECT FROM 't'", V2),
        "line 1:7 expected an expression, found 'FROM'"
    );
    assert_eq!(
        err("SELECT a, end FROM 't'", V2),
        "line 1:10 expected an expression, found 'end'"
    );
    assert_eq!(
        err("SELECT a FROM 't' WHERE select(1)", V2),
        "line 1:24 expected an expression, found 'select'"
    );
    assert_eq!(
        err("SELECT a, FROM 't'", V2),
        "line 1:10 expected an expression, found 'FROM'"
    );
}

#[test]
fn error_positions_and_messages() {
    assert_eq!(err("", V2), "line 1:0 expected SELECT, found end of input");
    assert_eq!(
        err("SELEC * FROM 't'", V2),
        "line 1:0 expected SELECT, found 'SELEC'"
    );
    assert_eq!(
        err("SELECT a FROM 't' WHERE", V2),
        "line 1:23 expected an expression, found end of input"
    );
    assert_eq!(
        err("SELECT (a + b FROM 't'", V2),
        "line 1:14 expected ')', found 'FROM'"
    );
    assert_eq!(
        err("SELECT f(a b) FROM 't'", V2),
        "line 1:11 expected ',' or ')', found 'b'"
    );
    assert_eq!(
        err("SELECT a[0 FROM 't'", V2),
        "line 1:11 expected ']', found 'FROM'"
    );
    assert_eq!(
        err("SELECT a.0 FROM 't'", V2),
        "line 1:9 expected a field name after '.', found '0'"
    );
    assert_eq!(
        err("SELECT {a: 1} FROM 't'", V2),
        "line 1:8 expected a quoted key, found 'a'"
    );
    assert_eq!(
        err("SELECT {'a' 1} FROM 't'", V2),
        "line 1:12 expected ':', found '1'"
    );
    assert_eq!(
        err("SELECT [1, 2 FROM 't'", V2),
        "line 1:13 expected ',' or ']', found 'FROM'"
    );
    assert_eq!(
        err("SELECT a +\n  * 2 FROM 't'", V2),
        "line 2:2 expected an expression, found '*'"
    );
    assert_eq!(
        err("SELECT\n\tcolor\n\tFROM 'a' WHERE color = 'red' AND", V2),
        "line 3:33 expected an expression, found end of input"
    );
    let long = format!("SELECT {} FROM 't'", "x".repeat(60));
    assert_eq!(
        err(&format!("SELECT a {}", &long[7..]), V2),
        format!(
            "line 1:9 expected FROM, WHERE or end of input, found '{}...'",
            "x".repeat(40)
        )
    );
    // The error carries the span and position as fields too.
    let e = parse("SELECT a FROM 't' WHERE b ==", V2).unwrap_err();
    assert_eq!((e.line, e.column, e.span), (1, 27, Span::new(27, 28)));
    assert_eq!(e.message, "expected an expression, found '='");
}

#[test]
fn spans_point_at_the_source() {
    let sql = "SELECT upper(color) AS c, a.b[0] FROM 't' WHERE -x > 1";
    let s = stmt(sql);
    let Select::Items(items) = &s.select else {
        panic!()
    };
    assert_eq!(items[0].expr.span.text(sql), "upper(color)");
    assert_eq!(items[0].span.text(sql), "upper(color) AS c");
    assert_eq!(items[1].expr.span.text(sql), "a.b[0]");
    assert_eq!(s.where_.as_ref().unwrap().span.text(sql), "-x > 1");
    assert_eq!(s.span.text(sql), sql);
    let ExprKind::Call { name, args } = &items[0].expr.kind else {
        panic!()
    };
    assert_eq!(name.span.text(sql), "upper");
    assert_eq!(args[0].span.text(sql), "color");
}

/// Runs `f` on a thread with a deliberately small stack: the limits must hold there too.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

#[test]
fn nesting_is_limited_without_overflowing_the_stack() {
    on_small_stack(|| {
        let ok = format!("SELECT {}1{} FROM 't'", "(".repeat(40), ")".repeat(40));
        assert!(parse(&ok, V2).is_ok());
        for deep in [
            format!("SELECT {}1{} FROM 't'", "(".repeat(200), ")".repeat(200)),
            format!("SELECT {}1 FROM 't'", "-".repeat(100_000)),
            format!("SELECT {}a FROM 't'", "NOT ".repeat(50_000)),
            format!(
                "SELECT {}1{} FROM 't'",
                "f(".repeat(10_000),
                ")".repeat(10_000)
            ),
            format!("SELECT {}1 FROM 't'", "[".repeat(100_000)),
            format!("SELECT {} FROM 't'", "a".to_owned() + &"[0".repeat(50_000)),
            format!("SELECT {}", "(SELECT a FROM ".repeat(1_000)),
            format!("SELECT {}", "CASE ".repeat(10_000)),
        ] {
            let e = parse(&deep, V2).unwrap_err();
            assert!(
                e.message
                    .starts_with("expression nested too deeply (more than 64 levels)"),
                "{}: {e}",
                &deep[..20]
            );
        }
    });
}

#[test]
fn long_operator_chains_are_limited_too() {
    on_small_stack(|| {
        let chain = |n: usize| format!("SELECT * FROM 't' WHERE a{}", " AND a".repeat(n));
        assert!(parse(&chain(60), V2).is_ok());
        let e = parse(&chain(40_000), V2).unwrap_err();
        assert_eq!(
            e.message,
            "expression nested too deeply (more than 64 levels)"
        );
        // Wide is fine: many items, arguments and elements do not nest.
        let wide = format!("SELECT {} FROM 't'", vec!["f(a, b)"; 5_000].join(", "));
        assert!(parse(&wide, V2).is_ok());
        let args = format!("SELECT concat({}) FROM 't'", vec!["1"; 10_000].join(", "));
        assert!(parse(&args, V2).is_ok());
    });
}

#[test]
fn length_is_limited() {
    let big = format!("SELECT * FROM 't' WHERE a = '{}'", "x".repeat(MAX_SQL_LEN));
    assert_eq!(
        err(&big, V2),
        format!("line 1:0 sql is longer than {MAX_SQL_LEN} bytes")
    );
    let fits = format!(
        "SELECT * FROM 't' WHERE a = '{}'",
        "x".repeat(MAX_SQL_LEN - 40)
    );
    assert!(parse(&fits, V2).is_ok());
}

#[test]
fn template_expressions_parse_alone() {
    assert_eq!(t("topic()"), "(topic )");
    assert_eq!(
        t("replace(topic(), '/', '-') + '-' + timestamp() + '-' + newuuid()"),
        "(+ (+ (+ (+ (replace (topic ) \"/\" \"-\") \"-\") (timestamp )) \"-\") (newuuid ))"
    );
    assert_eq!(
        parse_expression("a b", V2).unwrap_err().to_string(),
        "line 1:2 expected end of expression, found 'b'"
    );
    assert_eq!(
        parse_expression("*", V2).unwrap_err().to_string(),
        "line 1:0 expected an expression, found '*'"
    );
}
