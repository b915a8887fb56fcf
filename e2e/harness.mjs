// The end-to-end world for the extension suites: two echo backends, real nginx routing
// between them by the HTTPRoute cookie regexes, the fake Argo CD (companion/examples/
// e2e-fake.rs), the real `preview-switch` registered as native host by its own `install`,
// and a real browser with the built extension: Debian's Chromium with dist/chromium
// (`start`), or Debian's Firefox ESR with dist/firefox (`startFirefox`, firefox.mjs).
// Everything binds 127.0.0.1, lives in one temp dir, and is stopped by `stop()`.
import { spawn, execFileSync } from "node:child_process";
import crypto from "node:crypto";
import { once } from "node:events";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const builtManifest = (browser) => {
  const file = path.join(ROOT, "dist", browser, "manifest.json");
  return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : {};
};
/** Chromium's id for the built extension, from its manifest `key` as Chromium derives it
 * (SHA-256 of the public key, first 32 hex digits spelled a-p); `preview-switch install`
 * allows its own constant, so a drift between the two fails every scenario. */
export const EXTENSION_ID = (() => {
  const key = builtManifest("chromium").key ?? "";
  const hex = crypto.createHash("sha256").update(Buffer.from(key, "base64")).digest("hex").slice(0, 32);
  return [...hex].map((c) => String.fromCharCode(97 + parseInt(c, 16))).join("");
})();
/** The Firefox build's add-on id (`install --browser firefox` allows its own constant). */
export const GECKO_ID = builtManifest("firefox").browser_specific_settings?.gecko?.id;
export const ARTIFACTS = process.env.E2E_ARTIFACTS ?? path.join(ROOT, "target", "e2e");
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

function nginxConf(dir, port, tlsPort, routes, devPort, previewPort, marked = []) {
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
  # What a preview's routing resource adds to its responses once marked (the fake's
  # /mark/<app>, examples/chart's ResponseHeaderModifier): x-preview-pr: <PR>.
  map $preview_route $preview_marker {
${marked.map((app) => `    ${nginxQuote(app)} ${app.replace(/.*-pr-/, "")};`).join("\n")}
    default "";
  }
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
      add_header x-preview-pr $preview_marker always;
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

/**
 * The world both browsers share: nginx between the two echo backends, the fake Argo CD
 * and the environment the companion runs with (the browser passes its own environment to
 * the native host it starts). The browser is started by `start` or `startFirefox`.
 */
async function startWorld(what) {
  need(BIN, "run cargo build -p preview-switch");
  need(FAKE, "run cargo build -p preview-switch --example e2e-fake");
  need(NGINX, "run `make setup` (installs Debian's nginx)");
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `preview-switch-e2e-${what}-`));
  const w = { dir, procs: [], servers: [] };
  // nginx and the fake do not die with us: if the runner itself dies, take them along.
  process.on("exit", () => {
    for (const p of w.procs) if (p.exitCode === null) p.kill("SIGKILL");
  });
  try {
    await setUpWorld(w);
  } catch (e) {
    await stop(w);
    throw e;
  }
  return w;
}

/** The world with `browser` started in it by `setUpBrowser(w)`. */
async function startWith(browser, setUpBrowser) {
  need(path.join(ROOT, `dist/${browser}/manifest.json`), "run `make build-extension`");
  const w = await startWorld(browser);
  try {
    await setUpBrowser(w);
  } catch (e) {
    await stop(w);
    throw e;
  }
  return w;
}

/** The world with Debian's Chromium and dist/chromium (see `setUpChromium`); `lang`: the
 * browser's language (`--lang`), as a user who runs Chromium in Korean has it. */
export async function start({ lang } = {}) {
  need(CHROMIUM, "run `make setup` (installs Debian's chromium)");
  return startWith("chromium", (w) => setUpChromium(w, lang));
}

/** The world with Debian's Firefox ESR and dist/firefox (see `firefox.mjs`); `lang`: the
 * browser's language, as a user who runs Firefox in Korean has it (Debian's language pack). */
export async function startFirefox({ lang } = {}) {
  const { setUpFirefox } = await import("./firefox.mjs");
  return startWith("firefox", (w) => setUpFirefox(w, lang));
}

async function setUpWorld(w) {
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
  // A port found free may be taken by another process before nginx binds it: nginx then
  // exits at once, and the TLS port (which only the resolver rule names) is picked again.
  for (let attempt = 1; ; attempt++) {
    fs.writeFileSync(conf, nginxConf(ngx, w.port, w.tlsPort, w.fake.routes, dev.address().port, preview.address().port));
    const nginx = spawn(NGINX, ["-p", ngx, "-e", path.join(ngx, "error.log"), "-c", conf, "-g", "daemon off;"], {
      stdio: ["ignore", "ignore", "inherit"],
    });
    const exited = once(nginx, "exit").then(([code]) => code);
    const up = waitHttp(`http://127.0.0.1:${w.port}/`, "nginx", path.join(ngx, "error.log")).then(() => "up");
    if ((await Promise.race([up, exited])) === "up") {
      w.procs.push(nginx);
      break;
    }
    up.catch(() => {}); // it gives up by itself
    if (attempt === 3) throw new Error(`nginx could not start: ${fs.readFileSync(path.join(ngx, "error.log"), "utf8")}`);
    w.tlsPort = await freePort();
  }

  // nginx as a mesh team changes it: previews whose responses it marks (x-preview-pr), and
  // previews it serves dev for although their cookie comes (a broken rollout). Reloaded
  // gracefully; callers wait for the new behaviour.
  w.reconfigureNginx = ({ marked = [], serveDev = [] } = {}) => {
    const routes = w.fake.routes.filter((r) => !serveDev.includes(r.app));
    fs.writeFileSync(conf, nginxConf(ngx, w.port, w.tlsPort, routes, dev.address().port, preview.address().port, marked));
    execFileSync(NGINX, ["-p", ngx, "-e", path.join(ngx, "error.log"), "-c", conf, "-s", "reload"], { stdio: "ignore" });
  };

  // The companion runs with the browser's environment: the suite's config, cache and log
  // dirs, and a HOME of its own (Firefox reads host manifests from $HOME; `install` writes
  // there, never into the real home).
  w.home = path.join(dir, "home");
  fs.mkdirSync(w.home);
  w.cacheDir = path.join(dir, "cache");
  w.companionEnv = {
    PREVIEW_SWITCH_CONFIG: w.fake.config,
    PREVIEW_SWITCH_CACHE_DIR: w.cacheDir,
    XDG_STATE_HOME: path.join(dir, "state"),
    PREVIEW_SWITCH_LOG: process.env.E2E_LOG ?? "info",
  };
}

async function setUpChromium(w, lang) {
  const { dir } = w;
  w.browserName = "chromium";
  w.caller = `chrome-extension://${EXTENSION_ID}/`;
  w.profile = path.join(dir, "profile");
  // The host registered as a user does it, for this one profile.
  w.hostArgs = ["--browser", "chromium", "--user-data-dir", w.profile];
  w.installHost();

  // The extension as built, plus host access to *.test, which a scenario withholds as the
  // user can in chrome://extensions (a headless browser cannot answer the permission prompt).
  const ext = path.join(dir, "extension");
  fs.cpSync(path.join(ROOT, "dist/chromium"), ext, { recursive: true });
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
  if (lang) args.push(`--lang=${lang}`);
  // Chromium refuses its sandbox as root (CI containers); a normal user keeps it.
  if (process.getuid?.() === 0 || process.env.E2E_NO_SANDBOX === "1") args.push("--no-sandbox");
  if (!HEADED) args.push("--headless=new");
  w.context = await chromium.launchPersistentContext(w.profile, {
    executablePath: CHROMIUM,
    headless: false, // the new headless mode comes from the arg above: it runs extensions
    ignoreDefaultArgs: ["--disable-extensions"],
    args,
    env: { ...process.env, ...w.companionEnv },
    viewport: { width: 1000, height: 700 },
    ignoreHTTPSErrors: true,
  });
  w.worker = w.context.serviceWorkers().find((s) => s.url().includes(EXTENSION_ID))
    ?? (await w.context.waitForEvent("serviceworker", { timeout: 15_000 }));
  // The worker boots its wasm on install; wait until it subscribed.
  await waitFor(() => w.worker.evaluate(() => self.previewSwitchReady === true), "the service worker to start");
}

/** Loads `url` in `page` (or reloads it) and returns what the backend received for it.
 * A Playwright or a Puppeteer page: both take goto, reload and evaluate. */
export async function visit(page, url) {
  if (url) await page.goto(url);
  else await page.reload();
  return JSON.parse(await page.evaluate(() => document.getElementById("echo").textContent));
}

/** What the backend received for an XHR made by the page itself. */
export async function xhr(page) {
  return page.evaluate(async () => (await fetch("/api/whoami", { cache: "no-store" })).json());
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
    await w.browser?.close();
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

// World helpers, attached here to keep the test files about behaviour.
function helpers(w) {
  /** `preview-switch <args>` as the user runs it, in the suite's HOME; its stdout. */
  w.previewSwitch = (args) => execFileSync(BIN, args, {
    env: { ...process.env, ...w.companionEnv, HOME: w.home },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  w.installHost = () => {
    const out = w.previewSwitch(["install", ...w.hostArgs]);
    if (!out.startsWith(`installed ${w.browserName} host manifest: `)) throw new Error(`install said: ${out}`);
    return out;
  };
  w.uninstallHost = () => w.previewSwitch(["uninstall", ...w.hostArgs]);
  // The companion processes the browser started for this suite: those started for this
  // extension whose environment names this suite's config (read from /proc, so nothing
  // else is ever matched).
  w.companionPids = () => {
    const mine = `PREVIEW_SWITCH_CONFIG=${w.fake.config}`;
    return fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d)).filter((pid) => {
      try {
        const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
        return cmd.includes(w.caller)
          && fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(mine);
      } catch {
        return false; // gone meanwhile, or not ours to read
      }
    }).map(Number);
  };
  // The disk cache every new companion process answers from first.
  w.clearCache = () => fs.rmSync(w.cacheDir, { recursive: true, force: true });
}

/** Median, min and max of `samples` (ms), with the samples in opening order. */
function summary(samples) {
  const sorted = [...samples].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted.at(-1), samples };
}

/**
 * Opens the real popup `count` times on `page` (`open(w, page)` gives `{clickedAt, popup}`,
 * `close(w)` closes it) and times each opening until its first rows: from the click, by the
 * machine's clock (the popup's time origin is on the same clock), and from the popup page's
 * own start. Every opening must draw `rows`.
 */
export async function timeRealPopup(w, { open, close, page, rows, count = 9 }) {
  const click = [];
  const pageStart = [];
  for (let i = 0; i < count; i++) {
    const { clickedAt, popup } = await open(w, page);
    const drawn = await waitFor(() => popup.eval((d, win) => d.body.dataset.rowsMs && {
      at: win.performance.timeOrigin + Number(d.body.dataset.rowsMs),
      ms: Number(d.body.dataset.rowsMs),
      rows: [...d.querySelectorAll(".row .pr")].map((e) => e.textContent),
    }), "rows");
    if (JSON.stringify(drawn.rows) !== JSON.stringify(rows)) {
      throw new Error(`opening ${i + 1} drew ${JSON.stringify(drawn.rows)}, not the host's previews ${JSON.stringify(rows)}`);
    }
    click.push(Math.round(drawn.at - clickedAt));
    pageStart.push(Math.round(drawn.ms));
    await close(w);
  }
  if (!click.every((ms) => Number.isFinite(ms) && ms > 0)) throw new Error(`timings: ${click}`);
  return { popup_click_to_rows_ms: summary(click), popup_page_start_to_rows_ms: summary(pageStart) };
}

/** Adds `section` under `key` to target/e2e/metrics.json (each browser's suite writes its own). */
export function recordMetrics(key, section) {
  const file = path.join(ARTIFACTS, "metrics.json");
  let metrics = {};
  try {
    metrics = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    // first suite of the run
  }
  metrics[key] = section;
  fs.writeFileSync(file, `${JSON.stringify(metrics, null, 2)}\n`);
}
