// Loads the wasm and hands over to it; all logic lives in Rust.
import init, { start_options } from "./pkg/preview_switch_extension.js";

init({ module_or_path: chrome.runtime.getURL("pkg/preview_switch_extension_bg.wasm") })
  .then(start_options)
  .catch((e) => {
    document.getElementById("status").textContent = chrome.i18n.getMessage("failed_to_start", [String(e)]);
  });
