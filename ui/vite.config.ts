// Slipway's UI build. `npm run build` writes dist/ (CMake passes --outDir
// into its build folder), which src/webui embeds in the slipway binary:
// index.html is served at / and at every client route, the files under
// static/ (hashed names) with a year's cache.
//
// `npm run dev` serves the UI with hot reload and sends every API call to a
// running `slipway server` (SLIPWAY_URL, default http://127.0.0.1:5000).
import { defineConfig } from 'vite';

const server = process.env.SLIPWAY_URL ?? 'http://127.0.0.1:5000';
const apiPrefixes = ['/api', '/ajax-api', '/get-artifact', '/graphql', '/health', '/metrics'];

export default defineConfig({
  // Preact's JSX through esbuild: no Babel, no plugin.
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    assetsDir: 'static',
    // Every asset is a file of its own: the CSP allows no data: scripts or styles.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: 'es2020',
    chunkSizeWarningLimit: 300,
  },
  server: {
    proxy: Object.fromEntries(apiPrefixes.map((prefix) => [prefix, { target: server }])),
  },
});
