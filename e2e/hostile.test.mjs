// Hostile routes end to end (issue 11, finding 1): previews whose routes are named like a
// site's own cookies, in Debian's Chromium with the real extension, the real companion and
// the fake Argo CD. The site's cookie must be untouched after "dev" and after "this
// domain": `session` (the route is refused by the extension, even when its disabled option
// is forced) and `__Host-x` (refused by the companion; the service's other preview still
// routes beside it).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { after, before, test } from "node:test";
import { EXTENSION_ID, ROOT, start, stop, waitFor } from "./harness.mjs";

const BIN = process.env.PREVIEW_SWITCH_BIN ?? path.join(ROOT, "target/debug/preview-switch");

let w;
before(async () => {
  w = await start();
  const res = await fetch(`${w.fake.control}/hostile`, { method: "POST" });
  assert.equal(res.status, 204, "the fake adds the hostile previews");
});
after(async () => {
  if (w) await stop(w);
});

const inWorker = (fn, arg) => w.worker.evaluate(fn, arg);

async function tabIdOf(page) {
  const url = page.url();
  return waitFor(() => inWorker(async (u) => (await chrome.tabs.query({})).find((t) => t.url === u)?.id, url), `a tab on ${url}`);
}

/** The popup as a page for `page`'s tab, once it shows `service` from live data. */
async function popupFor(page, service) {
  const id = await tabIdOf(page);
  const popup = await w.context.newPage();
  await popup.setViewportSize({ width: 380, height: 600 });
  for (let attempt = 0; ; attempt += 1) {
    await popup.goto(`chrome-extension://${EXTENSION_ID}/popup.html?tab=${id}`);
    await popup.waitForSelector("body[data-ready='1']");
    try {
      // The hostile previews were added after the companion's first listing: the live
      // update or the popup's own refresh brings them.
      await waitFor(() => popup.$$eval(".stale", (e) => e.length === 0), "live data", 5_000);
      await popup.waitForSelector(`#opt-${service.replace(/-/g, "_")}-dev`, { timeout: 5_000 });
      return popup;
    } catch (e) {
      if (attempt >= 3) throw e;
    }
  }
}

/** The cookies the browser holds for `host`, by name. */
async function cookiesOf(host) {
  const all = await w.context.cookies([`http://${host}/`, `https://${host}/`]);
  return Object.fromEntries(all.map((c) => [c.name, c.value]));
}

/** Selects `optionId` (even when the popup disabled it: a forced click must be refused by
 * the extension's logic too) and presses its Apply button. */
async function applyOption(popup, optionId, { force = false } = {}) {
  if (force) await popup.$eval(`#${optionId}`, (i) => { i.disabled = false; });
  await popup.check(`#${optionId}`);
  const apply = `#${optionId.replace(/-[^-]+$/, "-apply")}`;
  await popup.click(`${apply}:not([disabled])`);
}

test("a route named like the site's session cookie neither deletes nor overwrites it", async () => {
  const host = "session-app.demo.test";
  await w.context.addCookies([{ name: "session", value: "logged-in-user-42", url: `http://${host}/` }]);
  const page = await w.context.newPage();
  await page.goto(w.site(host, "/?hostile=session"));
  const popup = await popupFor(page, "session-app");
  const why = "the site has its own cookie named session; this route would overwrite it";
  for (const option of ["opt-session_app-d1", "opt-session_app-t1"]) {
    assert.equal(await popup.$eval(`#${option}`, (i) => i.disabled), true, `${option} is offered`);
    assert.ok((await popup.textContent(`label:has(#${option})`)).includes(why));
  }
  assert.ok(!(await popup.textContent("body")).includes("logged-in-user-42"), "the popup shows the session's value");

  // Dev: the extension did not set `session`, so it does not delete it.
  await applyOption(popup, "opt-session_app-dev");
  await popup.waitForSelector("#opt-session_app-apply[disabled]");
  assert.equal((await cookiesOf(host)).session, "logged-in-user-42", "dev deleted the site's session");

  // This domain, this tab: forced past the disabled options, refused with the reason.
  for (const option of ["opt-session_app-d1", "opt-session_app-t1"]) {
    await applyOption(popup, option, { force: true });
    await waitFor(async () => (await popup.textContent("ul.messages").catch(() => "")).includes(why), `the refusal of ${option}`);
    assert.equal((await cookiesOf(host)).session, "logged-in-user-42", `${option} overwrote the site's session`);
  }
  const rules = await inWorker(() => chrome.declarativeNetRequest.getSessionRules());
  assert.deepEqual(rules, [], "no tab rule sends a second session cookie");
  // The site still receives its own session, and only it.
  await page.reload();
  const seen = JSON.parse(await page.textContent("#echo"));
  assert.equal(seen.cookie, "session=logged-in-user-42");
  await popup.close();
  await page.close();
});

test("a __Host- route is refused and the service's other preview routes beside the site's cookie", async () => {
  const host = "hostx-app.demo.test";
  await w.context.addCookies([{ name: "__Host-x", value: "site-owned", url: `https://${host}/`, secure: true }]);
  const page = await w.context.newPage();
  await page.goto(w.site(host, "/?hostile=hostx"));
  const popup = await popupFor(page, "hostx-app");
  // PR 2 routes by `__Host-x`: the companion lists it unroutable with the reason, so the
  // popup offers no option for it.
  const listed = JSON.parse(execFileSync(BIN, ["list", "-o", "json"], {
    env: { ...process.env, PREVIEW_SWITCH_CONFIG: w.fake.config, PREVIEW_SWITCH_CACHE_DIR: `${w.dir}/cli-cache` },
  }).toString());
  const pr2 = listed.find((p) => p.app === "hostx-app-pr-2");
  assert.deepEqual(pr2.routes, []);
  assert.match(pr2.unroutable, /starts with "__Host-", a prefix browsers reserve/);
  assert.equal(await popup.$("#opt-hostx_app-d2"), null, "an option for the __Host- route");

  // This domain for PR 1: its own cookie is set; the site's __Host-x is untouched.
  await applyOption(popup, "opt-hostx_app-d1");
  await waitFor(async () => (await cookiesOf(host))["team-hostx-app-pr"] === "1", "PR 1's routing cookie");
  assert.equal((await cookiesOf(host))["__Host-x"], "site-owned");
  // Dev: PR 1's cookie goes, the site's stays.
  await applyOption(popup, "opt-hostx_app-dev");
  await waitFor(async () => !("team-hostx-app-pr" in (await cookiesOf(host))), "PR 1's cookie to go");
  assert.equal((await cookiesOf(host))["__Host-x"], "site-owned");
  await popup.close();
  await page.close();
});
