// What runs where, end to end (issue 13): Debian's Chromium with dist/extension, the real
// companion, and the fake Argo CDs of the demo's dev, stag and prod. The popup shows the
// tab's service's environments and the environments page; Sync (after a yes) reaches the
// fake; a preview the user is routed to, redeployed in the fake, is one notification with
// its new commit.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { EXTENSION_ID, start, stop, waitFor } from "./harness.mjs";

let w;
before(async () => {
  w = await start();
});
after(async () => {
  if (w) await stop(w);
});

const inWorker = (fn, arg) => w.worker.evaluate(fn, arg);

async function control(path, method = "POST") {
  const res = await fetch(`${w.fake.control}${path}`, { method });
  assert.ok(res.ok, `${method} ${path}: ${res.status}`);
  return res.status === 204 ? null : res.json();
}

/** A courses-fe tab and its popup, with the companion's live answer in. */
async function coursesPopup() {
  const page = await w.context.newPage();
  await page.goto(w.site("courses-fe", `/?envs=${Date.now()}`));
  const url = page.url();
  const id = await waitFor(() => inWorker(async (u) => (await chrome.tabs.query({})).find((t) => t.url === u)?.id, url), "the tab");
  const popup = await w.context.newPage();
  await popup.setViewportSize({ width: 380, height: 600 });
  await popup.goto(`chrome-extension://${EXTENSION_ID}/popup.html?tab=${id}`);
  await popup.waitForSelector("body[data-ready='1']");
  await waitFor(() => popup.$$eval(".stale", (e) => e.length === 0), "live data");
  return { page, popup };
}

test("the popup shows the environments of the tab's service, and every service on the environments page", async () => {
  const { page, popup } = await coursesPopup();
  const line = 'section.service p.envs[data-service="courses-fe"]';
  await popup.waitForSelector(line);
  const cells = await popup.$$eval(`${line} .env`, (els) => els.map((e) => e.textContent));
  assert.deepEqual(cells, ["dev v5.34.0", "stag v5.34.0", "prod v5.34.0"]);

  await popup.click("#envs-page");
  await popup.waitForSelector("#envs-filter");
  const marks = async (service) =>
    popup.$$eval(`.envs-list p.envs[data-service="${service}"] .env`, (els) => els.map((e) => e.textContent));
  await waitFor(async () => (await marks("search-ui")).length === 3, "search-ui's environments");
  assert.deepEqual(await marks("search-ui"), ["dev v5.33.0", "stag v5.33.0", "prod v5.3.0 ↓"]);
  assert.deepEqual(await marks("checkout-api"), ["dev v2.8.0", "stag v2.8.0", "prod v2.7.3 ≠"]);
  assert.match(
    await popup.getAttribute('.envs-list p.envs[data-service="payments-api"] .env[data-env="prod"]', "title"),
    /rollout paused at step 1 of 4, canary weight 25%/,
  );
  // Filter by keyboard: the box takes focus and typing keeps it.
  await popup.focus("#envs-filter");
  await popup.keyboard.type("paused");
  await waitFor(async () => (await popup.$$eval(".envs-list > li", (e) => e.length)) === 1, "the filter");
  assert.equal(await popup.evaluate(() => document.activeElement?.id), "envs-filter");
  assert.deepEqual(await popup.$$eval(".envs-list strong", (e) => e.map((x) => x.textContent)), ["payments-api"]);
  await popup.close();
  await page.close();
});

test("sync from the popup asks first and reaches the fake Argo CD", async () => {
  const { page, popup } = await coursesPopup();
  await popup.waitForSelector("#sync-courses_fe_123:not([disabled])");
  assert.deepEqual(await control("/syncs", "GET"), []);
  await popup.click("#sync-courses_fe_123");
  await popup.waitForSelector("#sync-yes-courses_fe_123");
  assert.match(await popup.textContent(".confirm"), /Sync courses-fe PR 123 \(courses-fe-pr-123\)/);
  assert.deepEqual(await control("/syncs", "GET"), [], "nothing before the yes");
  await popup.click("#sync-yes-courses_fe_123");
  await waitFor(async () => (await control("/syncs", "GET")).length === 1, "the sync to reach the fake");
  assert.deepEqual(await control("/syncs", "GET"), [["courses-fe-pr-123", "admin"]]);
  await waitFor(async () => /sync of courses-fe-pr-123 started/.test(await popup.textContent(".actions .outcome")), "the outcome");
  await popup.close();
  await page.close();
});

test("a redeploy of the preview the tab is routed to is exactly one notification with the new commit", async () => {
  const { page, popup } = await coursesPopup();
  // Route the domain to PR 123: its notifications are on by default.
  await popup.waitForSelector("#opt-courses_fe-d123:not([disabled])");
  await popup.check("#opt-courses_fe-d123");
  await popup.click("#opt-courses_fe-apply:not([disabled])");
  await waitFor(async () => (await w.context.cookies()).some((c) => c.name === "team-courses-fe-pr"), "the routing cookie");
  await popup.close();

  await inWorker(() => {
    self.e2eEnvNotes = [];
    const create = chrome.notifications.create.bind(chrome.notifications);
    chrome.notifications.create = (...args) => {
      self.e2eEnvNotes.push(args);
      return create(...args);
    };
  });
  const revision = "5e6f708d9a1b2c3d4e5f60718293a4b5c6d7e8f9";
  await control(`/redeploy/courses-fe-pr-123/${revision}/${encodeURIComponent("Fix enrolment button")}`);
  const notes = await waitFor(() => inWorker(() => self.e2eEnvNotes.length && self.e2eEnvNotes), "a notification", 20_000);
  // Whatever else happens meanwhile (re-lists, reconciles), no second one.
  await new Promise((r) => setTimeout(r, 2500));
  const all = await inWorker(() => self.e2eEnvNotes);
  assert.equal(all.length, 1, JSON.stringify(all));
  const [id, options] = notes[0];
  assert.match(id, /^preview-switch-deploy\|http:\/\/127\.0\.0\.1:\d+\/applications\/argocd\/courses-fe-pr-123\|/);
  assert.equal(options.title, "courses-fe PR 123 deployed");
  assert.equal(options.message, "courses-fe PR 123 now runs 5e6f708: Fix enrolment button");

  // Back to dev for whatever runs next.
  const back = await coursesPopup();
  await back.popup.waitForSelector("#opt-courses_fe-dev:not([disabled])");
  await back.popup.check("#opt-courses_fe-dev");
  await back.popup.click("#opt-courses_fe-apply:not([disabled])");
  await waitFor(async () => !(await w.context.cookies()).some((c) => c.name === "team-courses-fe-pr"), "the cookie removed");
  await back.popup.close();
  await back.page.close();
  await page.close();
});
