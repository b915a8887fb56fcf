// Service worker loader: listeners are registered synchronously (MV3 requires it) and the
// wasm is initialised lazily on the first event; all logic lives in Rust.
import init, * as wasm from "./pkg/preview_switch_extension.js";

let ready = null;
function boot() {
  ready ??= WebAssembly.compileStreaming(fetch(chrome.runtime.getURL("pkg/preview_switch_extension_bg.wasm")))
    .then((module) => {
      // Firefox's popup shares this page's process and takes the compiled module from here
      // (boot.js): instantiating it costs a few milliseconds, compiling it again tens.
      self.previewSwitchModule = module;
      return init({ module_or_path: module });
    })
    .then(() => { wasm.start_worker(); self.previewSwitchReady = true; });
  return ready;
}

chrome.runtime.onStartup.addListener(() => { boot(); });
chrome.runtime.onInstalled.addListener(() => { boot(); });
chrome.tabs.onUpdated.addListener((tabId, info, tab) => {
  if (info.status === "complete" && tab.url) boot().then(() => wasm.worker_tab_updated(tabId, tab.url));
});
chrome.tabs.onRemoved.addListener((tabId) => { boot().then(() => wasm.worker_tab_closed(tabId)); });
chrome.storage.onChanged.addListener((changes, area) => {
  if (area === "managed" || (area === "local" && "settings" in changes)) boot().then(() => wasm.worker_settings_changed());
});
chrome.notifications.onClicked.addListener((id) => { boot().then(() => wasm.worker_notification_clicked(id)); });
chrome.permissions.onAdded.addListener((added) => { boot().then(() => wasm.worker_permissions_added(added)); });
// Main-frame response headers, for whether the routed preview answered (its marker header).
// Only hosts the user allowed reach this listener.
chrome.webRequest.onHeadersReceived.addListener((d) => {
  if (d.tabId >= 0) boot().then(() => wasm.worker_response_seen(d.tabId, d.url, d.responseHeaders ?? []));
}, { urls: ["<all_urls>"], types: ["main_frame"] }, ["responseHeaders"]);
// The page ribbon's messages (back to dev, hidden) from the script the worker injects into
// tabs it routed (ribbon.js); Rust takes them only from that script (state/ribbon.rs).
chrome.runtime.onMessage.addListener((message, sender) => {
  boot().then(() => wasm.worker_ribbon_message(message, sender));
});
// What the worker runs in a routed page after ribbon.js, in the same isolated world: the
// browser sends it by its source, so it names nothing from here.
self.previewSwitchShowRibbon = (words) => globalThis.previewSwitchRibbon?.show(words) ?? 0;
chrome.commands.onCommand.addListener((command, tab) => {
  if (command === "back-to-dev" && tab?.id !== undefined && tab.url) {
    boot().then(() => wasm.worker_back_to_dev(tab.id, tab.url));
  }
});
