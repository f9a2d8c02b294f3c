//! SQL from AWS's IoT SQL reference (developer guide pages on SELECT, WHERE, SET, literals, case
//! statements, JSON extensions, nested object queries, SQL versions and functions), shared by
//! the example tests and as the fuzz corpus's seeds.
//!
//! Where a documented example does not run as printed it is fixed and the fix noted: the
//! SELECT page writes an en dash for a minus, and the JSON-extensions page leaves a topic
//! filter unquoted.

#![allow(dead_code)]

/// Whether an example needs SQL version 2016-03-23 (literals, nested queries).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Needs {
    Any,
    V2016,
}

pub const STATEMENTS: &[(&str, Needs)] = &[
    (
        "SELECT color AS rgb FROM 'topic/subtopic' WHERE temperature > 50",
        Needs::Any,
    ),
    ("SELECT * FROM 'a/b'", Needs::Any),
    ("SELECT color FROM 'a/b'", Needs::Any),
    ("SELECT color AS my_color FROM 'a/b'", Needs::Any),
    (
        "SELECT color as my_color, temperature as fahrenheit FROM 'a/b'",
        Needs::Any,
    ),
    ("SELECT *, 15 as speed FROM 'a/b'", Needs::Any),
    ("SELECT VALUE color FROM 'a/b'", Needs::Any),
    ("SELECT color.red as red_value FROM 'a/b'", Needs::Any),
    // The page writes `(temperature – 32)` with an en dash.
    (
        "SELECT (temperature - 32) * 5 / 9 AS celsius, upper(color) as my_color FROM 'a/b'",
        Needs::Any,
    ),
    (
        "SELECT encode(*, 'base64') AS data, timestamp() AS ts FROM 'a/b'",
        Needs::Any,
    ),
    (
        "SELECT * FROM 'a/b' WHERE device_type = 'thermostat'",
        Needs::Any,
    ),
    ("SELECT *, timestamp() AS timestamp FROM 'a/b'", Needs::Any),
    ("SELECT * FROM 'a/b' WHERE timestamp() % 12 = 0", Needs::Any),
    ("SELECT foo.bar AS bar.baz FROM 'a/b'", Needs::Any),
    // The page writes `FROM topic/#` without quotes.
    (
        "SELECT temp, md5(deviceid) AS hashed_id FROM 'topic/#'",
        Needs::Any,
    ),
    (
        "SELECT * from 'iot/rules' WHERE get(get(get(mydata,\"item2\"),\"0\"),\"my-key\") = \"myValue\"",
        Needs::Any,
    ),
    (
        "SELECT {'latitude': get(lat_long, 0),'longitude':get(lat_long, 1)} as lat_long FROM 'topic/subtopic'",
        Needs::V2016,
    ),
    (
        "SELECT [lat,long] as lat_long FROM 'topic/subtopic'",
        Needs::V2016,
    ),
    (
        "SELECT CASE color WHEN 'green' THEN 'go' WHEN 'yellow' THEN 'caution' WHEN 'red' THEN 'stop' ELSE 'you are not at a stop light' END as instructions FROM 'a/b'",
        Needs::Any,
    ),
    (
        "SELECT (SELECT VALUE n FROM e) as sensors FROM 'my/topic'",
        Needs::V2016,
    ),
    (
        "SELECT (SELECT v FROM e WHERE n = 'temperature') as temperature FROM 'my/topic'",
        Needs::V2016,
    ),
    (
        "SELECT get((SELECT v FROM e WHERE n = 'temperature'), 0).v as temperature FROM 'topic'",
        Needs::V2016,
    ),
    ("SELECT VALUE arr FROM 'topic'", Needs::Any),
    (
        "SELECT\naws_lambda(\"arn:aws:lambda:us-east-1:account_id:function:lambda_function\", {\"payload\":attribute1}) as output FROM 'topic-filter'",
        Needs::V2016,
    ),
    (
        "SELECT\naws_lambda(\"arn:aws:lambda:us-east-1:account_id:function:lambda_function\", *) as output FROM 'topic-filter'",
        Needs::Any,
    ),
    (
        "SELECT decode(encoded_temp,\"base64\").temperature AS temp from 'topic/subtopic'",
        Needs::Any,
    ),
    (
        "SELECT *, get_dynamodb(\"InServiceDevices\", \"deviceId\", id, \"arn:aws:iam::12345678910:role/getdynamo\").location AS location FROM 'some/topic' ",
        Needs::Any,
    ),
    (
        "SELECT * from 'topic/subtopic'\nWHERE\n    get_thing_shadow(\"MyThing\",\"MyThingShadow\",\"arn:aws:iam::123456789012:role/AllowsThingShadowAccess\")\n    .state.reported.alarm = 'ON'",
        Needs::Any,
    ),
    (
        "SELECT * from 'topic/subtopic'\nWHERE\n    get_thing_shadow(\"MyThing\",\"arn:aws:iam::123456789012:role/AllowsThingShadowAccess\")\n    .state.reported.alarm = 'ON'",
        Needs::Any,
    ),
    (
        "SELECT parse_time(\"yyyy.MM.dd G 'at' HH:mm:ss z\", 100000000, \"America/Belize\" ) as ts FROM 'A/B'",
        Needs::Any,
    ),
    (
        "SELECT parse_time(\"yyyy.MM.dd G 'at' HH:mm:ss z\", timestamp() ) as ts FROM 'A/B'",
        Needs::Any,
    ),
    (
        "select value transform(\"enrichArray\", attributes, values) from 'A/B'",
        Needs::Any,
    ),
    (
        "select value transform(\"enrichArray\", {\"key\": attributes.data1}, values) from 'A/B'",
        Needs::V2016,
    ),
    (
        "select value transform('enrichArray', (select a, b from data2), (select value c from data2)) from 'A/B'",
        Needs::V2016,
    ),
    (
        "SET @temp_celsius = (temp_fahrenheit - 32) * 5 / 9\nSELECT @temp_celsius AS celsius, humidity FROM 'device/data'",
        Needs::Any,
    ),
    (
        "SET @sensors = device1.deviceData.sensors\nSELECT @sensors.temp_fahrenheit AS temp, @sensors.humidity AS humidity FROM 'device/data'",
        Needs::Any,
    ),
    (
        "SELECT color AS my_color FROM 'topic/subtopic' WHERE temperature > 50 AND color <> 'red'",
        Needs::Any,
    ),
    (
        "SELECT decode(encode(*, 'base64'), 'base64') AS value FROM 'topic/subtopic' WHERE decode(encode(*, 'base64'), 'base64') > 50",
        Needs::Any,
    ),
    ("SELECT NULL AS n FROM 'a/b'", Needs::Any),
    (
        "SELECT * FROM '$aws/things/+/shadow/update/accepted'",
        Needs::Any,
    ),
    ("SELECT * FROM 'a/b' WHERE 3 IN arr", Needs::Any),
    (
        "SELECT temp, topic(2) AS id FROM 'sensors/+/data' WHERE temp > 30",
        Needs::Any,
    ),
    (
        "SELECT *, concat(\"cross_account_publish/\", \"123456789012\", \"/\", regexp_replace(topic(), \"^[^/]*/[^/]*/\", \"\")) AS topic FROM 'cross_account_publish/acct/#'",
        Needs::Any,
    ),
];

/// Expressions from the function reference and the substitution-template examples.
pub const EXPRESSIONS: &[(&str, Needs)] = &[
    ("abs(-5)", Needs::Any),
    ("accountid() = \"123456789012\"", Needs::Any),
    ("atan2(1, 0)", Needs::Any),
    ("bitand(13, 5)", Needs::Any),
    ("cast(true as Int)", Needs::Any),
    ("cast(x as Bool)", Needs::V2016),
    ("ceil(-1.2)", Needs::Any),
    ("chr(65)", Needs::Any),
    ("concat([1, 2, 3], \"hello\", [4, 5, 6])", Needs::V2016),
    ("concat(\"he\",\"is\",\"man\")", Needs::Any),
    ("cosh(2.3)", Needs::Any),
    ("endswith(\"cat\",\"at\")", Needs::Any),
    ("get([\"a\", \"b\", \"c\"], 1)", Needs::V2016),
    ("get({\"a\":\"b\"}, \"a\")", Needs::V2016),
    ("get(\"abc\", 1)", Needs::Any),
    ("md5(\"hello\")", Needs::Any),
    ("indexof(\"abcd\", \"bc\")", Needs::Any),
    ("isNull(Null)", Needs::Any),
    ("isUndefined(floor([1,2,3]))", Needs::V2016),
    ("length(false)", Needs::Any),
    ("lower([\"HELLO\"])", Needs::V2016),
    ("lpad(\"hello\", 2)", Needs::Any),
    ("Ltrim(\" h i \")", Needs::Any),
    ("mod(8, 3)", Needs::Any),
    ("Nanvl(8, 3)", Needs::Any),
    ("numbytes(\"€\")", Needs::Any),
    ("power(2, 5)", Needs::Any),
    ("regexp_matches(\"aaaa\", \"a{2,}\")", Needs::Any),
    ("regexp_replace(\"abcd\", \"b(.*)d\", \"$1\")", Needs::Any),
    ("regexp_substr(\"hihihello\", \"(hi)*\")", Needs::Any),
    ("replace(\"abcdabcd\", \"b\", \"x\")", Needs::Any),
    ("Round(-1.5)", Needs::Any),
    ("substring(false, -2.411E247)", Needs::Any),
    ("substring(\"012345\", -50, 50)", Needs::Any),
    ("sql_version()", Needs::Any),
    ("tan(3)", Needs::Any),
    (
        "time_to_epoch(\"2020-04-03 09:45:18 UTC+01:00\", \"yyyy-MM-dd HH:mm:ss VV\")",
        Needs::Any,
    ),
    ("topic(1)", Needs::Any),
    ("Trim(\" hi \")", Needs::Any),
    ("trunc(2.3123, 2)", Needs::Any),
    ("upper([\"hello\"])", Needs::V2016),
    ("topic()", Needs::Any),
    (
        "replace(topic(), '/', '-') + '-' + timestamp() + '-' + newuuid()",
        Needs::Any,
    ),
    ("parse_time(\"yyyy\", timestamp(), \"UTC\")", Needs::Any),
    (
        "get_secret('API_KEY', 'SecretString', 'API_KEY_VALUE', 'arn:aws:iam::12345678910:role/getsecret')",
        Needs::Any,
    ),
    ("device_id", Needs::Any),
    ("get_mqtt_property('content_type')", Needs::Any),
    ("get_user_properties('k')", Needs::Any),
];
