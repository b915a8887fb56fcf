//! The policy templates a team copies into its machines (`packaging/policy/`, shipped as
//! `dist/policy/`): each is JSON the browser can read, force-installs the extension by the id
//! it ships with (or, self-hosted, by one placeholder used throughout), and sets only managed
//! settings the extension's `storage.managed_schema` declares, each with the declared type.
//! A value the schema does not declare, or declares otherwise, is dropped by Chrome with a
//! policy error, so the team's preset would silently not apply.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

const STORE_UPDATE_URL: &str = "https://clients2.google.com/service/update2/crx";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Every template, by file name.
fn templates() -> Vec<(String, Value)> {
    let dir = repo_root().join("packaging/policy");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                read_json(&p),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn template(name: &str) -> Value {
    templates()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("packaging/policy/{name} is missing"))
        .1
}

fn object<'a>(v: &'a Value, at: &str) -> &'a Map<String, Value> {
    v.pointer(at)
        .and_then(Value::as_object)
        .unwrap_or_else(|| panic!("no object at {at} in {v:#}"))
}

fn keys(m: &Map<String, Value>) -> Vec<&str> {
    m.keys().map(String::as_str).collect()
}

/// Why `value` does not fit the schema `property` (JSON Schema's `type`, `items`, `minimum`,
/// `maximum`, as Chrome's policy schema validator reads them), or `None` when it fits.
fn misfit(value: &Value, property: &Value) -> Option<String> {
    let ty = property["type"].as_str().unwrap_or("(no type)");
    if let Some(allowed) = property["enum"].as_array()
        && !allowed.contains(value)
    {
        return Some(format!("{value} is not one of {}", property["enum"]));
    }
    let fits = match ty {
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        "object" => value.is_object(),
        "array" => match value.as_array() {
            Some(items) => {
                return items.iter().find_map(|i| misfit(i, &property["items"]));
            }
            None => false,
        },
        _ => false,
    };
    if !fits {
        return Some(format!("{value} is not of type {ty}"));
    }
    if let Some(n) = value.as_f64() {
        if property["minimum"].as_f64().is_some_and(|min| n < min) {
            return Some(format!(
                "{value} is below the minimum {}",
                property["minimum"]
            ));
        }
        if property["maximum"].as_f64().is_some_and(|max| n > max) {
            return Some(format!(
                "{value} is above the maximum {}",
                property["maximum"]
            ));
        }
    }
    None
}

#[test]
fn every_managed_value_in_every_template_is_declared_by_the_schema_with_its_type() {
    let schema = read_json(&repo_root().join("extension/static/managed_schema.json"));
    let properties = object(&schema, "/properties");
    let all = templates();
    assert_eq!(
        all.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        [
            "chrome-policy-self-hosted.json",
            "chrome-policy.json",
            "firefox-policies.json"
        ]
    );
    let mut checked = 0;
    for (name, policy) in &all {
        // Chrome's JSON policy: "3rdparty" > "extensions"; Firefox's policies.json: "policies" >
        // "3rdparty" > "Extensions".
        let third_party = policy
            .pointer("/3rdparty/extensions")
            .or_else(|| policy.pointer("/policies/3rdparty/Extensions"))
            .and_then(Value::as_object)
            .unwrap_or_else(|| panic!("{name} sets no 3rdparty managed storage"));
        for (id, values) in third_party {
            let values = values.as_object().unwrap();
            assert!(!values.is_empty(), "{name}: no values for {id}");
            // A template shows a team every setting it may preset.
            let missing: Vec<&str> = keys(properties)
                .into_iter()
                .filter(|k| !values.contains_key(*k))
                .collect();
            assert!(missing.is_empty(), "{name}: no example of {missing:?}");
            for (key, value) in values {
                let property = properties.get(key).unwrap_or_else(|| {
                    panic!("{name}: {key} is not a property of extension/static/managed_schema.json (it has {:?})", keys(properties))
                });
                if let Some(why) = misfit(value, property) {
                    panic!("{name}: {key}: {why}");
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 21, "only {checked} values checked");
}

#[test]
fn the_misfit_check_refuses_what_chrome_would_drop() {
    let integer = serde_json::json!({"type": "integer", "minimum": 1, "maximum": 720});
    assert_eq!(misfit(&Value::from(8), &integer), None);
    assert!(misfit(&Value::from(0), &integer).is_some());
    assert!(misfit(&Value::from(721), &integer).is_some());
    assert!(misfit(&Value::from("8"), &integer).is_some());
    assert!(misfit(&Value::from(1.5), &integer).is_some());
    let hosts = serde_json::json!({"type": "array", "items": {"type": "string"}});
    assert_eq!(misfit(&serde_json::json!(["github.example"]), &hosts), None);
    assert!(misfit(&serde_json::json!([1]), &hosts).is_some());
    let mode = serde_json::json!({"type": "string", "enum": ["tab", "domain"]});
    assert_eq!(misfit(&Value::from("tab"), &mode), None);
    assert!(misfit(&Value::from("window"), &mode).is_some());
    assert!(misfit(&Value::from("github.example"), &hosts).is_some());
}

#[test]
fn chrome_templates_force_install_the_shipped_id_or_one_placeholder() {
    let store = template("chrome-policy.json");
    let id = protocol::ids::CHROME_EXTENSION_ID;
    assert_eq!(keys(object(&store, "/ExtensionSettings")), [id]);
    assert_eq!(keys(object(&store, "/3rdparty/extensions")), [id]);
    let entry = &store["ExtensionSettings"][id];
    assert_eq!(entry["installation_mode"], "force_installed");
    assert_eq!(entry["update_url"], STORE_UPDATE_URL);

    // Self-hosted: the id is the team key's (printed by `make crx`), so one placeholder names
    // it in both places, and the update URL is the team's update.xml, not the store's.
    let own = template("chrome-policy-self-hosted.json");
    let placeholder = keys(object(&own, "/ExtensionSettings"));
    assert_eq!(placeholder.len(), 1);
    assert_eq!(keys(object(&own, "/3rdparty/extensions")), placeholder);
    assert!(placeholder[0].starts_with("REPLACE"), "{placeholder:?}");
    let entry = &own["ExtensionSettings"][placeholder[0]];
    assert_eq!(entry["installation_mode"], "force_installed");
    let update_url = entry["update_url"].as_str().unwrap();
    assert!(update_url.starts_with("https://") && update_url.ends_with("/update.xml"));
}

#[test]
fn the_firefox_template_force_installs_the_shipped_add_on_id() {
    let policies = template("firefox-policies.json");
    let id = protocol::ids::FIREFOX_EXTENSION_ID;
    assert_eq!(keys(object(&policies, "/policies/ExtensionSettings")), [id]);
    assert_eq!(
        keys(object(&policies, "/policies/3rdparty/Extensions")),
        [id]
    );
    let entry = &policies["policies"]["ExtensionSettings"][id];
    assert_eq!(entry["installation_mode"], "force_installed");
    // Firefox force-installs only from an install_url (or addons.mozilla.org), and only a
    // signed XPI.
    assert!(
        entry["install_url"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
}
