#!/usr/bin/env node
// Builds the tokenizer parity text (tests/DeepSeekV3.Tests/Tokenization/Data/parity.txt): English licence text,
// Chinese (simplified + traditional), Japanese and Korean UI strings from this machine's gettext catalogs, code,
// numbers, emoji/ZWJ, astral characters, whitespace runs, literal special tokens and seeded random "fuzz" lines.
// Deterministic for a given machine; the committed output is what the tests use.
// usage: node make-test-text.mjs OUT.txt
import fs from 'fs';
import path from 'path';

const out = process.argv[2];
if (!out) { console.error('usage: node make-test-text.mjs OUT.txt'); process.exit(2); }
const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

let seed = 20261129;
const rand = () => { seed = (seed + 0x6D2B79F5) | 0; let t = seed; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
const pick = (a) => a[Math.floor(rand() * a.length)];
const cap = (s, n) => { const b = Buffer.from(s, 'utf8'); if (b.length <= n) return s; return b.subarray(0, n).toString('utf8').replace(/\uFFFD+$/, '').replace(/[^\n]*$/, ''); };

// msgstr strings of a GNU .mo catalog (UTF-8 catalogs only).
function moStrings(file) {
  const b = fs.readFileSync(file);
  const le = b.readUInt32LE(0) === 0x950412de;
  const u32 = (o) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const n = u32(8), tOff = u32(16);
  const res = [];
  for (let i = 0; i < n; i++) res.push(b.subarray(u32(tOff + 8 * i + 4), u32(tOff + 8 * i + 4) + u32(tOff + 8 * i)).toString('utf8'));
  if (!/charset=UTF-8/i.test(res[0] ?? '')) return [];
  return res.slice(1).flatMap((s) => s.split('\0')).filter((s) => s.trim().length > 0);
}
function catalogText(lang, bytes) {
  const dir = `/usr/share/locale/${lang}/LC_MESSAGES`;
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.mo')).sort();
  let text = '';
  for (const f of files) { for (const s of moStrings(path.join(dir, f))) text += s.endsWith('\n') ? s : s + '\n'; if (text.length > bytes) break; }
  return cap(text, bytes);
}

const sections = [];
sections.push(cap(fs.readFileSync('/usr/share/common-licenses/GPL-3', 'utf8'), 36000));
sections.push(cap(fs.readFileSync('/usr/share/common-licenses/Apache-2.0', 'utf8'), 12000));
for (const lang of ['zh_CN', 'zh_TW', 'ja', 'ko']) sections.push(catalogText(lang, 38000));
const code = ['src/DeepSeekV3/Tokenization/RegexPreTokenizer.cs', 'src/DeepSeekV3/Tokenization/BpeModel.cs', 'scripts/test.sh',
  'tools/tokenizer-reference/make-test-text.mjs'];
for (const f of code) sections.push(fs.readFileSync(path.join(repo, f), 'utf8'));

// Numbers in many shapes.
let nums = '';
for (let i = 0; i < 400; i++) {
  const d = Math.floor(rand() * 10 ** (1 + Math.floor(rand() * 12)));
  nums += pick([`${d}`, `${d}.${Math.floor(rand() * 1000)}`, `-${d}`, `$${d},${String(d).padStart(3, '0').slice(-3)}`, `v${d % 10}.${d % 7}.${d % 13}`,
    `${d}%`, `１２３${d}`, `٣٤٥${d % 100}`, `${d}e-${d % 9}`, `0x${d.toString(16)}`, `${d}年${d % 12 + 1}月`]) + pick([' ', ', ', '\n', '  ', '\t']);
}
sections.push(nums + '\n');

// Hand-made edge cases.
sections.push([
  'Family: 👨‍👩‍👧‍👦 and 👩🏽‍💻 and 🏳️‍🌈 and flags 🇫🇷🇯🇵 and keycap 1️⃣ and 🍕 " 🍕" "🍕🍕"',
  'Astral: 𠀀𠀁𪚥 𝐀𝐁𝐂 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 🀄 𐍈 𝟘𝟙𝟚 a𝐀b 中𠀀文 😀!',
  'Combining: e\u0301 n\u0303 a\u030A\u0323 Z\u0351\u0352\u0353 ก\u0e35 क्षि',
  'RTL: مرحبا بالعالم ١٢٣ — שלום עולם',
  'Scripts: Привет мир; Γειά σου; नमस्ते दुनिया; สวัสดีชาวโลก; ሰላም; ᐊᐃᐅ',
  'Korean: 안녕하세요 세계! 한국어 텍스트 123개',
  'Japanese: こんにちは世界、カタカナとひらがな。ﾊﾝｶｸｶﾀｶﾅ ｱｲｳ',
  'Whitespace:\t\ttabs   spaces\u00A0nbsp\u3000ideographic\u2003em\u200Bzw\u200Dzwj\u00ADshy\u000Bvt\u000Cff end   ',
  'CRLF line\r\nCR only\rand LF\n',
  'trailing spaces    \n    \n\n\n\t\n \n',
  'Specials: <｜begin▁of▁sentence｜>hi<｜end▁of▁sentence｜><｜▁pad▁｜> <｜User｜>q<｜Assistant｜>a<|EOT|>',
  'FIM: <｜fim▁begin｜>def f(x):<｜fim▁hole｜>    return y<｜fim▁end｜>',
  'Tools: <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get<｜tool▁call▁end｜><｜tool▁calls▁end｜><｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>{}<｜tool▁output▁end｜><｜tool▁outputs▁end｜>',
  'Near misses: <｜User|> <|User|> <｜user｜> <｜place▁holder▁no▁799｜><｜place▁holder▁no▁800｜> <｜fim▁begin｜ <<｜User｜>> ｜User｜',
  'Adjacent: <｜User｜><｜User｜><｜Assistant｜><｜User｜>  <｜User｜>\n<｜Assistant｜>\n\n',
  'Punct: "quoted", (paren), [brackets], {braces}; a.b.c... !!!??? ——— 。。。！？ 「」『』【】 ¿¡ « » „“ ‘’ … ·',
  'Symbols: ©®™ ±×÷ ≤≥≠ ∑∏√∞ €£¥₹ ←↑→↓ ♠♥♦♣ ☃☂ ✓✗ ⌘⌥ °C ½ ¾',
  'Control: a\u0001b\u0007c\u001Bd\u007Fe\u0085f',
  'Mixed: Hello, world! 你好，世界。 12345 def foo(x): return x**2',
  'Code-ish: foo_bar=baz->qux::quux<T>(a,b)?.c!;i++;--j;x>>=2;y||=z;`cmd`;$HOME/~user#tag@host',
  'Long word: ' + 'supercalifragilisticexpialidocious'.repeat(8) + ' ' + '中文'.repeat(60) + ' ' + '1234567890'.repeat(10),
].join('\n') + '\n');

// Seeded fuzz from a pool of characters of many classes.
const pool = [...'abcXYZ019 \t\n\r.,;:!?\'"-_()[]{}<>/\\|@#$%^&*+=~`', ...'éüßñçøåœ', ...'中文字词语汉你好世界的一是', ...'ひらがなカタカナー',
  ...'한국어글', ...'，。！？、「」', ...'\u00A0\u3000\u2009\u200B\u200D\u0301\u0308', ...'٣١२३', ...'αβγДЖש', ...['🍕', '😀', '👍🏿', '𠀀', '𝐀', '🇯🇵', '❤️', '‍'],
  '<｜User｜>', '<｜Assistant｜>', '<｜fim▁hole｜>', '<|EOT|>', '<｜', '｜>', '▁', 'Ġ', 'Ċ'];
let fuzz = '';
for (let i = 0; i < 600; i++) { const n = 1 + Math.floor(rand() * 60); let line = ''; for (let j = 0; j < n; j++) line += pick(pool); fuzz += line + '\n'; }
sections.push(fuzz);

const text = sections.join('\n');
fs.writeFileSync(out, text);
console.error(`${out}: ${Buffer.byteLength(text)} bytes, ${text.split('\n').length} lines`);
