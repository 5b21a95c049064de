import preact from "@preact/preset-vite";
import { defineConfig } from "vitest/config";

// Two pages: the console (index.html) and the API reference (docs.html, served at /docs).
// Everything is bundled: the console loads nothing from a CDN at run time.
export default defineConfig({
  plugins: [preact()],
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    chunkSizeWarningLimit: 1500, // the API reference page (Swagger UI) is one large, lazily visited chunk
    rollupOptions: {
      input: {
        index: new URL("index.html", import.meta.url).pathname,
        docs: new URL("docs.html", import.meta.url).pathname,
      },
    },
  },
  test: { include: ["test/**/*.test.ts"], environment: "node" },
});
