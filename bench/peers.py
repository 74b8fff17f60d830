"""Peers on the same work as the pilot cases: N /bin/true tasks with two
workers, and the latency of one task at a time (submit to result, median of
M). Parsl's HighThroughputExecutor (LocalProvider, 2 workers, bash_app) and
Dask (LocalCluster, 2 worker processes of one thread, each task runs
/bin/true with subprocess). Prints one JSON line per peer.

Run with the interpreter of the private virtual environment that `make
bench` creates (build/bench-venv, with parsl and dask from PyPI):

    build/bench-venv/bin/python bench/peers.py <N> <M> <rundir>
"""
import json
import subprocess
import sys
import time


def median_ms(ds):
    ds = sorted(ds)
    return round(ds[len(ds) // 2] * 1000, 2)


def parsl_case(n, m, rundir):
    import parsl
    from parsl.app.app import bash_app
    from parsl.config import Config
    from parsl.executors import HighThroughputExecutor
    from parsl.providers import LocalProvider

    @bash_app
    def true_app():
        return "/bin/true"

    config = Config(executors=[HighThroughputExecutor(label="htex", max_workers_per_node=2,
                                                      provider=LocalProvider(init_blocks=1, max_blocks=1))],
                    run_dir=rundir, strategy="none")
    dfk = parsl.load(config)
    try:
        [true_app() for _ in range(20)][-1].result()  # warm up: workers up
        t0 = time.time()
        futs = [true_app() for _ in range(n)]
        for f in futs:
            f.result()
        rate = n / (time.time() - t0)
        lat = []
        for _ in range(m):
            t = time.time()
            true_app().result()
            lat.append(time.time() - t)
    finally:
        dfk.cleanup()
        parsl.clear()
    return {"peer": "parsl", "version": parsl.__version__, "executor": "HighThroughputExecutor, LocalProvider, 2 workers, bash_app",
            "units_per_s": round(rate), "latency_p50_ms": median_ms(lat)}


def run_true(_=None):
    subprocess.run(["/bin/true"], check=True)


def dask_case(n, m):
    import dask
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.gather(client.map(run_true, range(20), pure=False))  # warm up
        t0 = time.time()
        client.gather(client.map(run_true, range(n), pure=False))
        rate = n / (time.time() - t0)
        lat = []
        for _ in range(m):
            t = time.time()
            client.submit(run_true, pure=False).result()
            lat.append(time.time() - t)
    return {"peer": "dask", "version": dask.__version__, "executor": "LocalCluster, 2 worker processes, 1 thread each, subprocess /bin/true",
            "units_per_s": round(rate), "latency_p50_ms": median_ms(lat)}


def main(n, m, rundir):
    for case in (lambda: parsl_case(n, m, rundir), lambda: dask_case(n, m)):
        r = case()
        r.update({"case": "peers", "units": n, "latency_units": m, "python": sys.version.split()[0]})
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
