import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The Tauri app embeds ui/dist (tauri.conf.json: frontendDist "ui/dist").
// No inline scripts: the CSP is `default-src 'self'` for scripts.
// The app's CSP (tauri.conf.json). `vite preview` serves dist with it so the e2e tests catch violations.
const CSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src ipc: http://ipc.localhost";

export default defineConfig({
  plugins: [svelte()],
  clearScreen: false,
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // Keep all JS in files (CSP forbids inline scripts); small assets may be data: URIs (img-src allows data:).
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
  server: { port: 5173, strictPort: true },
  preview: { port: 4173, strictPort: true, headers: { 'Content-Security-Policy': CSP } },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
