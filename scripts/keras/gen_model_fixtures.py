"""Writes test/fixtures/keras-model.json: the dual-input model of docs/model.md built and trained in REAL
Keras 2.15, with everything needed to score raw inputs through our pipeline and compare with Keras:
the shapes, the scaler, the tokenizer's word index, every layer's weights by layer name (in Keras
`get_weights()` order) and Keras's own `model.predict` scores for a handful of raw inputs.
test/model/keras-parity.test.ts loads the weights into `buildDualInputModel` (src/model/keras-weights.ts)
and runs the raw inputs through `featurize` and tfjs. The tests read only the JSON; Python is needed
only to regenerate it:

    py="$(bash scripts/keras/setup-venv.sh)" && "$py" scripts/keras/gen_model_fixtures.py

Shapes are small so the fixture stays small. The model uses Keras's defaults wherever docs/model.md names
no value (LSTM activation tanh, recurrent activation sigmoid, BatchNormalization epsilon 1e-3): that is
the model a user of the Keras tutorial has, so our twin must match it, not the other way round.
Training is seeded, but TensorFlow's CPU training is not bit-reproducible (even with op determinism
and one thread), so a regenerated file differs in the trailing digits of weights and scores. That is
harmless: the test compares our pipeline with whatever scores Keras wrote next to those weights.
"""

import json
import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # keep TensorFlow's start-up noise off the terminal

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.keras import layers  # noqa: E402
from tensorflow.keras.preprocessing.sequence import pad_sequences  # noqa: E402
from tensorflow.keras.preprocessing.text import Tokenizer  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parents[2] / "test" / "fixtures" / "keras-model.json"

SEED = 7
SHAPE = {
    "window": 6,
    "textMaxLen": 10,
    "vocabSize": 40,
    "lstmUnits": 8,
    "textLstmUnits": 8,
    "embedDim": 4,
    "denseUnits": 8,
}
SENSORS = ["volt", "rotate", "pressure"]
BASE = {"volt": 170.0, "rotate": 450.0, "pressure": 100.0}
NOISE = {"volt": 8.0, "rotate": 30.0, "pressure": 6.0}
T0 = 1_795_000_000_000  # epoch ms; readings are 10 minutes apart
STEP_MS = 600_000

# More distinct words than num_words, so some known words fall beyond the vocabulary cut-off.
NORMAL_WORDS = (
    "routine inspection ok checked cleaned lubricated bearing belt filter valve sensor calibrated "
    "shift operator note oil level topped tightened bolt panel fan noise minor adjusted visual "
    "comp1 comp2 comp3 comp4 replaced scheduled weekly monthly gauge hose seal gasket coupling"
).split()
FAILURE_WORDS = "error3 pressure drop leak alarm stuck".split()  # frequent enough to be in the vocabulary


def make_sample(rng, positive):
    """One raw training window: readings as {ts, values}, log texts oldest first, a label."""
    drift = rng.uniform(0.5, 1.5)
    readings = []
    for t in range(SHAPE["window"]):
        values = {s: BASE[s] + rng.normal(0.0, NOISE[s]) for s in SENSORS}
        if positive:  # failures show as a pressure drop and a voltage rise towards the end of the window
            values["pressure"] -= drift * 4.0 * t
            values["volt"] += drift * 3.0 * t
        readings.append({"ts": T0 + t * STEP_MS, "values": {s: round(v, 2) for s, v in values.items()}})
    logs = []
    for _ in range(rng.integers(0, 4)):
        words = list(rng.choice(NORMAL_WORDS, size=rng.integers(2, 7)))
        if positive and rng.random() < 0.9:
            words += list(rng.choice(FAILURE_WORDS, size=rng.integers(1, 4)))
        logs.append(" ".join(words))
    return {"readings": readings, "logs": logs, "label": int(positive)}


def fit_scaler(samples):
    """Standard scaler with population std (scikit-learn's, and ours); a constant sensor gets std 1."""
    x = np.array([[r["values"][s] for s in SENSORS] for w in samples for r in w["readings"]], dtype=np.float64)
    std = x.std(axis=0)
    return {"mean": x.mean(axis=0).tolist(), "std": np.where(std > 0, std, 1.0).tolist()}


def featurize(sample, scaler, tokenizer):
    """Python mirror of src/score/features.ts: missing sensor → training mean (0 after scaling), fewer
    readings than the window → leading zero rows, log tokens oldest first, pre-padded/pre-truncated."""
    numeric = np.zeros((SHAPE["window"], len(SENSORS)), dtype=np.float64)
    offset = SHAPE["window"] - len(sample["readings"])
    for row, reading in enumerate(sample["readings"]):
        for col, sensor in enumerate(SENSORS):
            if sensor in reading["values"]:
                numeric[row + offset, col] = (reading["values"][sensor] - scaler["mean"][col]) / scaler["std"][col]
    ids = [i for seq in tokenizer.texts_to_sequences(sample["logs"]) for i in seq]
    tokens = pad_sequences([ids], maxlen=SHAPE["textMaxLen"])[0]
    return numeric.astype(np.float32), tokens.astype(np.int32)


def build_model():
    """docs/model.md's model with the layer names of src/model/build.ts."""
    numeric = keras.Input(shape=(SHAPE["window"], len(SENSORS)), name="numeric")
    tokens = keras.Input(shape=(SHAPE["textMaxLen"],), name="tokens")
    sensor = layers.LSTM(SHAPE["lstmUnits"], dropout=0.3, recurrent_dropout=0.3, name="sensor_lstm")(numeric)
    embedded = layers.Embedding(SHAPE["vocabSize"], SHAPE["embedDim"], name="token_embedding")(tokens)
    text = layers.Bidirectional(layers.LSTM(SHAPE["textLstmUnits"]), name="text_bilstm")(embedded)
    joined = layers.Concatenate(name="join")([sensor, text])
    hidden = layers.Dense(SHAPE["denseUnits"], activation="relu", name="hidden")(joined)
    normed = layers.BatchNormalization(name="batchnorm")(hidden)
    risk = layers.Dense(1, activation="sigmoid", name="risk")(normed)
    model = keras.Model(inputs=[numeric, tokens], outputs=risk, name="pdm_dual_input")
    # lr 0.01 rather than adam's default: three epochs then move every weight, bias and BatchNorm
    # statistic well away from its initial value, so a mix-up in the weight order cannot go unnoticed.
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="binary_crossentropy")
    return model


def prediction_inputs(rng):
    """Raw inputs to score, covering what featurize must get right."""
    inputs = [make_sample(rng, positive=i % 2 == 1) for i in range(14)]
    for sample in inputs:
        del sample["label"]
    # A sensor missing from one reading (imputed with the training mean).
    inputs[0]["readings"][2]["values"].pop("rotate")
    inputs[1]["readings"][5]["values"].pop("pressure")
    # Fewer readings than the window (leading zero rows).
    inputs[2]["readings"] = inputs[2]["readings"][2:]
    extra = [
        # No logs at all: all padding.
        {"readings": make_sample(rng, True)["readings"], "logs": []},
        # Long logs: pre-truncation keeps the most recent tokens.
        {"readings": make_sample(rng, False)["readings"],
         "logs": [" ".join(NORMAL_WORDS[:12]), "error3 pressure drop leak alarm stuck", "checked ok"]},
        # Case, punctuation and words never seen in training (dropped, there is no OOV token).
        {"readings": make_sample(rng, True)["readings"],
         "logs": ["ERROR3: Pressure-Drop!! replaced comp2 filter.", "flux-capacitor misaligned; zzz"]},
        # Only words beyond num_words or unknown ones: all padding again, through another path.
        {"readings": make_sample(rng, False)["readings"], "logs": ["qwerty asdf"]},
        # Extreme readings: far outside the training range.
        {"readings": [{"ts": T0 + t * STEP_MS, "values": {"volt": 250.0, "rotate": 120.5, "pressure": 40.25}}
                      for t in range(SHAPE["window"])], "logs": ["vibration high alarm"]},
        # Constant readings at the base values.
        {"readings": [{"ts": T0 + t * STEP_MS, "values": dict(BASE)} for t in range(SHAPE["window"])],
         "logs": ["routine inspection ok"]},
    ]
    return inputs + extra


def f32(value):
    """Nested lists of floats, each written with the fewest digits that give back the same float32."""
    a = np.asarray(value, dtype=np.float32)
    if a.ndim == 0:
        return float(str(a))  # numpy prints a float32 with its shortest round-trip repr
    return [f32(x) for x in a]


def dump(value, depth=0):
    """JSON with one line per flat list (a weight row, a sequence): small and diffable."""

    def flat(v):
        return not isinstance(v, (list, dict)) or (
            isinstance(v, list) and all(not isinstance(x, (list, dict)) for x in v)
        )

    if not isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list) and all(flat(v) for v in value):
        return "[" + ", ".join(dump(v) for v in value) + "]"
    if isinstance(value, dict) and all(flat(v) for v in value.values()) and len(value) <= 8:
        return "{" + ", ".join(f"{json.dumps(k)}: {dump(v)}" for k, v in value.items()) + "}"
    pad, inner = " " * depth, " " * (depth + 1)
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(k)}: {dump(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    items = [inner + dump(v, depth + 1) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + pad + "]"


def layer_config(layer):
    """The settings that decide the numbers at inference, so the test can name a mismatch directly."""
    inner = layer.forward_layer if isinstance(layer, layers.Bidirectional) else layer
    config = inner.get_config()
    keys = ("activation", "recurrent_activation", "epsilon", "input_dim", "output_dim", "units", "go_backwards")
    out = {"className": type(layer).__name__}
    out.update({k: config[k] for k in keys if k in config})
    return out


def main():
    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)

    train = [make_sample(rng, positive=rng.random() < 0.4) for _ in range(320)]
    scaler = fit_scaler(train)
    tokenizer = Tokenizer(num_words=SHAPE["vocabSize"])
    tokenizer.fit_on_texts([text for w in train for text in w["logs"]])
    assert len(tokenizer.word_index) > SHAPE["vocabSize"], "some words must fall beyond num_words"

    x_num, x_tok = map(np.stack, zip(*(featurize(w, scaler, tokenizer) for w in train)))
    y = np.array([w["label"] for w in train], dtype=np.float32)
    model = build_model()
    # The tutorial's settings: batch 32, shuffle=False.
    history = model.fit([x_num, x_tok], y, epochs=3, batch_size=32, shuffle=False, verbose=0)

    inputs = prediction_inputs(rng)
    p_num, p_tok = map(np.stack, zip(*(featurize(s, scaler, tokenizer) for s in inputs)))
    scores = model.predict([p_num, p_tok], verbose=0).reshape(-1)

    bn = model.get_layer("batchnorm").get_weights()
    assert np.abs(bn[2]).max() > 0.05 and np.abs(bn[3] - 1).max() > 0.05, "BatchNorm moving stats barely moved"

    weighted = [layer for layer in model.layers if layer.get_weights()]
    fixture = {
        "generatedBy": "scripts/keras/gen_model_fixtures.py",
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "seed": SEED,
        "trainLoss": [round(float(v), 4) for v in history.history["loss"]],
        "shape": {**SHAPE, "features": len(SENSORS)},
        "sensors": SENSORS,
        "scaler": scaler,
        "tokenizer": {
            "format": "keras-tokenizer",
            "version": 1,
            "numWords": SHAPE["vocabSize"],
            "oovToken": None,
            "wordIndex": [[w, i] for w, i in tokenizer.word_index.items()],
        },
        "layers": {layer.name: layer_config(layer) for layer in weighted},
        "weights": {layer.name: [f32(w) for w in layer.get_weights()] for layer in weighted},
        "inputs": [
            {**s, "kerasTokens": t.tolist(), "kerasScore": f32(p)} for s, t, p in zip(inputs, p_tok, scores)
        ],
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(dump(fixture) + "\n", encoding="utf-8")
    print(
        f"wrote {OUT} ({OUT.stat().st_size} bytes, keras {keras.__version__}, "
        f"loss {fixture['trainLoss']}, scores {scores.min():.3f}..{scores.max():.3f})"
    )


if __name__ == "__main__":
    main()
