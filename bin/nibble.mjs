#!/usr/bin/env node
// nibble CLI entry: TypeScript through tsx, WGSL through our ?raw hooks, then src/cli/main.ts.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('./wgsl-hooks.mjs', import.meta.url); // registered last, so it resolves `?raw` first

const { main } = await import('../src/cli/main.ts');
const code = await main(process.argv.slice(2));
process.exitCode = code;
