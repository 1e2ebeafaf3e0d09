// Node module hooks so `import src from './x.wgsl?raw'` works outside Vite, as it does in the app.
import { readFile } from 'node:fs/promises';

export async function resolve(specifier, context, nextResolve) {
  if (/\.wgsl\?raw$/.test(specifier)) {
    return { url: new URL(specifier, context.parentURL).href, format: 'module', shortCircuit: true };
  }
  return nextResolve(specifier, context);
}

export async function load(url, context, nextLoad) {
  if (/\.wgsl\?raw$/.test(url)) {
    const text = await readFile(new URL(url.replace(/\?raw$/, '')), 'utf8');
    return { format: 'module', source: `export default ${JSON.stringify(text)};`, shortCircuit: true };
  }
  return nextLoad(url, context);
}
