"""The built-in model zoo: the report's architectures built offline as ONNX graphs with
deterministic weights (speed does not depend on weight values; accuracy needs real weights,
which users supply as files). Needs the `zoo` extra (onnx)."""
