"""The Keras peer of the quality benchmark (bench/quality.ts): trains the seed's dual-input model (docs/model.md) in
real Keras on exactly the windows, features and labels our trainer used, and writes its raw scores on
the validation and holdout windows, so that both models go through the same calibration and threshold
policies. Run by the benchmark when the venv of scripts/keras/setup-venv.sh exists:

    "$py" scripts/keras/quality_peer.py DIR

DIR holds spec.json (shape, epochs, batch size, patience, seed) and little-endian float32 files
{train,val,hold}_{x,t,y}.f32: numeric windows [N, T, F] already scaled, token ids [N, L], labels [N].
It writes val_scores.f32 and hold_scores.f32 there. Training mirrors src/train/fit.ts: adam (default
learning rate), binary cross-entropy, balanced class weights, shuffled batches, early stopping on
validation loss with the best epoch's weights restored.
"""

import json
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.keras import layers  # noqa: E402


def load(d, name, shape):
    return np.fromfile(d / f"{name}.f32", dtype="<f4").reshape(shape)


def build(shape, features):
    numeric = keras.Input(shape=(shape["window"], features), name="numeric")
    tokens = keras.Input(shape=(shape["textMaxLen"],), name="tokens")
    sensor = layers.LSTM(shape["lstmUnits"], dropout=0.3, recurrent_dropout=0.3, name="sensor_lstm")(numeric)
    embedded = layers.Embedding(shape["vocabSize"], shape["embedDim"], name="token_embedding")(tokens)
    text = layers.Bidirectional(layers.LSTM(shape["textLstmUnits"]), name="text_bilstm")(embedded)
    joined = layers.Concatenate(name="join")([sensor, text])
    hidden = layers.Dense(shape["denseUnits"], activation="relu", name="hidden")(joined)
    normed = layers.BatchNormalization(name="batchnorm")(hidden)
    risk = layers.Dense(1, activation="sigmoid", name="risk")(normed)
    model = keras.Model(inputs=[numeric, tokens], outputs=risk, name="pdm_dual_input")
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def main():
    d = pathlib.Path(sys.argv[1])
    spec = json.loads((d / "spec.json").read_text())
    shape, n = spec["shape"], spec["counts"]
    t, f, length = shape["window"], spec["features"], shape["textMaxLen"]
    data = {}
    for split in ("train", "val", "hold"):
        data[split] = (
            load(d, f"{split}_x", (n[split], t, f)),
            load(d, f"{split}_t", (n[split], length)).astype(np.int32),
            load(d, f"{split}_y", (n[split],)),
        )
    keras.utils.set_random_seed(spec["seed"])
    model = build(shape, f)
    x, tok, y = data["train"]
    pos = float(y.sum())
    class_weight = {0: len(y) / (2 * max(1.0, len(y) - pos)), 1: len(y) / (2 * max(1.0, pos))}
    vx, vt, vy = data["val"]
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=spec["patience"] + 1, restore_best_weights=True)
    started = time.time()
    history = model.fit([x, tok], y, epochs=spec["epochs"], batch_size=spec["batchSize"], shuffle=True, class_weight=class_weight, validation_data=([vx, vt], vy), callbacks=[stop], verbose=0)
    seconds = time.time() - started
    for split, out in (("val", "val_scores"), ("hold", "hold_scores")):
        hx, ht, _ = data[split]
        model.predict([hx, ht], batch_size=256, verbose=0).reshape(-1).astype("<f4").tofile(d / f"{out}.f32")
    json.dump({"epochs": len(history.history["loss"]), "seconds": seconds, "tensorflow": tf.__version__}, sys.stdout)


if __name__ == "__main__":
    main()
