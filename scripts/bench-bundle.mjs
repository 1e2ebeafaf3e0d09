// Bundles `nibble bench` for the lent GPU machine (../shared/gpu/README.md: no npm there, only
// .gpu/ travels): .gpu/bench.mjs (everything but `webgpu`, which .gpu/setup.sh provides), the
// onnxruntime-web 1.20.1 JSEP files under .gpu/ort/, and stories260K under .gpu/.
//   node scripts/bench-bundle.mjs          (after `bash ../shared/gpu/stage.sh` filled .gpu/)
// Then, with the device tool (carry [".gpu"]):
//   source .gpu/setup.sh && NIBBLE_ORT_JSEP=.gpu/ort/ort.webgpu.min.mjs \
//     $NODE .gpu/bench.mjs --json --model .gpu/stories260K.bin > $OUT/bench.json
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, '.gpu');
mkdirSync(join(out, 'ort'), { recursive: true });

/** `import x from './a.wgsl?raw'` → the file's text, as Vite and bin/wgsl-hooks.mjs do. */
const wgslRaw = {
  name: 'wgsl-raw',
  setup(b) {
    b.onResolve({ filter: /\.wgsl\?raw$/ }, (a) => ({
      path: resolve(a.resolveDir, a.path.replace(/\?raw$/, '')),
      namespace: 'wgsl',
    }));
    b.onLoad({ filter: /.*/, namespace: 'wgsl' }, (a) => ({
      contents: `export default ${JSON.stringify(readFileSync(a.path, 'utf8'))};`,
      loader: 'js',
    }));
  },
};

await build({
  stdin: {
    contents:
      "import { runBenchCli } from './src/cli/bench.ts';\nprocess.exitCode = await runBenchCli(process.argv.slice(2), process);\n",
    resolveDir: root,
    loader: 'ts',
    sourcefile: 'bench-entry.ts',
  },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['webgpu'],
  plugins: [wgslRaw],
  outfile: join(out, 'bench.mjs'),
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
});

const ort = join(root, 'node_modules/ort-jsep/dist');
for (const f of ['ort.webgpu.min.mjs', 'ort-wasm-simd-threaded.jsep.mjs', 'ort-wasm-simd-threaded.jsep.wasm'])
  copyFileSync(join(ort, f), join(out, 'ort', f));
copyFileSync(join(root, 'public/models/stories260K.bin'), join(out, 'stories260K.bin'));
console.log(`bundled the bench into ${out}/bench.mjs (+ ort/, stories260K.bin)`);
