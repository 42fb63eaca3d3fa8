// Writes data/sft/chat.jsonl, the conversations that chat-tune the bundled model (scripts/chat-tune-default-model.sh).
// Our own data, under the project's MIT license (LICENSE): templates written for this project, filled from word
// lists, small numbers, and sentences and poems of the training corpus (.data/corpus, fetched by
// scripts/fetch-corpus.sh; quoted under the corpus's own terms, see README "Corpus sources and licenses"). Seeded:
// rerunning it on the same corpus rewrites the same bytes.
//   node scripts/make-chat-data.mjs [conversations, default 4000]
import { readFileSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { seededRandom } from "./seeded-random.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const total = Number(process.argv[2] ?? 4000);
const { random, pick } = seededRandom(20261216);                  // seeded: same file on every run
const int = (lo, hi) => lo + Math.floor(random() * (hi - lo + 1));
const readJsonl = (file) => readFileSync(join(root, file), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));

// Sums the eval files ask stay out of training, so `dsv3 eval` after chat-tuning still measures held-out items.
const evalSums = new Set();
for (const file of ["data/eval/sums-heldout.jsonl", "data/eval/arithmetic.jsonl"])
  for (const { question } of readJsonl(file)) evalSums.add(question.match(/(\d+) \+ (\d+)/).slice(1).join("+"));

// Corpus material: Brown sentences (detokenized a little: the corpus separates punctuation by spaces) and Tang poems.
const brownSentences = readJsonl(".data/corpus/brown.jsonl").flatMap((d) => d.text.split("\n"))
  .map((s) => s.replace(/ ([,.;:?!'])/g, "$1").replace(/`` | ''/g, '"').replace(/ " /g, ' "').trim())
  .filter((s) => s.length >= 40 && s.length <= 140 && /^[A-Z][^"]*[.]$/.test(s));
const words = [...new Set(brownSentences.flatMap((s) => s.toLowerCase().match(/\b[a-z]{3,9}\b/g) ?? []))].sort();
const poems = readJsonl(".data/corpus/chinese-poetry.jsonl").map((d) => d.text.split("\n"))
  .filter((lines) => lines.length >= 3 && lines[0].length <= 12 && lines.slice(1).every((l) => l.length <= 24));

const greetings = ["Hello!", "Hi!", "Hi there.", "Hello, how are you?", "Good morning!", "Good evening.", "Hey!", "Hello there!"];
const greetReplies = ["Hello! How can I help you today?", "Hi! What would you like to talk about?",
  "Hello! I am a small language model. Ask me something.", "Hi there! How can I help?", "Good to see you. What can I do for you?"];
const thanks = ["Thank you!", "Thanks.", "Great, thanks!", "Thank you very much.", "OK, thanks."];
const thanksReplies = ["You're welcome!", "Glad I could help.", "You're welcome. Anything else?", "Happy to help."];
const goodbyes = ["Bye!", "Goodbye.", "See you later.", "That's all for now."];
const goodbyeReplies = ["Goodbye!", "Bye! Have a nice day.", "See you later!", "Goodbye, and thanks for the chat."];
const self = [
  [["Who are you?", "What are you?", "Tell me about yourself."],
    ["I am a small DeepSeek-V3 model, trained with DeepSeekV3.NET. I can chat a little, do small sums and play with words.",
      "I am a tiny language model with the DeepSeek-V3 architecture, trained from scratch by DeepSeekV3.NET."]],
  [["What is your name?", "Do you have a name?"], ["I am the bundled model of DeepSeekV3.NET.", "People call me the DeepSeekV3.NET default model."]],
  [["How big are you?", "How many parameters do you have?"],
    ["About 17.7 million parameters: 14.7 million in the main model and 3 million in the MTP module.",
      "I have about 17.7 million parameters, tiny next to DeepSeek-V3's 671 billion."]],
  [["What were you trained on?", "What data did you learn from?"],
    ["The Brown corpus of American English and a selection of Tang poems, then a few thousand short conversations.",
      "English text from the Brown corpus, Chinese Tang poems, and short chat examples."]],
  [["Who made you?", "Who trained you?"], ["I was trained with DeepSeekV3.NET, a C# implementation of DeepSeek-V3, on a small CPU machine."]],
  [["What can you do?", "How can you help me?"],
    ["I can greet you, answer questions about myself, add and subtract small numbers, spell, reverse and count words, and recite lines of Tang poems.",
      "Small things: short sums, spelling and reversing words, counting letters, and a few lines of poetry."]],
  [["Are you human?", "Are you a person?"], ["No, I am a language model: a program that predicts text.", "No. I am a small computer model of language."]],
  [["Can you make mistakes?", "Are you always right?"], ["Yes, I make mistakes often. I am a very small model, so check what I say.",
    "No. I am tiny and often wrong."]],
];
const impossible = [
  [["What is the weather today?", "Will it rain tomorrow?", "What is the temperature outside?"],
    "I can't know that: I have no access to the weather, the internet or the current date."],
  [["What time is it?", "What is today's date?"], "I can't tell: I have no clock and no calendar."],
  [["Open the door for me.", "Turn on the lights.", "Call my mother."], "I can't do that: I am only a text model and cannot act in the world."],
  [["Send an email to my boss.", "Book a flight to Paris for me."], "I can't do that: I have no access to email, websites or other services."],
  [["What is the last digit of pi?", "Tell me the largest number."], "There is none: that question has no answer."],
  [["What am I thinking right now?", "What is my name?"], "I can't know that. I only see the text you write to me."],
  [["Predict the lottery numbers.", "Which stock will go up tomorrow?"], "I can't predict that. Nobody can know it in advance."],
  [["Draw me a picture of a cat.", "Show me a photo."], "I can't: I can only write text."],
];

const spell = (w) => w.split("").join("-");
const reverse = (w) => w.split("").reverse().join("");
const sum = () => {
  for (;;) {
    const a = random() < 0.5 ? int(0, 9) : int(10, 99), b = random() < 0.5 ? int(0, 9) : int(10, 99);
    if (!evalSums.has(`${a}+${b}`)) return [a, b];
  }
};
const arithmetic = () => {
  const kind = int(0, 2);
  if (kind === 0) {
    const [a, b] = sum();
    return [pick([`What is ${a} + ${b}?`, `What is ${a} plus ${b}?`, `Add ${a} and ${b}.`]), `${a} + ${b} = ${a + b}.`, a + b];
  }
  if (kind === 1) {
    const a = int(5, 99), b = int(0, a);
    return [pick([`What is ${a} - ${b}?`, `What is ${a} minus ${b}?`]), `${a} - ${b} = ${a - b}.`, a - b];
  }
  const a = int(2, 9), b = int(2, 9);
  return [pick([`What is ${a} times ${b}?`, `What is ${a} x ${b}?`]), `${a} x ${b} = ${a * b}.`, a * b];
};
const wordTask = () => {
  const w = pick(words);
  switch (int(0, 4)) {
    case 0: return [pick([`Spell the word "${w}".`, `How do you spell ${w}?`]), `${w}: ${spell(w)}.`, w];
    case 1: return [pick([`Reverse the word "${w}".`, `Write "${w}" backwards.`]), `"${w}" backwards is "${reverse(w)}".`, w];
    case 2: return [pick([`How many letters are in "${w}"?`, `Count the letters in the word ${w}.`]), `"${w}" has ${w.length} letters.`, w];
    case 3: return [`What is the first letter of "${w}"?`, `The first letter of "${w}" is "${w[0]}".`, w];
    default: return [`Write "${w}" in capital letters.`, `${w.toUpperCase()}`, w];
  }
};
const corpusTask = () => {
  if (random() < 0.5) {
    const [title, ...lines] = pick(poems);
    return random() < 0.5
      ? [pick([`Recite the first line of the poem ${title}.`, `How does the poem ${title} begin?`]), lines[0]]
      : [`Which poem begins with ${lines[0]}`, `That is the beginning of ${title}.`];
  }
  const s = pick(brownSentences), n = s.split(" ").length;
  return random() < 0.5
    ? [pick(["How many words are in this sentence: ", "Count the words: "]) + s, `It has ${n} words.`]
    : [`What is the last word of this sentence: ${s}`, `The last word is "${s.split(" ").at(-1).replace(/[.]$/, "")}".`];
};

// Follow-ups refer back to the previous answer, so the model learns to use earlier turns.
const followUp = (kind, memory) => {
  if (kind === "arithmetic") {
    const c = int(1, 9);
    return pick([[`And if you add ${c} to that?`, `${memory} + ${c} = ${memory + c}.`], [`Now double it.`, `${memory} x 2 = ${memory * 2}.`]]);
  }
  return pick([[`Now reverse it.`, `"${memory}" backwards is "${reverse(memory)}".`], [`And how many letters does it have?`, `"${memory}" has ${memory.length} letters.`]]);
};

const conversation = () => {
  const messages = [];
  const say = (user, assistant) => messages.push({ role: "user", content: user }, { role: "assistant", content: assistant });
  if (random() < 0.2) messages.push({ role: "system", content: pick(["You are a helpful assistant.", "You are a small, friendly model. Answer briefly."]) });
  if (random() < 0.35) say(pick(greetings), pick(greetReplies));
  const turns = int(1, 3);
  for (let t = 0; t < turns; t++) {
    const r = random();
    if (r < 0.15) { const [qs, as] = pick(self); say(pick(qs), pick(as)); }
    else if (r < 0.25) { const [qs, a] = pick(impossible); say(pick(qs), a); }
    else if (r < 0.5) {
      const [q, a, memory] = arithmetic(); say(q, a);
      if (random() < 0.3) say(...followUp("arithmetic", memory));
    } else if (r < 0.75) {
      const [q, a, memory] = wordTask(); say(q, a);
      if (random() < 0.3) say(...followUp("word", memory));
    } else say(...corpusTask());
  }
  if (random() < 0.25) say(pick(thanks), pick(thanksReplies));
  else if (random() < 0.1) say(pick(goodbyes), pick(goodbyeReplies));
  return { messages };
};

const rows = Array.from({ length: total }, conversation);
const file = join(root, "data/sft/chat.jsonl");
mkdirSync(dirname(file), { recursive: true });
writeFileSync(file, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
console.log(`data/sft/chat.jsonl: ${rows.length} conversations (${words.length} words, ${brownSentences.length} sentences, ${poems.length} poems to draw from)`);
