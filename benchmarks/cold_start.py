"""Cold start: `import app` against `import boto3` alone, in fresh interpreters, same run.

    python -m benchmarks.cold_start [--runs 11]

Each figure is the median over ``--runs`` fresh processes of the import alone (timed
inside the process). Also timed: getting the webhook handler ready for its first call
(`import app`, then the modules and configuration the webhook uses: services,
classifier, Twilio channel, Powertools), which is what a cold webhook really waits for,
and the deployment zip's size if ``out/prod/deployment.zip`` exists (``make package``).
"webhook ready, 2,000 sites" is the same with the configuration of 2,000 sites that
``infra/sites.py`` generates (``make run SITES=2000``): what a big network's cold start waits for.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SNIPPETS = {
    "boto3": "import boto3",
    "app": "import app",
    "webhook ready": ("import app\nfrom chalicelib.services import services\ns = services()\ns.config\ns.ingest\n"
                      "import chalicelib.channels.twilio, chalicelib.observability, boto3\nboto3.client('dynamodb')"),
}


def timed(code: str) -> float:
    program = ("import time\n_t = time.perf_counter()\n" + code +
               "\nprint(time.perf_counter() - _t)")
    env = {**os.environ, "AWS_DEFAULT_REGION": "eu-west-2", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
           "CUSTOMER_KEY_SECRET": "x", "POWERTOOLS_TRACE_DISABLED": "true", "TABLE_NAME": "voix-dev",
           "COUNTERS_TABLE": "voix-dev-counters", "JOBS_QUEUE": "voix-dev-jobs", "LINK_SIGNING_KEY": "x"}
    result = subprocess.run([sys.executable, "-c", program], cwd=ROOT, env=env, capture_output=True, text=True,
                            check=True, timeout=120)
    return float(result.stdout.strip().splitlines()[-1])


def run(runs: int = 11) -> dict:
    import tempfile

    from infra import sites

    out = {}
    with tempfile.TemporaryDirectory() as folder:
        many = sites.write(Path(folder) / "sites-2000", 2000)
        snippets = {**SNIPPETS, "webhook ready, 2,000 sites": (f"import os\nos.environ['VOIX_CONFIG_DIR'] = "
                                                               f"{str(many)!r}\n" + SNIPPETS["webhook ready"])}
        for _ in range(runs):  # interleaved, so that a busy moment hits every figure alike
            for name, code in snippets.items():
                out.setdefault(name, []).append(timed(code))
    medians = {name: statistics.median(values) for name, values in out.items()}
    zip_path = ROOT / "out" / "prod" / "deployment.zip"
    return {"runs": runs, "seconds": medians, "ratio": medians["app"] / medians["boto3"],
            "zip_bytes": zip_path.stat().st_size if zip_path.exists() else None}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=11)
    r = run(parser.parse_args(argv).runs)
    for name, seconds in r["seconds"].items():
        print(f"{name:<26} {seconds * 1000:6.0f} ms (median of {r['runs']} fresh processes)")
    print(f"import app / import boto3: {r['ratio']:.2f}")
    if r["zip_bytes"]:
        print(f"deployment zip: {r['zip_bytes'] / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
