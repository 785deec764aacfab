"""Model files by extension: the suffixes that name a model format (shared by the AI-BOM and attestation subjects)."""

from __future__ import annotations

#: File suffix -> the format it names (a hint; readers check the bytes).
MODEL_SUFFIXES = {
    ".pt": "pytorch", ".pth": "pytorch", ".bin": "pytorch", ".ckpt": "checkpoint", ".safetensors": "safetensors",
    ".onnx": "onnx", ".gguf": "gguf", ".ggml": "ggml", ".pkl": "pickle", ".pickle": "pickle", ".joblib": "joblib",
    ".h5": "keras-hdf5", ".hdf5": "keras-hdf5", ".keras": "keras", ".pb": "tensorflow", ".tflite": "tflite",
    ".mlmodel": "coreml", ".pdparams": "paddle", ".nemo": "nemo", ".mar": "torchserve", ".npz": "numpy",
    ".msgpack": "flax", ".llamafile": "llamafile", ".ubj": "xgboost", ".cbm": "catboost",
}
