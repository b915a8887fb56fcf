// The extension on a team relay (issue 17): no companion registered in the browser, the
// relay URL set on the options page, and the real `preview-switch serve` between the
// extension and the fake Argo CD. The popup lists the previews from the relay, a choice
// routes the tab through nginx, and deleting the preview in the fake reaches the worker
// over the relay's event stream and drops the routing.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { once } from "node:events";
import { after, before, test } from "node:test";
import { EXTENSION_ID, ROOT, start, stop, waitFor } from "./harness.mjs";

const BIN = process.env.PREVIEW_SWITCH_BIN ?? path.join(ROOT, "target/debug/preview-switch");
const COOKIE = "team-courses-fe-pr";
let w;
let relay;

/** `preview-switch serve` on 127.0.0.1 for the fake's servers, reachable as relay.test. */
async function startRelay() {
  const log = path.join(w.dir, "relay.log");
  const proc = spawn(BIN, ["serve", "--listen", "127.0.0.1:0", "--allow-anonymous", "--config", w.fake.config], {
    stdio: ["ignore", "pipe", fs.openSync(log, "w")],
    env: { ...process.env, PREVIEW_SWITCH_LOG: "info", PREVIEW_SWITCH_CACHE_DIR: path.join(w.dir, "relay-cache") },
  });
  w.procs.push(proc);
  const [line] = await Promise.race([
    once(readline.createInterface({ input: proc.stdout }), "line"),
    once(proc, "exit").then(([code]) => { throw new Error(`the relay exited with ${code}: ${fs.readFileSync(log, "utf8")}`); }),
  ]);
  const local = line.match(/https?:\/\/127\.0\.0\.1:(\d+)/);
  assert.ok(local, line);
  const port = Number(local[1]);
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, "the relay to list the fake");
  // *.test reaches loopback through the browser's host-resolver rule.
  return { port, url: `http://relay.test:${port}`, local: `http://127.0.0.1:${port}`, log };
}

/** One Prometheus sample of the relay, e.g. `preview_switch_relay_event_streams`. */
async function metric(name) {
  const text = await (await fetch(`${relay.local}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.split(" ").pop()) : NaN;
}

before(async () => {
  w = await start();
  // This user has no companion: no host manifest, and the one the worker started is gone.
  w.uninstallHost();
  for (const pid of w.companionPids()) process.kill(pid, "SIGTERM");
  relay = await startRelay();
});
after(async () => {
  if (w) await stop(w);
});

async function routingCookies(host = "courses-fe.demo.test") {
  return (await w.context.cookies()).filter((c) => c.domain === host && c.name === COOKIE);
}

async function tabIdOf(page) {
  const url = page.url();
  return waitFor(() => w.worker.evaluate(async (u) => (await chrome.tabs.query({})).find((t) => t.url === u)?.id, url), `a tab on ${url}`);
}

async function seenBy(page) {
  return JSON.parse(await page.textContent("#echo"));
}

test("with a relay URL and no companion, the extension lists, routes and cleans up through the relay", async () => {
  // The user sets the team relay on the options page; Save asks for access to it.
  const options = await w.context.newPage();
  await options.goto(`chrome-extension://${EXTENSION_ID}/options.html`);
  await options.waitForSelector("body[data-ready='1']");
  await options.fill("#relay-url", `${relay.url}/`);
  await options.click("#save");
  await waitFor(async () => (await options.textContent("#status")).startsWith("Saved"), "the settings to be saved");
  const stored = await w.worker.evaluate(async () => (await chrome.storage.local.get("settings")).settings);
  assert.equal(stored.relay_url, relay.url, "stored without the trailing slash");
  await options.close();

  // The worker follows the relay's event stream (the relay counts it).
  await waitFor(async () => (await metric("preview_switch_relay_event_streams")) === 1, "the worker's event stream on the relay", 20_000);

  // The popup lists the host's previews from the relay and says where they come from.
  const page = await w.context.newPage();
  await page.goto(w.site("courses-fe", "/?relay=1"));
  assert.equal((await seenBy(page)).backend, "dev");
  const popup = await w.context.newPage();
  await popup.setViewportSize({ width: 380, height: 600 });
  await popup.goto(`chrome-extension://${EXTENSION_ID}/popup.html?tab=${await tabIdOf(page)}`);
  await popup.waitForSelector("body[data-ready='1']");
  await popup.waitForSelector("section.service .row");
  const services = await popup.$$eval("section.service h2", (els) => els.map((e) => e.textContent));
  assert.deepEqual(services, ["courses-fe"]);
  const rows = await popup.$$eval("section.service .row .pr", (els) => els.map((e) => e.textContent));
  assert.ok(rows.some((r) => r.includes("123")), `rows: ${rows}`);
  const source = await popup.textContent(".source");
  assert.match(source, new RegExp(`From the team relay ${relay.url.replace(/[.]/g, "\\.")}`));
  assert.match(source, /Sync and refresh need the local companion/);
  assert.ok(!(await popup.isVisible("text=companion is not installed")), "no install notice on a relay");

  // Domain mode routes the tab through nginx, as with the companion.
  await popup.click("#opt-courses_fe-d123:not([disabled])");
  await waitFor(async () => (await routingCookies()).length === 1, "the routing cookie");
  await page.reload();
  const routed = await seenBy(page);
  assert.equal(routed.backend, "preview", JSON.stringify(routed));
  assert.equal(routed.routed_to, "courses-fe-pr-123");
  await popup.close();

  // The PR closes: the fake deletes its preview, the relay's watch sees it, the event
  // reaches the worker over the stream, and the routing goes.
  const res = await fetch(`${w.fake.control}/delete/courses-fe-pr-123`, { method: "POST" });
  assert.equal(res.status, 204);
  await waitFor(async () => (await routingCookies()).length === 0, "the cookie of the deleted preview to go", 30_000);
  await page.reload();
  assert.equal((await seenBy(page)).backend, "dev");
  const tabId = await tabIdOf(page);
  await waitFor(async () => (await w.worker.evaluate((id) => chrome.action.getBadgeText({ tabId: id }), tabId)) === "", "the badge to clear");
  await page.close();

  // Still one stream, and the relay's log holds no token.
  assert.equal(await metric("preview_switch_relay_event_streams"), 1);
  const token = fs.readFileSync(path.join(path.dirname(w.fake.config), "token"), "utf8").trim();
  assert.ok(!fs.readFileSync(relay.log, "utf8").includes(token), "no Argo CD token in the relay's log");
});
