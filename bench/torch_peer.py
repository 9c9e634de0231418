"""PyTorch peer of bench/suite.ts (`npm run bench`): the same models, losses,
optimizers and batches on the CPU, timed the same way. One JSON line on stdout.

  python3 bench/torch_peer.py blas
  python3 bench/torch_peer.py train MODEL C H W BATCH OPTIMIZER WARMUP STEPS REPS THREADS
  python3 bench/torch_peer.py loss SPEC BATCH CLASSES WARMUP RUNS REPS THREADS
  python3 bench/torch_peer.py e2e IDX_DIR MODEL EPOCHS THREADS

Models: mlp:W[,W...] (flatten, dense+ReLU per width, dense K) and cnn:F[,F...]
(conv3x3+BN+ReLU, 2x2 max pool while the map is >= 2x2, per block; flatten,
dense 128 + ReLU, dropout 0.2, dense K), as lossgraph's zoo builds them.
"""
import json
import os
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn


def blas():
    a = torch.randn(256, 256)
    (a @ a).sum()
    libs = sorted({line.split()[-1] for line in open("/proc/self/maps") if "blas" in line.lower()})
    return {"torch": torch.__version__, "blas": libs}


def model_of(spec, c, h, w, classes=10):
    kind, widths = spec.split(":")
    widths = [int(x) for x in widths.split(";")[0].split(",")]
    if kind == "mlp":
        layers, fan = [nn.Flatten()], c * h * w
        for width in widths:
            layers += [nn.Linear(fan, width), nn.ReLU()]
            fan = width
        return nn.Sequential(*layers, nn.Linear(fan, classes))
    layers, ch = [], c
    for f in widths:
        layers += [nn.Conv2d(ch, f, 3, padding=1), nn.BatchNorm2d(f), nn.ReLU()]
        if h >= 2 and w >= 2:
            layers.append(nn.MaxPool2d(2))
            h, w = h // 2, w // 2
        ch = f
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(ch * h * w, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, classes))


def peak_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


# At least `warmup` steps and WARMUP_SECONDS of them before timing, as bench/suite.ts does for lossgraph.
WARMUP_SECONDS = 2.0


# With LOSSGRAPH_BENCH_INTERLEAVE set, bench/suite.ts takes turns with lossgraph:
# after warm-up this prints "ready", then runs one repetition per line it reads
# on stdin (after REWARM_SECONDS, at least 2 steps, of untimed steps), answering
# with {"rep": ms}.
INTERLEAVE = bool(os.environ.get("LOSSGRAPH_BENCH_INTERLEAVE"))
REWARM_SECONDS = 0.5


def timed(step, warmup, steps, reps):
    t0, i = time.perf_counter(), 0
    while i < warmup or time.perf_counter() - t0 < WARMUP_SECONDS:
        step(i)
        i += 1
    out = []
    if INTERLEAVE:
        print("ready", flush=True)
    for _ in range(reps):
        if INTERLEAVE:
            sys.stdin.readline()
            t0, i = time.perf_counter(), 0
            while i < 2 or time.perf_counter() - t0 < REWARM_SECONDS:
                step(i)
                i += 1
        t0 = time.perf_counter()
        for i in range(steps):
            step(i)
        out.append((time.perf_counter() - t0) * 1000 / steps)
        if INTERLEAVE:
            print(json.dumps({"rep": out[-1]}), flush=True)
    return out


def train(spec, c, h, w, batch, optimizer, warmup, steps, reps, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = model_of(spec, c, h, w)
    # lossgraph's defaults: sgd has momentum 0.9; adamw betas (0.9, 0.999), eps 1e-8, weight decay 0.01 (PyTorch's own).
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9) if optimizer == "sgd" else torch.optim.AdamW(model.parameters(), lr=1e-3)
    batches = [(torch.rand(batch, c, h, w), torch.randint(0, 10, (batch,))) for _ in range(4)]

    def step(i):
        x, y = batches[i % 4]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    ms = timed(step, warmup, steps, reps)
    return {"params": sum(p.numel() for p in model.parameters()), "ms": ms, "threads": torch.get_num_threads()}


# The losses of lossgraph's micro-benchmark, written from their definitions (docs/losses.md).
def loss_fn(spec, classes):
    ks = torch.arange(classes, dtype=torch.float32)
    if spec == "ce":
        return lambda z, y: F.cross_entropy(z, y)
    if spec == "label_smoothing":
        return lambda z, y: F.cross_entropy(z, y, label_smoothing=0.1)
    if spec == "sparse_lsr":
        # -(1 - eps) log p_y - eps/(K-1) log(1 - p_y), log(1 - p_y) as the log-sum-exp of the other logits
        def sparse(z, y, eps=0.1):
            logp = F.log_softmax(z, 1)
            lpy = logp.gather(1, y[:, None])[:, 0]
            others = logp.scatter(1, y[:, None], float("-inf"))
            return -((1 - eps) * lpy + eps / (classes - 1) * torch.logsumexp(others, 1)).mean()
        return sparse
    if spec == "ce + gaussian_kl":
        def gkl(z, y, sigma=1.0):
            logp = F.log_softmax(z, 1)
            mound = torch.exp(-((ks[None, :] - y[:, None].float()) ** 2) / (2 * sigma * sigma))
            t = mound / mound.sum(1, keepdim=True)
            kl = torch.where(t > 0, t * (torch.log(t) - logp), torch.zeros_like(t)).sum(1).mean()
            return F.cross_entropy(z, y) + kl
        return gkl
    if spec == "hierarchical":
        # Ten contiguous groups of K/10 classes (the grouping the benchmark gives lossgraph).
        g = 10
        def hier(z, y):
            coarse = torch.logsumexp(F.log_softmax(z, 1).view(z.shape[0], g, classes // g), 2)
            return F.nll_loss(coarse, y // (classes // g))
        return hier
    raise SystemExit(f"unknown loss {spec}")


def loss(spec, batch, classes, warmup, runs, reps, threads):
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(1)
    z0 = torch.randn(batch, classes, generator=g) * 3
    y = torch.randint(0, classes, (batch,), generator=g)
    f = loss_fn(spec, classes)
    base = peak_kib()

    def run(_):
        z = z0.clone().requires_grad_(True)
        f(z, y).backward()
        return z.grad

    ms = timed(run, warmup, runs, reps)
    return {"ms": ms, "peakMiB": (peak_kib() - base) / 1024}


def read_idx(path):
    import gzip
    import struct
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return torch.frombuffer(bytearray(data[4 + 4 * dims:]), dtype=torch.uint8).reshape(shape)


def e2e(directory, spec, epochs, threads):
    """lossgraph train's loop in PyTorch: the IDX files read and scaled to [0, 1], 90/10
    train/validation of the train part, batch 64, AdamW 1e-3, a validation pass per
    epoch, the test set at the end; wall time from reading the files on."""
    import os
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    path = lambda stem: next(p for p in (os.path.join(directory, stem + ".gz"), os.path.join(directory, stem)) if os.path.exists(p))
    x = read_idx(path("train-images-idx3-ubyte")).float().div_(255).unsqueeze(1)
    y = read_idx(path("train-labels-idx1-ubyte")).long()
    xt = read_idx(path("t10k-images-idx3-ubyte")).float().div_(255).unsqueeze(1)
    yt = read_idx(path("t10k-labels-idx1-ubyte")).long()
    order = torch.randperm(len(x))
    n_val = len(x) // 10
    val, train_idx = order[:n_val], order[n_val:]
    model = model_of(spec, 1, 28, 28)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def evaluate(xs, ys):
        model.eval()
        correct = 0
        with torch.no_grad():
            for i in range(0, len(xs), 256):
                correct += (model(xs[i:i + 256]).argmax(1) == ys[i:i + 256]).sum().item()
        model.train()
        return correct / len(xs)

    images = 0
    for _ in range(epochs):
        perm = train_idx[torch.randperm(len(train_idx))]
        for i in range(0, len(perm) - 63, 64):
            b = perm[i:i + 64]
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x[b]), y[b]).backward()
            opt.step()
            images += 64
        evaluate(x[val], y[val])
    accuracy = evaluate(xt, yt)
    return {"seconds": time.perf_counter() - t0, "trainImages": images, "testAccuracy": accuracy}


def main():
    mode = sys.argv[1]
    a = sys.argv[2:]
    if mode == "blas":
        out = blas()
    elif mode == "train":
        out = train(a[0], int(a[1]), int(a[2]), int(a[3]), int(a[4]), a[5], int(a[6]), int(a[7]), int(a[8]), int(a[9]))
    elif mode == "e2e":
        out = e2e(a[0], a[1], int(a[2]), int(a[3]))
    else:
        out = loss(a[0], int(a[1]), int(a[2]), int(a[3]), int(a[4]), int(a[5]), int(a[6]))
    print(json.dumps(out))


main()
