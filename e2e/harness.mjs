// The end-to-end world for the extension suite: two echo backends, real nginx routing
// between them by the HTTPRoute cookie regexes, the fake Argo CD (companion/examples/
// e2e-fake.rs), the real `preview-switch` registered as native host in a throwaway
// Chromium profile, and Debian's Chromium with dist/extension loaded. Everything binds
// 127.0.0.1, lives in one temp dir, and is stopped by `stop()`.
import { spawn, execFileSync } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const EXTENSION_ID = "kenpfoonlngflpognjbagobppcnfepml";
export const ARTIFACTS = process.env.E2E_ARTIFACTS ?? path.join(ROOT, "target", "e2e");
const HOST_NAME = "io.previewswitch.companion";
const BIN = process.env.PREVIEW_SWITCH_BIN ?? path.join(ROOT, "target/debug/preview-switch");
const FAKE = process.env.E2E_FAKE_BIN ?? path.join(ROOT, "target/debug/examples/e2e-fake");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const NGINX = process.env.NGINX ?? "/usr/sbin/nginx";
// CI and people debugging can watch it: E2E_HEADED=1 with a display.
const HEADED = process.env.E2E_HEADED === "1";

function need(file, fix) {
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: ${fix}`);
}

/** A backend that answers every request with what it received, as JSON in a <pre>. */
async function echoBackend(name) {
  const server = http.createServer((req, res) => {
    const seen = {
      backend: name,
      routed_to: req.headers["x-routed-to"] || null,
      host: req.headers.host,
      cookie: req.headers.cookie ?? "",
      method: req.method,
      path: req.url,
    };
    const json = JSON.stringify(seen);
    if (req.url.startsWith("/api")) {
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(json);
    } else {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
      res.end(`<!doctype html><title>${name}</title><pre id="echo">${json.replace(/</g, "&lt;")}</pre>`);
    }
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return server;
}

async function freePort() {
  const s = http.createServer();
  s.listen(0, "127.0.0.1");
  await once(s, "listening");
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

// nginx keeps backslashes in quoted strings as they are (the regex needs them); only a
// double quote must be escaped.
function nginxQuote(s) {
  return `"${s.replace(/"/g, '\\"')}"`;
}

function nginxConf(dir, port, tlsPort, routes, devPort, previewPort) {
  // Per host, the same regexes the HTTPRoute header matches carry, matched against the
  // whole Cookie header as the mesh does (PLATFORM E); then the host picks its map.
  const hosts = [...new Set(routes.map((r) => r.host))];
  const slug = (h) => h.replace(/[^a-z0-9]/g, "_");
  const cookieMaps = hosts
    .map((h) => {
      const entries = routes
        .filter((r) => r.host === h)
        .map((r) => `    ${nginxQuote(`~^(?:${r.cookie_regex})$`)} ${r.app};`)
        .join("\n");
      return `  map $http_cookie $route_${slug(h)} {\n${entries}\n    default "";\n  }`;
    })
    .join("\n");
  const byHost = hosts.map((h) => `    ${h} $route_${slug(h)};`).join("\n");
  const tmp = (n) => `${n}_temp_path ${path.join(dir, n)};`;
  return `worker_processes 1;
pid ${path.join(dir, "nginx.pid")};
error_log ${path.join(dir, "error.log")} warn;
events { worker_connections 128; }
http {
  access_log ${path.join(dir, "access.log")};
  ${tmp("client_body")} ${tmp("proxy")} ${tmp("fastcgi")} ${tmp("uwsgi")} ${tmp("scgi")}
${cookieMaps}
  map $host $preview_route {
${byHost}
    default "";
  }
  map $preview_route $backend { "" dev; default preview; }
  upstream dev { server 127.0.0.1:${devPort}; }
  upstream preview { server 127.0.0.1:${previewPort}; }
  server {
    listen 127.0.0.1:${port};
    # https://<host>/ (what "open with preview" opens) reaches this port through the
    # browser's host-resolver rule; the certificate is a throwaway self-signed one.
    listen 127.0.0.1:${tlsPort} ssl;
    ssl_certificate ${path.join(dir, "cert.pem")};
    ssl_certificate_key ${path.join(dir, "key.pem")};
    location / {
      proxy_pass http://$backend;
      proxy_set_header Host $http_host;
      proxy_set_header X-Routed-To $preview_route;
      proxy_buffering off;
    }
  }
}
`;
}

async function waitHttp(url, what, logFile) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      return;
    } catch (e) {
      if (Date.now() > deadline) {
        const log = logFile && fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : "";
        throw new Error(`${what} did not answer on ${url}: ${e.message}\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

export async function start() {
  need(BIN, "run cargo build -p preview-switch");
  need(FAKE, "run cargo build -p preview-switch --example e2e-fake");
  need(path.join(ROOT, "dist/extension/manifest.json"), "run `make build-extension`");
  need(CHROMIUM, "run `make setup` (installs Debian's chromium)");
  need(NGINX, "run `make setup` (installs Debian's nginx)");
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "preview-switch-e2e-"));
  const w = { dir, procs: [], servers: [] };
  // nginx and the fake do not die with us: if the runner itself dies, take them along.
  process.on("exit", () => {
    for (const p of w.procs) if (p.exitCode === null) p.kill("SIGKILL");
  });
  try {
    await setUp(w);
  } catch (e) {
    await stop(w);
    throw e;
  }
  return w;
}

async function setUp(w) {
  const { dir } = w;
  helpers(w);
  const dev = await echoBackend("dev");
  const preview = await echoBackend("preview");
  w.servers.push(dev, preview);
  w.port = await freePort();
  w.tlsPort = await freePort();
  // `courses-fe` is a demo service (courses-fe.demo.test); a name with a dot is a host.
  w.site = (name, p = "/") => `http://${name.includes(".") ? name : `${name}.demo.test`}:${w.port}${p}`;

  // The fake Argo CD, its config for the companion, and the routes nginx must apply.
  const fake = spawn(FAKE, [path.join(dir, "fake"), String(w.port)], { stdio: ["pipe", "pipe", "inherit"] });
  w.procs.push(fake);
  const [line] = await Promise.race([
    once(readline.createInterface({ input: fake.stdout }), "line"),
    once(fake, "exit").then(([code]) => { throw new Error(`e2e-fake exited with ${code}`); }),
  ]);
  w.fake = JSON.parse(line);

  const ngx = path.join(dir, "nginx");
  fs.mkdirSync(ngx);
  const conf = path.join(ngx, "nginx.conf");
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=demo.test",
    "-keyout", path.join(ngx, "key.pem"), "-out", path.join(ngx, "cert.pem")], { stdio: "ignore" });
  fs.writeFileSync(conf, nginxConf(ngx, w.port, w.tlsPort, w.fake.routes, dev.address().port, preview.address().port));
  const nginx = spawn(NGINX, ["-p", ngx, "-e", path.join(ngx, "error.log"), "-c", conf, "-g", "daemon off;"], {
    stdio: ["ignore", "inherit", "inherit"],
  });
  w.procs.push(nginx);
  await waitHttp(`http://127.0.0.1:${w.port}/`, "nginx", path.join(ngx, "error.log"));

  // The companion as the browser will start it: a wrapper (the manifest `path` must be an
  // executable) that reads its environment from host.env, so a test can point it at
  // another cache or config between launches.
  w.hostEnv = path.join(dir, "host.env");
  w.setHostEnv({});
  const wrapper = path.join(dir, "preview-switch-host");
  fs.writeFileSync(wrapper, `#!/bin/sh\n. '${w.hostEnv}'\nexec '${BIN}' "$@"\n`, { mode: 0o755 });
  w.profile = path.join(dir, "profile");
  w.hostManifest = path.join(w.profile, "NativeMessagingHosts", `${HOST_NAME}.json`);
  fs.mkdirSync(path.dirname(w.hostManifest), { recursive: true });
  w.hostManifestJson = JSON.stringify({
    name: HOST_NAME,
    description: "Preview Switch companion (end-to-end suite)",
    path: wrapper,
    type: "stdio",
    allowed_origins: [`chrome-extension://${EXTENSION_ID}/`],
  });
  w.installHost();

  // The extension as shipped, plus host access to *.test: a headless browser cannot answer
  // the optional_host_permissions prompt.
  const ext = path.join(dir, "extension");
  fs.cpSync(path.join(ROOT, "dist/extension"), ext, { recursive: true });
  const manifest = JSON.parse(fs.readFileSync(path.join(ext, "manifest.json"), "utf8"));
  manifest.host_permissions = ["*://*.test/*"];
  fs.writeFileSync(path.join(ext, "manifest.json"), JSON.stringify(manifest, null, 2));

  const args = [
    `--disable-extensions-except=${ext}`,
    `--load-extension=${ext}`,
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-features=DisableLoadExtensionCommandLineSwitch",
    `--host-resolver-rules=MAP *.test:443 127.0.0.1:${w.tlsPort}, MAP *.test 127.0.0.1`,
    "--ignore-certificate-errors",
  ];
  // Chromium refuses its sandbox as root (CI containers); a normal user keeps it.
  if (process.getuid?.() === 0 || process.env.E2E_NO_SANDBOX === "1") args.push("--no-sandbox");
  if (!HEADED) args.push("--headless=new");
  w.context = await chromium.launchPersistentContext(w.profile, {
    executablePath: CHROMIUM,
    headless: false, // the new headless mode comes from the arg above: it runs extensions
    ignoreDefaultArgs: ["--disable-extensions"],
    args,
    viewport: { width: 1000, height: 700 },
    ignoreHTTPSErrors: true,
  });
  w.worker = w.context.serviceWorkers().find((s) => s.url().includes(EXTENSION_ID))
    ?? (await w.context.waitForEvent("serviceworker", { timeout: 15_000 }));
  // The worker boots its wasm on install; wait until it subscribed.
  await waitFor(() => w.worker.evaluate(() => self.previewSwitchReady === true), "the service worker to start");
}

/** Polls `check` (sync or async) until it returns a truthy value; fails naming `what`. */
export async function waitFor(check, what, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function stop(w) {
  try {
    await w.context?.close();
  } catch {
    // the browser may already be gone
  }
  for (const p of w.procs) {
    if (p.exitCode === null) {
      p.stdin?.end();
      p.kill("SIGTERM");
    }
  }
  for (const s of w.servers) s.close();
  if (process.env.E2E_KEEP !== "1") fs.rmSync(w.dir, { recursive: true, force: true });
}

// World helpers, attached here to keep the test file about behaviour.
function helpers(w) {
  w.setHostEnv = (extra) => {
    const env = {
      PREVIEW_SWITCH_CONFIG: w.fake?.config ?? path.join(w.dir, "fake/config.toml"),
      PREVIEW_SWITCH_CACHE_DIR: path.join(w.dir, "cache"),
      XDG_STATE_HOME: path.join(w.dir, "state"),
      PREVIEW_SWITCH_LOG: "info",
      ...extra,
    };
    fs.writeFileSync(w.hostEnv, Object.entries(env).map(([k, v]) => `export ${k}='${v}'\n`).join(""));
  };
  w.installHost = () => fs.writeFileSync(w.hostManifest, w.hostManifestJson);
  // The companion processes Chromium started for this suite: those whose environment
  // names this suite's config (read from /proc, so nothing else is ever matched).
  w.companionPids = () => {
    const mine = `PREVIEW_SWITCH_CONFIG=${w.fake.config}`;
    return fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d)).filter((pid) => {
      try {
        const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
        return cmd.includes(`chrome-extension://${EXTENSION_ID}/`)
          && fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(mine);
      } catch {
        return false; // gone meanwhile, or not ours to read
      }
    }).map(Number);
  };
  w.uninstallHost = () => fs.rmSync(w.hostManifest, { force: true });
}
