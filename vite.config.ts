import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { VitePWA } from 'vite-plugin-pwa';
import type { Plugin } from 'vite';

// Content-Security-Policy. The build carries it as a <meta> in index.html (so any static host
// serves it), and `vite preview` also sends it as a header (which reaches the workers too).
// - script-src: our own bundles only; 'wasm-unsafe-eval' lets onnxruntime-web compile WebAssembly.
// - worker-src: the model and vision workers and the service worker are same-origin; blob: for
//   workers a library may spawn from a Blob.
// - connect-src: the model-URL feature fetches Hugging Face repos (huggingface.co, which redirects
//   to cdn-lfs*.hf.co / cas-bridge.xethub.hf.co) AND any https URL the user types for one
//   .gguf/.bin/.nibble file (plus http on loopback: src/worker/sources/resolve.ts). A host list
//   cannot name a user's URL, so connect-src allows `https:` and loopback http; nothing else.
// - connect-src blob:: the vision worker fetches the user's dropped files by their blob: URLs.
// - img-src: data: for the inline icon, blob: for downloads and screenshots.
// Model-provided strings are never rendered as HTML (eslint forbids innerHTML and
// dangerouslySetInnerHTML in src/ui), so no inline script or style is ever needed.
// Dev (vite serve) adds what HMR needs: React refresh's inline preamble, injected <style> tags
// and the HMR websocket; the build and preview get the strict policy.
const CSP_DIRECTIVES = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self' blob:",
  "connect-src 'self' blob: https: http://localhost:* http://127.0.0.1:*",
  "img-src 'self' data: blob:",
  "object-src 'none'",
  "base-uri 'none'",
];
export const CONTENT_SECURITY_POLICY = CSP_DIRECTIVES.join('; ');
const DEV_CSP = CSP_DIRECTIVES.map((d) =>
  d.startsWith('script-src')
    ? `${d} 'unsafe-inline'`
    : d.startsWith('connect-src')
      ? `${d} ws://localhost:* ws://127.0.0.1:*`
      : d,
)
  .concat("style-src 'self' 'unsafe-inline'")
  .join('; ');

function contentSecurityPolicy(): Plugin {
  return {
    name: 'nibble-csp',
    transformIndexHtml: {
      order: 'post',
      handler: (_html, ctx) =>
        ctx.server
          ? []
          : [
              {
                tag: 'meta',
                attrs: { 'http-equiv': 'Content-Security-Policy', content: CONTENT_SECURITY_POLICY },
                injectTo: 'head-prepend',
              },
            ],
    },
    configureServer: (server) => {
      server.middlewares.use((_req, res, next) => {
        res.setHeader('Content-Security-Policy', DEV_CSP);
        next();
      });
    },
    configurePreviewServer: (server) => {
      server.middlewares.use((_req, res, next) => {
        res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
        next();
      });
    },
  };
}

// Offline: a Workbox service worker (generateSW) precaches the app shell, both workers, the ORT
// wasm runtime and the embedded models and data, so after one visit the app loads and chats with
// the network off. It is registered by src/ui/offline/ (production builds only) and takes over
// at once (skipWaiting + clientsClaim). Source maps are not precached.
const PRECACHE_MAX_BYTES = 40 * 1024 * 1024; // the ORT wasm runtime alone is ~14 MB

export default defineConfig({
  plugins: [
    contentSecurityPolicy(),
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
