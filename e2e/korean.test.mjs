// The popup in Korean (issue 14): Chromium run with `--lang=ko` (chrome.i18n follows it;
// getUILanguage stays the OS's), a fresh profile with the extension, and a share link
// opened there: the popup leads with the link's request in Korean, and one click routes.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";
import { ARTIFACTS, EXTENSION_ID, start, stop, visit, waitFor } from "./harness.mjs";

let w;
before(async () => {
  w = await start({ lang: "ko" });
});
after(async () => {
  if (w) await stop(w);
});

test("a share link opened in a fresh Korean profile: the popup in Korean, one click routes", async () => {
  const page = await w.context.newPage();
  const url = w.site("courses-fe", "/catalog?preview-switch=courses-fe:123");
  assert.equal((await visit(page, url)).backend, "dev", "the link alone routes nothing");
  const tab = await waitFor(() => w.worker.evaluate(async (u) => (await chrome.tabs.query({})).find((t) => t.url === u)?.id, url), "the tab");
  const popup = await w.context.newPage();
  await popup.setViewportSize({ width: 380, height: 600 });
  await popup.goto(`chrome-extension://${EXTENSION_ID}/popup.html?tab=${tab}`);
  await popup.waitForSelector("body[data-ready='1']");
  await waitFor(() => popup.$$eval(".stale", (e) => e.length === 0), "live data");
  await popup.waitForSelector("section.share-link button:not([disabled])");
  assert.equal(await popup.getAttribute("html", "lang"), "ko");
  assert.equal(await popup.textContent("h1"), "Preview Switch");
  assert.equal(await popup.textContent("section.share-link .notice-text"), "이 링크는 courses-fe PR 123을(를) 요청합니다");
  assert.equal(await popup.textContent("#opt-courses_fe-link-t123"), "이 탭");
  assert.equal(await popup.textContent("#opt-courses_fe-link-d123"), "이 도메인");
  assert.equal(await popup.textContent("section.current h2"), "이 탭의 라우팅");
  assert.equal(await popup.textContent("section.current .status"), "dev");
  assert.equal(await popup.getAttribute("#filter", "placeholder"), "서비스, PR, 제목, 브랜치, 이미지 태그");
  await popup.screenshot({ path: path.join(ARTIFACTS, "popup-ko.png") });

  await popup.click("#opt-courses_fe-link-t123");
  await waitFor(async () => {
    const seen = await page.textContent("#echo").then(JSON.parse).catch(() => ({}));
    return seen.routed_to === "courses-fe-pr-123";
  }, "the tab to reload onto PR 123");
  await waitFor(async () => (await popup.textContent("section.current .status")) === "PR 123 · 이 탭만", "the top to say so in Korean");
  assert.equal(await popup.textContent("#opt-courses_fe-dev"), "dev로 되돌리기");
  await popup.close();
  await page.close();
});
