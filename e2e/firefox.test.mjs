// The extension end to end in Firefox (issue 12): Debian's Firefox ESR, headless, with
// dist/firefox as a temporary add-on, the real companion registered by `preview-switch
// install --browser firefox`, the fake Argo CD and nginx routing by the cookie regex between
// two echo backends (the same world as the Chromium suite, harness.mjs). Every scenario
// asserts what the backend received. The scenarios share one browser and run in order;
// each leaves the routing on dev.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { GECKO_ID, recordMetrics, startFirefox, stop, timeRealPopup, visit, waitFor, xhr } from "./harness.mjs";
import {
  BASE, answerPermissionPrompt, closeRealPopup, navigate, openRealPopup, permissionPrompt, renderedBadge, tabIdOf,
} from "./firefox.mjs";

const COOKIE = "team-courses-fe-pr";
let w;
before(async () => {
  w = await startFirefox();
});
after(async () => {
  if (w) await stop(w);
});

let pages = 0;
/** A new tab on `service`'s site; each gets its own URL so the extension can tell them apart. */
async function newSitePage(service = "courses-fe") {
  const page = await w.browser.newPage();
  pages += 1;
  const seen = await visit(page, w.site(service, `/?page=${pages}`));
  return { page, seen };
}

/** Opens the real popup on `page`'s tab (a toolbar click), once its rows are live. */
async function popupFor(page) {
  const { popup } = await openRealPopup(w, page);
  await waitFor(() => popup.eval((d) => d.querySelectorAll(".row").length > 0 && d.querySelectorAll(".stale").length === 0), "live rows");
  return popup;
}

/** Focuses an action (a row's *this tab* / *this domain*, *back to dev* at the top) and
 * presses Enter on it, as a keyboard user does: one key applies, and is the user input the
 * access request needs. */
async function choose(popup, id) {
  await waitFor(() => popup.eval((d, win, i) => !!d.querySelector(`#${i}:not([disabled])`), id), `${id} to be enabled`);
  await popup.eval((d, win, i) => d.getElementById(i).focus(), id);
  await popup.press("Enter");
}

async function routingCookies(page) {
  return (await page.cookies()).filter((c) => c.name.startsWith("team-"));
}

const sessionRules = () => w.inExtension(() => browser.declarativeNetRequest.getSessionRules());

async function badge(page) {
  const tabId = await tabIdOf(w, page);
  return w.inExtension((id) => browser.action.getBadgeText({ tabId: id }), tabId);
}

test("the real toolbar popup lists the previews that can route the tab's host", async () => {
  const { page, seen } = await newSitePage();
  assert.equal(seen.backend, "dev");
  const { popup } = await openRealPopup(w, page);
  await waitFor(() => popup.eval((d) => d.querySelectorAll(".row").length > 0 && d.querySelectorAll(".stale").length === 0), "live rows");
  const shown = await popup.eval((d) => ({
    host: d.getElementById("host").textContent,
    services: [...d.querySelectorAll("section.service h2")].map((e) => e.textContent),
    rows: [...d.querySelectorAll("section.service .row .pr")].map((e) => e.textContent),
  }));
  assert.equal(shown.host, "courses-fe.demo.test");
  assert.deepEqual(shown.services, ["courses-fe"], "only the services routable on courses-fe.demo.test");
  assert.deepEqual(shown.rows, ["PR 123", "PR 130"]);
  await closeRealPopup(w);
  await page.close();
});

test("every opening of the real popup draws the cached rows (timings recorded for the README)", async () => {
  const { page } = await newSitePage();
  const timed = await timeRealPopup(w, { open: openRealPopup, close: closeRealPopup, page, rows: ["PR 123", "PR 130"] });
  await page.close();
  recordMetrics("firefox", { browser: await w.browser.version(), ...timed });
  const { median, min, max } = timed.popup_click_to_rows_ms;
  console.log(`firefox: real popup click -> rows median ${median} ms (min ${min}, max ${max})`);
});

test("domain mode asks for access from the click, then routes every tab on the host, and back to dev", async () => {
  const { page: a } = await newSitePage();
  const { page: b } = await newSitePage();
  let popup = await popupFor(a);
  await choose(popup, "opt-courses_fe-d123");
  // Firefox asks the user; until then the popup says what waits and nothing is routed.
  const prompt = await waitFor(() => permissionPrompt(w), "Firefox's permission prompt");
  assert.match(prompt, /Preview Switch/);
  assert.match(prompt, /courses-fe\.demo\.test/);
  const waiting = await popup.eval((d) => d.querySelector(".access-request")?.textContent);
  assert.equal(waiting, "Allow Preview Switch to access courses-fe.demo.test when the browser asks: it routes courses-fe to PR 123 for this domain only on sites you allow");
  assert.equal((await routingCookies(a)).length, 0);
  assert.equal((await visit(b)).backend, "dev");
  await answerPermissionPrompt(w, true);

  await waitFor(async () => (await routingCookies(a)).length === 1, "the routing cookie");
  // Firefox keeps the popup open, which finished the choice itself: nothing left to resume.
  await waitFor(async () => Object.keys(await w.inExtension(() => browser.storage.local.get(["awaiting_access", "access_granted"]))).length === 0, "no waiting choice left");
  const [cookie] = await routingCookies(a);
  assert.equal(cookie.name, COOKIE);
  assert.equal(cookie.value, "123");
  assert.equal(cookie.sameSite, "Lax");
  await closeRealPopup(w);
  for (const page of [a, b]) {
    const seen = await visit(page);
    assert.equal(seen.backend, "preview", JSON.stringify(seen));
    assert.equal(seen.routed_to, "courses-fe-pr-123");
    assert.match(seen.cookie, /(^|; )team-courses-fe-pr=123(;|$)/);
    assert.equal((await xhr(page)).routed_to, "courses-fe-pr-123");
  }
  await waitFor(async () => (await badge(a)) === "123", "the badge to read 123");
  await a.bringToFront();
  await waitFor(async () => (await renderedBadge(w)) === "123", "the toolbar button to show 123");
  const { page: other, seen: checkout } = await newSitePage("checkout-api");
  assert.equal(checkout.backend, "dev", "another service's host stays on dev");
  assert.equal(await badge(other), "");
  assert.equal(await renderedBadge(w), "", "nothing on the button for checkout-api's tab");

  popup = await popupFor(a);
  await choose(popup, "opt-courses_fe-dev");
  await waitFor(async () => (await routingCookies(a)).length === 0, "the cookie to be removed");
  await closeRealPopup(w);
  for (const page of [a, b]) assert.equal((await visit(page)).backend, "dev");
  await waitFor(async () => (await badge(a)) === "", "the badge to clear");
  for (const p of [a, b, other]) await p.close();
});

test("tab mode routes only that tab: tab A on the PR while tab B stays on dev", async () => {
  const { page: a } = await newSitePage();
  const { page: b } = await newSitePage();
  const tabA = await tabIdOf(w, a);
  let popup = await popupFor(a);
  await choose(popup, "opt-courses_fe-t123");
  await waitFor(async () => (await sessionRules()).some((r) => r.condition.tabIds?.includes(tabA)), "the tab rule");
  assert.equal(await permissionPrompt(w), "", "access was granted in the previous scenario: no prompt");
  assert.equal((await routingCookies(a)).length, 0, "tab mode sets no cookie");
  await closeRealPopup(w);

  const seenA = await visit(a);
  const seenB = await visit(b);
  assert.equal(seenA.routed_to, "courses-fe-pr-123");
  assert.match(seenA.cookie, /team-courses-fe-pr=123/);
  assert.equal((await xhr(a)).routed_to, "courses-fe-pr-123", "XHR from the tab is routed too");
  assert.equal(seenB.backend, "dev");
  assert.equal((await xhr(b)).backend, "dev");
  await waitFor(async () => (await badge(a)) === "123", "tab A's badge");
  assert.equal(await badge(b), "");
  await b.bringToFront();
  assert.equal(await renderedBadge(w), "", "tab B's toolbar button shows nothing");

  popup = await popupFor(a);
  await choose(popup, "opt-courses_fe-dev");
  await waitFor(async () => (await sessionRules()).length === 0, "the tab rule to go");
  await closeRealPopup(w);
  assert.equal((await visit(a)).backend, "dev");
  for (const p of [a, b]) await p.close();
});

test("the badge proves the preview answered by its marker, and warns when dev served the page", async () => {
  // As in the Chromium suite: PR 123's routing resource marks its responses (a sync the
  // companion's watch sees), nginx adds the header as the mesh would; it stays marked.
  const marked = await fetch(`${w.fake.control}/mark/courses-fe-pr-123`, { method: "POST" });
  assert.equal(marked.status, 204);
  w.reconfigureNginx({ marked: ["courses-fe-pr-123"] });
  const { page } = await newSitePage();
  const color = async () => w.inExtension((id) => browser.action.getBadgeBackgroundColor({ tabId: id }), await tabIdOf(w, page));
  const GREEN = [26, 127, 55, 255];
  const ORANGE = [188, 76, 0, 255];
  try {
    const popup = await popupFor(page);
    await choose(popup, "opt-courses_fe-d123");
    await waitFor(async () => (await routingCookies(page)).length === 1, "the routing cookie");
    await closeRealPopup(w);
    await waitFor(async () => {
      assert.equal((await visit(page)).routed_to, "courses-fe-pr-123");
      return JSON.stringify(await color()) === JSON.stringify(GREEN);
    }, "the badge to turn green on the marker", 30_000);

    // nginx serves dev although the cookie goes out: the badge warns, the popup says why.
    w.reconfigureNginx({ marked: ["courses-fe-pr-123"], serveDev: ["courses-fe-pr-123"] });
    await waitFor(async () => (await visit(page)).backend === "dev", "nginx to serve dev");
    await waitFor(async () => JSON.stringify(await color()) === JSON.stringify(ORANGE), "the badge to turn orange");
    assert.equal(await badge(page), "123");
    const warned = await popupFor(page);
    await waitFor(() => warned.eval((d) => d.querySelector("section.current .proof.warn")?.textContent ?? ""), "the popup's warning");
    assert.match(await warned.eval((d) => d.querySelector("section.current .proof.warn").textContent), /^The page was served by dev/);
    await choose(warned, "opt-courses_fe-dev");
    await waitFor(async () => (await routingCookies(page)).length === 0, "back to dev");
    await closeRealPopup(w);
  } finally {
    w.reconfigureNginx({ marked: ["courses-fe-pr-123"] });
    await page.close();
  }
});

test("a deleted preview loses its routing", async () => {
  const { page } = await newSitePage();
  const popup = await popupFor(page);
  await choose(popup, "opt-courses_fe-d130");
  await waitFor(async () => (await routingCookies(page)).length === 1, "the routing cookie");
  await closeRealPopup(w);
  assert.equal((await visit(page)).routed_to, "courses-fe-pr-130");
  await waitFor(async () => (await badge(page)) === "130", "the badge");

  const res = await fetch(`${w.fake.control}/delete/courses-fe-pr-130`, { method: "POST" });
  assert.equal(res.status, 204);
  await waitFor(async () => (await routingCookies(page)).length === 0, "the cookie of the deleted preview to go", 30_000);
  await waitFor(async () => (await badge(page)) === "", "the badge to clear");
  assert.equal((await visit(page)).backend, "dev");
  await page.close();
});

test("with first-party isolation on, domain mode still routes and clears (firstPartyDomain given)", async () => {
  // privacy.firstparty.isolate: every cookies call without a firstPartyDomain is refused.
  await w.chromeEval(`Services.prefs.setBoolPref("privacy.firstparty.isolate", true)`);
  try {
    const { page } = await newSitePage();
    let popup = await popupFor(page);
    await choose(popup, "opt-courses_fe-d123");
    await waitFor(async () => {
      // Access is asked only if no earlier scenario granted it (when run alone).
      if (await permissionPrompt(w)) await answerPermissionPrompt(w, true);
      return (await visit(page)).routed_to === "courses-fe-pr-123";
    }, "the page to reach PR 123");
    assert.deepEqual(await popup.eval((d) => [...d.querySelectorAll(".messages li")].map((e) => e.textContent)), [], "no failure shown");
    // Keyed by the site's base domain, as Firefox keys the page's own cookies.
    const keyed = await w.inExtension((url) => browser.cookies.getAll({ url, firstPartyDomain: null }), w.site("courses-fe"));
    assert.deepEqual(keyed.filter((c) => c.name === COOKIE).map((c) => [c.value, c.firstPartyDomain]), [["123", "demo.test"]]);
    await closeRealPopup(w);
    popup = await popupFor(page);
    assert.equal(await popup.eval((d) => d.querySelector("section.current li[data-service=courses-fe] .status")?.textContent), "PR 123 · this domain", "the cookie is read back");
    await choose(popup, "opt-courses_fe-dev");
    await waitFor(async () => (await visit(page)).backend === "dev", "the page back on dev");
    await closeRealPopup(w);
    await page.close();
  } finally {
    await w.chromeEval(`Services.prefs.clearUserPref("privacy.firstparty.isolate")`);
  }
});

test("a team's managed settings (Firefox's managed-storage manifest) show locked in the options page and hold in the popup", async () => {
  // Firefox reads 3rd-party managed storage from a native manifest of type "storage" in the
  // user's ~/.mozilla/managed-storage/ (or policies.json's 3rdparty, the same values): the
  // real path a team's rollout takes, in the suite's HOME.
  const dir = path.join(w.home, ".mozilla", "managed-storage");
  const file = path.join(dir, `${GECKO_ID}.json`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(file, JSON.stringify({
    name: GECKO_ID,
    description: "Preview Switch team policy (e2e)",
    type: "storage",
    data: { githubHosts: ["github.acme.test"], cookieLifetimeHours: 8, cookieNamePattern: "qa-*", allowUserOverride: false },
  }));
  try {
    const options = await w.browser.newPage();
    await navigate(w, options, `${BASE}/options.html`);
    await waitFor(() => options.evaluate(() => document.body.dataset.ready === "1"), "the options page");
    const shown = await options.evaluate(() => ({
      fields: Object.fromEntries(["github-hosts", "cookie-hours", "relay-url"].map((id) => {
        const e = document.getElementById(id);
        return [id, { value: e.value, locked: e.readOnly }];
      })),
      note: document.getElementById("team").hidden ? null : document.getElementById("team").textContent,
    }));
    assert.deepEqual(shown.fields, {
      "github-hosts": { value: "github.acme.test", locked: true },
      "cookie-hours": { value: "8", locked: true },
      "relay-url": { value: "", locked: false },
    });
    assert.equal(shown.note, "Set by your team: GitHub hosts github.acme.test; cookie lifetime 8 h; routing cookies named qa-* only. Locked: the fields it sets cannot be changed here.");
    await options.close();

    // The popup offers no preview whose route the pattern refuses, and says why.
    const { page } = await newSitePage();
    const popup = await popupFor(page);
    await waitFor(() => popup.eval((d) => d.querySelector("#opt-courses_fe-d123") !== null), "the rows");
    const offered = await popup.eval((d) => [...d.querySelectorAll("section.service .row button")].filter((b) => /^opt-courses_fe-[td]\d+$/.test(b.id) && !b.disabled).map((b) => b.id));
    assert.deepEqual(offered, [], "no action the team's pattern refuses");
    const why = await popup.eval((d) => d.querySelector("div.actions:has(#opt-courses_fe-d123) .why")?.textContent);
    assert.ok(why?.includes("your team allows routing cookies named qa-* only, and this route is named team-courses-fe-pr"), why);
    await closeRealPopup(w);
    await page.close();
  } finally {
    fs.rmSync(file, { force: true });
  }
});

test("without the companion the popup shows the Firefox install command", async () => {
  const { page } = await newSitePage();
  w.uninstallHost();
  try {
    const { popup } = await openRealPopup(w, page);
    const command = await waitFor(() => popup.eval((d) => d.querySelector("code.command")?.textContent), "the install command");
    assert.equal(command, "preview-switch install --browser firefox");
    const text = await popup.eval((d) => d.querySelector("section.notice").textContent);
    assert.match(text, /not installed for this browser/);
    assert.match(text, /No such native application io\.previewswitch\.companion/);
    // How to get it on this OS (the Linux test machine): the package registers it itself.
    assert.match(text, /sudo apt install \.\/preview-switch_\d+\.\d+\.\d+-1_amd64\.deb registers it for every browser/);
    await closeRealPopup(w);
  } finally {
    w.installHost();
  }
  // Installed again, the next popup lists previews again.
  const { popup } = await openRealPopup(w, page);
  await waitFor(() => popup.eval((d) => d.querySelectorAll(".row").length > 0), "rows after installing again");
  await closeRealPopup(w);
  await page.close();
});
