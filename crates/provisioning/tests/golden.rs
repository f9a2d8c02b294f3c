//! Golden files: `tests/golden/*.json`, each a template (as JSON, or as a raw `templateBody`
//! string), optional `kind`, `parameters` and `builtins`, and the expected outcome: `plan` (the
//! serialised [`Plan`]) or `error` (the AWS message). `UPDATE_GOLDEN=1 cargo test -p
//! ferrite-provisioning --test golden` rewrites the outcomes; review the diff before committing.

use std::collections::BTreeMap;
use std::path::Path;

use ferrite_provisioning::{Builtins, Template, TemplateKind};
use serde_json::{Value, json};

fn outcome(case: &Value) -> Value {
    let body = match (case.get("templateBody"), case.get("template")) {
        (Some(Value::String(raw)), _) => raw.clone(),
        (_, Some(template)) => template.to_string(),
        _ => panic!("a golden case needs template or templateBody"),
    };
    let parameters: BTreeMap<String, String> = case
        .get("parameters")
        .map(|p| serde_json::from_value(p.clone()).expect("parameters are strings"))
        .unwrap_or_default();
    let mut builtins = Builtins::new();
    if let Some(Value::Object(map)) = case.get("builtins") {
        for (k, v) in map {
            builtins = builtins.with(k, v.as_str().expect("builtins are strings"));
        }
    }
    let result = Template::parse(&body).and_then(|template| {
        if let Some(kind) = case.get("kind").and_then(Value::as_str) {
            template.check_kind(TemplateKind::parse(kind).expect("a known kind"))?;
        }
        template.evaluate(&parameters, &builtins)
    });
    match result {
        Ok(plan) => json!({ "plan": plan }),
        Err(e) => json!({ "error": e.aws_message(), "templateFault": e.is_template_fault() }),
    }
}

#[test]
fn golden_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("golden directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 40, "only {} golden files", paths.len());
    let mut failures = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).expect("readable");
        let mut case: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let actual = outcome(&case);
        let expected = json!({
            "plan": case.get("plan"),
            "error": case.get("error"),
            "templateFault": case.get("templateFault"),
        });
        let actual_full = json!({
            "plan": actual.get("plan"),
            "error": actual.get("error"),
            "templateFault": actual.get("templateFault"),
        });
        if expected != actual_full {
            if update {
                let map = case.as_object_mut().expect("object");
                for key in ["plan", "error", "templateFault"] {
                    map.remove(key);
                }
                for (k, v) in actual.as_object().expect("object") {
                    map.insert(k.clone(), v.clone());
                }
                let text = serde_json::to_string_pretty(&case).expect("json") + "\n";
                std::fs::write(&path, text).expect("writable");
            } else {
                failures.push(format!(
                    "{}:\n  expected {expected}\n  actual   {actual_full}",
                    path.display()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
