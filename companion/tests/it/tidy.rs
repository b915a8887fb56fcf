//! Architecture invariants (ARCHITECTURE.md) turned into tests, as rust-analyzer's tidy does:
//! cheap text checks over the source tree that fail when a boundary is crossed.

use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !matches!(
                name.as_str(),
                "target" | "node_modules" | "dist" | ".git" | ".tools"
            ) {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

fn all_rust_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for krate in ["protocol", "companion", "extension", "fake-argocd"] {
        rust_files(&repo_root().join(krate), &mut files);
    }
    assert!(files.len() > 10, "tidy found too few files: {files:?}");
    files
}

#[test]
fn every_rust_file_opens_with_a_module_doc() {
    let missing: Vec<_> = all_rust_files()
        .into_iter()
        .filter(|f| !std::fs::read_to_string(f).unwrap().starts_with("//!"))
        .collect();
    assert!(
        missing.is_empty(),
        "add a `//!` paragraph saying what each file owns: {missing:?}"
    );
}

#[test]
fn pure_cores_do_no_io() {
    let forbidden = [
        "tokio",
        "reqwest",
        "std::fs",
        "std::net",
        "std::process",
        "web_sys",
        "js_sys",
        "axum",
    ];
    let mut dirs = vec![repo_root().join("companion/src/core")];
    let ext_state = repo_root().join("extension/src");
    let mut offenders = Vec::new();
    let mut files = Vec::new();
    for d in dirs.drain(..) {
        rust_files(&d, &mut files);
    }
    // The extension's pure modules: everything outside its `web/` glue.
    let mut ext = Vec::new();
    rust_files(&ext_state, &mut ext);
    files.extend(
        ext.into_iter()
            .filter(|f| !f.components().any(|c| c.as_os_str() == "web")),
    );
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for word in forbidden {
            if text
                .lines()
                .any(|l| !l.trim_start().starts_with("//") && l.contains(word))
            {
                offenders.push(format!("{} uses {word}", f.display()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "pure modules must not do I/O: {offenders:#?}"
    );
}

#[test]
fn protocol_depends_on_serde_only() {
    let manifest = std::fs::read_to_string(repo_root().join("protocol/Cargo.toml")).unwrap();
    let deps: Vec<&str> = manifest
        .split("[dependencies]")
        .nth(1)
        .unwrap()
        .split("\n[")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.split(['=', '.']).next())
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(
        deps,
        ["serde"],
        "the wire contract must build anywhere: serde only"
    );
}

/// The package names a manifest depends on, in every dependency table (normal, dev, build,
/// per target), with `workspace = true` entries resolved through the root manifest and path
/// dependencies by the manifest they point at (a renamed key hides nothing).
fn dependency_packages(manifest: &Path) -> Vec<String> {
    let read = |p: &Path| -> toml::Table { std::fs::read_to_string(p).unwrap().parse().unwrap() };
    let root = read(&repo_root().join("Cargo.toml"));
    let workspace_deps = root["workspace"]["dependencies"].as_table().unwrap();
    let krate = read(manifest);
    let mut tables = vec![&krate];
    if let Some(targets) = krate.get("target").and_then(toml::Value::as_table) {
        tables.extend(targets.values().filter_map(toml::Value::as_table));
    }
    let mut packages = Vec::new();
    for table in tables {
        for kind in ["dependencies", "dev-dependencies", "build-dependencies"] {
            let Some(deps) = table.get(kind).and_then(toml::Value::as_table) else {
                continue;
            };
            for (name, spec) in deps {
                let (spec, base) = match spec.get("workspace").and_then(toml::Value::as_bool) {
                    Some(true) => (&workspace_deps[name], repo_root()),
                    _ => (spec, manifest.parent().unwrap().to_path_buf()),
                };
                let package = match spec.get("path").and_then(toml::Value::as_str) {
                    Some(path) => read(&base.join(path).join("Cargo.toml"))["package"]["name"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                    None => spec
                        .get("package")
                        .and_then(toml::Value::as_str)
                        .unwrap_or(name)
                        .to_owned(),
                };
                packages.push(package);
            }
        }
    }
    packages
}

#[test]
fn the_fake_depends_on_no_product_crate() {
    // The reader sees product crates behind workspace renames (so the check can fail).
    let companion = dependency_packages(&repo_root().join("companion/Cargo.toml"));
    for p in ["preview-switch-protocol", "preview-switch-fake-argocd"] {
        assert!(companion.iter().any(|c| c == p), "{p} in {companion:?}");
    }
    let packages = dependency_packages(&repo_root().join("fake-argocd/Cargo.toml"));
    assert!(packages.iter().any(|p| p == "axum"), "{packages:?}");
    let product: Vec<_> = packages
        .iter()
        .filter(|p| p.starts_with("preview-switch"))
        .collect();
    assert!(
        product.is_empty(),
        "the fake Argo CD follows the real server, not our code: remove {product:?} from fake-argocd/Cargo.toml"
    );
}

#[test]
fn only_the_printers_write_to_stdout() {
    // stdout is the native-messaging wire in host mode.
    let allowed = ["cli/mod.rs", "host/framing.rs", "host/mod.rs"];
    let offenders: Vec<_> = all_rust_files()
        .into_iter()
        .filter(|f| !allowed.iter().any(|a| f.ends_with(a)))
        .filter(|f| f.components().all(|c| c.as_os_str() != "tests"))
        .filter(|f| std::fs::read_to_string(f).unwrap().contains("stdout()"))
        .collect();
    assert!(
        offenders.is_empty(),
        "stdout is the host's wire; log to stderr: {offenders:?}"
    );
}
