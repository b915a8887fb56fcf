// Starts the popup's critical path while its module graph loads: the compiled wasm and the
// browser reads the first render needs. popup.js hands them to Rust, which makes any missing
// one itself and takes a refused one as it takes its own. The stored keys are
// POPUP_STORED_KEYS (extension/src/lib.rs; a test holds the two equal). A classic script,
// so it runs as the page parses, before the module and its imports are fetched.
"use strict";
{
  const attempt = (start) => {
    try {
      const started = start();
      started.catch(() => {}); // a refusal is Rust's to handle (or the fallback's), not the console's
      return started;
    } catch {
      return undefined;
    }
  };
  const pinned = new URLSearchParams(location.search).has("tab");
  // Firefox's background page is a window in this process: when it has already compiled the
  // wasm, the popup instantiates that module instead of compiling its own (about half the
  // popup's start). Chromium's background is a service worker (no page to ask here), and it
  // caches the compiled code of a streaming compile itself.
  let compiled;
  try {
    compiled = chrome.extension.getBackgroundPage?.()?.previewSwitchModule;
  } catch {
    compiled = undefined;
  }
  globalThis.previewSwitchEarly = {
    module: compiled ? Promise.resolve(compiled) : attempt(() =>
      WebAssembly.compileStreaming(fetch(chrome.runtime.getURL("pkg/preview_switch_extension_bg.wasm")))),
    stored: attempt(() => chrome.storage.local.get(["settings", "last_list", "access_granted"])),
    managed: attempt(() => chrome.storage.managed.get(null)),
    tabs: pinned ? undefined : attempt(() => chrome.tabs.query({ active: true, currentWindow: true })),
  };
}
