//! Architecture invariants (ARCHITECTURE.md) turned into tests, as rust-analyzer's tidy does:
//! cheap text checks over the source tree that fail when a boundary is crossed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Every file under `dir` whose name `keep` accepts, outside build output, dependencies and
/// upstream data.
fn walk(dir: &Path, keep: &dyn Fn(&str) -> bool, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !matches!(
                name.as_str(),
                "target" | "node_modules" | "dist" | ".git" | ".tools" | "fixtures"
            ) {
                walk(&path, keep, out);
            }
        } else if keep(&name) {
            out.push(path);
        }
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    walk(dir, &|name| name.ends_with(".rs"), out);
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
    let src = repo_root().join("companion/src");
    let ext_state = repo_root().join("extension/src");
    let mut offenders = Vec::new();
    let mut files = Vec::new();
    rust_files(&src.join("core"), &mut files);
    // The pure parts of the shells: resolving settings, parsing a config file's shapes,
    // server URLs, paging, error texts.
    for f in [
        "config/resolve.rs",
        "config/file.rs",
        "server.rs",
        "host/paging.rs",
        "host/install/browsers.rs",
        "error.rs",
    ] {
        files.push(src.join(f));
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

/// The companion's source files that are not test-only, each with its module path
/// (`argocd/client.rs` → `["argocd", "client"]`, `config/mod.rs` → `["config"]`) and its text
/// without comments and without its trailing `#[cfg(test)] mod tests { .. }`.
fn companion_modules() -> Vec<(Vec<String>, String)> {
    let src = repo_root().join("companion/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let module_of = |f: &Path| -> Vec<String> {
        let rel = f.strip_prefix(&src).unwrap().with_extension("");
        let mut path: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if matches!(
            path.last().map(String::as_str),
            Some("mod" | "lib" | "main")
        ) {
            path.pop();
        }
        path
    };
    let texts: Vec<(Vec<String>, String)> = files
        .iter()
        .map(|f| (module_of(f), std::fs::read_to_string(f).unwrap()))
        .collect();
    // `#[cfg(test)] mod name;` makes the file `name` test-only.
    let mut test_only: BTreeSet<Vec<String>> = BTreeSet::new();
    for (module, text) in &texts {
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        for pair in lines.windows(2) {
            if pair[0] == "#[cfg(test)]"
                && let Some(name) = pair[1]
                    .strip_prefix("mod ")
                    .and_then(|r| r.strip_suffix(';'))
            {
                let mut child = module.clone();
                child.push(name.to_owned());
                test_only.insert(child);
            }
        }
    }
    texts
        .into_iter()
        .filter(|(module, _)| !test_only.contains(module))
        .map(|(module, text)| {
            let lines: Vec<&str> = text.lines().collect();
            // The unit tests sit at the end of a file: `#[cfg(test)]` then `mod tests {`.
            let end = (0..lines.len())
                .find(|&i| {
                    lines[i].trim() == "#[cfg(test)]"
                        && lines.get(i + 1).is_some_and(|l| l.contains("mod tests {"))
                })
                .unwrap_or(lines.len());
            let code = lines[..end]
                .iter()
                .filter(|l| !l.trim_start().starts_with("//"))
                .copied()
                .collect::<Vec<_>>()
                .join("\n");
            (module, code)
        })
        .collect()
}

/// The module paths a file names through `crate::` and `super::` (groups `{a, b}` expand to
/// one path each). `module` is the file's own module path.
fn referenced_paths(module: &[String], code: &str) -> Vec<Vec<String>> {
    let ident = |s: &str| -> usize {
        s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len())
    };
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(['c', 's']) {
        let before = rest[..at].chars().last();
        let tail = &rest[at..];
        rest = &rest[at + 1..];
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let (mut base, mut path) = if let Some(p) = tail.strip_prefix("crate::") {
            (Vec::new(), p)
        } else if tail.starts_with("super::") {
            let mut base = module.to_vec();
            let mut p = tail;
            while let Some(next) = p.strip_prefix("super::") {
                base.pop();
                p = next;
            }
            (base, p)
        } else {
            continue;
        };
        loop {
            let n = ident(path);
            if n == 0 {
                break;
            }
            base.push(path[..n].to_owned());
            match path[n..].strip_prefix("::") {
                Some(next) => path = next,
                None => break,
            }
        }
        if let Some(group) = path.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',').map(str::trim) {
                let n = ident(item);
                let mut p = base.clone();
                if n > 0 && &item[..n] != "self" {
                    p.push(item[..n].to_owned());
                }
                out.push(p);
            }
        } else {
            out.push(base);
        }
    }
    out
}

/// The graph node of a module path: `argocd` and `core` count by submodule (their
/// submodules are what the one-way flow is about), every other top-level module as one.
/// A path into an item rather than a file module stops at the file module holding it.
fn node_of(path: &[String], modules: &BTreeSet<Vec<String>>) -> Option<String> {
    let depth = match path.first().map(String::as_str) {
        None => return None,
        Some("argocd" | "core") => 2,
        Some(_) => 1,
    };
    let mut p: Vec<String> = path.iter().take(depth).cloned().collect();
    while !p.is_empty() && !modules.contains(&p) {
        p.pop();
    }
    (!p.is_empty()).then(|| p.join("::"))
}

type Graph = BTreeMap<String, BTreeSet<String>>;

fn import_graph() -> Graph {
    let files = companion_modules();
    let modules: BTreeSet<Vec<String>> = files.iter().map(|(m, _)| m.clone()).collect();
    let mut graph = Graph::new();
    for (module, code) in &files {
        let Some(from) = node_of(module, &modules) else {
            continue;
        };
        let edges = graph.entry(from.clone()).or_default();
        for path in referenced_paths(module, code) {
            if let Some(to) = node_of(&path, &modules).filter(|to| *to != from) {
                edges.insert(to);
            }
        }
    }
    graph
}

/// A cycle in `graph`, as the nodes along it, if there is one.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &Graph,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|s| s == n) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(n.to_owned());
            return Some(cycle);
        }
        if done.contains(n) {
            return None;
        }
        stack.push(n.to_owned());
        for next in graph.get(n).into_iter().flatten() {
            if let Some(c) = visit(next, graph, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(n.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn imports_flow_one_way() {
    let graph = import_graph();
    let has = |from: &str, to: &str| graph.get(from).is_some_and(|e| e.contains(to));
    // The graph is really read: edges every version of the code has.
    assert!(
        has("argocd::client", "argocd::decode")
            && has("core::preview", "argocd::model")
            && has("config", "server")
            && has("host", "listing"),
        "{graph:#?}"
    );
    // The detector finds a cycle when there is one.
    let toy: Graph = [("a", "b"), ("b", "c"), ("c", "a")]
        .into_iter()
        .map(|(f, t)| (f.to_owned(), BTreeSet::from([t.to_owned()])))
        .collect();
    assert_eq!(find_cycle(&toy).map(|c| c.len()), Some(4));

    assert_eq!(
        find_cycle(&graph),
        None,
        "modules import each other; move the shared part below both: {graph:#?}"
    );
    for (from, to) in &graph {
        if from.starts_with("argocd::") || from.starts_with("core::") {
            assert!(
                !to.contains("config"),
                "{from} imports config; resolved settings come as server::ServerTarget"
            );
        }
        if from.starts_with("core::") {
            let shells: Vec<&String> = to
                .iter()
                .filter(|t| !t.starts_with("core") && *t != "argocd::model")
                .filter(|t| !matches!(t.as_str(), "error"))
                .collect();
            assert!(
                shells.is_empty(),
                "the pure core reads argocd::model only, never a shell: {from} → {shells:?}"
            );
        }
    }
}

#[test]
fn token_is_exposed_only_for_the_authorization_header() {
    let mut files = Vec::new();
    rust_files(&repo_root().join("companion"), &mut files);
    let mut headers = 0;
    let mut offenders = Vec::new();
    // This file names the method in its messages, not as a call.
    for f in files
        .into_iter()
        .filter(|f| !f.ends_with("tests/it/tidy.rs"))
    {
        let text = std::fs::read_to_string(&f).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            let uses = code.contains(".expose(") || code.contains("::expose");
            if code.starts_with("//") || !uses {
                continue;
            }
            if f.ends_with("src/token.rs") && code.starts_with("pub fn expose(") {
                continue;
            }
            if f.ends_with("src/argocd/client.rs") && code.contains("format!(\"Bearer {}\"") {
                headers += 1;
                continue;
            }
            offenders.push(format!("{}:{}: {code}", f.display(), n + 1));
        }
    }
    assert_eq!(headers, 1, "the Authorization header is built in one place");
    assert!(
        offenders.is_empty(),
        "Token::expose is for the Authorization header only (compare tokens with ==): {offenders:#?}"
    );
}

/// ARCHITECTURE.md: the relay's clients never cause a list. Its one `refresh` is the first
/// list in `bind`; after that only the watches list.
#[test]
fn the_relay_never_lists_for_a_client() {
    let mut files = Vec::new();
    rust_files(&repo_root().join("companion/src/relay"), &mut files);
    assert!(files.len() >= 5, "{files:?}");
    let mut calls = Vec::new();
    for file in &files {
        let code = std::fs::read_to_string(file).unwrap();
        for line in code.lines().filter(|l| l.contains("refresh(")) {
            calls.push(format!("{}: {}", file.display(), line.trim()));
        }
    }
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert!(
        calls[0].contains("relay/mod.rs: drop(previews.refresh(false));"),
        "{calls:#?}"
    );
}

/// Every file a person reads next to the code: the sources, the docs, the scripts.
fn cited_files(dir: &Path, out: &mut Vec<PathBuf>) {
    walk(
        dir,
        &|name| {
            [".rs", ".md", ".mjs", ".js", ".sh", ".toml", ".yaml"]
                .iter()
                .any(|ext| name.ends_with(ext))
                || name == "Makefile"
        },
        out,
    );
}

/// The section labels of one of `docs/`'s files: `7` for `## 7. Budgets`, `10a` for
/// `### 10a. …`, `D` for `## D. Argo CD API`.
fn doc_sections(doc: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(repo_root().join("docs").join(format!("{doc}.md")))
        .unwrap_or_else(|e| panic!("docs/{doc}.md: {e}"));
    let heading = regex::Regex::new(r"(?m)^#{2,3} ([0-9]+[a-z]?|[A-Z])\. ").unwrap();
    heading
        .captures_iter(&text)
        .map(|c| c[1].to_string())
        .collect()
}

#[test]
fn every_docs_citation_names_a_section_that_exists() {
    let cite = regex::Regex::new(
        r"\b(DESIGN|ARGOCD|FIREFOX)(?:\.md)?,? ?§ ?([0-9]+[a-z]?)|\bPLATFORM(?:\.md)?,? ([A-H])\b",
    )
    .unwrap();
    let sections: BTreeMap<&str, BTreeSet<String>> = ["DESIGN", "PLATFORM", "ARGOCD", "FIREFOX"]
        .into_iter()
        .map(|d| (d, doc_sections(d)))
        .collect();
    let mut files = Vec::new();
    cited_files(&repo_root(), &mut files);
    let (mut checked, mut broken) = (0, Vec::new());
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for c in cite.captures_iter(&text) {
            let (doc, section) = match (c.get(1), c.get(2), c.get(3)) {
                (Some(d), Some(s), _) => (d.as_str(), s.as_str()),
                (_, _, Some(s)) => ("PLATFORM", s.as_str()),
                _ => continue,
            };
            checked += 1;
            if !sections[doc].contains(section) {
                broken.push(format!(
                    "{}: {} names docs/{doc}.md section {section}, which has none",
                    file.strip_prefix(repo_root()).unwrap().display(),
                    &c[0]
                ));
            }
        }
    }
    assert!(
        checked > 20,
        "only {checked} citations found: is the pattern right?"
    );
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

/// The crates a manifest table lists (`[dependencies]`, `[dev-dependencies]`, and their
/// `[target.'cfg(…)'.…]` forms), without the workspace's own.
fn manifest_dependencies(manifest: &toml::Table, out: &mut BTreeSet<String>) {
    for kind in ["dependencies", "dev-dependencies", "build-dependencies"] {
        if let Some(deps) = manifest.get(kind).and_then(|d| d.as_table()) {
            for (name, spec) in deps {
                let package = spec.get("package").and_then(|p| p.as_str()).unwrap_or(name);
                // The workspace's own crates (`protocol.workspace = true` names no package).
                let ours = package.starts_with("preview-switch")
                    || matches!(package, "protocol" | "fake-argocd");
                if !ours {
                    out.insert(package.to_string());
                }
            }
        }
    }
    if let Some(targets) = manifest.get("target").and_then(|t| t.as_table()) {
        for target in targets.values().filter_map(|t| t.as_table()) {
            manifest_dependencies(target, out);
        }
    }
}

#[test]
fn every_dependency_is_justified_in_architecture_md() {
    let mut used = BTreeSet::new();
    for krate in ["protocol", "companion", "extension", "fake-argocd"] {
        let text = std::fs::read_to_string(repo_root().join(krate).join("Cargo.toml")).unwrap();
        manifest_dependencies(&text.parse::<toml::Table>().unwrap(), &mut used);
    }
    let architecture = std::fs::read_to_string(repo_root().join("ARCHITECTURE.md")).unwrap();
    let justified: BTreeSet<String> = architecture
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split(" |").next())
        .flat_map(|names| {
            // `reqwest (rustls, ring)`: the crate is the word before the parenthesis.
            let mut depth = 0;
            let mut cleaned = String::new();
            for ch in names.chars() {
                match ch {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ if depth == 0 => cleaned.push(ch),
                    _ => {}
                }
            }
            cleaned
                .split(',')
                .map(|n| n.trim().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    let missing: Vec<_> = used.difference(&justified).collect();
    assert!(
        missing.is_empty(),
        "crates without a line in ARCHITECTURE.md's dependency table: {missing:?}"
    );
    assert!(used.len() > 15, "only {} dependencies found", used.len());
}
