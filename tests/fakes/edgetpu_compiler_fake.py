"""Double of Coral's edgetpu_compiler (`edgetpu_compiler [-s] [-o DIR] MODEL.tflite`) that answers
only with what the real compiler (16.0.384591198) answered, recorded in tests/data/edgetpu:

- a model whose recorded compilation exists (same sha256 as N32-nMACs41287680_quant.tflite):
  the recorded MODEL_edgetpu.tflite and MODEL_edgetpu.log written to DIR, as the real one does;
- any other model: the console output of a real failed compilation (google-coral/edgetpu#439),
  no file written. (The real exit status of a failure is not recorded; the zoo step does not rely
  on it.)
"""

import hashlib
import shutil
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data" / "edgetpu"
KNOWN = ["N32-nMACs41287680_quant"]


def main(argv):
    out, model = Path("."), None
    args = iter(argv)
    for arg in args:
        if arg in ("-o", "--out_dir"):
            out = Path(next(args))
        elif not arg.startswith("-"):
            model = Path(arg)
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    for stem in KNOWN:
        if hashlib.sha256((DATA / (stem + ".tflite")).read_bytes()).hexdigest() == digest:
            shutil.copyfile(DATA / (stem + "_edgetpu.tflite"), out / (model.stem + "_edgetpu.tflite"))
            shutil.copyfile(DATA / (stem + "_edgetpu.log"), out / (model.stem + "_edgetpu.log"))
            return 0
    recorded = (DATA / "compiler-google-coral-edgetpu-issue439.txt").read_text().splitlines()
    print("\n".join(line for line in recorded if not line.startswith("$ ")))
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
