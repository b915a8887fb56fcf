//! Proves the `examples/` share rule works for a client without the extension. Each
//! provider's routing template (Gateway API, Linkerd, Istio) is rendered for a sample PR by
//! the chart renderer the discovery test uses, translated rule by rule into an nginx config
//! (a construct the translator does not know fails the test, naming it, so the example
//! cannot drift from what is proven here) and served by real nginx in front of two echo
//! backends, dev and the PR. Real curl with a cookie jar then opens a shared link as a QA
//! colleague's phone would: the link reaches the PR and sets the routing cookie, and the
//! pages after it stay on the PR.

use std::cmp::Reverse;
use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::Uri;
use protocol::policy::{DEFAULT_SHARE_PARAM, share_value, with_share_param};
use serde_json::{Map, Value};

// The renderer `core/routes/examples.rs` uses; test-only in the crate, so included by path.
#[path = "../../src/core/routes/chart.rs"]
mod chart;

const PR: u64 = 42;
const SERVICE: &str = "courses-fe";
const HOST: &str = "courses-fe.dev.example.com";
const NAMESPACE: &str = "courses-fe-pr-42";
/// The routing cookie the templates match on (`core/routes/examples.rs` proves discovery
/// finds it).
const COOKIE: &str = "courses-fe-pr=42";
const NGINX: &str = "/usr/sbin/nginx";

const GATEWAY: &str = include_str!("../../../examples/chart/templates/route-gateway.yaml");
const LINKERD: &str = include_str!("../../../examples/chart/templates/route-linkerd.yaml");
const ISTIO: &str = include_str!("../../../examples/chart/templates/route-istio.yaml");

/// The chart's template for `routing`, rendered for the sample PR with share links on or
/// off, as YAML.
fn rendered(template: &str, routing: &str, share: bool) -> Value {
    let pr = PR.to_string();
    let text = chart::render(
        template,
        &[
            ("routing", routing),
            ("share", if share { "true" } else { "false" }),
            ("prNumber", &pr),
            ("service", SERVICE),
            ("host", HOST),
            ("Release.Namespace", NAMESPACE),
        ],
    );
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{routing}: not YAML: {e}\n{text}"))
}

// ---- The routing resource, read strictly ------------------------------------------------

/// One way a request reaches the PR: conditions that must all hold, and the headers its
/// response gets. Arms are tried in the provider's order of precedence; none holding → dev.
#[derive(Clone, Debug)]
struct Arm {
    conds: Vec<Cond>,
    add: Vec<(String, String)>,
}

#[derive(Clone, Debug)]
enum Cond {
    /// The request's host is one of these.
    Host(Vec<String>),
    /// The request header's whole value matches this regex.
    Header { name: String, regex: String },
    /// The query string carries `name=value`.
    Query { name: String, value: String },
}

/// The service the routing resource must send matched requests to: the PR's.
const PR_BACKEND: (&str, &str) = (SERVICE, NAMESPACE);

/// `v`'s fields, refusing any the translator does not know.
fn fields<'a>(v: &'a Value, at: &str, known: &[&str]) -> Result<&'a Map<String, Value>, String> {
    let obj = v
        .as_object()
        .ok_or_else(|| format!("{at}: not a mapping"))?;
    match obj.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) if at.is_empty() => Err(format!("{k}: not translated to nginx")),
        Some(k) => Err(format!("{at}.{k}: not translated to nginx")),
        None => Ok(obj),
    }
}

fn list<'a>(v: Option<&'a Value>, at: &str) -> Result<&'a Vec<Value>, String> {
    v.ok_or_else(|| format!("{at}: missing"))?
        .as_array()
        .ok_or_else(|| format!("{at}: not a list"))
}

/// A list that may be left out (an empty one).
fn optional_list<'a>(v: Option<&'a Value>, at: &str) -> Result<&'a [Value], String> {
    v.map_or(Ok(&[]), |v| list(Some(v), at).map(Vec::as_slice))
}

/// The one backend of a rule: a split between several is not translated.
fn only_backend<'a>(v: Option<&'a Value>, at: &str) -> Result<&'a Value, String> {
    match list(v, at)?.as_slice() {
        [one] => Ok(one),
        all => Err(format!(
            "{at}: {} backends (a split) is not translated to nginx",
            all.len()
        )),
    }
}

fn text<'a>(v: Option<&'a Value>, at: &str) -> Result<&'a str, String> {
    v.ok_or_else(|| format!("{at}: missing"))?
        .as_str()
        .ok_or_else(|| format!("{at}: not a string"))
}

/// The arms of a rendered routing resource, in the order its provider applies them.
fn translate(obj: &Value) -> Result<Vec<Arm>, String> {
    let top = fields(obj, "", &["apiVersion", "kind", "metadata", "spec"])?;
    let api = text(top.get("apiVersion"), "apiVersion")?;
    let kind = text(top.get("kind"), "kind")?;
    let group = api.split('/').next().unwrap_or_default();
    match (group, kind) {
        ("gateway.networking.k8s.io" | "policy.linkerd.io", "HTTPRoute") => from_httproute(top),
        ("networking.istio.io", "VirtualService") => from_virtual_service(top),
        _ => Err(format!("{api} {kind}: not translated to nginx")),
    }
}

/// A Gateway API or Linkerd HTTPRoute. Its `parentRefs` say where it attaches (the shared
/// Gateway; for Linkerd the base Service): the nginx under test stands for that parent, so
/// they add no condition.
fn from_httproute(top: &Map<String, Value>) -> Result<Vec<Arm>, String> {
    let meta = fields(&top["metadata"], "metadata", &["name", "namespace"])?;
    let route_ns = text(meta.get("namespace"), "metadata.namespace")?;
    let spec = fields(&top["spec"], "spec", &["parentRefs", "hostnames", "rules"])?;
    let hosts = match spec.get("hostnames") {
        Some(h) => Some(
            list(Some(h), "spec.hostnames")?
                .iter()
                .map(|h| text(Some(h), "spec.hostnames[]").map(str::to_owned))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        None => None,
    };
    let mut arms = Vec::new();
    for (i, rule) in list(spec.get("rules"), "spec.rules")?.iter().enumerate() {
        let at = format!("spec.rules[{i}]");
        let r = fields(rule, &at, &["matches", "filters", "backendRefs"])?;
        let mut add = response_adds(r.get("filters"), &format!("{at}.filters"))?;
        let backend = only_backend(r.get("backendRefs"), &format!("{at}.backendRefs"))?;
        let bat = format!("{at}.backendRefs[0]");
        let b = fields(backend, &bat, &["name", "namespace", "port", "filters"])?;
        let name = text(b.get("name"), &format!("{bat}.name"))?;
        // A backendRef without a namespace is in the route's own.
        let ns = match b.get("namespace") {
            Some(ns) => text(Some(ns), &format!("{bat}.namespace"))?,
            None => route_ns,
        };
        pr_backend(name, ns, &bat)?;
        add.extend(response_adds(b.get("filters"), &format!("{bat}.filters"))?);
        let mut ranked = Vec::new();
        for (j, m) in list(r.get("matches"), &format!("{at}.matches"))?
            .iter()
            .enumerate()
        {
            let mat = format!("{at}.matches[{j}]");
            let m = fields(m, &mat, &["headers", "queryParams"])?;
            let mut conds: Vec<Cond> = hosts.clone().map(Cond::Host).into_iter().collect();
            let headers = optional_list(m.get("headers"), &format!("{mat}.headers"))?;
            for (k, h) in headers.iter().enumerate() {
                let hat = format!("{mat}.headers[{k}]");
                let h = fields(h, &hat, &["name", "type", "value"])?;
                let value = text(h.get("value"), &format!("{hat}.value"))?;
                let regex = match h.get("type").and_then(Value::as_str).unwrap_or("Exact") {
                    "Exact" => regex::escape(value),
                    "RegularExpression" => value.to_owned(),
                    other => return Err(format!("{hat}.type: {other} is not translated to nginx")),
                };
                let name = text(h.get("name"), &format!("{hat}.name"))?.to_owned();
                conds.push(Cond::Header { name, regex });
            }
            let params = optional_list(m.get("queryParams"), &format!("{mat}.queryParams"))?;
            for (k, q) in params.iter().enumerate() {
                let qat = format!("{mat}.queryParams[{k}]");
                let q = fields(q, &qat, &["name", "type", "value"])?;
                match q.get("type").and_then(Value::as_str).unwrap_or("Exact") {
                    "Exact" => {}
                    other => return Err(format!("{qat}.type: {other} is not translated to nginx")),
                }
                conds.push(Cond::Query {
                    name: text(q.get("name"), &format!("{qat}.name"))?.to_owned(),
                    value: text(q.get("value"), &format!("{qat}.value"))?.to_owned(),
                });
            }
            if headers.is_empty() && params.is_empty() {
                return Err(format!(
                    "{mat}: a match on no header or query parameter is not translated to nginx"
                ));
            }
            let arm = Arm {
                conds,
                add: add.clone(),
            };
            ranked.push(((headers.len(), params.len()), arm));
        }
        arms.extend(ranked);
    }
    // Gateway API precedence (HTTPRouteRule, followed by Linkerd): with no path or method
    // match, the match with the most header matches wins, then the most query-parameter
    // matches; ties keep their order. A request carrying both the cookie and the link takes
    // the cookie rule.
    arms.sort_by_key(|(rank, _)| Reverse(*rank));
    Ok(arms.into_iter().map(|(_, arm)| arm).collect())
}

/// The headers `filters` add to the response: only `ResponseHeaderModifier`'s `add`.
fn response_adds(filters: Option<&Value>, at: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (k, f) in optional_list(filters, at)?.iter().enumerate() {
        let fat = format!("{at}[{k}]");
        let f = fields(f, &fat, &["type", "responseHeaderModifier"])?;
        match text(f.get("type"), &format!("{fat}.type"))? {
            "ResponseHeaderModifier" => {}
            other => return Err(format!("{fat}.type: {other} is not translated to nginx")),
        }
        let mat = format!("{fat}.responseHeaderModifier");
        let m = fields(&f["responseHeaderModifier"], &mat, &["add"])?;
        for (n, a) in list(m.get("add"), &format!("{mat}.add"))?
            .iter()
            .enumerate()
        {
            let aat = format!("{mat}.add[{n}]");
            let a = fields(a, &aat, &["name", "value"])?;
            out.push((
                text(a.get("name"), &format!("{aat}.name"))?.to_owned(),
                text(a.get("value"), &format!("{aat}.value"))?.to_owned(),
            ));
        }
    }
    Ok(out)
}

/// An Istio VirtualService. Its `gateways` say which proxies apply it (the ingress gateway
/// and the mesh's sidecars): the nginx under test stands for them. Istio tries its `http`
/// routes in order, first match wins.
fn from_virtual_service(top: &Map<String, Value>) -> Result<Vec<Arm>, String> {
    fields(&top["metadata"], "metadata", &["name", "namespace"])?;
    let spec = fields(&top["spec"], "spec", &["hosts", "gateways", "http"])?;
    let hosts = list(spec.get("hosts"), "spec.hosts")?
        .iter()
        .map(|h| text(Some(h), "spec.hosts[]").map(str::to_owned))
        .collect::<Result<Vec<_>, _>>()?;
    let mut arms = Vec::new();
    for (i, rule) in list(spec.get("http"), "spec.http")?.iter().enumerate() {
        let at = format!("spec.http[{i}]");
        let r = fields(rule, &at, &["match", "headers", "route"])?;
        let mut add = Vec::new();
        if let Some(h) = r.get("headers") {
            let h = fields(h, &format!("{at}.headers"), &["response"])?;
            let rat = format!("{at}.headers.response");
            let resp = fields(&h["response"], &rat, &["add"])?;
            let adds = resp["add"]
                .as_object()
                .ok_or_else(|| format!("{rat}.add: not a mapping"))?;
            for (name, v) in adds {
                add.push((
                    name.clone(),
                    text(Some(v), &format!("{rat}.add.{name}"))?.to_owned(),
                ));
            }
        }
        let route = only_backend(r.get("route"), &format!("{at}.route"))?;
        let dat = format!("{at}.route[0].destination");
        let route = fields(route, &format!("{at}.route[0]"), &["destination"])?;
        let d = fields(&route["destination"], &dat, &["host", "port"])?;
        let host = text(d.get("host"), &format!("{dat}.host"))?;
        let Some((name, ns)) = host
            .strip_suffix(".svc.cluster.local")
            .and_then(|h| h.split_once('.'))
        else {
            return Err(format!(
                "{dat}.host: {host} is not a Service's full name (NAME.NAMESPACE.svc.cluster.local)"
            ));
        };
        pr_backend(name, ns, &dat)?;
        for (j, m) in list(r.get("match"), &format!("{at}.match"))?
            .iter()
            .enumerate()
        {
            let mat = format!("{at}.match[{j}]");
            let m = fields(m, &mat, &["headers", "queryParams"])?;
            let mut conds = vec![Cond::Host(hosts.clone())];
            for (name, sm) in m
                .get("headers")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                let hat = format!("{mat}.headers.{name}");
                let sm = fields(sm, &hat, &["exact", "regex"])?;
                let regex = match (sm.get("exact"), sm.get("regex")) {
                    (Some(v), None) => regex::escape(text(Some(v), &format!("{hat}.exact"))?),
                    (None, Some(v)) => text(Some(v), &format!("{hat}.regex"))?.to_owned(),
                    _ => return Err(format!("{hat}: not exactly one of exact, regex")),
                };
                conds.push(Cond::Header {
                    name: name.clone(),
                    regex,
                });
            }
            for (name, sm) in m
                .get("queryParams")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                let qat = format!("{mat}.queryParams.{name}");
                let sm = fields(sm, &qat, &["exact"])?;
                conds.push(Cond::Query {
                    name: name.clone(),
                    value: text(sm.get("exact"), &format!("{qat}.exact"))?.to_owned(),
                });
            }
            if conds.len() == 1 {
                return Err(format!(
                    "{mat}: a match on no header or query parameter is not translated to nginx"
                ));
            }
            arms.push(Arm {
                conds,
                add: add.clone(),
            });
        }
    }
    Ok(arms)
}

/// Only the PR's Service is served here (and dev when nothing matches).
fn pr_backend(name: &str, ns: &str, at: &str) -> Result<(), String> {
    if (name, ns) == PR_BACKEND {
        Ok(())
    } else {
        Err(format!(
            "{at}: the Service {name} in namespace {ns} is not the PR's ({} in {}), the only backend the test serves",
            PR_BACKEND.0, PR_BACKEND.1
        ))
    }
}

// ---- The nginx config --------------------------------------------------------------------

/// An nginx double-quoted string: nginx unescapes `\\` and `\"` (and turns `\t`, `\r`, `\n`
/// into control characters), so a regex's backslashes are doubled to reach PCRE as written.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The `http {}` maps and the `location {}` lines that apply `arms`. Each condition becomes
/// a `map` to `1`/`0`; each arm holds when all its conditions do; `$ps_arm` is the first arm
/// that holds (regex map entries are tried in order) and picks the backend and the headers.
fn nginx_rules(arms: &[Arm]) -> Result<(String, String), String> {
    let mut maps = Vec::new();
    let mut location = vec!["proxy_pass http://$ps_upstream;".to_owned()];
    for (i, arm) in arms.iter().enumerate() {
        let mut vars = String::new();
        for (j, cond) in arm.conds.iter().enumerate() {
            let (source, key) = match cond {
                Cond::Host(hosts) if hosts.iter().all(|h| !h.contains('*')) => {
                    let names: Vec<String> = hosts
                        .iter()
                        .map(|h| regex::escape(&h.to_ascii_lowercase()))
                        .collect();
                    ("$host".to_owned(), format!("~^(?:{})$", names.join("|")))
                }
                // Matched against the whole header value, as Linkerd and Envoy (Istio, most
                // Gateway API implementations) do, and as `e2e/harness.mjs` routes cookies.
                Cond::Header { name, regex } if is_token(name) => (
                    format!("$http_{}", name.to_ascii_lowercase().replace('-', "_")),
                    format!("~^(?:{regex})$"),
                ),
                Cond::Host(hosts) => {
                    return Err(format!(
                        "a wildcard host in {hosts:?} is not translated to nginx"
                    ));
                }
                Cond::Header { name, .. } => {
                    return Err(format!("header name {name:?} is not translated to nginx"));
                }
                // Not `$arg_<name>`: nginx ends a variable name at the first character
                // outside [A-Za-z0-9_], so `$arg_preview-switch` reads as `$arg_preview`
                // followed by the text "-switch" (checked: `?preview=zz` gives "zz-switch"),
                // and `${arg_preview-switch}` is refused ("the closing bracket in
                // "arg_preview" variable is missing"). The raw query string
                // `$args` is matched instead, for `name=value` as a whole parameter. The
                // share link writes its value unencoded (`with_share_param`), which is what
                // the proxy compares too.
                Cond::Query { name, value } => (
                    "$args".to_owned(),
                    format!(
                        "~(?:^|&){}={}(?:&|$)",
                        regex::escape(name),
                        regex::escape(value)
                    ),
                ),
            };
            maps.push(format!(
                "map {source} $ps_a{i}_c{j} {{ {} 1; default 0; }}",
                quoted(&key)
            ));
            vars.push_str(&format!("${{ps_a{i}_c{j}}}"));
        }
        maps.push(format!(
            "map \"{vars}\" $ps_a{i} {{ \"{}\" 1; default 0; }}",
            "1".repeat(arm.conds.len())
        ));
        for (k, (name, value)) in arm.add.iter().enumerate() {
            // nginx reads `$` in a map value as a variable, and `add_header` skips an empty
            // value: neither can carry the rule's header as written.
            if !is_token(name) || value.is_empty() || value.contains('$') {
                return Err(format!(
                    "response header {name}: {value:?} is not translated to nginx"
                ));
            }
            maps.push(format!(
                "map $ps_arm $ps_a{i}_h{k} {{ \"{i}\" {}; default \"\"; }}",
                quoted(value)
            ));
            // `always`: the header goes out on error answers too, as the proxies add it.
            location.push(format!("add_header {name} $ps_a{i}_h{k} always;"));
        }
    }
    let all: String = (0..arms.len()).map(|i| format!("${{ps_a{i}}}")).collect();
    let first: Vec<String> = (0..arms.len())
        .map(|i| format!("\"~^{}1\" {i};", "0".repeat(i)))
        .collect();
    maps.push(format!(
        "map \"{all}\" $ps_arm {{ {} default \"\"; }}",
        first.join(" ")
    ));
    maps.push("map $ps_arm $ps_upstream { \"\" dev; default pr; }".to_owned());
    Ok((maps.join("\n  "), location.join("\n      ")))
}

fn nginx_conf(rules: &(String, String), dir: &Path, port: u16, dev: u16, pr: u16) -> String {
    let (maps, location) = rules;
    let d = dir.display();
    format!(
        "master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {d}/client_body; proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  {maps}
  upstream dev {{ server 127.0.0.1:{dev}; }}
  upstream pr {{ server 127.0.0.1:{pr}; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      {location}
    }}
  }}
}}
"
    )
}

// ---- The processes -----------------------------------------------------------------------

/// Two echo backends, dev and the PR, each answering `<which> <path and query>`; stopped
/// with their runtime when dropped.
struct Backends {
    _rt: tokio::runtime::Runtime,
    dev: u16,
    pr: u16,
}

impl Backends {
    fn start() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let serve = |which: &'static str| {
            let app =
                Router::new().fallback(move |uri: Uri| async move { format!("{which} {uri}") });
            let listener = rt
                .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
                .unwrap();
            let port = listener.local_addr().unwrap().port();
            rt.spawn(async move { axum::serve(listener, app).await });
            port
        };
        let (dev, pr) = (serve("dev"), serve("pr"));
        Backends { _rt: rt, dev, pr }
    }
}

/// Real nginx, `daemon off` and `master_process off` (one process, so killing it when
/// dropped leaves no worker behind, as killing a master would), its prefix in a temporary
/// directory.
struct Nginx {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Nginx {
    fn start(rules: &(String, String), backends: &Backends) -> Self {
        assert!(
            Path::new(NGINX).exists(),
            "nginx is missing at {NGINX}: run `make setup` (installs Debian's nginx)"
        );
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("nginx.conf");
        let error_log = dir.path().join("error.log");
        // A port found free may be taken by another process before nginx binds it: nginx
        // then exits at once, and the start is tried again on another port.
        for _attempt in 0..3 {
            let port = free_port();
            let text = nginx_conf(rules, dir.path(), port, backends.dev, backends.pr);
            std::fs::write(&conf, &text).unwrap();
            let mut child = Command::new(NGINX)
                .arg("-p")
                .arg(dir.path())
                .arg("-e")
                .arg(&error_log)
                .arg("-c")
                .arg(&conf)
                .args(["-g", "daemon off;"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(File::create(dir.path().join("stderr")).unwrap())
                .spawn()
                .unwrap_or_else(|e| panic!("{NGINX} does not start: {e}: run `make setup`"));
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Nginx {
                        child,
                        port,
                        _dir: dir,
                    };
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let log = |p: PathBuf| std::fs::read_to_string(p).unwrap_or_default();
        panic!(
            "nginx could not start: {}{}\nconfig:\n{}",
            log(error_log),
            log(dir.path().join("stderr")),
            log(conf)
        );
    }
}

/// What curl got back.
#[derive(Debug)]
struct Reply {
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The cookies a curl run sends and keeps.
enum Cookies<'a> {
    None,
    /// `-c jar -b jar`: keeps what the answer sets and sends it next time, as a browser.
    Jar(&'a Path),
    /// `-b name=value`: sends this cookie, keeps nothing.
    Send(&'a str),
}

/// `GET http://HOST:<port><path>` with real curl, HOST resolved to nginx.
fn curl(port: u16, path: &str, cookies: Cookies) -> Reply {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-i", "--max-time", "5", "--resolve"])
        .arg(format!("{HOST}:{port}:127.0.0.1"))
        .arg(format!("http://{HOST}:{port}{path}"));
    match cookies {
        Cookies::None => {}
        Cookies::Jar(jar) => {
            cmd.arg("-c").arg(jar).arg("-b").arg(jar);
        }
        Cookies::Send(c) => {
            cmd.args(["-b", c]);
        }
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("curl does not run: {e}: run `make setup` (installs curl)"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "curl {path}: {}{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let mut lines = head.lines();
    let status = lines.next().unwrap();
    assert!(status.contains(" 200"), "{path}: {status}\n{text}");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Reply {
        headers,
        body: body.to_owned(),
    }
}

// ---- The proof ---------------------------------------------------------------------------

fn rules_for(template: &str, routing: &str, share: bool) -> (String, String) {
    let arms = translate(&rendered(template, routing, share))
        .unwrap_or_else(|e| panic!("{routing}: the example's routing resource has {e}: teach the translator in tests/it/share.rs, or keep the example to what it knows"));
    nginx_rules(&arms).unwrap_or_else(|e| panic!("{routing}: {e}"))
}

/// The shared link for `page`, as `preview-switch link` and the popup's *Copy link* write it.
fn link(page: &str, pr: u64) -> String {
    with_share_param(
        page,
        DEFAULT_SHARE_PARAM,
        &share_value(SERVICE, pr).unwrap(),
    )
}

/// The example's share rule, routed through nginx: a link reaches the PR and sets the
/// routing cookie, which keeps the next pages on the PR; a wrong link or no cookie reaches
/// dev; without `share: true` the link reaches dev.
fn share_link_works_without_the_extension(template: &str, routing: &str) {
    assert!(
        Command::new("curl").arg("--version").output().is_ok(),
        "curl is missing: run `make setup`"
    );
    let backends = Backends::start();
    let nginx = Nginx::start(&rules_for(template, routing, true), &backends);
    let jars = tempfile::tempdir().unwrap();
    let jar = jars.path().join("qa-phone");
    let marker = PR.to_string();

    // (a) The link, on a page that has a query of its own.
    let page = link("/some/page?tab=2", PR);
    assert_eq!(page, "/some/page?tab=2&preview-switch=courses-fe:42");
    let r = curl(nginx.port, &page, Cookies::Jar(&jar));
    assert_eq!(
        r.body,
        format!("pr {page}"),
        "{routing}: the link reaches the PR"
    );
    assert_eq!(
        r.header("x-preview-pr"),
        Some(marker.as_str()),
        "{routing}: {r:?}"
    );
    let set = r.header("set-cookie").unwrap_or_default();
    assert!(set.starts_with(&format!("{COOKIE};")), "{routing}: {r:?}");
    let kept = std::fs::read_to_string(&jar).unwrap();
    assert!(
        kept.lines().any(|l| l.starts_with(HOST)
            && l.contains("\t/\t")
            && l.ends_with("\tcourses-fe-pr\t42")),
        "{routing}: the jar keeps the routing cookie: {kept}"
    );

    // (b) The next page, without the parameter: the cookie keeps it on the PR.
    let r = curl(nginx.port, "/other", Cookies::Jar(&jar));
    assert_eq!(r.body, "pr /other", "{routing}: the cookie keeps the PR");
    assert_eq!(
        r.header("x-preview-pr"),
        Some(marker.as_str()),
        "{routing}: {r:?}"
    );
    assert_eq!(r.header("set-cookie"), None, "{routing}: {r:?}");

    // (c) A link to another PR, a longer number and no cookie at all reach dev untouched.
    let fresh = jars.path().join("fresh");
    for (path, cookies) in [
        (link("/some/page", 999), Cookies::Jar(&fresh)),
        (link("/some/page", 420), Cookies::Jar(&fresh)),
        ("/other".to_owned(), Cookies::None),
    ] {
        let r = curl(nginx.port, &path, cookies);
        assert_eq!(r.body, format!("dev {path}"), "{routing}");
        assert_eq!(r.header("set-cookie"), None, "{routing}: {r:?}");
        assert_eq!(r.header("x-preview-pr"), None, "{routing}: {r:?}");
    }
    let fresh_kept = std::fs::read_to_string(&fresh).unwrap_or_default();
    assert!(!fresh_kept.contains("courses-fe-pr"), "{fresh_kept}");
    drop(nginx);

    // (d) Rendered without `share: true`: the link reaches dev and sets nothing, while the
    // cookie itself still reaches the PR.
    let nginx = Nginx::start(&rules_for(template, routing, false), &backends);
    let page = link("/some/page", PR);
    let r = curl(nginx.port, &page, Cookies::Jar(&jars.path().join("off")));
    assert_eq!(r.body, format!("dev {page}"), "{routing}: share is opt-in");
    assert_eq!(r.header("set-cookie"), None, "{routing}: {r:?}");
    let r = curl(nginx.port, "/other", Cookies::Send(COOKIE));
    assert_eq!(r.body, "pr /other", "{routing}");
    assert_eq!(
        r.header("x-preview-pr"),
        Some(marker.as_str()),
        "{routing}: {r:?}"
    );
}

#[test]
fn gateway_api_example_share_link_reaches_the_pr_and_sets_the_cookie_through_nginx() {
    share_link_works_without_the_extension(GATEWAY, "gateway");
}

#[test]
fn linkerd_example_share_link_reaches_the_pr_and_sets_the_cookie_through_nginx() {
    share_link_works_without_the_extension(LINKERD, "linkerd");
}

#[test]
fn istio_example_share_link_reaches_the_pr_and_sets_the_cookie_through_nginx() {
    share_link_works_without_the_extension(ISTIO, "istio");
}

/// A construct the translator does not know fails the proof, naming where it is: an example
/// that grows one cannot pass untested.
#[test]
fn a_construct_the_translator_does_not_know_is_named() {
    let cases = [
        (
            GATEWAY.replace("- type: ResponseHeaderModifier", "- type: RequestMirror"),
            "gateway",
            "spec.rules[0].filters[0].type: RequestMirror",
        ),
        (
            LINKERD.replace("          add:\n", "          set:\n"),
            "linkerd",
            "spec.rules[0].backendRefs[0].filters[0].responseHeaderModifier.set",
        ),
        (
            GATEWAY.replace("type: Exact", "type: RegularExpression"),
            "gateway",
            "spec.rules[1].matches[0].queryParams[0].type: RegularExpression",
        ),
        (
            ISTIO.replace("exact: \"{{", "regex: \"{{"),
            "istio",
            "spec.http[1].match[0].queryParams.preview-switch.regex",
        ),
        (
            ISTIO.replace(
                "host: {{ .Values.service }}.{{ .Release.Namespace }}",
                "host: {{ .Values.service }}.dev",
            ),
            "istio",
            "spec.http[0].route[0].destination: the Service courses-fe in namespace dev is not the PR's",
        ),
    ];
    for (template, routing, named) in cases {
        let err = translate(&rendered(&template, routing, true)).unwrap_err();
        assert!(err.starts_with(named), "{routing}: {err}");
    }
}
