// The console is served by `ferrite serve` under /console (crates/console embeds dist/).
import { defineConfig } from "vite";

export default defineConfig({
  base: "/console/",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // No source maps: they would double the embedded size for no user of a release.
    sourcemap: false,
    chunkSizeWarningLimit: 1024,
  },
});
