//! The external-call functions against a context that serves them, and the functions whose
//! results are random.

use std::cell::RefCell;

use bytes::Bytes;
use ferrite_rules::functions::{DynamoDbQuery, RegistryApi, SecretValue, resolve};
use ferrite_rules::{FnContext, FnError, MessageContext, SqlVersion, Value};

const V2: SqlVersion = SqlVersion::V2016_03_23;

/// Serves every lookup from fixed data and records the calls it got.
struct Services {
    base: MessageContext,
    calls: RefCell<Vec<String>>,
    secret: SecretValue,
}

impl Services {
    fn new(secret: SecretValue) -> Services {
        Services {
            base: MessageContext {
                sql_version: V2,
                topic: "a/b".into(),
                account_id: "123456789012".into(),
                ..MessageContext::default()
            },
            calls: RefCell::new(Vec::new()),
            secret,
        }
    }

    fn log(&self, call: String) {
        self.calls.borrow_mut().push(call);
    }
}

impl FnContext for Services {
    fn sql_version(&self) -> SqlVersion {
        self.base.sql_version()
    }
    fn topic(&self) -> &str {
        self.base.topic()
    }
    fn account_id(&self) -> &str {
        self.base.account_id()
    }
    fn timestamp_ms(&self) -> i64 {
        0
    }
    fn get_thing_shadow(
        &self,
        thing: &str,
        shadow: Option<&str>,
        role: &str,
    ) -> Result<Value, FnError> {
        self.log(format!("shadow {thing} {shadow:?} {role}"));
        if thing == "missing" {
            return Err(FnError::failed("get_thing_shadow", "no shadow"));
        }
        Ok(Value::object([(
            "state",
            Value::object([("reported", Value::object([("alarm", Value::from("ON"))]))]),
        )]))
    }
    fn get_registry_data(
        &self,
        api: RegistryApi,
        thing: &str,
        role: &str,
    ) -> Result<Value, FnError> {
        self.log(format!("registry {api:?} {thing} {role}"));
        Ok(Value::object([("thingName", Value::from(thing))]))
    }
    fn aws_lambda(&self, arn: &str, input: &Value) -> Result<Value, FnError> {
        self.log(format!("lambda {arn} {input:?}"));
        Ok(Value::object([("echo", input.clone())]))
    }
    fn get_secret(&self, id: &str, role: &str) -> Result<SecretValue, FnError> {
        self.log(format!("secret {id} {role}"));
        Ok(self.secret.clone())
    }
    fn get_dynamodb(&self, q: &DynamoDbQuery<'_>) -> Result<Value, FnError> {
        self.log(format!(
            "dynamodb {} {}={:?} {:?} {}",
            q.table_name, q.partition_key_name, q.partition_key_value, q.sort_key, q.role_arn
        ));
        Ok(Value::object([("location", Value::from("Seattle"))]))
    }
}

fn call(ctx: &dyn FnContext, name: &str, args: &[Value]) -> Result<Value, FnError> {
    resolve(name, args.len(), V2)
        .expect("resolves")
        .call(args, ctx)
}

fn s(x: &str) -> Value {
    Value::from(x)
}

#[test]
fn get_thing_shadow_passes_classic_and_named_shadows() {
    let ctx = Services::new(SecretValue::String("x".into()));
    let doc = call(&ctx, "get_thing_shadow", &[s("MyThing"), s("arn:role")]).unwrap();
    assert_eq!(doc.field("state").field("reported").field("alarm"), s("ON"));
    call(
        &ctx,
        "get_thing_shadow",
        &[s("MyThing"), s("MyThingShadow"), s("arn:role")],
    )
    .unwrap();
    assert_eq!(
        *ctx.calls.borrow(),
        [
            "shadow MyThing None arn:role",
            "shadow MyThing Some(\"MyThingShadow\") arn:role"
        ]
    );
    let err = call(&ctx, "get_thing_shadow", &[s("missing"), s("arn:role")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "function get_thing_shadow failed: no shadow"
    );
}

#[test]
fn bad_argument_types_make_no_call() {
    let ctx = Services::new(SecretValue::String("x".into()));
    assert_eq!(
        call(&ctx, "get_thing_shadow", &[Value::Int(1), s("arn")]).unwrap(),
        Value::Undefined
    );
    assert_eq!(
        call(&ctx, "aws_lambda", &[Value::Null, s("x")]).unwrap(),
        Value::Undefined
    );
    assert!(ctx.calls.borrow().is_empty());
}

#[test]
fn get_dynamodb_with_and_without_a_sort_key() {
    let ctx = Services::new(SecretValue::String("x".into()));
    let item = call(
        &ctx,
        "get_dynamodb",
        &[
            s("InServiceDevices"),
            s("deviceId"),
            Value::Int(7),
            s("arn:role"),
        ],
    )
    .unwrap();
    assert_eq!(item.field("location"), s("Seattle"));
    call(
        &ctx,
        "get_dynamodb",
        &[
            s("T"),
            s("pk"),
            s("p"),
            s("sk"),
            Value::Int(2),
            s("arn:role"),
        ],
    )
    .unwrap();
    assert_eq!(
        *ctx.calls.borrow(),
        [
            "dynamodb InServiceDevices deviceId=Int(7) None arn:role",
            "dynamodb T pk=\"p\" Some((\"sk\", Int(2))) arn:role"
        ]
    );
}

#[test]
fn get_registry_data_and_aws_lambda_pass_through() {
    let ctx = Services::new(SecretValue::String("x".into()));
    let out = call(
        &ctx,
        "get_registry_data",
        &[s("ListThingGroupsForThing"), s("t1"), s("arn:role")],
    )
    .unwrap();
    assert_eq!(out.field("thingName"), s("t1"));
    let input = Value::object([("payload", Value::Int(21))]);
    let out = call(&ctx, "aws_lambda", &[s("arn:aws:lambda:f"), input.clone()]).unwrap();
    assert_eq!(out.field("echo"), input);
    assert_eq!(
        ctx.calls.borrow()[0],
        "registry ListThingGroupsForThing t1 arn:role"
    );
}

#[test]
fn get_secret_picks_keys_from_json_strings() {
    let json = Services::new(SecretValue::String(
        r#"{"API_KEY_VALUE":"k-123","n":1}"#.into(),
    ));
    let args = [
        s("API_KEY"),
        s("SecretString"),
        s("API_KEY_VALUE"),
        s("arn:role"),
    ];
    assert_eq!(call(&json, "get_secret", &args).unwrap(), s("k-123"));
    let whole = call(
        &json,
        "get_secret",
        &[s("API_KEY"), s("SecretString"), s("arn:role")],
    )
    .unwrap();
    assert_eq!(whole.field("n"), Value::Int(1));
    let missing = [s("API_KEY"), s("SecretString"), s("nope"), s("arn:role")];
    assert_eq!(
        call(&json, "get_secret", &missing).unwrap(),
        Value::Undefined
    );

    let plain = Services::new(SecretValue::String("hunter2".into()));
    assert_eq!(
        call(
            &plain,
            "get_secret",
            &[s("id"), s("SecretString"), s("arn:role")]
        )
        .unwrap(),
        s("hunter2")
    );
    assert!(matches!(
        call(&plain, "get_secret", &args),
        Err(FnError::Failed { .. })
    ));
}

#[test]
fn get_secret_encodes_binaries() {
    let bin = Services::new(SecretValue::Binary(Bytes::from_static(b"\x00\x01\x02")));
    assert_eq!(
        call(
            &bin,
            "get_secret",
            &[s("id"), s("SecretBinary"), s("arn:role")]
        )
        .unwrap(),
        s("AAEC")
    );
    assert!(
        call(
            &bin,
            "get_secret",
            &[s("id"), s("SecretBinary"), s("k"), s("arn")]
        )
        .is_err()
    );
    assert!(call(&bin, "get_secret", &[s("id"), s("SecretString"), s("arn")]).is_err());
}

#[test]
fn rand_is_a_decimal_in_the_unit_interval() {
    let ctx = MessageContext::default();
    for _ in 0..1000 {
        match call(&ctx, "rand", &[]).unwrap() {
            Value::Decimal(d) => assert!((0.0..1.0).contains(&d.to_f64())),
            other => panic!("rand gave {other:?}"),
        }
    }
}

#[test]
fn newuuid_gives_distinct_v4_uuids() {
    let ctx = MessageContext::default();
    let a = call(&ctx, "newuuid", &[]).unwrap();
    let b = call(&ctx, "newuuid", &[]).unwrap();
    assert_ne!(a, b);
    let text = a.as_str().unwrap();
    let parsed = uuid::Uuid::parse_str(text).unwrap();
    assert_eq!(parsed.get_version_num(), 4);
    assert_eq!(text, parsed.hyphenated().to_string());
}
