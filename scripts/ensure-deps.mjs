// Installs dependencies when node_modules is missing or older than package-lock.json, so that
// `npm start` and `npm test` work on a fresh clone.
import { execSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';

const root = new URL('..', import.meta.url);
const marker = new URL('node_modules/.package-lock.json', root);
const lock = new URL('package-lock.json', root);
const stale = !existsSync(marker) || (existsSync(lock) && statSync(lock).mtimeMs > statSync(marker).mtimeMs + 1000);
if (stale) {
  // `npm install` rather than `npm ci`: the lock file cannot list the optional native packages of
  // other platforms (e.g. @rollup/rollup-darwin-x64) when the registry in use serves only this
  // platform's, and `npm ci` refuses such a lock; `npm install` follows the lock for the rest.
  console.error('[nibble] installing dependencies (npm install)…');
  execSync('npm install --no-audit --no-fund', { cwd: root, stdio: 'inherit' });
}
