"""The Keras peer of `npm run bench` (bench/keras-peer.ts runs it in the same run as our measurement).

The seed's dual-input model in real Keras 2.15, with the same shapes as buildDualInputModel:
  numeric [T, F] -> LSTM(units, dropout .3, recurrent_dropout .3) -+
  tokens [L] -> Embedding(V, d) -> Bidirectional(LSTM(units)) -----+- concat -> Dense(relu) -> BatchNorm -> Dense(1, sigmoid)
on random inputs (the figures are throughput, not quality). One JSON object on stdin, one on stdout:

  {"mode": "train", "shape": {...}, "windows": 3000, "epochs": 3, "batch": 32}
      -> {"epochSeconds": [...], "windowsPerSec": [...]}      (one figure per epoch)
  {"mode": "score", "shape": {...}, "batch": 256, "batches": 20, "reps": 3}
      -> {"windowsPerSec": [...]}                              (one figure per rep, model.predict)

    py="$(bash scripts/keras/setup-venv.sh)" && echo '{"mode":"score",...}' | "$py" scripts/keras/bench_peer.py
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.keras import layers  # noqa: E402


def build(s, features):
    numeric = layers.Input(shape=(s["window"], features), name="numeric")
    tokens = layers.Input(shape=(s["textMaxLen"],), name="tokens")
    sensors = layers.LSTM(s["lstmUnits"], dropout=0.3, recurrent_dropout=0.3, name="sensor_lstm")(numeric)
    embedded = layers.Embedding(s["vocabSize"], s["embedDim"], name="token_embedding")(tokens)
    text = layers.Bidirectional(layers.LSTM(s["textLstmUnits"]), name="text_bilstm")(embedded)
    joined = layers.Concatenate(name="join")([sensors, text])
    hidden = layers.Dense(s["denseUnits"], activation="relu", name="hidden")(joined)
    normed = layers.BatchNormalization(name="batchnorm")(hidden)
    out = layers.Dense(1, activation="sigmoid", name="risk")(normed)
    model = tf.keras.Model([numeric, tokens], out)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def inputs(s, n, rng):
    x = rng.normal(size=(n, s["window"], s["features"])).astype("float32")
    t = rng.integers(0, s["vocabSize"], size=(n, s["textMaxLen"])).astype("float32")
    return x, t


class EpochTimer(tf.keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


def main():
    req = json.load(sys.stdin)
    s = req["shape"]
    rng = np.random.default_rng(7)
    tf.keras.utils.set_random_seed(7)
    model = build(s, s["features"])
    if req["mode"] == "train":
        n = req["windows"]
        x, t = inputs(s, n, rng)
        y = (rng.random(size=(n, 1)) < 0.2).astype("float32")
        positives = float(y.sum())
        class_weight = {0: n / (2 * (n - positives)), 1: n / (2 * max(1.0, positives))}
        timer = EpochTimer()
        model.fit([x, t], y, epochs=req["epochs"], batch_size=req["batch"], shuffle=True, class_weight=class_weight, verbose=0, callbacks=[timer])
        out = {"epochSeconds": timer.seconds, "windowsPerSec": [n / sec for sec in timer.seconds]}
    else:
        n = req["batch"] * req["batches"]
        x, t = inputs(s, n, rng)
        model.predict([x[: req["batch"]], t[: req["batch"]]], batch_size=req["batch"], verbose=0)  # warm-up (tracing)
        rates = []
        for _ in range(req["reps"]):
            start = time.perf_counter()
            model.predict([x, t], batch_size=req["batch"], verbose=0)
            rates.append(n / (time.perf_counter() - start))
        out = {"windowsPerSec": rates}
    out["keras"] = tf.keras.__version__ if hasattr(tf.keras, "__version__") else tf.__version__
    out["tensorflow"] = tf.__version__
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
