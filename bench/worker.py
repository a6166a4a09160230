"""The ways of making the three renditions, each measured in a process of its own: the
four that :mod:`bench.resize` compares, and the handler's whole render (:mod:`bench.formats`).

``python -m bench.worker {time,rss} JOB`` (a :class:`Job` as JSON, from :mod:`bench.resize`)
or ``python -m bench.worker baseline``; the answer is one JSON line on stdout.

A fresh interpreter per measurement, so that one method's heap, caches and libraries
never count against another. So this module imports only the standard library at the
top, and each method its own libraries; the boxes and JPEG quality come in the job
(from ``kitteh.imaging``, in the parent), since importing that here would load Pillow
into the pyvips and ImageMagick processes (+6.5 MB peak RSS). Naive Pillow sizes with
Pillow's ``ImageOps.contain`` (+0.4 MB over ``PIL.Image`` alone).
"""

from __future__ import annotations

import io
import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from bench.common import find_convert

#: A timing process stops adding runs here, whatever its budget.
MAX_RUNS = 25


class Job(NamedTuple):
    """What the parent asks one worker to measure; it comes as JSON on the command line."""

    method: str
    image: str
    outdir: str
    #: (kind, box) largest first, as ``kitteh.imaging.SIZES``.
    sizes: list[tuple[str, int]]
    jpeg_quality: int
    min_runs: int = 1
    budget_s: float = 0.0


class Out(NamedTuple):
    kind: str
    data: bytes
    width: int | None = None  # as claimed by the method, when it says
    height: int | None = None


def kitteh(data: bytes, job: Job) -> list[Out]:
    """The handler's JPEG path, minus S3: bytes in, JPEG (or PNG) renditions out; the
    baselines make JPEGs only, so this is what they are compared with."""
    from kitteh.imaging import render_variants

    return [Out(r.kind, r.data, r.width, r.height) for r in render_variants(data, encodings=())]


def kitteh_formats(data: bytes, job: Job) -> list[Out]:
    """Exactly what the resize handler renders: the JPEG path and every modern format
    (each left in ``outdir`` as ``<kind>.<extension>``)."""
    from kitteh.imaging import render_variants

    out = []
    for r in render_variants(data):
        out.append(Out(r.kind, r.data, r.width, r.height))
        out += [Out(f"{r.kind}.{a.extension}", a.data, r.width, r.height) for a in r.alternatives]
    return out


def pillow_naive(data: bytes, job: Job) -> list[Out]:
    """Full decode, then a LANCZOS resize from the full image for every size."""
    from PIL import Image, ImageOps

    im = Image.open(io.BytesIO(data))
    im.load()
    out = []
    for kind, box in job.sizes:
        small = ImageOps.contain(im, (box, box), Image.Resampling.LANCZOS)
        if small.mode != "RGB":
            small = small.convert("RGB")
        buf = io.BytesIO()
        small.save(buf, "JPEG", quality=job.jpeg_quality)
        out.append(Out(kind, buf.getvalue()))
    return out


def pyvips_cascade(data: bytes, job: Job) -> list[Out]:
    """Shrink-on-load decode to 600, then 600 -> 300 -> 90 from memory.

    libvips' operation cache is switched off, or repeated runs on the same buffer
    would be served from it and time nothing.
    """
    import pyvips

    pyvips.cache_set_max(0)
    largest = job.sizes[0][1]
    img = pyvips.Image.thumbnail_buffer(data, largest, height=largest, size="down")
    out = []
    for kind, box in job.sizes:
        if box != largest:
            img = img.thumbnail_image(box, height=box, size="down")
        img = img.copy_memory()  # materialise once; the next size starts from here
        out.append(Out(kind, img.jpegsave_buffer(Q=job.jpeg_quality)))
    return out


def imagemagick(data: bytes, job: Job) -> list[Out]:
    """One ``convert in -resize NxN -quality 85 out.jpg`` process per size (the old app).

    Plain ``NxN`` as the old app had it; no bench input is smaller than 600 px,
    so the missing ``>`` never upscales here.
    """
    exe = find_convert()
    if exe is None:
        raise RuntimeError("real ImageMagick not found: run bench/setup.sh")
    out = []
    for kind, box in job.sizes:
        dest = Path(job.outdir) / f"im-{box}.jpg"
        resize = ["-resize", f"{box}x{box}", "-quality", str(job.jpeg_quality)]
        subprocess.run([exe, job.image, *resize, str(dest)], check=True)
        out.append(Out(kind, dest.read_bytes()))
    return out


METHODS: dict[str, Callable[[bytes, Job], list[Out]]] = {
    "kitteh": kitteh,
    "kitteh_formats": kitteh_formats,
    "pyvips": pyvips_cascade,
    "pillow_naive": pillow_naive,
    "imagemagick": imagemagick,
}
#: What :mod:`bench.resize` compares, in the order timed: kitteh first, so that a machine
#: getting busier during the run penalises the baselines rather than the thing under test.
COMPARED = ("kitteh", "pyvips", "pillow_naive", "imagemagick")


def time_method(job: Job) -> dict[str, Any]:
    """Warm up once, time runs until ``min_runs`` and ``budget_s`` are both met, and leave
    the last run's renditions in ``outdir`` for the parent (one file per kind)."""
    method = METHODS[job.method]
    data = Path(job.image).read_bytes()
    method(data, job)  # warm-up: lazy imports, caches, .pyc
    times: list[float] = []
    cpu: list[float] = []  # blind to other processes' load, unlike the wall time
    started = time.perf_counter()
    while len(times) < job.min_runs or (
        time.perf_counter() - started < job.budget_s and len(times) < MAX_RUNS
    ):
        t0, c0 = time.perf_counter(), _cpu_ms()
        outs = method(data, job)
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append(_cpu_ms() - c0)
    for out in outs:
        (Path(job.outdir) / out.kind).write_bytes(out.data)
    return {
        "times_ms": times,
        "cpu_ms": cpu,
        "impl": "kitteh.imaging" if job.method == "kitteh" else job.method,
        "claimed_dims": {o.kind: None if o.width is None else [o.width, o.height] for o in outs},
    }


def _cpu_ms() -> float:
    """CPU time of this process and of its finished children (ImageMagick's ``convert``)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (time.process_time() + children.ru_utime + children.ru_stime) * 1000


def peak_rss(job: Job | None) -> dict[str, Any]:
    """Run the method once (the baseline only imports Pillow), then report peak RSS: VmHWM,
    not ``ru_maxrss``, which Linux carries across ``execve`` from the parent (holding
    float SSIM references of hundreds of MB)."""
    if job is None:
        import PIL.Image  # noqa: F401
    else:
        METHODS[job.method](Path(job.image).read_bytes(), job)
    with open("/proc/self/status", encoding="ascii") as f:
        vm_hwm_kib = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    return {
        "maxrss_mb": vm_hwm_kib / 1024,
        "children_maxrss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


if __name__ == "__main__":
    mode, *job_json = sys.argv[1:]  # time JOB | rss JOB | baseline
    job = Job(**json.loads(job_json[0])) if job_json else None
    print(json.dumps(time_method(job) if mode == "time" and job else peak_rss(job)))
