import { defineConfig } from 'vitest/config';

// Relative asset paths (Tauri serves ui/dist from its own origin); no inline scripts or styles (strict CSP).
export default defineConfig({
  base: './',
  clearScreen: false,
  server: { strictPort: true, port: 1420 },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2021', assetsInlineLimit: 0, modulePreload: { polyfill: false } },
  test: { include: ['src/**/*.test.ts'], environment: 'node', env: { TZ: 'UTC' } },
});
