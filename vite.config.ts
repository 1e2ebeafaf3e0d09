import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { VitePWA } from 'vite-plugin-pwa';

// Offline: a Workbox service worker (generateSW) precaches the app shell, both workers, the ORT
// wasm runtime and the embedded models and data, so after one visit the app loads and chats with
// the network off. It is registered by src/ui/offline/ (production builds only) and takes over
// at once (skipWaiting + clientsClaim). Source maps are not precached.
const PRECACHE_MAX_BYTES = 40 * 1024 * 1024; // the ORT wasm runtime alone is ~14 MB

export default defineConfig({
  plugins: [
    react(),
    VitePWA({
      injectRegister: false,
      registerType: 'autoUpdate',
      includeAssets: ['icon.svg'],
      manifest: {
        name: 'nibble — small Llamas on your GPU',
        short_name: 'nibble',
        description: 'Quantize small language models on your own GPU and see what quantization does.',
        theme_color: '#5b5bd6',
        background_color: '#f5f6f8',
        display: 'standalone',
        icons: [{ src: 'icon.svg', sizes: 'any', type: 'image/svg+xml', purpose: 'any' }],
      },
      workbox: {
        globPatterns: ['**/*.{html,js,css,wasm,svg,webmanifest,bin,onnx,idx1,idx3,txt}'],
        maximumFileSizeToCacheInBytes: PRECACHE_MAX_BYTES,
        skipWaiting: true,
        clientsClaim: true,
        cleanupOutdatedCaches: true,
        navigateFallback: 'index.html',
      },
    }),
  ],
  // onnxruntime-web finds its .wasm through `new URL(…, import.meta.url)` / the ?url import in
  // src/worker/vision/vision.worker.ts; pre-bundling in dev would break those paths.
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  worker: { format: 'es' },
  build: { target: 'es2022', sourcemap: true },
  server: { port: 5173, strictPort: true },
});
