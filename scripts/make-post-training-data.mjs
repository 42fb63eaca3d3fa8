// Writes the small task files of `dsv3 eval`, `dsv3 sft` and `dsv3 grpo` under data/ (checked in; rerun to
// reproduce them byte for byte: the only randomness is a seeded generator).
//   node scripts/make-post-training-data.mjs
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { seededRandom } from "./seeded-random.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { random, pick } = seededRandom(20261204);                  // seeded: same files on every run
const shuffle = (list) => { for (let i = list.length - 1; i > 0; i--) { const j = Math.floor(random() * (i + 1)); [list[i], list[j]] = [list[j], list[i]]; } return list; };
const write = (file, rows) => {
  const path = join(root, file);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
  console.log(`${file}: ${rows.length} lines`);
};

// One-digit sums: the 100 ordered pairs, split 70 / 30. Training (SFT, GRPO) sees only the first 70 pairs;
// evaluation asks the 30 held-out ones.
const pairs = shuffle([...Array(100).keys()].map((i) => [Math.floor(i / 10), i % 10]));
const train = pairs.slice(0, 70), heldOut = pairs.slice(70);
const question = ([a, b]) => `What is ${a} + ${b}?`;
write("data/eval/sums-heldout.jsonl", heldOut.map((p) => ({ question: question(p), answer: `${p[0]} + ${p[1]} = ${p[0] + p[1]} #### ${p[0] + p[1]}` })));
write("data/grpo/sums-train.jsonl", train.map((p) => ({ question: question(p), answer: `${p[0] + p[1]}` })));
// SFT: each training pair twice, the answer alone (the format GRPO's reward asks for), in random order.
write("data/sft/sums-chat.jsonl", shuffle([...train, ...train]).map((p) => ({
  messages: [{ role: "user", content: question(p) }, { role: "assistant", content: `${p[0] + p[1]}` }],
})));

// Two-digit sums (GSM8K-style answers with "#### N"): harder, for base models with few-shot prompts.
write("data/eval/arithmetic.jsonl", [...Array(100)].map(() => {
  const a = 10 + Math.floor(random() * 90), b = 10 + Math.floor(random() * 90);
  return { question: `What is ${a} + ${b}?`, answer: `${a} + ${b} = ${a + b} #### ${a + b}` };
}));

// Multiple choice from small word lists: order, opposites, categories, comparisons.
const days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const opposites = [["hot", "cold"], ["up", "down"], ["old", "young"], ["big", "small"], ["day", "night"], ["fast", "slow"],
  ["happy", "sad"], ["early", "late"], ["open", "closed"], ["light", "dark"], ["rich", "poor"], ["wet", "dry"]];
const animals = ["dog", "horse", "cat", "cow", "bird", "fish", "sheep", "lion"];
const things = ["table", "window", "river", "stone", "chair", "letter", "bridge", "paper"];
const choice = (q, right, wrong) => {
  const choices = shuffle([right, ...wrong]);
  return { question: q, choices, answer: choices.indexOf(right) };
};
const others = (list, keep, n) => shuffle(list.filter((x) => x !== keep)).slice(0, n);
const choiceItems = [];
for (let i = 0; i < 25; i++) {
  const d = Math.floor(random() * 7), next = days[(d + 1) % 7];
  choiceItems.push(choice(`Which day comes after ${days[d]}?`, next, others(days, next, 3)));
  const m = Math.floor(random() * 12), nm = months[(m + 1) % 12];
  choiceItems.push(choice(`Which month comes after ${months[m]}?`, nm, others(months, nm, 3)));
  const [w, o] = pick(opposites), wrong = others(opposites.map((x) => x[1]), o, 3);
  choiceItems.push(choice(`What is the opposite of "${w}"?`, o, wrong));
  const animal = pick(animals);
  choiceItems.push(choice("Which of these is an animal?", animal, shuffle([...things]).slice(0, 3)));
}
write("data/eval/choice.jsonl", shuffle(choiceItems));

// Perplexity: short English paragraphs written for this project (not from any corpus).
write("data/eval/text.jsonl", [
  "The morning train was late again, and the people on the platform had stopped looking at the clock. A man in a grey coat read his newspaper twice. When the train finally came, nobody said a word about the delay; they simply stepped inside and found their seats.",
  "She had planted the garden in the spring, when the ground was still soft from the rain. By the middle of summer the beans had climbed the fence and the tomatoes were heavy and red. Her neighbors came by in the evenings to ask how she had done it.",
  "The committee met on Tuesday to discuss the budget for the coming year. Several members argued that the library needed new books more than the town hall needed new chairs. After a long debate, the vote was close, and the library won.",
  "It was the coldest winter anyone in the village could remember. The river froze from bank to bank, and the children skated on it every afternoon. The old men sat by the fire and told stories about winters that had been even worse.",
  "When the letter arrived, he did not open it at once. He put it on the kitchen table and made himself a cup of tea. Only when the tea was finished did he cut the envelope and read the three short lines inside.",
  "The ship left the harbor at dawn with forty men on board. For the first week the weather was fair and the wind steady. Then the sky turned dark in the west, and the captain ordered the sails taken in before the storm could reach them.",
  "Most of the students had never seen a real telescope before. The teacher set it up in the school yard after dark and let each of them look at the moon. One boy said it looked like a plate of old cheese, and everyone laughed.",
  "The market opened at six, long before most of the city was awake. Farmers brought eggs, bread and fresh fish in wooden carts. By nine o'clock the best of everything had been sold, and the square was full of empty boxes.",
].map((text) => ({ text })));

// pass@k: small Python functions written for this project in HumanEval's format (prompt = signature and docstring,
// test = check(candidate), entry_point), each with a canonical_solution that the test suite runs in the sandbox.
const code = (name, signature, doc, body, asserts) => ({
  task_id: `dsv3/${name}`,
  prompt: `def ${name}(${signature}):\n    """${doc}"""\n`,
  canonical_solution: body.split("\n").map((line) => `    ${line}`).join("\n") + "\n",
  test: `def check(candidate):\n${asserts.map((a) => `    assert ${a}`).join("\n")}\n`,
  entry_point: name,
});
write("data/eval/code.jsonl", [
  code("add", "a, b", "Return the sum of a and b.", "return a + b", ["candidate(1, 2) == 3", "candidate(-4, 4) == 0", "candidate(10, 25) == 35"]),
  code("subtract", "a, b", "Return a minus b.", "return a - b", ["candidate(5, 3) == 2", "candidate(3, 5) == -2", "candidate(0, 0) == 0"]),
  code("square", "x", "Return x squared.", "return x * x", ["candidate(3) == 9", "candidate(-2) == 4", "candidate(0) == 0"]),
  code("is_even", "n", "Return True if n is even, otherwise False.", "return n % 2 == 0", ["candidate(4) is True", "candidate(7) is False", "candidate(0) is True"]),
  code("maximum", "numbers", "Return the largest number in the non-empty list numbers.", "return max(numbers)", ["candidate([1, 5, 3]) == 5", "candidate([-2, -9]) == -2", "candidate([7]) == 7"]),
  code("reverse", "text", "Return the string text reversed.", "return text[::-1]", ["candidate('abc') == 'cba'", "candidate('') == ''", "candidate('level') == 'level'"]),
  code("count_vowels", "text", "Return how many of the characters of text are vowels (a, e, i, o, u, lower case).", "return sum(1 for c in text if c in 'aeiou')", ["candidate('hello') == 2", "candidate('sky') == 0", "candidate('queue') == 4"]),
  code("total", "numbers", "Return the sum of the list numbers (0 for an empty list).", "return sum(numbers)", ["candidate([1, 2, 3]) == 6", "candidate([]) == 0", "candidate([-1, 1]) == 0"]),
  code("first_word", "text", "Return the first word of text, words being separated by spaces.", "return text.split(' ')[0]", ["candidate('the cat sat') == 'the'", "candidate('one') == 'one'"]),
  code("factorial", "n", "Return n factorial for n >= 0.", "result = 1\nfor i in range(2, n + 1):\n    result *= i\nreturn result", ["candidate(0) == 1", "candidate(1) == 1", "candidate(5) == 120"]),
  code("count_char", "text, char", "Return how many times char occurs in text.", "return text.count(char)", ["candidate('banana', 'a') == 3", "candidate('banana', 'z') == 0"]),
  code("absolute", "x", "Return the absolute value of x.", "return x if x >= 0 else -x", ["candidate(-3) == 3", "candidate(4) == 4", "candidate(0) == 0"]),
]);
