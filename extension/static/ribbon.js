// The page ribbon (issue 14 §4): "courses-fe PR 123 · back to dev" on a page of a tab the
// extension routed. The service worker injects this file into the tab's top frame, in the
// extension's isolated world (chrome.scripting), then calls previewSwitchRibbon.show(words)
// with the words already in the user's language; it decides when (state/ribbon.rs). The
// ribbon lives in a closed shadow root: the page's scripts cannot reach into it, and its
// CSS cannot restyle it (the host element's own style is ribbon.css, inserted with the
// user origin; inside, styles are set through the CSSOM, which no page CSP blocks). Words
// go in through textContent only. It tells the worker two things: back to dev, and hidden.
"use strict";
if (!globalThis.previewSwitchRibbon) {
  const HOST_ATTRIBUTE = "data-preview-switch-ribbon";
  let host = null;
  let bar = null;

  const styled = (element, styles) => {
    for (const [name, value] of Object.entries(styles)) element.style.setProperty(name, value);
    return element;
  };
  const make = (tag, text, styles) => {
    const element = styled(document.createElement(tag), styles);
    if (text !== undefined) element.textContent = text;
    return element;
  };
  const tell = (kind, service) => {
    chrome.runtime.sendMessage({ previewSwitchRibbon: kind, service }).catch(() => {});
  };
  const BUTTON = {
    all: "unset", cursor: "pointer", "border-radius": "4px", padding: "0 4px",
    "text-decoration": "underline", color: "#9cdcfe",
  };

  // One host per page: a second injection (the worker saw the page load again) reuses it.
  const mount = () => {
    if (host?.isConnected) return;
    host = document.createElement("div");
    host.setAttribute(HOST_ATTRIBUTE, "");
    const root = host.attachShadow({ mode: "closed" });
    bar = make("div", undefined, {
      display: "flex", "flex-direction": "column", gap: "2px", padding: "4px 8px",
      "border-radius": "6px", background: "#1f2328", color: "#f6f8fa",
      font: "12px/1.5 system-ui, sans-serif", "box-shadow": "0 2px 8px rgba(0, 0, 0, 0.35)",
      "color-scheme": "dark",
    });
    bar.setAttribute("role", "region");
    root.append(bar);
    document.documentElement.append(host);
  };

  const line = (words, item) => {
    const row = make("div", undefined, { display: "flex", gap: "6px", "align-items": "center" });
    const label = make("span", item.label, { "font-weight": "600" });
    label.title = item.status;
    const back = make("button", words.back, BUTTON);
    back.type = "button";
    const hide = make("button", "×", { ...BUTTON, "text-decoration": "none", color: "inherit", "font-size": "14px" });
    hide.type = "button";
    hide.title = words.dismiss;
    hide.setAttribute("aria-label", words.dismiss);
    // Only the user's own clicks: a page cannot reach these buttons, and a script's click
    // is not a user's.
    back.addEventListener("click", (event) => {
      if (!event.isTrusted) return;
      back.disabled = true;
      tell("back_to_dev", item.service);
    });
    hide.addEventListener("click", (event) => {
      if (!event.isTrusted) return;
      row.remove();
      if (!bar.childElementCount) host.remove();
      tell("dismissed", item.service);
    });
    row.append(label, make("span", "·", { opacity: "0.7" }), back, hide);
    return row;
  };

  globalThis.previewSwitchRibbon = {
    /** Shows `words.lines` (replacing what was shown) on a page of `words.host`; the number
     * of lines shown. */
    show(words) {
      if (location.hostname.toLowerCase() !== words.host || !words.lines.length) return 0;
      mount();
      bar.setAttribute("aria-label", words.title);
      bar.replaceChildren(...words.lines.map((item) => line(words, item)));
      return words.lines.length;
    },
  };
}
