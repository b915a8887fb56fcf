// Debian's Firefox ESR for the end-to-end world (harness.mjs), driven over WebDriver BiDi by
// puppeteer-core (which downloads no browser): dist/firefox as a temporary add-on, exactly
// as built; the companion registered by the real `preview-switch install --browser firefox`
// into the suite's HOME, where Firefox looks for it. With `--remote-allow-system-access`
// the suite also reaches the browser's own window (chrome scope): it clicks the toolbar
// action as a user does, answers the real permission prompt and reads the rendered badge.
// PLATFORM.md F has the facts behind each step.
import fs from "node:fs";
import path from "node:path";
import puppeteer from "puppeteer-core";
import { GECKO_ID, ROOT, waitFor } from "./harness.mjs";

const FIREFOX = process.env.FIREFOX ?? "/usr/bin/firefox-esr";
/** Pinned, so moz-extension://<UUID>/ is known before the add-on is installed. */
export const UUID = "5e1f3c2a-7b9d-4e0f-8a6b-1c2d3e4f5a6b";
export const BASE = `moz-extension://${UUID}`;
// The toolbar button's widget: the add-on id lower-cased, other characters as `_`.
const WIDGET = `${GECKO_ID.toLowerCase().replace(/[^a-z0-9_-]/g, "_")}-browser-action`;
// The demo's hosts the scenarios visit (Firefox has no host-resolver rule with wildcards).
const HOSTS = ["courses-fe.demo.test", "checkout-api.demo.test", "docs.test"];

export async function setUpFirefox(w, lang) {
  if (!fs.existsSync(FIREFOX)) throw new Error(`${FIREFOX} is missing: run \`make setup\` (installs Debian's firefox-esr)`);
  // Firefox shows its UI (and gives extensions, through i18n) a language only with its
  // language pack, which Debian ships beside the browser (firefox-esr-l10n-<lang>) in the
  // application's scope; the requested locale picks it.
  const langPack = lang && `/usr/lib/firefox-esr/browser/extensions/langpack-${lang}@firefox-esr.mozilla.org.xpi`;
  if (langPack && !fs.existsSync(langPack)) throw new Error(`${langPack} is missing: run \`make setup\` (installs Debian's firefox-esr-l10n-${lang})`);
  w.browserName = "firefox";
  w.caller = GECKO_ID;
  w.hostArgs = ["--browser", "firefox"];
  w.installHost();
  w.browser = await puppeteer.launch({
    browser: "firefox",
    executablePath: FIREFOX,
    headless: process.env.E2E_HEADED !== "1",
    // Firefox >= 153 refuses WebDriver navigation to moz-extension:// and hides its own
    // window without it.
    args: ["--remote-allow-system-access"],
    env: { ...process.env, ...w.companionEnv, HOME: w.home },
    extraPrefsFirefox: {
      "extensions.webextensions.uuids": JSON.stringify({ [GECKO_ID]: UUID }),
      "network.dns.localDomains": HOSTS.join(","),
      ...(lang ? { "intl.locale.requested": lang } : {}),
    },
    protocolTimeout: 60_000,
  });
  const id = await w.browser.installExtension(path.join(ROOT, "dist/firefox"));
  if (id !== GECKO_ID) throw new Error(`Firefox installed the add-on as ${id}, not ${GECKO_ID}`);
  const bidi = w.browser.connection;
  // An extension page kept open in a background tab: it asks the extension's APIs what
  // the scenarios check (tabs, rules, badge) and reads the real popup's DOM.
  w.ext = await w.browser.newPage();
  await navigate(w, w.ext, `${BASE}/options.html`);
  w.inExtension = (fn, arg) => w.ext.evaluate(fn, arg);

  const tree = await bidi.send("browsingContext.getTree", { "moz:scope": "chrome" });
  const chromeWindow = tree.result.contexts.find((c) => c.url === "chrome://browser/content/browser.xhtml");
  if (!chromeWindow) throw new Error("no browser window in chrome scope: is --remote-allow-system-access set?");
  /** Evaluates `expression` in the browser window's own scope (its privileged JS). */
  w.chromeEval = async (expression) => {
    const { result } = await bidi.send("script.evaluate", {
      expression,
      target: { context: chromeWindow.context },
      awaitPromise: true,
      resultOwnership: "none",
    });
    if (result.type === "exception") throw new Error(`chrome scope: ${result.exceptionDetails.text}`);
    return result.result.value;
  };
}

/** Loads `url` in `page`. page.goto never sees a moz-extension:// page's load event in
 * Firefox 153 (PLATFORM F), so the BiDi command itself is sent. */
export async function navigate(w, page, url) {
  await w.browser.connection.send("browsingContext.navigate", {
    context: page.mainFrame()._id,
    url,
    wait: "complete",
  });
}

/** The tab id the extension knows `page` by: the active tab once `page` is brought to the
 * front (without host access the extension is not told a tab's URL). */
export async function tabIdOf(w, page) {
  await page.bringToFront();
  const tabs = await w.inExtension(() => browser.tabs.query({ active: true }));
  if (tabs.length !== 1) throw new Error(`expected one active tab, got ${JSON.stringify(tabs)}`);
  return tabs[0].id;
}

/**
 * Clicks the toolbar action as a user does (in the browser's window, for its selected tab)
 * and waits until the real popup drew its first rows or notice. Returns `{clickedAt, popup}`:
 * the click's time (ms since the epoch) and a reader of the popup's DOM.
 */
export async function openRealPopup(w, page) {
  await page.bringToFront();
  await closeRealPopup(w);
  const clickedAt = await w.chromeEval(`(async () => {
    const node = CustomizableUI.getWidget(${JSON.stringify(WIDGET)}).forWindow(window).node;
    await gUnifiedExtensions.openPanel(null, "e2e");
    const t = Date.now();
    node.querySelector(".unified-extensions-item-action-button")
      .dispatchEvent(new CustomEvent("command", { bubbles: true, cancelable: true }));
    return t;
  })()`);
  const popup = {
    /** Runs `fn(document, window)` in the real popup (from the extension's own tab). */
    eval: (fn, arg) => w.inExtension(([src, a]) => {
      const [view] = browser.extension.getViews({ type: "popup" });
      if (!view) throw new Error("no popup open");
      // eslint-disable-next-line no-new-func
      return new Function("document", "window", "arg", `return (${src})(document, window, arg);`)(view.document, view, a);
    }, [fn.toString(), arg]),
  };
  /** Presses `key` as the user's keyboard does, in the popup (trusted input: what
   * `permissions.request` needs; WebDriver cannot send input to the browser's own window). */
  popup.press = (key) => w.chromeEval(`(() => {
    document.querySelector("browser.webextension-popup-browser").focus();
    const tip = Cc["@mozilla.org/text-input-processor;1"].createInstance(Ci.nsITextInputProcessor);
    if (!tip.beginInputTransaction(window, () => true)) throw new Error("no keyboard for the popup");
    const key = new KeyboardEvent("", { key: ${JSON.stringify(key)}, code: ${JSON.stringify(key)},
      keyCode: KeyboardEvent[${JSON.stringify(`DOM_VK_${key === "Enter" ? "RETURN" : key.toUpperCase()}`)}] });
    tip.keydown(key);
    tip.keyup(key);
  })()`);
  await waitFor(() => popup.eval((d) => d.body?.dataset.ready === "1").catch(() => false), "the real popup to start");
  return { clickedAt, popup };
}

/** Closes the real popup (and the extensions panel it opened from), if open. */
export async function closeRealPopup(w) {
  await w.chromeEval(`(() => {
    for (const id of ["customizationui-widget-panel", "unified-extensions-panel"]) {
      const panel = document.getElementById(id);
      if (panel && panel.state !== "closed") panel.hidePopup();
    }
  })()`);
  await waitFor(() => w.inExtension(() => browser.extension.getViews({ type: "popup" }).length === 0), "the popup to close");
}

/** The badge Firefox draws on the toolbar button for the selected tab. */
export async function renderedBadge(w) {
  return w.chromeEval(`CustomizableUI.getWidget(${JSON.stringify(WIDGET)}).forWindow(window).node
    .querySelector(".unified-extensions-item-action-button").getAttribute("badge") ?? ""`);
}

/** The add-on permission prompt Firefox shows, as text, or "" when none is shown. */
export async function permissionPrompt(w) {
  return w.chromeEval(`(() => {
    const n = PopupNotifications.getNotification("addon-webext-permissions");
    const el = document.getElementById("addon-webext-permissions-notification");
    return n && el ? el.textContent.replace(/\\s+/g, " ").trim() : "";
  })()`);
}

/** Answers the permission prompt: Allow (`true`) or Deny. */
export async function answerPermissionPrompt(w, allow) {
  await w.chromeEval(`(() => {
    const el = document.getElementById("addon-webext-permissions-notification");
    (${allow} ? el.button : el.secondaryButton).click();
  })()`);
}
