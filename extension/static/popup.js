// Loads the wasm and hands over to it; all logic lives in Rust. The marks let the
// end-to-end suite split popup-open-to-rows into loading and rendering.
import init, { start_popup } from "./pkg/preview_switch_extension.js";

init({ module_or_path: chrome.runtime.getURL("pkg/preview_switch_extension_bg.wasm") })
  .then(() => {
    performance.mark("wasm-ready");
    start_popup();
  })
  .catch((e) => {
    document.getElementById("app").textContent = chrome.i18n.getMessage("failed_to_start", [String(e)]);
  });
