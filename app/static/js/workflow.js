// Draws the workflow diagram (<pre class="mermaid">) with the locally served Mermaid.
(function () {
  "use strict";
  if (typeof window.mermaid === "undefined") {
    return; // Without the script the table below the diagram carries the same content.
  }
  window.mermaid.initialize({ startOnLoad: false, securityLevel: "strict" });
  window.mermaid.run({ querySelector: "pre.mermaid" });
})();
