"""Prints a fingerprint of one noisy tile forward (PCM defaults, programmed, one hour of drift):
run by foreign_cpus.sh on the host and under an emulated CPU, whose outputs must match bit for
bit when both use the same SIMD level."""
import hashlib

import numpy as np

import tessera

rng = np.random.default_rng(7)
tile = tessera.AnalogTile(70, 150, tessera.load_preset("pcm_inference"), 3, "fingerprint")
tile.set_weights(rng.normal(0.0, 0.1, (70, 150)).astype(np.float32))
tile.program()
tile.drift(3600.0)
outputs = tile.forward(rng.normal(0.0, 1.0, (40, 150)).astype(np.float32))
print("tile", hashlib.sha256(np.ascontiguousarray(outputs, dtype=np.float32).tobytes()).hexdigest()[:16])
