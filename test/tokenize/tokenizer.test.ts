import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { KerasTokenizer, encodeForModel, padSequences, textToWordSequence } from '../../src/tokenize';
import type { PadOptions } from '../../src/tokenize';

/** Written by REAL Keras 2.15 (scripts/keras/gen_tokenizer_fixtures.py); no Python needed here. */
interface Fixture {
  keras: string;
  fitTexts: string[];
  transformTexts: string[];
  wordLists: string[][];
  textToWordSequence: { text: string; words: string[] }[];
  tokenizers: {
    name: string;
    numWords: number;
    oovToken: string | null;
    wordIndex: [string, number][];
    fitSequences: number[][];
    transformSequences: number[][];
    wordListSequences: number[][];
  }[];
  padInputs: number[][];
  padSequences: (Required<PadOptions> & { maxlen: number; result: number[][] })[];
}
const fixture = JSON.parse(
  readFileSync(join(__dirname, '../fixtures/keras-tokenizer.json'), 'utf8'),
) as Fixture;

test(`textToWordSequence matches Keras ${fixture.keras} text_to_word_sequence`, () => {
  assert.ok(fixture.textToWordSequence.length > 10);
  for (const { text, words } of fixture.textToWordSequence) {
    assert.deepEqual(textToWordSequence(text), words, JSON.stringify(text));
  }
});

for (const k of fixture.tokenizers) {
  test(`Tokenizer parity with Keras: ${k.name}`, () => {
    const tokenizer = KerasTokenizer.fit(fixture.fitTexts, {
      numWords: k.numWords,
      oovToken: k.oovToken ?? undefined,
    });
    assert.deepEqual([...tokenizer.wordIndex], k.wordIndex, 'word_index, including its order');
    assert.deepEqual(tokenizer.textsToSequences(fixture.fitTexts), k.fitSequences);
    assert.deepEqual(tokenizer.textsToSequences(fixture.transformTexts), k.transformSequences);
    assert.deepEqual(
      fixture.wordLists.map((words) => tokenizer.wordsToSequence(words)),
      k.wordListSequences,
    );

    // What the trainer stores in Redis and the worker loads must tokenize identically.
    const reloaded = KerasTokenizer.fromJSON(JSON.parse(JSON.stringify(tokenizer)));
    assert.deepEqual([...reloaded.wordIndex], k.wordIndex);
    assert.equal(reloaded.numWords, k.numWords);
    assert.equal(reloaded.oovToken, k.oovToken);
    assert.deepEqual(reloaded.textsToSequences(fixture.transformTexts), k.transformSequences);
  });
}

test('padSequences matches Keras pad_sequences for every maxlen/padding/truncating case', () => {
  assert.ok(fixture.padSequences.length >= 16);
  for (const { maxlen, padding, truncating, value, result } of fixture.padSequences) {
    const label = JSON.stringify({ maxlen, padding, truncating, value });
    assert.deepEqual(padSequences(fixture.padInputs, maxlen, { padding, truncating, value }), result, label);
  }
});

test('encodeForModel is one Keras-padded row of the mapped words', () => {
  const tokenizer = KerasTokenizer.fit(['pump pump valve seal'], { numWords: 10 });
  const row = encodeForModel(tokenizer, ['seal', 'Pump', 'unknown', 'valve', 'pump'], 3);
  assert.ok(row instanceof Int32Array);
  // ids [3, 1, 2, 1] (unknown dropped), pre-truncated to the last three
  assert.deepEqual([...row], [1, 2, 1]);
  assert.deepEqual(
    [...row],
    padSequences([tokenizer.wordsToSequence(['seal', 'Pump', 'unknown', 'valve', 'pump'])], 3)[0],
  );
  assert.deepEqual([...encodeForModel(tokenizer, [], 4)], [0, 0, 0, 0], 'no logs: all padding');
});

test('empty input: no texts, empty texts, no sequences', () => {
  const tokenizer = KerasTokenizer.fit([], { numWords: 5 });
  assert.equal(tokenizer.wordIndex.size, 0);
  assert.deepEqual(tokenizer.textsToSequences(['', 'anything']), [[], []]);
  assert.deepEqual(KerasTokenizer.fit(['', ' \t\n ', '?!'], { numWords: 5 }).wordIndex.size, 0);
  assert.deepEqual(textToWordSequence(''), []);
  assert.deepEqual(padSequences([], 3), []);
  assert.deepEqual(padSequences([[]], 2, { value: 9 }), [[9, 9]]);
});

test('all-unknown words are dropped, or all become the OOV id', () => {
  const texts = ['pump seal'];
  assert.deepEqual(KerasTokenizer.fit(texts, { numWords: 10 }).textsToSequences(['foo bar']), [[]]);
  const withOov = KerasTokenizer.fit(texts, { numWords: 10, oovToken: '<OOV>' });
  assert.equal(withOov.wordIndex.get('<OOV>'), 1);
  assert.deepEqual(withOov.textsToSequences(['foo bar']), [[1, 1]]);
  assert.deepEqual(withOov.wordsToSequence(['foo', 'SEAL']), [1, 3]);
});

test('maxLen 1 keeps the most recent token (pre-truncation) or the first (post)', () => {
  assert.deepEqual(padSequences([[4, 5, 6], []], 1), [[6], [0]]);
  assert.deepEqual(padSequences([[4, 5, 6]], 1, { truncating: 'post' }), [[4]]);
  assert.deepEqual(padSequences([[4]], 3, { padding: 'post' }), [[4, 0, 0]]);
});

test('bad arguments are programmer errors (RangeError)', () => {
  assert.throws(() => padSequences([[1]], 0), RangeError);
  assert.throws(() => padSequences([[1]], 2.5), RangeError);
  assert.throws(() => padSequences([[1]], 2, { value: 0.5 }), RangeError);
  assert.throws(() => KerasTokenizer.fit(['a'], { numWords: 0 }), RangeError);
  assert.throws(() => KerasTokenizer.fit(['a'], { numWords: 10, oovToken: '' }), RangeError);
  assert.throws(() => textToWordSequence('a b', { split: '' }), RangeError);
});

test('fromJSON rejects garbage with a message naming the problem', () => {
  const good = KerasTokenizer.fit(['pump seal seal'], { numWords: 10, oovToken: '<OOV>' }).toJSON();
  const bad: [unknown, RegExp][] = [
    [null, /invalid tokenizer spec/],
    ['{"format":"keras-tokenizer"}', /invalid tokenizer spec/],
    [{}, /format/],
    [{ ...good, format: 'bpe' }, /format/],
    [{ ...good, version: 2 }, /version/],
    [{ ...good, numWords: 0 }, /numWords/],
    [{ ...good, numWords: '10' }, /numWords/],
    [{ ...good, wordIndex: { seal: 2 } }, /wordIndex/],
    [{ ...good, wordIndex: [['seal', 0]] }, /wordIndex/],
    [{ ...good, wordIndex: [['seal', 1.5]] }, /wordIndex/],
    [
      {
        ...good,
        wordIndex: [
          ['<OOV>', 1],
          ['seal', 2],
          ['seal', 3],
        ],
      },
      /a word appears twice/,
    ],
    [
      {
        ...good,
        wordIndex: [
          ['<OOV>', 1],
          ['seal', 2],
          ['pump', 2],
        ],
      },
      /an index appears twice/,
    ],
    [{ ...good, wordIndex: [['seal', 2]] }, /OOV token has no index/],
    [{ ...good, extra: true }, /extra/],
  ];
  for (const [spec, message] of bad) {
    assert.throws(() => KerasTokenizer.fromJSON(spec), message, JSON.stringify(spec));
  }
  assert.deepEqual(KerasTokenizer.fromJSON(good).toJSON(), good);
});
