"""Writes test/fixtures/keras-tokenizer.json: inputs and the outputs of REAL Keras 2.15
(tf.keras.preprocessing.text.Tokenizer, text_to_word_sequence, pad_sequences), which
test/tokenize/tokenizer.test.ts compares src/tokenize against. The tests read only the JSON;
Python is needed only to regenerate it:

    py="$(bash scripts/keras/setup-venv.sh)" && "$py" scripts/keras/gen_tokenizer_fixtures.py

The output is deterministic (no randomness), so regenerating gives a byte-identical file unless Keras
or the corpus below changed.
"""

import json
import os
import pathlib
import unicodedata

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # keep TensorFlow's start-up noise off the terminal

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.keras.preprocessing.sequence import pad_sequences  # noqa: E402
from tensorflow.keras.preprocessing.text import Tokenizer, text_to_word_sequence  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parents[2] / "test" / "fixtures" / "keras-tokenizer.json"

# Maintenance-log-like texts. Counts are arranged so several words tie (ties must keep first-occurrence
# order), with punctuation glued to words, mixed case, unicode (final sigma, sharp s, dotted I, CJK,
# emoji), numbers, tabs/newlines (filters), a carriage return and a no-break space (NOT filters: they
# stay inside words), JS-object-ish words, and empty or punctuation-only texts.
FIT_TEXTS = [
    "Error3 pressure drop; replaced comp2 filter.",
    "error3: PRESSURE-drop\treplaced comp1 filter (again)!",
    "Vibration high on comp4 -- checked bearing, bearing OK",
    "pressure\nvalve\tstuck; valve replaced",
    "",
    "   ",
    "!!! ... ???",
    "Überdruck ÜBERDRUCK straße STRASSE ẞ İstanbul ΟΔΟΣ οδος",
    "压力 下降 🔥pump🔥 pump café naïve CAFÉ",
    "temp 3.14 1e5 2024-11-29 v2.0 #42 @ops 50% a&b",
    "carriage\rreturn no\u00a0break",
    "constructor __proto__ toString hasOwnProperty valueOf",
    "tie1 tie2 tie3 tie2 tie1 tie3",
    "unk token unk",
]

# Seen at transform time only: unknown words, words beyond num_words, and known ones.
TRANSFORM_TEXTS = [
    "Error3 pressure drop, never seen before; replaced comp9",
    "",
    "zzz yyy xxx",
    "bearing bearing bearing valve tie3 unk",
    "ΟΔΟΣ café 🔥pump🔥 constructor",
    "a long log: pressure pressure drop drop error3 error3 replaced replaced filter filter comp2 comp1 valve",
]

# Keras's list input to texts_to_sequences: words are lower-cased and nothing else (no filters).
WORD_LISTS = [
    ["Pressure", "DROP", "pump!", "never-seen", "Valve"],
    [],
    ["ΟΔΟΣ", "CAFÉ", "unk"],
]

TOKENIZERS = [
    {"name": "num_words below vocabulary, no OOV", "num_words": 12, "oov_token": None},
    {"name": "num_words below vocabulary, OOV token", "num_words": 12, "oov_token": "<OOV>"},
    {"name": "num_words above vocabulary, OOV token", "num_words": 1000, "oov_token": "<OOV>"},
    {"name": "OOV token that also occurs in the texts", "num_words": 10, "oov_token": "unk"},
    {"name": "num_words 1 keeps nothing", "num_words": 1, "oov_token": None},
]

WORD_SEQUENCE_TEXTS = FIT_TEXTS + ["a\u2003em-space", "UPPER lower MiXeD", "x\x0by\x0cz", "tab\t\tdouble  space"]

PAD_INPUTS = [[], [7], [1, 2, 3], [4, 5, 6, 7, 8, 9, 10], [11, 12, 13, 14, 15]]
PAD_CASES = [
    {"maxlen": maxlen, "padding": padding, "truncating": truncating, "value": 0}
    for maxlen in (1, 3, 5, 8)
    for padding in ("pre", "post")
    for truncating in ("pre", "post")
] + [{"maxlen": 4, "padding": "pre", "truncating": "pre", "value": -1}]


def tokenizer_case(spec):
    tok = Tokenizer(num_words=spec["num_words"], oov_token=spec["oov_token"])
    tok.fit_on_texts(FIT_TEXTS)
    return {
        "name": spec["name"],
        "numWords": spec["num_words"],
        "oovToken": spec["oov_token"],
        # pairs keep dict order and survive JSON (an object would reorder number-like keys)
        "wordIndex": [[w, i] for w, i in tok.word_index.items()],
        "fitSequences": tok.texts_to_sequences(FIT_TEXTS),
        "transformSequences": tok.texts_to_sequences(TRANSFORM_TEXTS),
        "wordListSequences": tok.texts_to_sequences([list(ws) for ws in WORD_LISTS]),
    }


def scalar_json(value):
    """JSON with readable unicode, but invisible characters (no-break space, em space...) escaped."""
    text = json.dumps(value, ensure_ascii=False)
    return "".join(f"\\u{ord(c):04x}" if ord(c) > 127 and unicodedata.category(c)[0] in "ZC" else c for c in text)


def dump(value, depth=0):
    """JSON with one line per flat item (a sequence, a word-index pair, a text and its words): small and diffable."""

    def flat(v):
        return not isinstance(v, (list, dict)) or (
            isinstance(v, list) and all(not isinstance(x, (list, dict)) for x in v)
        )

    if not isinstance(value, (list, dict)):
        return scalar_json(value)
    if isinstance(value, list) and all(flat(v) for v in value):  # a sequence, or a list of them
        return "[" + ", ".join(dump(v) for v in value) + "]"
    if isinstance(value, dict) and all(flat(v) for v in value.values()):
        return "{" + ", ".join(f"{scalar_json(k)}: {dump(v)}" for k, v in value.items()) + "}"
    pad, inner = " " * depth, " " * (depth + 1)
    if isinstance(value, dict):
        items = [f"{inner}{scalar_json(k)}: {dump(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    items = [inner + dump(v, depth + 1) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + pad + "]"


def main():
    fixture = {
        "generatedBy": "scripts/keras/gen_tokenizer_fixtures.py",
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "fitTexts": FIT_TEXTS,
        "transformTexts": TRANSFORM_TEXTS,
        "wordLists": WORD_LISTS,
        "textToWordSequence": [{"text": t, "words": text_to_word_sequence(t)} for t in WORD_SEQUENCE_TEXTS],
        "tokenizers": [tokenizer_case(spec) for spec in TOKENIZERS],
        "padInputs": PAD_INPUTS,
        "padSequences": [
            {**case, "result": pad_sequences(PAD_INPUTS, **case).tolist()} for case in PAD_CASES
        ],
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(dump(fixture) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, keras {fixture['keras']})")


if __name__ == "__main__":
    main()
