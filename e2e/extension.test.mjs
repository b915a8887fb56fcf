// The extension end to end in Chromium (issues 4, 12): Debian's Chromium with dist/chromium,
// the real companion registered by `preview-switch install --browser chromium
// --user-data-dir`, the fake Argo CD, and nginx routing by the cookie regex between two echo
// backends. Every scenario asserts what the backend received. Most drive the popup as a
// page pinned to a tab (`popup.html?tab=<id>`, so Playwright can click, type and screenshot
// it); the real toolbar popup (chromium.mjs) lists, routes, asks for host access and is timed.
// The scenarios share one browser and run in order; each leaves the routing on dev.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { after, before, test } from "node:test";
import { attachRealPopup, closeRealPopup, openRealPopup, realPopupOpen } from "./chromium.mjs";
import {
  ARTIFACTS, EXTENSION_ID, ROOT, recordMetrics, start, stop, timeRealPopup, visit, waitFor, xhr,
} from "./harness.mjs";

const COOKIE = "team-courses-fe-pr";
let w;
before(async () => {
  w = await start();
});
after(async () => {
  if (w) await stop(w);
});

let pages = 0;
/** A new tab on `service`'s site; each gets its own URL so the worker can tell them apart. */
async function newSitePage(service = "courses-fe", p = "/") {
  const page = await w.context.newPage();
  pages += 1;
  const seen = await visit(page, w.site(service, `${p}${p.includes("?") ? "&" : "?"}page=${pages}`));
  return { page, seen };
}

const inWorker = (fn, arg) => w.worker.evaluate(fn, arg);

async function tabIdOf(page) {
  const url = page.url();
  return waitFor(() => inWorker(async (u) => (await chrome.tabs.query({})).find((t) => t.url === u)?.id, url), `a tab on ${url}`);
}

/** Opens the popup as a page for `page`'s tab and waits for its first render. */
async function popupFor(page, { colorScheme } = {}) {
  const id = await tabIdOf(page);
  const popup = await w.context.newPage();
  await popup.setViewportSize({ width: 380, height: 600 }); // Chromium caps a popup at 800 x 600
  if (colorScheme) await popup.emulateMedia({ colorScheme });
  await popup.goto(`chrome-extension://${EXTENSION_ID}/popup.html?tab=${id}`);
  await popup.waitForSelector("body[data-ready='1']");
  return popup;
}

/** One click on an action of the popup (a row's *this tab* / *this domain*, or *back to
 * dev* at the top) once the companion's live answer is in (not the cache). */
async function choose(popup, id) {
  await popup.waitForSelector(`#${id}:not([disabled])`);
  await waitFor(() => popup.$$eval(".stale", (e) => e.length === 0), "the popup to show live data");
  await popup.click(`#${id}`);
}

/** What the top of the popup says about `service`'s routing of the tab. */
const STATUS = (service = "courses-fe") => `section.current li[data-service=${service}] .status`;

async function routingCookies(host = "courses-fe.demo.test") {
  return (await w.context.cookies()).filter((c) => c.domain === host && c.name.startsWith("team-"));
}

async function sessionRules() {
  return inWorker(() => chrome.declarativeNetRequest.getSessionRules());
}

async function badge(page) {
  const tabId = await tabIdOf(page);
  return inWorker((id) => chrome.action.getBadgeText({ tabId: id }), tabId);
}

test("the popup lists the previews that can route the tab's host", async () => {
  const { page, seen } = await newSitePage();
  assert.equal(seen.backend, "dev");
  assert.equal(seen.cookie, "");
  for (const colorScheme of ["light", "dark"]) {
    const popup = await popupFor(page, { colorScheme });
    await popup.waitForSelector("section.service .row");
    await waitFor(() => popup.$$eval(".stale", (e) => e.length === 0), "live data");
    const services = await popup.$$eval("section.service h2", (els) => els.map((e) => e.textContent));
    const rows = await popup.$$eval("section.service .row .pr", (els) => els.map((e) => e.textContent));
    assert.deepEqual(services, ["courses-fe"], "only the services routable on courses-fe.demo.test");
    assert.ok(rows.some((r) => r.includes("123")) && rows.some((r) => r.includes("130")), `rows: ${rows}`);
    await popup.screenshot({ path: path.join(ARTIFACTS, `popup-${colorScheme}.png`) });
    await popup.close();
  }
  await page.close();

  // A host no preview routes: the popup says so and names the hosts that have some.
  const { page: elsewhere, seen: other } = await newSitePage("docs.test");
  assert.equal(other.backend, "dev");
  const popup = await popupFor(elsewhere);
  await popup.waitForSelector("text=No previews route docs.test");
  const detail = await popup.textContent(".notice-detail");
  assert.match(detail, /Previews exist for: .*checkout-api\.demo\.test.*courses-fe\.demo\.test/);
  await popup.close();
  await elsewhere.close();
});

/** Clicks `button` in the real popup, as a user does: the popup redraws whenever an answer
 * arrives, and a redraw between a mouse press and its release loses that click (the user
 * clicks again; so does this, at most 3 times, each time only if the click did not take). */
async function chooseInRealPopup(popup, button, done, what) {
  for (let attempt = 1; ; attempt++) {
    await popup.click(button);
    try {
      await waitFor(done, what, 5_000);
      return;
    } catch (e) {
      if (attempt >= 3) throw e;
    }
  }
}

test("the real toolbar popup lists the host's previews, and clicks in it route the domain and back", async () => {
  const { page: a } = await newSitePage();
  const { page: b } = await newSitePage();
  const { popup } = await openRealPopup(w, a);
  await waitFor(() => popup.eval((d) => d.querySelectorAll(".row").length > 0 && d.querySelectorAll(".stale").length === 0), "live rows");
  // The environments line arrives with its own answer and moves the rows down.
  await waitFor(() => popup.eval((d) => d.querySelector("section.service p.envs") !== null), "the environments line");
  const shown = await popup.eval((d) => ({
    host: d.getElementById("host").textContent,
    services: [...d.querySelectorAll("section.service h2")].map((e) => e.textContent),
    rows: [...d.querySelectorAll("section.service .row .pr")].map((e) => e.textContent),
  }));
  assert.deepEqual(shown, { host: "courses-fe.demo.test", services: ["courses-fe"], rows: ["PR 123", "PR 130"] });
  await chooseInRealPopup(popup, "#opt-courses_fe-d130", async () => (await routingCookies()).length === 1, "the routing cookie after one click");
  // Another tab on the host (the popup stays open on A's).
  assert.equal((await visit(b)).routed_to, "courses-fe-pr-130");
  await waitFor(() => popup.eval((d, win, sel) => d.querySelector(sel)?.textContent === "PR 130 · this domain", STATUS()), "the popup to say so");
  await chooseInRealPopup(popup, "#opt-courses_fe-dev", async () => (await routingCookies()).length === 0, "the cookie to be removed");
  assert.equal((await visit(b)).backend, "dev");
  await popup.close();
  for (const p of [a, b]) await p.close();
});

/** Site access as a user sets it in chrome://extensions (the extension's details page),
 * from a tab opened once and left in the background: with the permission prompt up,
 * Chromium never finishes activating another tab. */
async function siteAccess(call, ...args) {
  if (!w.extensionsPage) {
    w.extensionsPage = await w.context.newPage();
    await w.extensionsPage.goto(`chrome://extensions/?id=${EXTENSION_ID}`);
  }
  await w.extensionsPage.evaluate(([c, id, a]) => (c === "hostAccess"
    ? chrome.developerPrivate.updateExtensionConfiguration({ extensionId: id, hostAccess: a[0] })
    : chrome.developerPrivate.addHostPermission(id, a[0])), [call, EXTENSION_ID, args]);
}

test("without host access a click asks for it, and the grant finishes the choice in the popup", async () => {
  // The user withheld access to all sites ("On click").
  await siteAccess("hostAccess", "ON_CLICK");
  const { page: a } = await newSitePage();
  const { page: b } = await newSitePage();
  try {
    assert.deepEqual((await inWorker(() => chrome.permissions.getAll())).origins, []);
    const { popup } = await openRealPopup(w, a);
    // Without access the extension is not told the tab's URL: A is the active tab.
    const [{ id: tabA }] = await inWorker(() => chrome.tabs.query({ active: true, lastFocusedWindow: true }));
    await waitFor(() => popup.eval((d) => d.querySelectorAll(".row").length > 0 && d.querySelectorAll(".stale").length === 0), "live rows");
    assert.equal(await popup.eval((d) => d.querySelector(".access-request")), null, "nothing waits before the click");
    // Chromium shows its permission prompt (which a headless browser cannot show an
    // answer to) and closes the popup for it; the choice waits in storage, nothing routed.
    await chooseInRealPopup(popup, "#opt-courses_fe-d123", async () => !(await realPopupOpen(w)), "Chromium to close the popup for its prompt");
    const { awaiting_access: waiting } = await inWorker(() => chrome.storage.local.get("awaiting_access"));
    assert.deepEqual(
      { service: waiting.service, choice: waiting.choice, hosts: waiting.hosts, tab_id: waiting.tab_id },
      { service: "courses-fe", choice: { mode: "domain", pr: 123 }, hosts: ["courses-fe.demo.test"], tab_id: tabA },
    );
    assert.equal((await routingCookies()).length, 0);
    assert.equal((await visit(b)).backend, "dev");

    // Granted for this site from the extension's site-access menu. The service worker
    // marks the choice granted; it reopens the popup where the window is active (here the
    // unanswered prompt keeps it inactive), else the next popup on the tab finishes it.
    await siteAccess("addHostPermission", "http://courses-fe.demo.test/*");
    await waitFor(async () => (await inWorker(() => chrome.storage.local.get("access_granted"))).access_granted?.service === "courses-fe", "the worker to mark the choice granted");
    assert.equal((await routingCookies()).length, 0, "nothing routed until the popup finishes it");
    const back = (await realPopupOpen(w)) ? await attachRealPopup(w) : (await openRealPopup(w, a)).popup;
    await waitFor(async () => (await routingCookies()).length === 1, "the routing cookie once access is granted");
    assert.equal((await visit(b)).routed_to, "courses-fe-pr-123");
    await waitFor(() => back.eval((d, win, sel) => d.querySelector(sel)?.textContent === "PR 123 · this domain", STATUS()), "the popup to say so");
    assert.deepEqual(await inWorker(() => chrome.storage.local.get(["awaiting_access", "access_granted"])), {}, "nothing left to resume");
    // A redraw between a mouse press and its release loses the click: the helper clicks again.
    await chooseInRealPopup(back, "#opt-courses_fe-dev", async () => (await routingCookies()).length === 0, "back to dev");
    await back.close();
  } finally {
    await siteAccess("hostAccess", "ON_ALL_SITES");
  }
  assert.equal((await visit(b)).backend, "dev");
  for (const p of [a, b]) await p.close();
});

test("domain mode routes every tab on the host to the PR, and back to dev", async () => {
  const { page: a } = await newSitePage();
  const { page: b } = await newSitePage();
  const popup = await popupFor(a);
  await choose(popup, "opt-courses_fe-d123");
  await waitFor(async () => (await routingCookies()).length === 1, "the routing cookie");
  const [cookie] = await routingCookies();
  assert.equal(cookie.name, COOKIE);
  assert.equal(cookie.value, "123");
  assert.equal(cookie.path, "/");
  assert.equal(cookie.sameSite, "Lax");
  assert.ok(!cookie.domain.startsWith("."), "host-only cookie");

  for (const page of [a, b]) {
    const seen = await visit(page);
    assert.equal(seen.backend, "preview", JSON.stringify(seen));
    assert.equal(seen.routed_to, "courses-fe-pr-123");
    assert.match(seen.cookie, /(^|; )team-courses-fe-pr=123(;|$)/);
    assert.equal((await xhr(page)).routed_to, "courses-fe-pr-123");
  }
  await waitFor(async () => (await badge(a)) === "123", "the badge to read 123");
  // Chromium clears a tab's badge when it navigates, also within the host: it comes back.
  for (const p of ["/elsewhere?page=a2", "/again?page=a3"]) {
    assert.equal((await visit(a, w.site("courses-fe", p))).routed_to, "courses-fe-pr-123");
    await waitFor(async () => (await badge(a)) === "123", `the badge to read 123 after navigating to ${p}`);
  }
  const title = await inWorker((id) => chrome.action.getTitle({ tabId: id }), await tabIdOf(a));
  assert.equal(title, "Preview Switch: courses-fe: PR 123 for this domain");
  // Another service's host stays on dev.
  const { page: other, seen: checkout } = await newSitePage("checkout-api");
  assert.equal(checkout.backend, "dev");
  assert.equal(await badge(other), "");

  await choose(popup, "opt-courses_fe-dev");
  await waitFor(async () => (await routingCookies()).length === 0, "the cookie to be removed");
  for (const page of [a, b]) assert.equal((await visit(page)).backend, "dev");
  await waitFor(async () => (await badge(a)) === "", "the badge to clear");
  for (const p of [popup, a, b, other]) await p.close();
});

test("tab mode routes only that tab: tab A on the PR while tab B stays on dev", async () => {
  const { page: a } = await newSitePage();
  const { page: b } = await newSitePage();
  const popup = await popupFor(a);
  await choose(popup, "opt-courses_fe-t123");
  const tabA = await tabIdOf(a);
  await waitFor(async () => (await sessionRules()).some((r) => r.condition.tabIds?.includes(tabA)), "the tab rule");
  assert.equal((await routingCookies()).length, 0, "tab mode sets no cookie");
  assert.ok(await popup.isVisible("text=does not reach requests made by the site's service worker"));

  const seenA = await visit(a);
  const seenB = await visit(b);
  assert.equal(seenA.routed_to, "courses-fe-pr-123");
  assert.match(seenA.cookie, /team-courses-fe-pr=123/);
  assert.equal((await xhr(a)).routed_to, "courses-fe-pr-123", "XHR from the tab is routed too");
  assert.equal(seenB.backend, "dev");
  assert.equal((await xhr(b)).backend, "dev");
  await waitFor(async () => (await badge(a)) === "123", "tab A's badge");
  assert.equal(await badge(b), "");

  // Closing the tab removes its rule.
  await popup.close();
  await a.close();
  await waitFor(async () => !(await sessionRules()).some((r) => r.condition.tabIds?.includes(tabA)), "the rule to follow the closed tab");

  // Switched and closed at once, without a navigation the worker could have seen.
  const { page: c } = await newSitePage();
  const tabC = await tabIdOf(c);
  const popupC = await popupFor(c);
  await choose(popupC, "opt-courses_fe-t123");
  await waitFor(async () => (await sessionRules()).some((r) => r.condition.tabIds?.includes(tabC)), "tab C's rule");
  await popupC.close();
  await c.close();
  await waitFor(async () => (await sessionRules()).length === 0, "no tab rule left after closing tab C");
  await b.close();
});

test("the keyboard: Tab reaches each action, Enter applies it, / finds and Esc clears", async () => {
  const { page } = await newSitePage();
  const tab = await tabIdOf(page);
  const popup = await popupFor(page);
  await popup.waitForSelector("#opt-courses_fe-t123:not([disabled])");
  await waitFor(() => popup.$$eval(".stale", (e) => e.length === 0), "live data");
  const focused = () => popup.evaluate(() => document.activeElement?.id ?? "");
  for (let i = 0; i < 12 && (await focused()) !== "opt-courses_fe-t123"; i++) await popup.keyboard.press("Tab");
  assert.equal(await focused(), "opt-courses_fe-t123", "Tab reaches the row's first action");
  assert.equal(await popup.textContent(STATUS()), "dev");
  assert.deepEqual(await sessionRules(), [], "reaching an action routes nothing");

  await popup.keyboard.press("Enter");
  await waitFor(async () => (await sessionRules()).some((r) => r.condition.tabIds?.includes(tab)), "Enter to apply the tab rule");
  assert.equal((await visit(page)).routed_to, "courses-fe-pr-123");
  await waitFor(async () => (await popup.textContent(STATUS())) === "PR 123 · this tab only", "the top to say so");
  await waitFor(async () => (await focused()) === "opt-courses_fe-d123", "focus to stay on the row once its pressed action is disabled");

  // Back to dev, at the top: Shift-Tab walks back to it, Space presses it.
  for (let i = 0; i < 12 && (await focused()) !== "opt-courses_fe-dev"; i++) await popup.keyboard.press("Shift+Tab");
  assert.equal(await focused(), "opt-courses_fe-dev");
  await popup.keyboard.press("Space");
  await waitFor(async () => (await sessionRules()).length === 0, "back to dev to remove the tab rule");
  assert.equal((await visit(page)).backend, "dev");

  // `/` opens and focuses the filter (hidden for a short list); Esc clears it.
  assert.equal(await popup.isVisible("#filter"), false);
  await popup.focus("#opt-courses_fe-t123");
  await popup.keyboard.press("/");
  assert.equal(await focused(), "filter");
  await popup.keyboard.type("130");
  const rows = () => popup.$$eval("section.service .row .pr", (r) => r.map((e) => e.textContent).join(","));
  await waitFor(async () => (await rows()) === "PR 130", "the filter to leave PR 130").catch(async (e) => {
    throw new Error(`${e.message}: rows ${await rows()}, filter ${await popup.inputValue("#filter")}`);
  });
  await popup.keyboard.press("Escape");
  assert.equal(await popup.inputValue("#filter"), "");
  await waitFor(async () => (await rows()) === "PR 123,PR 130", "Esc to clear the filter");
  await popup.close();
  await page.close();
});

test("switching the PR for a service replaces the previous choice", async () => {
  const { page } = await newSitePage();
  const popup = await popupFor(page);
  await choose(popup, "opt-courses_fe-t123");
  const tab = await tabIdOf(page);
  await waitFor(async () => (await sessionRules()).some((r) => r.condition.tabIds?.includes(tab)), "the tab rule");
  assert.equal((await visit(page)).routed_to, "courses-fe-pr-123");
  await choose(popup, "opt-courses_fe-d130");
  await waitFor(async () => {
    const c = await routingCookies();
    return c.length === 1 && c[0].value === "130" && (await sessionRules()).length === 0;
  }, "one cookie for PR 130 and no tab rule left");
  let seen = await visit(page);
  assert.equal(seen.routed_to, "courses-fe-pr-130");
  assert.equal(seen.cookie.match(/team-courses-fe-pr=/g).length, 1, `one routing cookie sent: ${seen.cookie}`);

  await choose(popup, "opt-courses_fe-d123");
  await waitFor(async () => (await routingCookies())[0]?.value === "123", "the cookie to switch to 123");
  seen = await visit(page);
  assert.equal(seen.routed_to, "courses-fe-pr-123");
  assert.equal(seen.cookie.match(/team-courses-fe-pr=/g).length, 1);

  await choose(popup, "opt-courses_fe-dev");
  await waitFor(async () => (await routingCookies()).length === 0, "back to dev");
  assert.equal((await visit(page)).backend, "dev");
  await popup.close();
  await page.close();
});

test("a routing cookie set by hand is detected, shown and can be cleared", async () => {
  const { page } = await newSitePage();
  await w.context.addCookies([{ name: COOKIE, value: "130", domain: "courses-fe.demo.test", path: "/" }]);
  assert.equal((await visit(page)).routed_to, "courses-fe-pr-130");
  const popup = await popupFor(page);
  await popup.waitForSelector("text=PR 130 · this domain (cookie set by hand)");
  assert.equal(await popup.getAttribute("#opt-courses_fe-d130", "aria-pressed"), "true");
  await waitFor(async () => (await badge(page)) === "130", "the badge to show the hand-set PR");
  await choose(popup, "opt-courses_fe-dev");
  await waitFor(async () => (await routingCookies()).length === 0, "the hand-set cookie to be cleared");
  assert.equal((await visit(page)).backend, "dev");
  await popup.close();
  await page.close();
});

test("a GitHub PR page leads with that PR's previews and opens the service with it", async () => {
  // The GitHub Enterprise host comes from the options page, as a user would set it.
  const options = await w.context.newPage();
  await options.goto(`chrome-extension://${EXTENSION_ID}/options.html`);
  await options.waitForSelector("body[data-ready='1']");
  await options.fill("#github-hosts", "not a host/x");
  await options.click("#save");
  await options.waitForSelector("#status:has-text('refused host')");
  await options.fill("#github-hosts", "https://GitHub.test/");
  await options.click("#save");
  await options.waitForSelector("#status:has-text('Saved')");
  await options.close();

  const { page } = await newSitePage("github.test", "/example-org/courses-fe/pull/123");
  const popup = await popupFor(page);
  const open = "section.pull-request button.open:not([disabled])";
  await popup.waitForSelector(open);
  await waitFor(() => popup.$$eval(".stale", (e) => e.length === 0), "live data");
  assert.match(await popup.textContent("section.pull-request"), /example-org\/courses-fe#123/);
  assert.equal(await popup.textContent(open), "Open courses-fe with PR 123");
  const opened = w.context.waitForEvent("page");
  await popup.click(open); // a locator: the popup re-renders as data arrives
  const tab = await opened;
  await tab.waitForLoadState();
  assert.equal(tab.url(), "https://courses-fe.demo.test/");
  const seen = JSON.parse(await tab.textContent("#echo"));
  assert.equal(seen.routed_to, "courses-fe-pr-123", "the new tab reached the preview");
  await waitFor(async () => (await badge(tab)) === "123", "the new tab's badge");

  const back = await popupFor(tab);
  await choose(back, "opt-courses_fe-dev");
  await waitFor(async () => (await routingCookies()).length === 0, "back to dev");
  for (const p of [back, tab, popup, page]) await p.close();
});

test("copy link on a routed service gives the page with ?preview-switch=, and opening it routes after one click", async () => {
  const { page } = await newSitePage("courses-fe", "/catalog");
  const popup = await popupFor(page);
  await choose(popup, "opt-courses_fe-d123");
  await waitFor(async () => (await routingCookies()).length === 1, "the routing cookie");
  await choose(popup, "opt-courses_fe-copy");
  const url = await waitFor(() => popup.textContent("section.copied code.share-url").catch(() => ""), "the copied link");
  assert.equal(url, `${page.url()}&preview-switch=courses-fe:123`);
  // The fake's routes have no share rule: the popup says the link needs the extension.
  assert.match(await popup.textContent("section.copied p"), /whoever opens it needs Preview Switch/);
  await choose(popup, "opt-courses_fe-dev");
  await waitFor(async () => (await routingCookies()).length === 0, "back to dev");
  await popup.close();
  await page.close();

  // A teammate opens the link: dev answers until they follow it, with one click.
  const shared = await w.context.newPage();
  assert.equal((await visit(shared, url)).backend, "dev");
  const offer = await popupFor(shared);
  await offer.waitForSelector("section.share-link");
  assert.equal(await offer.textContent("section.share-link .notice-text"), "This link asks for courses-fe PR 123");
  await choose(offer, "opt-courses_fe-link-t123");
  await waitFor(async () => {
    const seen = await shared.textContent("#echo").then(JSON.parse).catch(() => ({}));
    return seen.routed_to === "courses-fe-pr-123";
  }, "the tab to reload onto PR 123");
  assert.equal((await routingCookies()).length, 0, "this tab only: no cookie");
  await choose(offer, "opt-courses_fe-dev");
  await waitFor(async () => (await sessionRules()).length === 0, "back to dev");
  await offer.close();

  // A link to a preview the companion does not list is refused with the reason; nothing routes.
  await visit(shared, w.site("courses-fe", "/?preview-switch=courses-fe:999"));
  const refused = await popupFor(shared);
  await waitFor(() => refused.$$eval(".stale", (e) => e.length === 0), "live data");
  await refused.waitForSelector("section.share-link p.why");
  assert.match(await refused.textContent("section.share-link p.why"), /lists no preview of courses-fe for PR 999/);
  assert.equal(await refused.$("section.share-link button"), null, "no action offered");
  await refused.close();
  await shared.close();
});

test("the badge proves the preview answered by its marker, and warns when dev served the page", async () => {
  // The mesh team marks PR 123's responses: its HTTPRoute adds x-preview-pr (a sync the
  // companion's watch sees), and nginx adds it as the mesh would. It stays marked: the
  // scenarios after this one see a preview that answers with its marker.
  const marked = await fetch(`${w.fake.control}/mark/courses-fe-pr-123`, { method: "POST" });
  assert.equal(marked.status, 204);
  w.reconfigureNginx({ marked: ["courses-fe-pr-123"] });
  const { page } = await newSitePage();
  try {
    const popup = await popupFor(page);
    await choose(popup, "opt-courses_fe-d123");
    await waitFor(async () => (await routingCookies()).length === 1, "the routing cookie");
    await popup.close();
    const color = async () => inWorker((id) => chrome.action.getBadgeBackgroundColor({ tabId: id }), await tabIdOf(page));
    const GREEN = [26, 127, 55, 255];
    const ORANGE = [188, 76, 0, 255];
    // The worker learns the marker with the list the sync changed; each load checks it.
    await waitFor(async () => {
      assert.equal((await visit(page)).routed_to, "courses-fe-pr-123");
      return JSON.stringify(await color()) === JSON.stringify(GREEN);
    }, "the badge to turn green on the marker", 30_000);
    const answered = await popupFor(page);
    await answered.waitForSelector("section.current .proof.ok");
    assert.equal(await answered.textContent("section.current .proof.ok"), "the preview answered (x-preview-pr: 123)");
    await answered.close();

    // nginx now serves dev although the cookie goes out: the badge warns, the popup says why.
    w.reconfigureNginx({ marked: ["courses-fe-pr-123"], serveDev: ["courses-fe-pr-123"] });
    await waitFor(async () => (await visit(page)).backend === "dev", "nginx to serve dev");
    await waitFor(async () => JSON.stringify(await color()) === JSON.stringify(ORANGE), "the badge to turn orange");
    assert.equal(await badge(page), "123");
    const title = await inWorker((id) => chrome.action.getTitle({ tabId: id }), await tabIdOf(page));
    assert.match(title, /the page was served by dev: no x-preview-pr: 123 in its response/);
    const warned = await popupFor(page);
    await warned.waitForSelector("section.current .proof.warn");
    assert.match(await warned.textContent("section.current .proof.warn"), /^The page was served by dev/);
    await choose(warned, "opt-courses_fe-dev");
    await waitFor(async () => (await routingCookies()).length === 0, "back to dev");
    await warned.close();
  } finally {
    // Whatever failed above, the next scenario starts on dev with nginx routing again.
    await w.context.clearCookies({ name: "team-courses-fe-pr" });
    w.reconfigureNginx({ marked: ["courses-fe-pr-123"] });
    await page.close();
  }
});

test("every opening of the real popup draws the cached rows (timings recorded for the README)", async () => {
  const { page } = await newSitePage();
  const timed = await timeRealPopup(w, { open: openRealPopup, close: closeRealPopup, page, rows: ["PR 123", "PR 130"] });
  await page.close();
  recordMetrics("chromium", { browser: w.context.browser()?.version(), ...timed });
  const wasm = fs.readFileSync(path.join(ROOT, "dist/chromium/pkg/preview_switch_extension_bg.wasm"));
  recordMetrics("wasm", { bytes: wasm.length, gzip_bytes: zlib.gzipSync(wasm, { level: 9 }).length });
  const { median, min, max } = timed.popup_click_to_rows_ms;
  console.log(`chromium: real popup click -> rows median ${median} ms (min ${min}, max ${max})`);
});

test("a deleted preview loses its routing and the user is told, even after the companion restarted", async () => {
  const { page } = await newSitePage();
  const popup = await popupFor(page);
  await choose(popup, "opt-courses_fe-d123");
  await waitFor(async () => (await routingCookies()).length === 1, "the routing cookie");
  await popup.close();
  assert.equal((await visit(page)).routed_to, "courses-fe-pr-123");
  await waitFor(async () => (await badge(page)) === "123", "the badge");
  // Record notifications as the worker creates them (the wasm resolves chrome.* per call).
  await inWorker(() => {
    self.e2eNotes = [];
    const create = chrome.notifications.create.bind(chrome.notifications);
    chrome.notifications.create = (...args) => {
      self.e2eNotes.push(args.find((a) => typeof a === "object"));
      return create(...args);
    };
  });

  // The worker's companion dies first: the worker must subscribe again by itself.
  const before = w.companionPids();
  assert.ok(before.length >= 1, "the worker's subscribed companion runs");
  for (const pid of before) process.kill(pid, "SIGKILL");
  await waitFor(() => w.companionPids().some((p) => !before.includes(p)), "the worker to start its companion again");

  // An unrelated preview deleted: the restarted companion's first event is a diff from its
  // disk cache, which must not make the worker believe PR 123 vanished.
  const unrelated = await fetch(`${w.fake.control}/delete/checkout-api-pr-45`, { method: "POST" });
  assert.equal(unrelated.status, 204);
  const cachedApps = () => inWorker(async () => ((await chrome.storage.local.get("last_list")).last_list?.previews ?? []).map((p) => p.app));
  await waitFor(async () => {
    const apps = await cachedApps();
    return !apps.includes("checkout-api-pr-45") && apps.includes("courses-fe-pr-123");
  }, "the worker to learn checkout-api-pr-45 was deleted", 30_000);
  // A navigation after that event: the worker settles it after the event's cleanup pass.
  assert.equal((await visit(page, w.site("courses-fe", "/after-restart"))).routed_to, "courses-fe-pr-123");
  await waitFor(async () => (await badge(page)) === "123", "the badge to still read 123");
  assert.equal((await routingCookies()).length, 1, "PR 123's cookie stays");
  assert.deepEqual(await inWorker(() => self.e2eNotes), [], "no notification about an unrelated deletion");

  const res = await fetch(`${w.fake.control}/delete/courses-fe-pr-123`, { method: "POST" });
  assert.equal(res.status, 204);
  await waitFor(async () => (await routingCookies()).length === 0, "the cookie of the deleted preview to go", 30_000);
  const notes = await waitFor(() => inWorker(() => self.e2eNotes.length && self.e2eNotes), "a notification");
  assert.match(notes[0].title, /courses-fe PR 123 is gone/);
  assert.equal(notes.length, 1, JSON.stringify(notes));
  await waitFor(async () => (await badge(page)) === "", "the badge to clear");
  assert.equal((await visit(page)).backend, "dev");

  const after = await popupFor(page);
  await waitFor(() => after.$$eval(".stale", (e) => e.length === 0), "live data");
  await waitFor(async () => !(await after.$("#opt-courses_fe-d123")), "PR 123 to leave the popup");
  await after.close();
  await page.close();
});

test("without the companion the popup shows the install command", async () => {
  const { page } = await newSitePage();
  w.uninstallHost();
  try {
    const popup = await popupFor(page);
    const command = await popup.waitForSelector("code.command");
    assert.equal(
      await command.textContent(),
      `preview-switch install --browser chromium --extension-id ${EXTENSION_ID}`,
    );
    await popup.screenshot({ path: path.join(ARTIFACTS, "popup-companion-missing.png") });
    await popup.close();
  } finally {
    w.installHost();
  }
  await page.close();
});

test("an Argo CD 401 shows the companion's message and fix", async () => {
  const { page } = await newSitePage();
  // No disk cache, so the popup's companion must ask Argo CD, which now rejects the token.
  await fetch(`${w.fake.control}/revoke`, { method: "POST" });
  w.clearCache();
  try {
    const popup = await popupFor(page);
    await popup.waitForSelector("section.notice .notice-detail");
    const text = await popup.textContent("section.notice");
    assert.match(text, /argocd_unauthorized/);
    assert.match(await popup.textContent(".notice-detail"), /argocd login|ARGOCD_AUTH_TOKEN/);
    await popup.screenshot({ path: path.join(ARTIFACTS, "popup-argocd-401.png") });
    await popup.close();
  } finally {
    await fetch(`${w.fake.control}/accept`, { method: "POST" });
  }
  await page.close();
});
