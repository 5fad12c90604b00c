import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The bundle goes inside the Python package, so `seamline serve` (and a wheel) finds it beside
// its code. It is built, never committed (see docs/console.md).
export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "../src/seamline/console_static",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    chunkSizeWarningLimit: 700,
  },
  server: {
    // `npm run dev` against a `seamline serve` on the default port.
    proxy: {
      "/api": "http://127.0.0.1:8088",
      "/v1": "http://127.0.0.1:8088",
    },
  },
});
