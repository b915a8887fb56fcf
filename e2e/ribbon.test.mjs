// The page ribbon (issue 14 §4) and the default mode (issue 15 §2) end to end in Chromium,
// and the ribbon once in Firefox: the built extension, the real companion, the fake Argo CD
// and nginx (harness.mjs). The
// ribbon lives in a closed shadow root, so the page sees nothing of it: every look at it is
// taken from the extension's side, a script the service worker runs in the page's isolated
// world (Chromium's chrome.dom.openOrClosedShadowRoot, Firefox's element.openOrClosedShadowRoot),
// and its buttons are pressed with the mouse at
// the places that script reports, as a user presses them. The scenarios share one browser
// and run in order; each leaves the routing on dev and the settings as they were.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";
import { ARTIFACTS, EXTENSION_ID, start, startFirefox, stop, visit, waitFor } from "./harness.mjs";
import { answerPermissionPrompt, closeRealPopup, openRealPopup, permissionPrompt, tabIdOf as firefoxTabIdOf } from "./firefox.mjs";

let w;
before(async () => {
  w = await start();
});
after(async () => {
  if (w) await stop(w);
});

const inWorker = (fn, arg) => w.worker.evaluate(fn, arg);
const pause = (ms) => new Promise((r) => setTimeout(r, ms));

let pages = 0;
/** A new tab on `service`'s site, each with its own URL so the worker can tell them apart. */
async function newSitePage(service = "courses-fe") {
  const page = await w.context.newPage();
  pages += 1;
  const seen = await visit(page, w.site(service, `/?ribbon=${pages}`));
  return { page, seen };
}

async function tabIdOf(page) {
  const url = page.url();
  return waitFor(() => inWorker(async (u) => (await chrome.tabs.query({})).find((t) => t.url === u)?.id, url), `a tab on ${url}`);
}

/** The popup as a page for `page`'s tab, once it shows the companion's live answer. */
async function popupFor(page) {
  const id = await tabIdOf(page);
  const popup = await w.context.newPage();
  await popup.goto(`chrome-extension://${EXTENSION_ID}/popup.html?tab=${id}`);
  await popup.waitForSelector("body[data-ready='1']");
  return popup;
}

async function choose(popup, id) {
  await popup.waitForSelector(`#${id}:not([disabled])`);
  await waitFor(() => popup.$$eval(".stale", (e) => e.length === 0), "the popup to show live data");
  await popup.click(`#${id}`);
}

async function routingCookies() {
  return (await w.context.cookies()).filter((c) => c.domain === "courses-fe.demo.test" && c.name.startsWith("team-"));
}

async function badge(page) {
  const tabId = await tabIdOf(page);
  return inWorker((id) => chrome.action.getBadgeText({ tabId: id }), tabId);
}

/** The ribbon in `page` as the extension sees it (null: none): how many hosts the page
 * holds, whether the host is displayed, its words, and each button's label and centre. */
async function ribbon(page) {
  const tabId = await tabIdOf(page);
  const [{ result }] = await inWorker((id) => chrome.scripting.executeScript({
    target: { tabId: id },
    func: () => {
      const hosts = document.querySelectorAll("[data-preview-switch-ribbon]");
      if (!hosts.length) return null;
      const root = chrome.dom.openOrClosedShadowRoot(hosts[0]);
      return {
        hosts: hosts.length,
        display: getComputedStyle(hosts[0]).display,
        lines: [...root.querySelectorAll("span[title]")].map((s) => ({ label: s.textContent, status: s.title })),
        text: root.textContent,
        buttons: [...root.querySelectorAll("button")].map((b) => {
          const r = b.getBoundingClientRect();
          return { text: b.textContent, label: b.getAttribute("aria-label"), x: r.x + r.width / 2, y: r.y + r.height / 2 };
        }),
      };
    },
  }), tabId);
  return result;
}

/** Presses the ribbon's button whose text or label is `name` with the mouse. */
async function press(page, name) {
  const shown = await ribbon(page);
  const button = shown?.buttons.find((b) => b.text === name || b.label === name);
  assert.ok(button, `the ribbon has ${name}: ${JSON.stringify(shown)}`);
  await page.mouse.click(button.x, button.y);
}

/** Reloads `page` and waits for its ribbon. */
async function ribbonAfterReload(page, what) {
  await visit(page);
  return waitFor(() => ribbon(page), what);
}

/** No ribbon on `page` once the worker has read the tab (its badge reads `badgeText`) and
 * the time an injection takes has passed. */
async function noRibbon(page, badgeText, what) {
  await waitFor(async () => (await badge(page)) === badgeText, `the worker to read the tab (${what})`);
  await pause(1_500);
  assert.equal(await ribbon(page), null, what);
}

/** A new page on courses-fe routed for the domain to PR 123 from its popup (left open). */
async function routedForTheDomain() {
  const { page } = await newSitePage();
  const popup = await popupFor(page);
  await choose(popup, "opt-courses_fe-d123");
  await waitFor(async () => (await routingCookies()).length === 1, "the routing cookie");
  return { page, popup };
}

/** Waits for `page` to have reloaded onto dev (the ribbon's *back to dev* reloads it). */
async function reloadedOnDev(page) {
  await waitFor(async () => {
    const echo = await page.textContent("#echo").then(JSON.parse).catch(() => ({}));
    return echo.backend === "dev";
  }, "the page to reload on dev");
}

/** Sets the options page's choice `id` to `value`, as a user does, and saves. */
async function setOption(id, value) {
  const options = await w.context.newPage();
  await options.goto(`chrome-extension://${EXTENSION_ID}/options.html`);
  await options.waitForSelector("body[data-ready='1']");
  await options.selectOption(`#${id}`, value);
  await options.click("#save");
  await options.waitForSelector("#status:has-text('Saved')");
  await options.close();
}

test("the ribbon shows on a page of the host routed for the domain, out of the page's reach, and back to dev sends it back", async () => {
  const { page, popup } = await routedForTheDomain();
  await popup.close();

  assert.equal((await visit(page)).routed_to, "courses-fe-pr-123");
  const shown = await waitFor(() => ribbon(page), "the ribbon");
  assert.deepEqual(shown.lines, [{ label: "courses-fe PR 123", status: "PR 123 · this domain" }]);
  assert.deepEqual(shown.buttons.map((b) => b.text), ["back to dev", "×"]);
  assert.equal(shown.buttons[1].label, "Hide this ribbon");
  assert.equal(shown.hosts, 1);
  await page.screenshot({ path: path.join(ARTIFACTS, "ribbon.png") });

  // The page sees a host element and nothing of what is inside it, nor the ribbon's code.
  assert.deepEqual(await page.evaluate(() => {
    const host = document.querySelector("[data-preview-switch-ribbon]");
    return { shadow: host.shadowRoot, text: host.textContent, code: typeof globalThis.previewSwitchRibbon };
  }), { shadow: null, text: "", code: "undefined" });
  // The page's own CSS, even !important, cannot hide it (ribbon.css has the user origin).
  await page.addStyleTag({ content: "[data-preview-switch-ribbon] { display: none !important; }" });
  assert.equal((await ribbon(page)).display, "block");

  // Injected again into the same page (the worker sees a load twice): still one ribbon.
  const tabId = await tabIdOf(page);
  const again = await inWorker(async (id) => {
    await chrome.scripting.executeScript({ target: { tabId: id }, files: ["ribbon.js"] });
    const [{ result }] = await chrome.scripting.executeScript({
      target: { tabId: id },
      func: self.previewSwitchShowRibbon,
      args: [{
        host: "courses-fe.demo.test", title: "Preview Switch", back: "back to dev", dismiss: "Hide this ribbon",
        lines: [{ service: "courses-fe", label: "courses-fe PR 123", status: "PR 123 · this domain" }],
      }],
    });
    return result;
  }, tabId);
  assert.equal(again, 1);
  const twice = await ribbon(page);
  assert.equal(twice.hosts, 1);
  assert.equal(twice.lines.length, 1);

  // A tab of another host is not touched.
  const { page: other, seen } = await newSitePage("checkout-api");
  assert.equal(seen.backend, "dev");
  await noRibbon(other, "", "no ribbon on checkout-api.demo.test");
  await other.close();

  // Back to dev from the ribbon: the cookie goes and the page reloads on dev.
  await press(page, "back to dev");
  await waitFor(async () => (await routingCookies()).length === 0, "the routing cookie to be removed");
  await reloadedOnDev(page);
  await noRibbon(page, "", "no ribbon once on dev");
  await page.close();
});

test("× hides the ribbon in that tab until the service is routed there again", async () => {
  const { page, popup } = await routedForTheDomain();
  await ribbonAfterReload(page, "the ribbon");

  await press(page, "Hide this ribbon");
  await waitFor(async () => (await ribbon(page)) === null, "the ribbon to go");
  assert.equal((await routingCookies()).length, 1, "hiding it changes no routing");
  assert.equal((await visit(page)).routed_to, "courses-fe-pr-123");
  await noRibbon(page, "123", "hidden after a reload");
  // Another tab on the host still has it.
  const { page: b } = await newSitePage();
  assert.equal((await waitFor(() => ribbon(b), "the other tab's ribbon")).lines[0].label, "courses-fe PR 123");
  await b.close();

  // Routed again in that tab: it shows again.
  await choose(popup, "opt-courses_fe-d130");
  await waitFor(async () => (await routingCookies())[0]?.value === "130", "the cookie for PR 130");
  const shown = await ribbonAfterReload(page, "the ribbon for PR 130");
  assert.equal(shown.lines[0].label, "courses-fe PR 130");

  await choose(popup, "opt-courses_fe-dev");
  await waitFor(async () => (await routingCookies()).length === 0, "back to dev");
  await popup.close();
  await page.close();
});

test("a tab routed alone has no ribbon by default, and has one with the setting on every routed page", async () => {
  const { page } = await newSitePage();
  const popup = await popupFor(page);
  await choose(popup, "opt-courses_fe-t123");
  assert.equal((await visit(page)).routed_to, "courses-fe-pr-123");
  await noRibbon(page, "123", "the default shows the ribbon for the domain only");

  await setOption("page-marker", "always");
  try {
    // The worker reads the saved settings on its own time: reload until it has.
    const shown = await waitFor(async () => {
      await visit(page);
      return waitFor(() => ribbon(page), "the ribbon", 2_000).catch(() => null);
    }, "the ribbon on a tab routed alone");
    assert.deepEqual(shown.lines, [{ label: "courses-fe PR 123", status: "PR 123 · this tab only" }]);
    // Back to dev from the ribbon removes the tab's rule.
    await press(page, "back to dev");
    await waitFor(async () => (await inWorker(() => chrome.declarativeNetRequest.getSessionRules())).length === 0, "the tab rule to go");
    await reloadedOnDev(page);
  } finally {
    await setOption("page-marker", "domain");
  }
  await popup.close();
  await page.close();
});

test("the default mode's button leads each row, as the primary action", async () => {
  const { page } = await newSitePage();
  const order = async () => {
    const popup = await popupFor(page);
    await waitFor(() => popup.$$eval(".stale", (e) => e.length === 0), "the popup to show live data");
    const buttons = await waitFor(async () => {
      const shown = await popup.$$eval("section.service .row[data-pr='123'] button[id^='opt-courses_fe-'][id$='123']", (bs) => bs.map((b) => `${b.id}${b.classList.contains("primary") ? " primary" : ""}`));
      return shown.length === 2 && shown;
    }, "PR 123's two actions");
    await popup.close();
    return buttons;
  };
  assert.deepEqual(await order(), ["opt-courses_fe-t123 primary", "opt-courses_fe-d123"]);
  await setOption("default-mode", "domain");
  try {
    assert.deepEqual(await order(), ["opt-courses_fe-d123 primary", "opt-courses_fe-t123"]);
  } finally {
    await setOption("default-mode", "tab");
  }
  assert.deepEqual(await inWorker(async () => (await chrome.storage.local.get("settings")).settings?.default_mode ?? null), null,
    "the default chosen again is not stored: it follows the team's preset");
  await page.close();
});

test("in Firefox too: the ribbon on a page routed for the domain, and back to dev from it", async () => {
  const ff = await startFirefox();
  try {
    const page = await ff.browser.newPage();
    await visit(page, ff.site("courses-fe", "/?ribbon=firefox"));
    const { popup } = await openRealPopup(ff, page);
    await waitFor(() => popup.eval((d) => d.querySelectorAll(".row").length > 0 && d.querySelectorAll(".stale").length === 0), "live rows");
    // Enter on the focused action: the user input Firefox's access request needs.
    await popup.eval((d) => d.getElementById("opt-courses_fe-d123").focus());
    await popup.press("Enter");
    await waitFor(() => permissionPrompt(ff), "Firefox's permission prompt");
    await answerPermissionPrompt(ff, true);
    const cookies = async () => (await page.cookies()).filter((c) => c.name.startsWith("team-"));
    await waitFor(async () => (await cookies()).length === 1, "the routing cookie");
    await closeRealPopup(ff);
    assert.equal((await visit(page)).routed_to, "courses-fe-pr-123");

    const tabId = await firefoxTabIdOf(ff, page);
    const look = async () => {
      const [{ result }] = await ff.inExtension((id) => browser.scripting.executeScript({
        target: { tabId: id },
        func: () => {
          const host = document.querySelector("[data-preview-switch-ribbon]");
          if (!host) return null;
          const root = host.openOrClosedShadowRoot;
          const back = root.querySelector("button");
          const r = back.getBoundingClientRect();
          return { text: root.textContent, back: { x: r.x + r.width / 2, y: r.y + r.height / 2 } };
        },
      }), tabId);
      return result;
    };
    const shown = await waitFor(look, "the ribbon in Firefox");
    assert.equal(shown.text, "courses-fe PR 123·back to dev×");
    assert.equal(await page.evaluate(() => document.querySelector("[data-preview-switch-ribbon]").shadowRoot), null);

    await page.mouse.click(shown.back.x, shown.back.y);
    await waitFor(async () => (await cookies()).length === 0, "the routing cookie to be removed");
    await waitFor(async () => {
      const echo = await page.$eval("#echo", (e) => JSON.parse(e.textContent)).catch(() => ({}));
      return echo.backend === "dev";
    }, "the page to reload on dev");
  } finally {
    await stop(ff);
  }
});
