// The popup in Korean (issue 14): Chromium run with `--lang=ko` (chrome.i18n follows it;
// getUILanguage stays the OS's), then Firefox with Debian's Korean language pack; in each a
// fresh profile with the extension, and a share link opened there: the popup leads with the
// link's request in Korean, and one click routes.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";
import { ARTIFACTS, EXTENSION_ID, start, startFirefox, stop, visit, waitFor } from "./harness.mjs";
import { answerPermissionPrompt, closeRealPopup, openRealPopup, permissionPrompt } from "./firefox.mjs";

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

test("Firefox in Korean: the real toolbar popup follows a share link in Korean, one click (and the access prompt) routes the tab", async () => {
  const ff = await startFirefox({ lang: "ko" });
  try {
    assert.equal(await ff.inExtension(() => browser.i18n.getUILanguage()), "ko");
    const page = await ff.browser.newPage();
    const url = ff.site("courses-fe", "/catalog?preview-switch=courses-fe:123");
    assert.equal((await visit(page, url)).backend, "dev", "the link alone routes nothing");
    const { popup } = await openRealPopup(ff, page);
    await waitFor(() => popup.eval((d) => !!d.querySelector("section.share-link button:not([disabled])")), "the link's offer");
    const shown = await popup.eval((d) => ({
      lang: d.documentElement.lang,
      asks: d.querySelector("section.share-link .notice-text")?.textContent,
      tab: d.getElementById("opt-courses_fe-link-t123")?.textContent,
      domain: d.getElementById("opt-courses_fe-link-d123")?.textContent,
      current: d.querySelector("section.current h2")?.textContent,
    }));
    assert.deepEqual(shown, {
      lang: "ko",
      asks: "이 링크는 courses-fe PR 123을(를) 요청합니다",
      tab: "이 탭",
      domain: "이 도메인",
      current: "이 탭의 라우팅",
    });
    // One key on the link's "this tab": Firefox asks for access to the host (trusted input),
    // the popup says what waits, in Korean.
    await popup.eval((d) => d.getElementById("opt-courses_fe-link-t123").focus());
    await popup.press("Enter");
    await waitFor(() => permissionPrompt(ff), "Firefox's permission prompt");
    assert.match(await popup.eval((d) => d.querySelector(".access-request")?.textContent ?? ""), /브라우저가 물으면 Preview Switch의 courses-fe\.demo\.test 접근을 허용하세요/);
    await answerPermissionPrompt(ff, true);
    await waitFor(async () => {
      const seen = await page.evaluate(() => document.getElementById("echo")?.textContent).then(JSON.parse).catch(() => ({}));
      return seen.routed_to === "courses-fe-pr-123";
    }, "the tab to reload onto PR 123");
    await waitFor(async () => (await popup.eval((d) => d.querySelector("section.current .status")?.textContent)) === "PR 123 · 이 탭만", "the top to say so in Korean");
    assert.equal(await popup.eval((d) => d.getElementById("opt-courses_fe-dev")?.textContent), "dev로 되돌리기");
    await closeRealPopup(ff);
    await page.close();
  } finally {
    await stop(ff);
  }
});
