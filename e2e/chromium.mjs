// The real toolbar popup in Chromium for the end-to-end suite: the action clicked through
// CDP (`Extensions.triggerAction` on the browser's own session, for one tab, as a user's
// click: it grants activeTab), the popup found among the browser's targets and driven over
// its own CDP session (it is not a Playwright page), with trusted mouse input, which
// `permissions.request` needs.
import { EXTENSION_ID, waitFor } from "./harness.mjs";

const POPUP_URL = `chrome-extension://${EXTENSION_ID}/popup.html`;

/** The browser-level CDP session (Target and Extensions domains), opened once. */
async function browserSession(w) {
  if (!w.cdp) {
    const browser = w.context.browser();
    if (!browser) throw new Error("Playwright gave no browser for the persistent context");
    w.cdp = await browser.newBrowserCDPSession();
    w.cdpReplies = new Map();
    w.cdp.on("Target.receivedMessageFromTarget", ({ sessionId, message }) => {
      const reply = JSON.parse(message);
      w.cdpReplies.get(`${sessionId}/${reply.id}`)?.(reply);
    });
  }
  return w.cdp;
}

/** The open popup targets of the extension. */
async function popupTargets(w) {
  const cdp = await browserSession(w);
  const { targetInfos } = await cdp.send("Target.getTargets");
  return targetInfos.filter((t) => t.type === "page" && t.url.startsWith(POPUP_URL));
}

/**
 * Clicks the toolbar action for `page`'s tab and waits until the real popup has started.
 * Returns `{clickedAt, popup}`: the click's time (ms since the epoch) and the popup, with
 * `eval(fn, arg)` (runs `fn(document, window, arg)` in it), `click(selector)` and `close()`.
 */
export async function openRealPopup(w, page) {
  await closeRealPopup(w);
  const cdp = await browserSession(w);
  // Only when needed: with the permission prompt up, activating a tab never returns.
  if ((await page.evaluate(() => document.visibilityState)) !== "visible") await page.bringToFront();
  const { targetInfos } = await cdp.send("Target.getTargets", { filter: [{ type: "tab" }] });
  const tab = targetInfos.find((t) => t.url === page.url());
  if (!tab) throw new Error(`no tab target for ${page.url()}`);
  const clickedAt = Date.now();
  await cdp.send("Extensions.triggerAction", { id: EXTENSION_ID, targetId: tab.targetId });
  return { clickedAt, popup: await attachRealPopup(w) };
}

/** The real popup once it is open (opened by a click, or by the extension itself). */
export async function attachRealPopup(w) {
  const cdp = await browserSession(w);
  const [target] = await waitFor(async () => {
    const found = await popupTargets(w);
    return found.length && found;
  }, "the popup to open");
  const { sessionId } = await cdp.send("Target.attachToTarget", { targetId: target.targetId, flatten: false });
  let next = 0;
  const send = (method, params = {}) => new Promise((resolve, reject) => {
    const id = ++next;
    // A popup that closed meanwhile never answers.
    const timer = setTimeout(() => {
      w.cdpReplies.delete(`${sessionId}/${id}`);
      reject(new Error(`${method}: no answer from the popup in 10 s (closed?)`));
    }, 10_000);
    w.cdpReplies.set(`${sessionId}/${id}`, (reply) => {
      clearTimeout(timer);
      w.cdpReplies.delete(`${sessionId}/${id}`);
      if (reply.error) reject(new Error(`${method}: ${reply.error.message}`));
      else resolve(reply.result);
    });
    cdp.send("Target.sendMessageToTarget", { sessionId, message: JSON.stringify({ id, method, params }) }).catch(reject);
  });
  const popup = {
    eval: async (fn, arg) => {
      const { result, exceptionDetails } = await send("Runtime.evaluate", {
        expression: `(${fn})(document, window, ${JSON.stringify(arg)})`,
        awaitPromise: true,
        returnByValue: true,
      });
      if (exceptionDetails) throw new Error(`in the popup: ${exceptionDetails.exception?.description ?? exceptionDetails.text}`);
      return result.value;
    },
    /** A real mouse click at the middle of `selector`: trusted input, a user gesture. */
    click: async (selector) => {
      // As a user would: scroll the target into the popup's view (600 px at most), and aim
      // once it stopped moving (a late answer, such as the environments line, shifts rows).
      const where = () => popup.eval((d, win, sel) => {
        const e = d.querySelector(sel);
        e?.scrollIntoView({ block: "nearest", behavior: "instant" });
        const r = e?.getBoundingClientRect();
        return r && { x: r.x + r.width / 2, y: r.y + r.height / 2 };
      }, selector);
      let at = await where();
      for (let i = 0; at && i < 20; i++) {
        await new Promise((r) => setTimeout(r, 50));
        const again = await where();
        if (again && again.x === at.x && again.y === at.y) break;
        at = again;
      }
      if (!at) throw new Error(`no ${selector} in the popup`);
      await send("Input.dispatchMouseEvent", { type: "mousePressed", x: at.x, y: at.y, button: "left", clickCount: 1 });
      // The click may close the popup (Chromium does, for its permission prompt) before
      // the popup answers: then the click was delivered.
      let answered = false;
      const closed = waitFor(async () => answered || !(await realPopupOpen(w)), "the popup to close", 10_000);
      const released = send("Input.dispatchMouseEvent", { type: "mouseReleased", x: at.x, y: at.y, button: "left", clickCount: 1 })
        .finally(() => { answered = true; });
      released.catch(() => {});
      await Promise.race([released, closed]);
    },
    close: () => closeRealPopup(w),
  };
  await waitFor(() => popup.eval((d) => d.body?.dataset.ready === "1"), "the real popup to start");
  return popup;
}

/** Whether a real popup is open. */
export async function realPopupOpen(w) {
  return (await popupTargets(w)).length > 0;
}

/** Closes the real popup, if open. */
export async function closeRealPopup(w) {
  const cdp = await browserSession(w);
  for (const t of await popupTargets(w)) await cdp.send("Target.closeTarget", { targetId: t.targetId }).catch(() => {});
  await waitFor(async () => (await popupTargets(w)).length === 0, "the popup to close");
}
